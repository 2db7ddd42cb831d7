#include <utility>

#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace sharebox::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

// Boost 1.74 compares the Content-Length against body_limit(boost::none) as "greater than
// none" and fails; use the largest value instead.
constexpr std::uint64_t no_body_limit = std::numeric_limits<std::uint64_t>::max();

std::error_code to_std(const boost::system::error_code& ec) {
  if (!ec) return {};
  if (ec == asio::error::eof) return std::make_error_code(std::errc::connection_aborted);
  if (ec.category() == boost::system::system_category() ||
      ec.category() == boost::system::generic_category() ||
      ec.category() == asio::error::get_system_category()) {
    return {ec.value(), std::system_category()};
  }
  // Beast/Asio specific categories: keep the message, map to a generic errc.
  return std::make_error_code(std::errc::protocol_error);
}

[[noreturn]] void throw_io(const boost::system::error_code& ec, std::string_view what) {
  const std::error_code code = to_std(ec);
  std::string message(what);
  if (code.message() != ec.message()) message += " (" + ec.message() + ")";
  throw std::system_error(code, message);
}

int poll_ms(milliseconds t) {
  return static_cast<int>(std::max<milliseconds::rep>(0, t.count()));
}

// Waits for `events` on `fd`. Returns 1 when ready, 0 on timeout, -1 on error (errno set).
int wait_fd(int fd, short events, milliseconds timeout) {
  pollfd p{fd, events, 0};
  const auto deadline = steady::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
    const int r = ::poll(&p, 1, poll_ms(left));
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

// A tcp::socket in non-blocking mode driven synchronously: every read_some/write_some waits
// with poll() for at most `timeout`, then fails with timed_out. Models SyncRead/WriteStream.
class timed_stream {
 public:
  explicit timed_stream(asio::io_context& ioc) : socket_(ioc) {}

  tcp::socket& socket() { return socket_; }
  void set_timeout(milliseconds t) { timeout_ = t; }
  milliseconds timeout() const { return timeout_; }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) throw_io(ec, "read");
    return n;
  }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    for (;;) {
      const std::size_t n = socket_.read_some(buffers, ec);
      if (ec != asio::error::would_block && ec != asio::error::try_again) return n;
      if (!wait(POLLIN, ec)) return 0;
    }
  }

  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers) {
    boost::system::error_code ec;
    const std::size_t n = write_some(buffers, ec);
    if (ec) throw_io(ec, "write");
    return n;
  }

  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    for (;;) {
      const std::size_t n = socket_.write_some(buffers, ec);
      if (ec != asio::error::would_block && ec != asio::error::try_again) return n;
      if (!wait(POLLOUT, ec)) return 0;
    }
  }

 private:
  bool wait(short events, boost::system::error_code& ec) {
    const int r = wait_fd(socket_.native_handle(), events, timeout_);
    if (r == 0) {
      ec = asio::error::timed_out;
      return false;
    }
    if (r < 0) {
      ec.assign(errno, boost::system::system_category());
      return false;
    }
    ec = {};
    return true;
  }

  tcp::socket socket_;
  milliseconds timeout_ = default_io_timeout;
};

template <class Fields>
header_map to_header_map(const Fields& fields) {
  header_map out;
  for (const auto& f : fields)
    out.add(std::string(f.name_string()), std::string(f.value()));
  return out;
}

bool has_header(const header_list& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

std::string hex_u64(std::uint64_t v) {
  std::ostringstream os;
  os << std::hex << v;
  return os.str();
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

// ------------------------------------------------------------------------------------------
// header_map / response

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void header_map::add(std::string name, std::string value) {
  entries_.emplace_back(std::move(name), std::move(value));
}

bool header_map::contains(std::string_view name) const {
  return has_header(entries_, name);
}

std::string header_map::get(std::string_view name) const {
  for (const auto& [n, v] : entries_) {
    if (iequals(n, name)) return v;
  }
  return {};
}

std::vector<std::string> header_map::get_all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : entries_) {
    if (iequals(n, name)) out.push_back(v);
  }
  return out;
}

