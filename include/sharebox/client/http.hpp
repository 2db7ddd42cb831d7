#pragma once
// A blocking HTTP/1.1 client connection for the CLI: one keep-alive connection per thread, every
// socket operation bounded by a timeout. Beast stays inside the implementation.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sharebox/client/url.hpp"

namespace sharebox::client {

class rate_limiter;

using header_list = std::vector<std::pair<std::string, std::string>>;

// A request body read from a file by sendfile(2), so its bytes are not copied through the
// process (over TLS, where the bytes must be encrypted, read with pread(2) instead). The descriptor
// must stay open during send(). sendfile takes no MSG_NOSIGNAL: a process sending file bodies
// ignores SIGPIPE (the CLI does).
struct file_body {
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

struct request {
  std::string method;
  std::string path;  // "/files/abc?x=1"; the URL's prefix is added by the connection
  header_list headers;
  std::string_view body;               // must stay valid during send()
  std::optional<file_body> body_file;  // instead of `body`

  std::uint64_t body_size() const { return body_file ? body_file->size : body.size(); }
  // Sends `Expect: 100-continue` and the body only once the server asks for it, so a request
  // the server refuses up front (429, 413) costs no upload bandwidth.
  bool expect_continue = false;
  // Overrides the connection's I/O timeout for this exchange (slow server-side work).
  std::optional<std::chrono::seconds> timeout;
};

struct response {
  unsigned status = 0;
  header_list headers;
  std::string body;  // empty when the body went to a body_sink

  // First value of header `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

// Optional hooks for one exchange.
struct transfer_hooks {
  rate_limiter* limiter = nullptr;  // paces the request body
  // Request body progress; negative when bytes already reported must be sent again.
  std::function<void(std::int64_t)> on_body_sent;
  // Called once the response status and headers are known; return true to receive the body
  // through `write_body` instead of response::body.
  std::function<bool(const response&)> stream_body;
  std::function<void(std::string_view)> write_body;
  // Called before api_session::send tries the same request again, so a caller can take back the
  // progress of the failed attempt.
  std::function<void()> on_retry;
};

// How an https:// connection checks the server's certificate: against the system's trusted CAs
// (OpenSSL's default paths, so SSL_CERT_FILE and SSL_CERT_DIR work) and `ca_file` when given.
struct tls_options {
  std::string ca_file;  // PEM
};

class connection {
 public:
  static constexpr std::chrono::seconds connect_timeout{10};
  static constexpr std::chrono::seconds default_io_timeout{60};

  explicit connection(server_url url, tls_options tls = {},
                      std::chrono::seconds io_timeout = default_io_timeout);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Sends `req` and reads the response, connecting (or reconnecting, if the server closed an
  // idle keep-alive connection) first. Throws transport_error on network failures.
  response send(const request& req, const transfer_hooks& hooks = {});
  void close();
  const server_url& url() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sharebox::client
