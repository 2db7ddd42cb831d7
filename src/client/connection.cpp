// Blocking HTTP over Beast. Each operation is started asynchronously and the connection's own
// io_context is run until it completes: that is what makes Beast's timeouts (tcp_stream
// expiry) apply to an otherwise synchronous client.
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <optional>

#include <poll.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <fstream>

#include "sharebox/client/error.hpp"
#include "sharebox/client/http.hpp"
#include "sharebox/client/rate_limiter.hpp"

namespace sharebox::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// Large reads: a download moves at loopback/disk speed only with few syscalls per MiB.
constexpr std::size_t body_slice = std::size_t{1} << 20;
constexpr std::size_t max_stored_body = std::size_t{16} << 20;
constexpr std::chrono::seconds early_answer_wait{2};

// A reused keep-alive connection failed before the server said anything: the server most likely
// closed it while idle, so the request may go again on a fresh connection.
struct stale_connection {};

bool is_disconnect(const error_code& ec) {
  // A TLS server that closes an idle connection without close_notify truncates the stream.
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::ssl::error::stream_truncated;
}

// Trusts the system's CAs (OpenSSL's default paths, which honour SSL_CERT_FILE and
// SSL_CERT_DIR) and `ca_file` too when given.
std::unique_ptr<asio::ssl::context> make_client_context(const tls_options& options) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  error_code ec;
  ctx->set_default_verify_paths(ec);
  if (!options.ca_file.empty()) {
    // Checked here for a clear message: OpenSSL's own for a missing file is a generic one.
    if (!std::ifstream(options.ca_file)) {
      throw client_error("cannot read the CA certificate file " + options.ca_file +
                         " (--cacert / SHAREBOX_CACERT)");
    }
    ctx->load_verify_file(options.ca_file, ec);
    if (ec) {
      throw client_error("the CA certificate file " + options.ca_file +
                         " holds no usable PEM certificate (--cacert / SHAREBOX_CACERT)");
    }
  }
  return ctx;
}

bool is_ip_address(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

std::string response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return {};
}

struct connection::impl {
  server_url url;
  tls_options tls_opts;
  std::chrono::seconds io_timeout;
  asio::io_context ioc;
  // One of them is open: TCP for http://, TLS over TCP for https://. Timeouts and the socket
  // are the TCP stream's either way (tcp()).
  std::optional<beast::tcp_stream> stream;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  std::unique_ptr<asio::ssl::context> tls_context;  // made at the first https:// connect
  beast::flat_buffer buffer;
  bool used = false;    // carried a request already, so the server may have closed it since
  bool reused = false;  // the current exchange runs on a connection used before

  impl(server_url u, tls_options t, std::chrono::seconds timeout)
      : url(std::move(u)), tls_opts(std::move(t)), io_timeout(timeout) {
    // Beast sizes each socket read by the buffer's free space: a small one means 512-byte reads.
    buffer.reserve(body_slice);
  }