std::string response::describe() const {
  std::string out = "HTTP " + std::to_string(status) + "\n";
  for (const auto& [n, v] : headers.entries())
    out += "  " + n + ": " + v + "\n";
  constexpr std::size_t max_body = 2000;
  if (body.size() > max_body) {
    out += body.substr(0, max_body) + "... (" + std::to_string(body.size()) + " bytes)";
  } else {
    out += body;
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// connection

struct connection::impl {
  asio::io_context ioc;
  timed_stream stream{ioc};
  beast::flat_buffer buffer;
  bool must_reconnect = false;  // server announced Connection: close
  std::size_t requests = 0;

  int fd() { return stream.socket().native_handle(); }
};

connection::connection(std::uint16_t port, milliseconds io_timeout)
    : port_(port), impl_(std::make_unique<impl>()) {
  impl_->stream.set_timeout(io_timeout);
  reconnect();
}

connection::~connection() = default;
connection::connection(connection&&) noexcept = default;
connection& connection::operator=(connection&&) noexcept = default;

void connection::set_timeout(milliseconds t) {
  impl_->stream.set_timeout(t);
}

std::string connection::host_header() const {
  return "127.0.0.1:" + std::to_string(port_);
}

void connection::reconnect() {
  close();
  auto& sock = impl_->stream.socket();
  boost::system::error_code ec;
  sock.open(tcp::v4(), ec);
  if (ec) throw_io(ec, "socket");
  // Blocking connect to loopback: refused or accepted immediately (or queued in the backlog).
  sock.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port_), ec);
  if (ec) {
    sock.close();
    throw_io(ec, "connect to 127.0.0.1:" + std::to_string(port_));
  }
  sock.set_option(tcp::no_delay(true), ec);
  sock.non_blocking(true, ec);
  if (ec) throw_io(ec, "non_blocking");
  impl_->buffer.consume(impl_->buffer.size());
  impl_->must_reconnect = false;
  impl_->requests = 0;
}

void connection::mark_request_sent() {
  ++impl_->requests;
}

void connection::close() {
  auto& sock = impl_->stream.socket();
  if (sock.is_open()) {
    boost::system::error_code ec;
    sock.close(ec);
  }
}

bool connection::is_open() const {
  return impl_->stream.socket().is_open();
}

