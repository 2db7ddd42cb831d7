#include <utility>

#include "support/tls_support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/ssl.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace sharebox::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using steady = std::chrono::steady_clock;

namespace {

std::unique_ptr<asio::ssl::context> client_context(const fs::path& ca_file) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  ctx->load_verify_file(ca_file.string());
  return ctx;
}

// Runs `ioc` until the operation `start` began completes or `timeout` passes; on a timeout the
// connection is closed and asio::error::timed_out returned.
template <typename Start>
error_code run_for(asio::io_context& ioc, beast::tcp_stream& lowest, milliseconds timeout,
                   Start&& start) {
  std::optional<error_code> result;
  start([&result](error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run_for(timeout);
  if (result) return *result;
  lowest.close();
  ioc.restart();
  ioc.run();
  return asio::error::timed_out;
}

void throw_if(const error_code& ec, const char* what) {
  if (ec) throw std::system_error(ec.value(), std::system_category(), what + (": " + ec.message()));
}

}  // namespace

std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return {};
}

// ---- tls_connection ---------------------------------------------------------------------------

struct tls_connection::impl {
  std::uint16_t port;
  milliseconds timeout;
  asio::io_context ioc;
  std::unique_ptr<asio::ssl::context> ctx;
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  impl(std::uint16_t p, const fs::path& ca_file, milliseconds t)
      : port(p), timeout(t), ctx(client_context(ca_file)), stream(ioc, *ctx) {}

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream); }
  template <typename Start>
  error_code run(Start&& start) {
    return run_for(ioc, lowest(), timeout, std::forward<Start>(start));
  }
};

tls_connection::tls_connection(std::uint16_t port, const fs::path& ca_file, milliseconds timeout)
    : impl_(std::make_unique<impl>(port, ca_file, timeout)) {
  auto& s = *impl_;
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  throw_if(s.run([&](auto h) { s.lowest().async_connect(ep, h); }), "connect");
  static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_set_alpn_protos(s.stream.native_handle(), http11, sizeof http11);
  s.stream.set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
  throw_if(s.run([&](auto h) { s.stream.async_handshake(asio::ssl::stream_base::client, h); }),
           "TLS handshake");
}

tls_connection::~tls_connection() = default;

std::string tls_connection::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(impl_->stream.native_handle(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

response tls_connection::request(std::string_view method, std::string_view target,
                                 const header_list& headers, std::string_view body) {
  auto& s = *impl_;
  std::string raw = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
  raw += "Host: 127.0.0.1:" + std::to_string(s.port) + "\r\n";
  for (const auto& [k, v] : headers)
    raw += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  raw += "\r\n";
  raw += body;
  throw_if(s.run([&](auto h) { asio::async_write(s.stream, asio::buffer(raw), h); }), "write");

  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (method == "HEAD") parser.skip(true);
  throw_if(s.run([&](auto h) { bhttp::async_read(s.stream, s.buffer, parser, h); }),
           "read response");
  response r;
  r.status = parser.get().result_int();
  for (const auto& f : parser.get())
    r.headers.add(std::string(f.name_string()), std::string(f.value()));
  r.body = parser.get().body();
  return r;
}

read_until_close_result tls_connection::read_until_close(milliseconds timeout) {
  auto& s = *impl_;
  read_until_close_result out;
  const auto start = steady::now();
  const auto deadline = start + timeout;
  if (s.buffer.size() > 0) {
    out.data = beast::buffers_to_string(s.buffer.data());
    s.buffer.consume(s.buffer.size());
  }
  std::array<char, 16384> chunk{};
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
    if (left.count() <= 0) {
      out.timed_out = true;
      break;
    }
    std::size_t n = 0;
    const auto ec = run_for(s.ioc, s.lowest(), left, [&](auto h) {
      s.stream.async_read_some(asio::buffer(chunk), [&n, h](error_code e, std::size_t got) mutable {
        n = got;
        h(e);
      });
    });
    out.data.append(chunk.data(), n);
    if (ec == asio::error::timed_out) {
      out.timed_out = true;
      break;
    }
    if (ec) {
      // eof is a TLS close_notify; stream_truncated a close without one.
      out.closed = true;
      if (ec != asio::error::eof) out.error = {ec.value(), std::system_category()};
      break;
    }
  }
  out.elapsed = std::chrono::duration_cast<milliseconds>(steady::now() - start);
  return out;
}

// ---- wss_client -------------------------------------------------------------------------------

struct wss_client::impl {
  asio::io_context ioc;
  std::unique_ptr<asio::ssl::context> ctx;
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws;
  bool closed = false;

  explicit impl(const fs::path& ca_file) : ctx(client_context(ca_file)), ws(ioc, *ctx) {}
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(ws); }
};

wss_client::wss_client(std::uint16_t port, const fs::path& ca_file, const std::string& target,
                       const header_list& headers)
    : impl_(std::make_unique<impl>(ca_file)) {
  auto& s = *impl_;
  constexpr milliseconds timeout{10'000};
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  throw_if(run_for(s.ioc, s.lowest(), timeout, [&](auto h) { s.lowest().async_connect(ep, h); }),
           "connect");
  s.ws.next_layer().set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
  throw_if(run_for(s.ioc, s.lowest(), timeout,
                   [&](auto h) {
                     s.ws.next_layer().async_handshake(asio::ssl::stream_base::client, h);
                   }),
           "TLS handshake");
  s.ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& r) {
    for (const auto& [k, v] : headers)
      r.set(k, v);
  }));
  const std::string host = "127.0.0.1:" + std::to_string(port);
  throw_if(
      run_for(s.ioc, s.lowest(), timeout, [&](auto h) { s.ws.async_handshake(host, target, h); }),
      "WebSocket handshake");
}

wss_client::~wss_client() = default;

std::optional<nlohmann::json> wss_client::next(milliseconds timeout) {
  auto& s = *impl_;
  beast::flat_buffer buffer;
  const auto ec = run_for(s.ioc, s.lowest(), timeout, [&](auto h) { s.ws.async_read(buffer, h); });
  if (ec == asio::error::timed_out) {
    s.closed = true;  // closed by run_for: the stream cannot be read again
    return std::nullopt;
  }
  if (ec) {
    s.closed = true;
    return std::nullopt;
  }
  return nlohmann::json::parse(beast::buffers_to_string(buffer.data()));
}

bool wss_client::closed() const {
  return impl_->closed;
}

}  // namespace sharebox::test
