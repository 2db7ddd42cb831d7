#pragma once
// Small blocking HTTP/1.1 client for the integration tests (Beast underneath, hidden behind a
// pimpl so test files do not pull in Boost). Every socket operation has a timeout so a
// misbehaving server fails a test instead of hanging the suite.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace sharebox::test {

using header_list = std::vector<std::pair<std::string, std::string>>;
using std::chrono::milliseconds;

inline constexpr milliseconds default_io_timeout{30'000};

// Ordered header fields with case-insensitive lookup.
class header_map {
 public:
  void add(std::string name, std::string value);
  bool contains(std::string_view name) const;
  // First value of `name`, or "" when absent.
  std::string get(std::string_view name) const;
  std::vector<std::string> get_all(std::string_view name) const;
  const header_list& entries() const { return entries_; }

 private:
  header_list entries_;
};

struct response {
  unsigned status = 0;
  header_map headers;
  std::string body;

  std::string header(std::string_view name) const { return headers.get(name); }
  bool has_header(std::string_view name) const { return headers.contains(name); }
  // Status, headers and (truncated) body, for assertion messages.
  std::string describe() const;
};

struct read_until_close_result {
  std::string data;        // everything received (including bytes buffered earlier)
  bool closed = false;     // the peer closed (FIN or RST)
  bool timed_out = false;  // still open when the timeout elapsed
  std::error_code error;   // set for errors other than a clean EOF
  milliseconds elapsed{0};
};

// One keep-alive TCP connection to 127.0.0.1:port. Not thread-safe; use one per thread.
class connection {
 public:
  explicit connection(std::uint16_t port, milliseconds io_timeout = default_io_timeout);
  ~connection();
  connection(connection&&) noexcept;
  connection& operator=(connection&&) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Sends one request and reads its response. Adds Host, and Content-Length when there is a body
  // (or the method is POST/PUT/PATCH) unless `headers` already has Content-Length or
  // Transfer-Encoding. Reconnects first if the server closed the previous keep-alive connection.
  // Throws std::system_error on I/O errors and timeouts.
  response request(std::string_view method, std::string_view target,
                   const header_list& headers = {}, std::string_view body = {});

  // Low level: arbitrary bytes out, one parsed response in.
  void send_raw(std::string_view bytes);
  std::error_code try_send_raw(std::string_view bytes);
  response read_response(bool head_request = false);
  // Reads one response, handing the body to `sink` piece by piece instead of storing it.
  response read_response_streaming(const std::function<void(std::string_view)>& sink,
                                   bool head_request = false);
  // Reads until the peer closes the connection or `timeout` elapses.
  read_until_close_result read_until_close(milliseconds timeout);
  // True if response bytes (or EOF) are available without blocking.
  bool readable_now();

  // Reconnects if the server closed the connection (Connection: close, or a keep-alive
  // connection it has since closed). Called by request() and the streaming helpers.
  void ensure_connected();
  // Marks the connection as used (so ensure_connected() checks it for staleness).
  void mark_request_sent();
  void reconnect();
  void close();
  bool is_open() const;
  std::uint16_t port() const { return port_; }
  void set_timeout(milliseconds t);
  std::string host_header() const;

 private:
  struct impl;
  std::uint16_t port_;
  std::unique_ptr<impl> impl_;
};

// One-shot request on a fresh connection (sends Connection: close).
response request(std::uint16_t port, std::string_view method, std::string_view target,
                 const header_list& headers = {}, std::string_view body = {});

// Opens a connection, sends `bytes`, reads until close or timeout.
read_until_close_result raw_exchange(std::uint16_t port, std::string_view bytes,
                                     milliseconds timeout);

// Parses the first HTTP response in `raw` (nullopt if it is not a complete response).
std::optional<response> parse_response(std::string_view raw, bool head_request = false);

// --- hashing and generated content ---------------------------------------------------------

class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;
  void update(const void* data, std::size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::string hex_final();  // lowercase hex; the object must not be used afterwards

 private:
  void* ctx_;  // EVP_MD_CTX*
};

std::string sha256_hex(std::string_view data);

// Deterministic pseudo-random bytes: byte i depends only on (seed, i), so any chunking of the
// stream yields the same content.
class data_generator {
 public:
  explicit data_generator(std::uint64_t seed) : seed_(seed) {}
  void fill(std::uint64_t offset, char* out, std::size_t n) const;

 private:
  std::uint64_t seed_;
};

std::string generate_bytes(std::size_t n, std::uint64_t seed);
// SHA-256 of generate_bytes(n, seed) without materialising it.
std::string generated_sha256(std::uint64_t n, std::uint64_t seed);

// --- streaming upload / download -------------------------------------------------------------

struct stream_upload_options {
  std::string method = "POST";
  std::string target;
  header_list headers;     // auth, Content-Type, ...; Host/Content-Length/TE are added
  std::uint64_t size = 0;  // generated bytes
  std::uint64_t seed = 1;
  bool chunked = false;
  std::string prefix;  // raw body bytes sent before the generated data (multipart preamble)
  std::string suffix;  // raw body bytes sent after it (closing boundary)
  std::size_t chunk_size = 128 * 1024;
  // Called after the header block (sent == 0) and after every chunk with the number of
  // generated bytes sent so far. Return false to stop: no more bytes are sent, no response is
  // read and the result has aborted == true (the connection stays open).
  std::function<bool(std::uint64_t sent)> on_progress;
};

struct stream_upload_result {
  std::optional<response> resp;  // absent if aborted or no response could be read
  std::string sha256;            // of the generated bytes actually sent
  std::uint64_t bytes_sent = 0;  // generated bytes sent
  bool early_response = false;   // the server answered before the body was complete
  bool aborted = false;
  std::error_code send_error;  // first write error, if any
  std::error_code read_error;  // error reading the response, if any
  std::string describe() const;
};

// Sends a request whose body (prefix + size generated bytes + suffix) is produced on the fly
// and hashed while sending; never holds the body in memory. Stops sending as soon as the server
// starts answering early (e.g. 413).
stream_upload_result upload_stream(connection& conn, const stream_upload_options& options);

// Same, with the generated data as the `field` part (filename `filename`) of a
// multipart/form-data body.
stream_upload_result upload_stream_multipart(
    connection& conn, stream_upload_options options, std::string_view filename,
    std::string_view field = "file",
    std::string_view part_content_type = "application/octet-stream");

struct download_result {
  unsigned status = 0;
  header_map headers;
  std::uint64_t size = 0;
  std::string sha256;
  std::string header(std::string_view name) const { return headers.get(name); }
};

// GET `target`, hashing the body while reading it (never buffered).
download_result download_stream(connection& conn, std::string_view target,
                                const header_list& headers = {});

// --- multipart --------------------------------------------------------------------------------

inline constexpr std::string_view default_boundary = "sbx-test-7MA4YWxkTrZu0gW";

struct form_part {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;  // omitted when empty
  std::string data;
};

struct multipart_body {
  std::string boundary;
  std::string body;
  std::string content_type() const { return "multipart/form-data; boundary=" + boundary; }
};

multipart_body build_multipart(const std::vector<form_part>& parts,
                               std::string_view boundary = default_boundary);

// The bytes before and after the data of a single file part.
struct multipart_envelope {
  std::string content_type;
  std::string prefix;
  std::string suffix;
};
multipart_envelope make_multipart_envelope(std::string_view field, std::string_view filename,
                                           std::string_view part_content_type,
                                           std::string_view boundary = default_boundary);

struct body_part {
  header_map headers;
  std::string data;
};
// Splits a multipart body (e.g. multipart/byteranges) into parts; nullopt if malformed.
std::optional<std::vector<body_part>> parse_multipart(std::string_view body,
                                                      std::string_view boundary);
// Value of parameter `name` in a header value like `type/sub; a=b; boundary="x"`.
std::optional<std::string> header_param(std::string_view value, std::string_view name);

// --- small helpers
// --------------------------------------------------------------------------------

std::string url_encode(std::string_view s);
std::string percent_decode(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);

}  // namespace sharebox::test