bool connection::readable_now() {
  if (impl_->buffer.size() > 0) return true;
  if (!is_open()) return false;
  pollfd p{impl_->fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

std::error_code connection::try_send_raw(std::string_view bytes) {
  if (!is_open()) return std::make_error_code(std::errc::not_connected);
  boost::system::error_code ec;
  asio::write(impl_->stream, asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec) return to_std(ec);
  return {};
}

void connection::send_raw(std::string_view bytes) {
  if (auto ec = try_send_raw(bytes)) throw std::system_error(ec, "send");
}

response connection::read_response(bool head_request) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(no_body_limit);
  parser.header_limit(1024 * 1024);
  if (head_request) parser.skip(true);
  boost::system::error_code ec;
  bhttp::read(impl_->stream, impl_->buffer, parser, ec);
  if (ec) throw_io(ec, "read response");
  auto& msg = parser.get();
  response out;
  out.status = msg.result_int();
  out.headers = to_header_map(msg.base());
  out.body = std::move(msg.body());
  if (out.status >= 200 && !msg.keep_alive()) impl_->must_reconnect = true;
  return out;
}

void connection::ensure_connected() {
  if (impl_->must_reconnect || !is_open()) {
    reconnect();
  } else if (impl_->requests > 0 && impl_->buffer.size() == 0) {
    // A reused keep-alive connection the server has since closed: reconnect like real clients.
    pollfd p{impl_->fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      char c;
      const auto n = ::recv(impl_->fd(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n <= 0) reconnect();
    }
  }
}

response connection::read_response_streaming(const std::function<void(std::string_view)>& sink,
                                             bool head_request) {
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(no_body_limit);
  parser.header_limit(1024 * 1024);
  if (head_request) parser.skip(true);
  boost::system::error_code ec;
  bhttp::read_header(impl_->stream, impl_->buffer, parser, ec);
  if (ec) throw_io(ec, "read response header");
  std::vector<char> buf(256 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = buf.data();
    parser.get().body().size = buf.size();
    bhttp::read(impl_->stream, impl_->buffer, parser, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) throw_io(ec, "read response body");
    const std::size_t n = buf.size() - parser.get().body().size;
    if (n > 0) sink(std::string_view(buf.data(), n));
  }
  auto& msg = parser.get();
  response out;
  out.status = msg.result_int();
  out.headers = to_header_map(msg.base());
  if (out.status >= 200 && !msg.keep_alive()) impl_->must_reconnect = true;
  return out;
}

response connection::request(std::string_view method, std::string_view target,
                             const header_list& headers, std::string_view body) {
  ensure_connected();

  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  if (!has_header(headers, "Host")) req.set(bhttp::field::host, host_header());
  for (const auto& [n, v] : headers)
    req.insert(n, v);
  const bool body_method = method == "POST" || method == "PUT" || method == "PATCH";
  if (!has_header(headers, "Content-Length") && !has_header(headers, "Transfer-Encoding") &&
      (!body.empty() || body_method)) {
    req.content_length(body.size());
  }
  req.body() = std::string(body);

  boost::system::error_code ec;
  bhttp::write(impl_->stream, req, ec);
  if (ec) throw_io(ec, std::string(method) + " " + std::string(target) + ": write");
  mark_request_sent();
  response r = read_response(method == "HEAD");
  while (r.status >= 100 && r.status < 200)
    r = read_response(method == "HEAD");
  return r;
}

read_until_close_result connection::read_until_close(milliseconds timeout) {
  read_until_close_result out;
  const auto start = steady::now();
  const auto deadline = start + timeout;
  auto& buf = impl_->buffer;
  if (buf.size() > 0) {
    const auto data = buf.data();
    out.data.append(static_cast<const char*>(data.data()), data.size());
    buf.consume(buf.size());
  }
  if (!is_open()) {
    out.closed = true;
    return out;
  }
  std::array<char, 65536> chunk{};
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
    if (left.count() <= 0) {
      out.timed_out = true;
      break;
    }
    const int r = wait_fd(impl_->fd(), POLLIN, left);
    if (r == 0) {
      out.timed_out = true;
      break;
    }
    if (r < 0) {
      out.error = {errno, std::system_category()};
      break;
    }
    const auto n = ::recv(impl_->fd(), chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (n > 0) {
      out.data.append(chunk.data(), static_cast<std::size_t>(n));
    } else if (n == 0) {
      out.closed = true;
      break;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      out.error = {errno, std::system_category()};
      out.closed = errno == ECONNRESET || errno == EPIPE;
      break;
    }
  }
  out.elapsed = std::chrono::duration_cast<milliseconds>(steady::now() - start);
  return out;
}

response request(std::uint16_t port, std::string_view method, std::string_view target,
                 const header_list& headers, std::string_view body) {
  connection c(port);
  header_list h = headers;
  if (!has_header(h, "Connection")) h.emplace_back("Connection", "close");
  return c.request(method, target, h, body);
}

read_until_close_result raw_exchange(std::uint16_t port, std::string_view bytes,
                                     milliseconds timeout) {
  connection c(port, timeout);
  read_until_close_result out;
  if (auto ec = c.try_send_raw(bytes)) {
    // The server may already have answered and closed; still collect what it sent.
    out = c.read_until_close(timeout);
    if (!out.error) out.error = ec;
    return out;
  }
  return c.read_until_close(timeout);
}

std::optional<response> parse_response(std::string_view raw, bool head_request) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(no_body_limit);
  parser.eager(true);
  if (head_request) parser.skip(true);
  boost::system::error_code ec;
  parser.put(asio::buffer(raw.data(), raw.size()), ec);
  if (ec || !parser.is_done()) {
    // A body delimited by connection close is complete once all bytes are in.
    if (ec || !parser.need_eof()) return std::nullopt;
    parser.put_eof(ec);
    if (ec) return std::nullopt;
  }
  auto& msg = parser.get();
  response out;
  out.status = msg.result_int();
  out.headers = to_header_map(msg.base());
  out.body = std::move(msg.body());
  return out;
}

// ------------------------------------------------------------------------------------------
// hashing and generated data

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr ||
      EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP sha256 init failed");
  }
}

sha256::~sha256() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void sha256::update(const void* data, std::size_t n) {
  if (n == 0) return;
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n) != 1) {
    throw std::runtime_error("EVP sha256 update failed");
  }
}

std::string sha256::hex_final() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len) != 1) {
    throw std::runtime_error("EVP sha256 final failed");
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  sha256 h;
  h.update(data);
  return h.hex_final();
}

void data_generator::fill(std::uint64_t offset, char* out, std::size_t n) const {
  std::size_t i = 0;
  while (i < n) {
    const std::uint64_t pos = offset + i;
    const std::uint64_t word = splitmix64(seed_ * 0x2545f4914f6cdd1dULL + (pos >> 3));
    unsigned char bytes[8];
    std::memcpy(bytes, &word, sizeof bytes);
    for (std::size_t b = pos & 7; b < 8 && i < n; ++b, ++i)
      out[i] = static_cast<char>(bytes[b]);
  }
}

std::string generate_bytes(std::size_t n, std::uint64_t seed) {
  std::string out(n, '\0');
  data_generator(seed).fill(0, out.data(), n);
  return out;
}