  bool open() const { return stream.has_value() || tls.has_value(); }
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *stream; }
  // Calls `f` with the stream requests go through.
  template <typename F>
  void with_stream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(*stream);
    }
  }

  template <typename Start>
  error_code run(std::chrono::seconds timeout, Start&& start) {
    tcp().expires_after(timeout);
    error_code result;
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  void close() {
    if (open()) {
      // No TLS close_notify: the server takes a closed connection as the end either way, and
      // a blocking goodbye would only slow the client down.
      error_code ignored;
      tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
      tcp().socket().close(ignored);
      stream.reset();
      tls.reset();
    }
    buffer.clear();
    used = false;
  }

  void connect() {
    close();
    tcp::resolver resolver(ioc);
    error_code ec;
    const auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec) {
      throw transport_error("cannot connect to " + url.text() + ": cannot resolve " + url.host +
                                " (" + ec.message() + ")",
                            true);
    }
    const bool https = url.scheme == "https";
    if (https) {
      if (!tls_context) tls_context = make_client_context(tls_opts);
      tls.emplace(ioc, *tls_context);
    } else {
      stream.emplace(ioc);
    }
    ec = run(connect_timeout, [&](auto handler) { tcp().async_connect(endpoints, handler); });
    if (ec) {
      stream.reset();
      tls.reset();
      const std::string why = ec == beast::error::timeout ? "timed out" : ec.message();
      throw transport_error("cannot connect to " + url.text() + ": " + why, true);
    }
    tcp().socket().set_option(tcp::no_delay(true), ec);
    if (https) handshake();
  }

  void handshake() {
    SSL* ssl = tls->native_handle();
    // SNI names a host, never an address; the certificate must match either.
    if (!is_ip_address(url.host)) SSL_set_tlsext_host_name(ssl, url.host.c_str());
    static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_set_alpn_protos(ssl, http11, sizeof http11);
    tls->set_verify_callback(asio::ssl::host_name_verification(url.host));
    const auto ec = run(connect_timeout, [&](auto handler) {
      tls->async_handshake(asio::ssl::stream_base::client, handler);
    });
    if (!ec) return;
    const long verify = SSL_get_verify_result(ssl);
    const bool tls_failure = ec.category() == asio::error::get_ssl_category();
    close();
    if (!tls_failure) {
      const std::string why = ec == beast::error::timeout ? "timed out" : ec.message();
      throw transport_error("cannot connect to " + url.text() + ": TLS handshake: " + why, true);
    }
    // Not retried: another attempt would fail the same way.
    if (verify != X509_V_OK) {
      throw client_error("cannot connect to " + url.text() +
                         ": the server's certificate is not trusted (" +
                         X509_verify_cert_error_string(verify) +
                         "); pass its CA certificate with --cacert or SHAREBOX_CACERT");
    }
    throw client_error("cannot connect to " + url.text() + ": TLS handshake failed (" +
                       ec.message() + "); is it an https:// server?");
  }

  // False if the server has closed (or written garbage on) an idle keep-alive connection.
  bool reusable() {
    if (!open() || !tcp().socket().is_open()) return false;
    if (!used) return true;
    if (buffer.size() > 0) return false;
    auto& socket = tcp().socket();
    error_code ec;
    error_code ignored;
    socket.non_blocking(true, ignored);
    char c;
    socket.receive(asio::buffer(&c, 1), tcp::socket::message_peek, ec);
    socket.non_blocking(false, ignored);
    return ec == asio::error::would_block || ec == asio::error::try_again;
  }

  [[noreturn]] void fail(const error_code& ec, bool nothing_received, std::string_view during) {
    close();
    if (reused && nothing_received && is_disconnect(ec)) throw stale_connection{};
    const std::string why = ec == beast::error::timeout ? "timed out" : ec.message();
    throw transport_error(
        "connection to " + url.text() + " failed while " + std::string(during) + ": " + why, false);
  }

  bhttp::request<bhttp::empty_body> make_header(const request& req) const {
    bhttp::request<bhttp::empty_body> head;
    head.version(11);
    head.method_string(req.method);
    head.target(url.target(req.path));
    head.set(bhttp::field::host, url.host_header());
    head.set(bhttp::field::user_agent, "sharebox-cli");
    for (const auto& [name, value] : req.headers)
      head.insert(name, value);
    const std::uint64_t body_size = req.body_size();
    if (body_size != 0 || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
      head.content_length(body_size);
    }
    if (req.expect_continue && body_size != 0) head.set(bhttp::field::expect, "100-continue");
    return head;
  }

  error_code write_body(const request& req, const transfer_hooks& hooks,
                        std::chrono::seconds timeout, std::int64_t& reported) {
    if (req.body_file && tls) return write_file(*req.body_file, hooks, timeout, reported);
    if (req.body_file) return send_file(*req.body_file, hooks, timeout, reported);
    return write_body(req.body, hooks, timeout, reported);
  }

  // Over TLS the bytes must be encrypted in user space, so sendfile(2) is out: pread(2) a slice
  // at a time and write it through the TLS stream.
  error_code write_file(const file_body& body, const transfer_hooks& hooks,
                        std::chrono::seconds timeout, std::int64_t& reported) {
    std::vector<char> slice_buffer(
        static_cast<std::size_t>(std::min<std::uint64_t>(body_slice, body.size)));
    auto offset = static_cast<off_t>(body.offset);
    for (std::uint64_t left = body.size; left > 0;) {
      const auto slice = static_cast<std::size_t>(std::min<std::uint64_t>(body_slice, left));
      if (hooks.limiter != nullptr) hooks.limiter->acquire(slice);
      for (std::size_t done = 0; done < slice;) {
        const ssize_t n = ::pread(body.fd, slice_buffer.data() + done, slice - done, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          const int err = errno;
          close();  // half a body went out: the connection cannot carry another request
          throw client_error(n == 0 ? "the file being sent shrank (read past its end)"
                                    : std::string("cannot read the file being sent: ") +
                                          std::strerror(err));
        }
        done += static_cast<std::size_t>(n);
        offset += n;
      }
      const auto ec = run(timeout, [&](auto handler) {
        asio::async_write(*tls, asio::buffer(slice_buffer.data(), slice), handler);
      });
      if (ec) return ec;
      left -= slice;
      reported += static_cast<std::int64_t>(slice);
      if (hooks.on_body_sent) hooks.on_body_sent(static_cast<std::int64_t>(slice));
    }
    return {};
  }

  // sendfile(2) in slices, on the socket made non-blocking, each wait for room bounded by the
  // timeout like every other socket operation here.
  error_code send_file(const file_body& body, const transfer_hooks& hooks,
                       std::chrono::seconds timeout, std::int64_t& reported) {
    auto& socket = tcp().socket();
    error_code ec;
    socket.native_non_blocking(true, ec);
    if (ec) return ec;
    const int timeout_ms = static_cast<int>(std::min<std::int64_t>(
        std::chrono::milliseconds(timeout).count(), std::numeric_limits<int>::max()));
    auto offset = static_cast<off_t>(body.offset);
    for (std::uint64_t left = body.size; left > 0;) {
      const auto slice = static_cast<std::size_t>(std::min<std::uint64_t>(body_slice, left));
      if (hooks.limiter != nullptr) hooks.limiter->acquire(slice);
      for (std::size_t done = 0; done < slice;) {
        const ssize_t n = ::sendfile(socket.native_handle(), body.fd, &offset, slice - done);
        if (n > 0) {
          done += static_cast<std::size_t>(n);
          continue;
        }
        if (n == 0) {
          close();  // half a body went out: the connection cannot carry another request
          throw client_error("the file being sent shrank (sendfile reached its end)");
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          return {errno, boost::system::system_category()};
        pollfd p{socket.native_handle(), POLLOUT, 0};
        const int ready = ::poll(&p, 1, timeout_ms);
        if (ready == 0) return beast::error::timeout;
        if (ready < 0 && errno != EINTR) return {errno, boost::system::system_category()};
      }
      left -= slice;
      reported += static_cast<std::int64_t>(slice);
      if (hooks.on_body_sent) hooks.on_body_sent(static_cast<std::int64_t>(slice));
    }
    return {};
  }

  // Writes the body in slices so a rate limit paces it evenly and progress moves smoothly.
  error_code write_body(std::string_view body, const transfer_hooks& hooks,
                        std::chrono::seconds timeout, std::int64_t& reported) {
    for (std::size_t off = 0; off < body.size();) {
      const std::size_t n = std::min(body_slice, body.size() - off);
      if (hooks.limiter != nullptr) hooks.limiter->acquire(n);
      const auto ec = run(timeout, [&](auto handler) {
        with_stream(
            [&](auto& s) { asio::async_write(s, asio::buffer(body.data() + off, n), handler); });
      });
      if (ec) return ec;
      off += n;
      reported += static_cast<std::int64_t>(n);
      if (hooks.on_body_sent) hooks.on_body_sent(static_cast<std::int64_t>(n));
    }
    return {};
  }

  // Reads one response (an interim 1xx included) into memory or into hooks.write_body.
  response read_response(const transfer_hooks& hooks, std::chrono::seconds timeout,
                         bool may_be_stale) {
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    auto ec = run(timeout, [&](auto handler) {
      with_stream([&](auto& s) { bhttp::async_read_header(s, buffer, parser, handler); });
    });
    if (ec) fail(ec, may_be_stale && !parser.got_some(), "reading the response");

    response r;
    r.status = parser.get().result_int();
    for (const auto& field : parser.get())
      r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    if (r.status / 100 == 1) return r;

    const bool to_sink = hooks.stream_body && hooks.stream_body(r);
    std::vector<char> chunk(body_slice);
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      ec = run(timeout, [&](auto handler) {
        with_stream([&](auto& s) { bhttp::async_read(s, buffer, parser, handler); });
      });
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) fail(ec, false, "reading the response body");
      const std::size_t n = chunk.size() - parser.get().body().size;
      if (to_sink) {
        hooks.write_body(std::string_view(chunk.data(), n));
      } else {
        if (r.body.size() + n > max_stored_body) {
          close();
          throw transport_error("the response from " + url.text() + " is unexpectedly large",
                                false);
        }
        r.body.append(chunk.data(), n);
      }
    }
    if (!parser.get().keep_alive()) close();
    return r;
  }

  response read_final(const transfer_hooks& hooks, std::chrono::seconds timeout,
                      bool may_be_stale) {
    for (;;) {
      response r = read_response(hooks, timeout, may_be_stale);
      if (r.status / 100 != 1) return r;
    }
  }

  response exchange(const request& req, const transfer_hooks& hooks, std::int64_t& reported) {
    const auto timeout = req.timeout.value_or(io_timeout);
    auto head = make_header(req);
    bhttp::request_serializer<bhttp::empty_body> serializer(head);
    auto ec = run(timeout, [&](auto handler) {
      with_stream([&](auto& s) { bhttp::async_write_header(s, serializer, handler); });
    });
    if (ec) fail(ec, true, "sending the request");

    const bool expect = req.expect_continue && req.body_size() != 0;
    if (expect) {
      response interim = read_response({}, timeout, true);
      if (interim.status != 100) {
        // The body was never sent; the server may still be waiting for it, so this connection
        // cannot carry another request.
        close();
        return interim;
      }
    }
    ec = write_body(req, hooks, timeout, reported);
    if (ec) return answer_after_failed_write(ec, hooks, reported == 0 && !expect);
    return read_final(hooks, timeout, !expect);
  }

  // A server that refuses a request may answer and close before reading the whole body; its
  // answer is more useful than the write error.
  response answer_after_failed_write(const error_code& write_error, const transfer_hooks& hooks,
                                     bool nothing_sent) {
    try {
      response r = read_final(hooks, early_answer_wait, false);
      close();
      return r;
    } catch (const client_error&) {
      fail(write_error, nothing_sent, "sending the request body");
    }
  }
};

connection::connection(server_url url, tls_options tls, std::chrono::seconds io_timeout)
    : impl_(std::make_unique<impl>(std::move(url), std::move(tls), io_timeout)) {}

connection::~connection() = default;

response connection::send(const request& req, const transfer_hooks& hooks) {
  auto& s = *impl_;
  for (;;) {
    if (!s.reusable()) s.connect();
    s.reused = s.used;
    s.used = true;
    std::int64_t reported = 0;
    try {
      return s.exchange(req, hooks, reported);
    } catch (const stale_connection&) {
      // Only a reused connection goes stale, and the next attempt runs on a fresh one.
      if (hooks.on_body_sent && reported != 0) hooks.on_body_sent(-reported);
    }
  }
}

void connection::close() {
  impl_->close();
}

const server_url& connection::url() const {
  return impl_->url;
}

}  // namespace sharebox::client