std::string generated_sha256(std::uint64_t n, std::uint64_t seed) {
  data_generator gen(seed);
  sha256 h;
  std::vector<char> buf(1 << 20);
  for (std::uint64_t off = 0; off < n;) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n - off));
    gen.fill(off, buf.data(), len);
    h.update(buf.data(), len);
    off += len;
  }
  return h.hex_final();
}

// ------------------------------------------------------------------------------------------
// streaming upload / download

std::string stream_upload_result::describe() const {
  std::string out = "sent " + std::to_string(bytes_sent) + " generated bytes";
  if (early_response) out += ", early response";
  if (aborted) out += ", aborted";
  if (send_error) out += ", send error: " + send_error.message();
  if (read_error) out += ", read error: " + read_error.message();
  out += resp ? "\n" + resp->describe() : "\nno response";
  return out;
}

stream_upload_result upload_stream(connection& conn, const stream_upload_options& o) {
  conn.ensure_connected();
  stream_upload_result out;
  std::string head =
      o.method + " " + o.target + " HTTP/1.1\r\nHost: " + conn.host_header() + "\r\n";
  for (const auto& [n, v] : o.headers)
    head += n + ": " + v + "\r\n";
  if (o.chunked) {
    head += "Transfer-Encoding: chunked\r\n";
  } else {
    head +=
        "Content-Length: " + std::to_string(o.prefix.size() + o.size + o.suffix.size()) + "\r\n";
  }
  head += "\r\n";

  sha256 hasher;
  auto send = [&](std::string_view bytes) -> bool {
    if (bytes.empty()) return true;
    if (o.chunked) {
      if (auto ec = conn.try_send_raw(hex_u64(bytes.size()) + "\r\n")) {
        out.send_error = ec;
        return false;
      }
    }
    if (auto ec = conn.try_send_raw(bytes)) {
      out.send_error = ec;
      return false;
    }
    if (o.chunked) {
      if (auto ec = conn.try_send_raw("\r\n")) {
        out.send_error = ec;
        return false;
      }
    }
    return true;
  };
  auto finish = [&]() -> stream_upload_result {
    out.sha256 = hasher.hex_final();
    if (out.aborted || out.resp) return std::move(out);
    try {
      response r = conn.read_response();
      while (r.status >= 100 && r.status < 200)
        r = conn.read_response();
      out.resp = std::move(r);
    } catch (const std::system_error& e) {
      out.read_error = e.code();
    }
    return std::move(out);
  };

  if (auto ec = conn.try_send_raw(head)) {
    out.send_error = ec;
    return finish();
  }
  conn.mark_request_sent();
  if (o.on_progress && !o.on_progress(0)) {
    out.aborted = true;
    return finish();
  }
  if (!send(o.prefix)) return finish();

  data_generator gen(o.seed);
  std::vector<char> buf(std::max<std::size_t>(1, o.chunk_size));
  while (out.bytes_sent < o.size) {
    if (conn.readable_now()) {
      // The server is answering before the body is complete: an interim 100 Continue means
      // carry on; anything else is final (e.g. 413) and we stop sending.
      try {
        response r = conn.read_response();
        if (r.status >= 200) {
          out.early_response = true;
          out.resp = std::move(r);
          return finish();
        }
      } catch (const std::system_error& e) {
        out.read_error = e.code();
        out.early_response = true;
        return finish();
      }
    }
    const auto len =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), o.size - out.bytes_sent));
    gen.fill(out.bytes_sent, buf.data(), len);
    if (!send(std::string_view(buf.data(), len))) return finish();
    hasher.update(buf.data(), len);
    out.bytes_sent += len;
    if (o.on_progress && !o.on_progress(out.bytes_sent)) {
      out.aborted = true;
      return finish();
    }
  }
  if (!send(o.suffix)) return finish();
  if (o.chunked) {
    if (auto ec = conn.try_send_raw("0\r\n\r\n")) out.send_error = ec;
  }
  return finish();
}

stream_upload_result upload_stream_multipart(connection& conn, stream_upload_options options,
                                             std::string_view filename, std::string_view field,
                                             std::string_view part_content_type) {
  auto env = make_multipart_envelope(field, filename, part_content_type);
  options.prefix = std::move(env.prefix);
  options.suffix = std::move(env.suffix);
  options.headers.emplace_back("Content-Type", env.content_type);
  return upload_stream(conn, options);
}

download_result download_stream(connection& conn, std::string_view target,
                                const header_list& headers) {
  conn.ensure_connected();
  std::string head =
      "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + conn.host_header() + "\r\n";
  for (const auto& [n, v] : headers)
    head += n + ": " + v + "\r\n";
  head += "\r\n";
  conn.send_raw(head);
  conn.mark_request_sent();
  download_result out;
  sha256 hasher;
  const response r = conn.read_response_streaming([&](std::string_view piece) {
    hasher.update(piece);
    out.size += piece.size();
  });
  out.status = r.status;
  out.headers = r.headers;
  out.sha256 = hasher.hex_final();
  return out;
}

// ------------------------------------------------------------------------------------------
// multipart

multipart_body build_multipart(const std::vector<form_part>& parts, std::string_view boundary) {
  multipart_body out;
  out.boundary = std::string(boundary);
  for (const auto& p : parts) {
    out.body += "--" + out.boundary + "\r\n";
    out.body += "Content-Disposition: form-data; name=\"" + p.name + "\"";
    if (p.filename) out.body += "; filename=\"" + *p.filename + "\"";
    out.body += "\r\n";
    if (!p.content_type.empty()) out.body += "Content-Type: " + p.content_type + "\r\n";
    out.body += "\r\n";
    out.body += p.data;
    out.body += "\r\n";
  }
  out.body += "--" + out.boundary + "--\r\n";
  return out;
}

multipart_envelope make_multipart_envelope(std::string_view field, std::string_view filename,
                                           std::string_view part_content_type,
                                           std::string_view boundary) {
  multipart_envelope env;
  env.content_type = "multipart/form-data; boundary=" + std::string(boundary);
  env.prefix = "--" + std::string(boundary) + "\r\nContent-Disposition: form-data; name=\"" +
               std::string(field) + "\"; filename=\"" + std::string(filename) + "\"\r\n";
  if (!part_content_type.empty()) {
    env.prefix += "Content-Type: " + std::string(part_content_type) + "\r\n";
  }
  env.prefix += "\r\n";
  env.suffix = "\r\n--" + std::string(boundary) + "--\r\n";
  return env;
}

std::optional<std::vector<body_part>> parse_multipart(std::string_view body,
                                                      std::string_view boundary) {
  const std::string delim = "--" + std::string(boundary);
  std::vector<body_part> parts;
  std::size_t pos = body.find(delim);
  if (pos == std::string_view::npos) return std::nullopt;
  for (;;) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    // Skip transport padding and the CRLF after the delimiter.
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t'))
      ++pos;
    if (body.substr(pos, 2) != "\r\n") return std::nullopt;
    pos += 2;
    const std::size_t header_end = body.find("\r\n\r\n", pos);
    const std::size_t next = body.find("\r\n" + delim, pos);
    if (next == std::string_view::npos) return std::nullopt;
    body_part part;
    if (body.substr(pos, 2) == "\r\n") {
      // No headers at all.
      part.data = std::string(body.substr(pos + 2, next - pos - 2));
    } else {
      if (header_end == std::string_view::npos || header_end > next) return std::nullopt;
      std::string_view block = body.substr(pos, header_end - pos);
      while (!block.empty()) {
        const std::size_t eol = block.find("\r\n");
        const std::string_view line = block.substr(0, eol);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
          value.remove_prefix(1);
        }
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
          value.remove_suffix(1);
        }
        part.headers.add(std::string(line.substr(0, colon)), std::string(value));
        if (eol == std::string_view::npos) break;
        block.remove_prefix(eol + 2);
      }
      part.data = std::string(body.substr(header_end + 4, next - header_end - 4));
    }
    parts.push_back(std::move(part));
    pos = next + 2;
  }
}

std::optional<std::string> header_param(std::string_view value, std::string_view name) {
  std::size_t pos = value.find(';');
  while (pos != std::string_view::npos) {
    ++pos;
    while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t'))
      ++pos;
    const std::size_t eq = value.find('=', pos);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = value.substr(pos, eq - pos);
    while (!key.empty() && key.back() == ' ')
      key.remove_suffix(1);
    std::size_t vpos = eq + 1;
    std::string v;
    if (vpos < value.size() && value[vpos] == '"') {
      ++vpos;
      while (vpos < value.size() && value[vpos] != '"') {
        if (value[vpos] == '\\' && vpos + 1 < value.size()) ++vpos;
        v += value[vpos++];
      }
      pos = value.find(';', vpos);
    } else {
      const std::size_t end = value.find(';', vpos);
      v = std::string(value.substr(vpos, end == std::string_view::npos ? end : end - vpos));
      while (!v.empty() && v.back() == ' ')
        v.pop_back();
      pos = end;
    }
    if (iequals(key, name)) return v;
  }
  return std::nullopt;
}

std::string url_encode(std::string_view s) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace sharebox::test
