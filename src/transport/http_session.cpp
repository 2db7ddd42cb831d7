#include "sharebox/transport/http_session.hpp"

#include <sys/sendfile.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <deque>
#include <limits>

#include "sharebox/http/body_errors.hpp"
#include "sharebox/transport/access_log.hpp"
#include "sharebox/transport/connection_registry.hpp"
#include "sharebox/util/crypto.hpp"

namespace sharebox::transport {

namespace {

using clock = std::chrono::steady_clock;
namespace websocket = beast::websocket;
constexpr std::size_t max_stream_queue = 1024;  // messages; a client this far behind is dropped

// Queued, ordered writes of messages posted from any thread onto one strand.
template <typename Derived>
class queued_sink : public http::message_sink,
                    public std::enable_shared_from_this<queued_sink<Derived>> {
 public:
  explicit queued_sink(asio::any_io_executor strand) : strand_(std::move(strand)) {}

  void send(std::string kind, std::shared_ptr<const std::string> text) override {
    asio::post(strand_, [self = this->shared_from_this(), kind = std::move(kind), text] {
      self->enqueue(static_cast<Derived&>(*self).frame(kind, text));
    });
  }
  void disconnect() override {
    asio::post(strand_, [self = this->shared_from_this()] { self->close(); });
  }
  void enqueue(std::shared_ptr<const std::string> framed) {
    if (closed_) return;
    if (queue_.size() >= max_stream_queue) {
      close();
      return;
    }
    queue_.push_back(std::move(framed));
    if (queue_.size() == 1) write_next();
  }
  void close() {
    closed_ = true;
    static_cast<Derived&>(*this).abort();
  }
  bool closed() const { return closed_; }

 private:
  void write_next() {
    static_cast<Derived&>(*this).write(
        *queue_.front(), [self = this->shared_from_this()](error_code ec, std::size_t) {
          if (ec) {
            self->closed_ = true;
            self->queue_.clear();
            return;
          }
          self->queue_.pop_front();
          if (!self->queue_.empty() && !self->closed_) self->write_next();
        });
  }

  asio::any_io_executor strand_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool closed_ = false;
};

template <typename Stream>
class ws_sink final : public queued_sink<ws_sink<Stream>> {
 public:
  ws_sink(Stream&& s, http::route_metrics& route)
      : queued_sink<ws_sink>(s.get_executor()), ws_(std::move(s)), route_(route) {}
  // One shared buffer for every connection a message fans out to.
  std::shared_ptr<const std::string> frame(const std::string&,
                                           std::shared_ptr<const std::string> text) {
    return text;
  }
  template <typename Handler>
  void write(const std::string& msg, Handler&& h) {
    route_.add_bytes_out(msg.size());
    ws_.text(true);
    ws_.async_write(asio::buffer(msg), std::forward<Handler>(h));
  }
  void abort() { beast::get_lowest_layer(ws_).close(); }
  websocket::stream<Stream> ws_;

 private:
  http::route_metrics& route_;
};

template <typename Stream>
class sse_sink final : public queued_sink<sse_sink<Stream>> {
 public:
  sse_sink(Stream& s, std::chrono::milliseconds write_timeout, http::route_metrics& route)
      : queued_sink<sse_sink>(s.get_executor()),
        stream_(s),
        write_timeout_(write_timeout),
        route_(route) {}
  std::shared_ptr<const std::string> frame(const std::string& kind,
                                           const std::shared_ptr<const std::string>& text) {
    return std::make_shared<const std::string>("event: " + kind + "\ndata: " + *text + "\n\n");
  }
  template <typename Handler>
  void write(const std::string& msg, Handler&& h) {
    route_.add_bytes_out(msg.size());
    beast::get_lowest_layer(stream_).expires_after(write_timeout_);
    asio::async_write(stream_, asio::buffer(msg), std::forward<Handler>(h));
  }
  void abort() { beast::get_lowest_layer(stream_).socket().cancel(); }

 private:
  Stream& stream_;
  std::chrono::milliseconds write_timeout_;
  http::route_metrics& route_;
};
constexpr std::size_t small_body = 64 * 1024;  // sent with its header in one write
constexpr std::size_t read_buffer_bytes = 64 * 1024;
constexpr std::uint64_t drain_limit = 64 * 1024;
// How long a closing TLS connection waits for the client's close_notify.
constexpr std::chrono::seconds tls_close_timeout{2};
// File bytes read per TLS write: sendfile(2) cannot encrypt, so they pass through user space.
constexpr std::size_t tls_file_slice = 256 * 1024;

// Discards what the client still sends, for a moment, before the connection closes: closing
// with unread bytes makes the kernel send RST, which can destroy a response the client has not
// read yet. Reads go through `s`; `lowest` bounds them.
template <typename S>
awaitable<void> discard_input(S& s, beast::tcp_stream& lowest) {
  std::array<char, 16 * 1024> scratch;
  std::size_t discarded = 0;
  lowest.expires_after(std::chrono::seconds(2));
  error_code ec;
  while (discarded < (16u << 20)) {
    const std::size_t n = co_await s.async_read_some(asio::buffer(scratch),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    discarded += n;
  }
}

// The header block exactly as Beast's serializer writes it. Beast walks a buffer sequence of
// several views per field to do it, which cost more than the rest of sending a small response.
void append_header(const bhttp::response_header<>& h, std::string& out) {
  const unsigned version = h.version();
  const unsigned code = h.result_int();
  const char status_line[] = {'H',
                              'T',
                              'T',
                              'P',
                              '/',
                              static_cast<char>('0' + version / 10),
                              '.',
                              static_cast<char>('0' + version % 10),
                              ' ',
                              static_cast<char>('0' + code / 100 % 10),
                              static_cast<char>('0' + code / 10 % 10),
                              static_cast<char>('0' + code % 10),
                              ' '};
  out.append(status_line, sizeof status_line);
  out.append(h.reason());
  out.append("\r\n");
  for (const auto& f : h) {
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}

bool is_disconnect(const error_code& ec) {
  // Over TLS, a client that closes without close_notify truncates the stream, and any TLS
  // error leaves nothing an HTTP answer could be sent through.
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout || ec == asio::error::broken_pipe ||
         ec.category() == asio::error::get_ssl_category() ||
         ec == asio::ssl::error::stream_truncated;
}

// Beast frames a body as chunked only when chunked is the last coding, and otherwise ignores
// Transfer-Encoding: `gzip` or `chunked, identity` would leave the body to Content-Length or make
// it empty, and its bytes would be read as the next request (request smuggling; RFC 9112 section
// 6.3 says to refuse such a request). sharebox decodes no coding but chunked, so the only
// Transfer-Encoding it takes is one field saying `chunked`, from an HTTP/1.1 client.
bool acceptable_transfer_encoding(const http::request_header& req) {
  const auto [first, last] = req.equal_range(bhttp::field::transfer_encoding);
  if (first == last) return true;
  if (req.version() < 11 || std::next(first) != last) return false;
  std::string_view v = first->value();
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  return beast::iequals(v, "chunked");
}

bool valid_request_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// A fresh request id into `out`, in util::new_id's format (128 random bits as 26 base32
// characters), with random bytes drawn from a per-thread reserve: one RAND_bytes call per 256
// ids instead of one per request (RAND_bytes' fixed cost per call was 5 % of the CPU of a
// request, measured). Request ids are correlation tokens, not secrets; `out` keeps its capacity.
void new_request_id(std::string& out) {
  constexpr std::size_t id_bytes = 16;
  thread_local std::string reserve;
  thread_local std::size_t used = 0;
  if (used + id_bytes > reserve.size()) {
    reserve = util::random_bytes(256 * id_bytes);
    used = 0;
  }
  util::encode_id(std::string_view(reserve).substr(used, id_bytes), out);
  used += id_bytes;
}

[[noreturn]] void throw_errno(const char* what) {
  throw boost::system::system_error(error_code(errno, boost::system::system_category()), what);
}

}  // namespace

template <typename Stream>
http_session<Stream>::http_session(Stream stream, const limits& lim,
                                   std::shared_ptr<const request_handler> handler,
                                   connection_registry& registry, http::request_metrics& metrics)
    : stream_(std::move(stream)),
      write_timer_(stream_.get_executor()),
      idle_timer_(stream_.get_executor()),
      limits_(lim),
      handler_(std::move(handler)),
      registry_(registry),
      metrics_(metrics) {
  // Beast keeps a chunk header (with its extensions) or a trailer section in this buffer until
  // its end arrives, with no limit of its own: a client that never ends one would grow it
  // without bound. Nothing legitimate needs more than a header block and a read's worth.
  buffer_.max_size(lim.max_header_bytes + read_buffer_bytes);
  buffer_.reserve(read_buffer_bytes);
}

template <typename Stream>
http_session<Stream>::~http_session() {
  registry_.remove(this);
}

template <typename Stream>
void http_session<Stream>::start() {
  auto self = this->shared_from_this();
  registry_.add(self);
  error_code ec;
  tcp().socket().set_option(tcp::no_delay(true), ec);
  // Responses are sent at once where the socket takes them (write_buffers) and files with
  // sendfile(2): neither may block the network thread.
  if constexpr (!is_tls) stream_.socket().native_non_blocking(true, ec);
  asio::co_spawn(stream_.get_executor(), run(), [self](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::debug("connection ended: {}", ex.what());
    }
  });
}

template <typename Stream>
void http_session<Stream>::shutdown() {
  asio::post(write_timer_.get_executor(), [self = this->shared_from_this()] {
    self->closing_ = true;
    if (self->idle_ && !self->stream_moved_) self->tcp().cancel();
    if (self->on_shutdown_) self->on_shutdown_();
  });
}

template <typename Stream>
awaitable<void> http_session<Stream>::run() {
  // The idle timer's handler holds the session: cancel it however the connection ends.
  struct cancel_on_exit {
    asio::steady_timer& timer;
    ~cancel_on_exit() { timer.cancel(); }
  } idle_timer_guard{idle_timer_};
  if constexpr (is_tls) {
    if (!co_await accept_tls()) {
      tcp().close();
      co_return;
    }
  }
  while (!closing_) {
    if (!co_await read_request_header()) break;
    co_await serve_request();
    if (!keep_alive_) break;
  }
  if (stream_moved_) co_return;
  error_code ec;
  if constexpr (is_tls) {
    // close_notify, so the client knows the response was not cut short; the wait for its own
    // close_notify is bounded (a silent client may never send one).
    tcp().expires_after(tls_close_timeout);
    co_await stream_.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  } else {
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  }
  tcp().close();
}

template <typename Stream>
awaitable<bool> http_session<Stream>::accept_tls() {
  if constexpr (is_tls) {
    // The client hello and the whole handshake share the header timeout: a client that connects
    // and stalls holds the connection no longer than one that stalls in its request header.
    tcp().expires_after(limits_.header_timeout);
    error_code ec;
    const bool hello = co_await beast::async_detect_ssl(
        tcp(), buffer_, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    if (!hello) {
      co_await refuse_plain_http();
      co_return false;
    }
    const std::size_t used =
        co_await stream_.async_handshake(asio::ssl::stream_base::server, buffer_.data(),
                                         asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      spdlog::debug("TLS handshake failed: {}", ec.message());
      co_return false;
    }
    buffer_.consume(used);
  }
  co_return true;
}

template <typename Stream>
awaitable<void> http_session<Stream>::refuse_plain_http() {
  // A plain HTTP request on the TLS port: a short answer in plain text instead of a handshake
  // that would never complete. Its header is not read; the lingering close below keeps the
  // unread bytes from resetting the connection under the answer.
  new_request_id(request_id_);
  started_ = clock::now();
  auto res = http::problem_response(
      http::problem{bhttp::status::bad_request,
                    "tls_required",
                    "This port speaks HTTPS only: use https:// (and wss:// for WebSockets).",
                    {}});
  res.keep_alive(false);
  res.set("X-Request-Id", request_id_);
  tcp().expires_after(limits_.write_timeout);
  error_code ec;
  header_bytes_out_ =
      co_await bhttp::async_write(tcp(), res, asio::redirect_error(asio::use_awaitable, ec));
  status_ = res.result_int();
  finish_request(status_);
  if (ec) co_return;
  tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) co_await discard_input(tcp(), tcp());
}

template <typename Stream>
awaitable<bool> http_session<Stream>::read_request_header() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  // Limits are the handlers' business (413 before reading). Not boost::none: Beast 1.74
  // compares `len > optional` in on_header, and any length is greater than an empty optional.
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  // Waiting for a request to begin is idleness; once its first byte is here, the whole header
  // must follow within the header timeout (what bounds slowloris clients).
  idle_ = true;
  error_code ec;
  std::uint64_t header_bytes = 0;
  if (buffer_.size() == 0) ec = co_await wait_for_request();
  if (!ec) {
    // The whole header nearly always comes in one read: parse it here, and read on (under the
    // header timeout) only when it is incomplete.
    header_bytes = parser_->put(buffer_.data(), ec);
    buffer_.consume(header_bytes);
    if (ec == bhttp::error::need_more) tcp().expires_after(limits_.header_timeout);
    // Beast's header limit bounds what one put() sees, and the fields it has parsed are consumed
    // from the buffer: a header sent in pieces smaller than the limit would never reach it, and
    // its fields would pile up for as long as the header timeout lets them. The whole header's
    // size is checked here instead.
    while (ec == bhttp::error::need_more) {
      ec = {};
      if (header_bytes + buffer_.size() >= limits_.max_header_bytes) {
        ec = bhttp::error::header_limit;
        break;
      }
      const std::size_t room = buffer_.max_size() - buffer_.size();
      const std::size_t n =
          co_await stream_.async_read_some(buffer_.prepare(std::min(room, read_buffer_bytes)),
                                           asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      buffer_.commit(n);
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      header_bytes += used;
    }
  }
  idle_ = false;

  started_ = clock::now();
  response_sent_ = false;
  keep_alive_ = false;
  status_ = 0;
  bytes_out_ = 0;
  body_received_ = 0;
  header_bytes_in_ = header_bytes;
  header_bytes_out_ = 0;
  streamed_ = false;
  route_ = nullptr;
  principal_.clear();
  extra_headers_.clear();
  body_mode_ = body_mode::none;
  body_done_ = true;
  continue_pending_ = false;

  if (ec) {
    new_request_id(request_id_);
    if (ec == bhttp::error::header_limit) {
      co_await answer_early(bhttp::status::request_header_fields_too_large, "headers_too_large",
                            "The request header block exceeds " +
                                std::to_string(limits_.max_header_bytes) + " bytes.");
    } else if (!is_disconnect(ec) && ec != bhttp::error::partial_message) {
      co_await answer_early(bhttp::status::bad_request, "bad_request",
                            "Malformed HTTP request: " + ec.message() + ".");
    }
    co_return false;
  }

  const auto& req = parser_->get();
  const auto rid = req["X-Request-Id"];
  if (valid_request_id(rid)) {
    request_id_.assign(rid);
  } else {
    new_request_id(request_id_);
  }
  if (!acceptable_transfer_encoding(req)) {
    co_await answer_early(bhttp::status::bad_request, "bad_request",
                          "Transfer-Encoding must be chunked (HTTP/1.1), alone.");
    co_return false;
  }
  if (parser_->chunked()) {
    body_mode_ = body_mode::chunked;
    body_done_ = parser_->is_done();
  } else if (const auto len = parser_->content_length(); len && *len > 0) {
    body_mode_ = body_mode::length;
    body_remaining_ = *len;
    body_done_ = false;
  }
  continue_pending_ = !body_done_ && beast::iequals(req[bhttp::field::expect], "100-continue");
  co_return true;
}

template <typename Stream>
awaitable<error_code> http_session<Stream>::wait_for_request() {
  // Straight on the socket: beast::tcp_stream would arm and cancel its timer for every read.
  idle_deadline_ = clock::now() + limits_.idle_timeout;
  if (!idle_timer_armed_) arm_idle_timer();
  awaiting_request_ = true;
  error_code ec;
  std::size_t n = 0;
  if constexpr (is_tls) {
    // Through the TLS stream, without a deadline of the TCP stream's own: the idle timer's.
    tcp().expires_never();
    n = co_await stream_.async_read_some(buffer_.prepare(read_buffer_bytes),
                                         asio::redirect_error(asio::use_awaitable, ec));
  } else {
    n = co_await stream_.socket().async_read_some(buffer_.prepare(read_buffer_bytes),
                                                  asio::redirect_error(asio::use_awaitable, ec));
  }
  buffer_.commit(n);
  awaiting_request_ = false;
  if (ec == asio::error::operation_aborted && idle_timed_out_) ec = beast::error::timeout;
  co_return ec;
}

template <typename Stream>
void http_session<Stream>::arm_idle_timer() {
  // Every request pushes the idle deadline back, but the timer is not re-armed for it: when it
  // fires before the deadline it re-arms itself. A busy connection so costs one timer operation
  // per idle timeout instead of one per request.
  idle_timer_armed_ = true;
  idle_timer_.expires_at(idle_deadline_);
  idle_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
    self->idle_timer_armed_ = false;
    if (ec || !self->awaiting_request_) return;  // cancelled, or busy: the next wait re-arms it
    if (clock::now() < self->idle_deadline_) {
      self->arm_idle_timer();
      return;
    }
    self->idle_timed_out_ = true;
    error_code ignored;
    self->tcp().socket().cancel(ignored);
  });
}

template <typename Stream>
awaitable<void> http_session<Stream>::answer_early(bhttp::status status, std::string code,
                                                   std::string detail) {
  // No request to speak of: answer once and close, without waiting for a body.
  auto res = http::problem_response(http::problem{status, std::move(code), std::move(detail), {}});
  res.keep_alive(false);
  res.set("X-Request-Id", request_id_);
  tcp().expires_after(limits_.write_timeout);
  error_code ec;
  header_bytes_out_ =
      co_await bhttp::async_write(stream_, res, asio::redirect_error(asio::use_awaitable, ec));
  status_ = res.result_int();
  finish_request(status_);
  if (!ec) co_await lingering_close();
}

template <typename Stream>
awaitable<void> http_session<Stream>::serve_request() {
  std::string failure;
  bool io_failed = false;
  error_code io_error;
  try {
    co_await (*handler_)(*this);
  } catch (const boost::system::system_error& e) {
    io_failed = true;
    io_error = e.code();
    failure = e.what();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (io_failed) {
    keep_alive_ = false;
    spdlog::debug("request {}: connection failed: {}", request_id_, failure);
    if (!response_sent_ && http::is_malformed_body(io_error)) {
      // The client is still there and broke the body's framing: tell it, then close.
      std::string detail = "Malformed chunked request body: " + io_error.message() + ".";
      if (io_error == bhttp::error::buffer_overflow) {
        detail = "A chunk header or the trailer section is longer than " +
                 std::to_string(buffer_.max_size()) + " bytes.";
      }
      co_await answer_early(bhttp::status::bad_request, "bad_request", std::move(detail));
      co_return;
    }
    finish_request(response_sent_ ? status_ : 499);
    co_return;
  }
  if (!response_sent_) {
    if (!failure.empty()) spdlog::error("request {} failed: {}", request_id_, failure);
    try {
      // Named, not a temporary in the co_await expression: GCC 12 mis-destroys braced
      // temporaries there.
      auto res = http::problem_response(http::problem{bhttp::status::internal_server_error,
                                                      "internal_error",
                                                      "The server could not complete this request.",
                                                      {}});
      co_await send(std::move(res));
    } catch (const std::exception&) {
      keep_alive_ = false;
    }
  } else if (!failure.empty()) {
    // The response is out but the handler failed after it: the connection state is unknown.
    spdlog::error("request {} failed after responding: {}", request_id_, failure);
    keep_alive_ = false;
  }
  // Checked here, not inside: its frame holds a 16 KiB scratch buffer, and allocating that for
  // every request (a malloc too large for the thread cache) cost more than the rest of the call.
  if (!body_done_) co_await finish_body_or_close();
  finish_request(status_);
}

template <typename Stream>
awaitable<void> http_session<Stream>::finish_body_or_close() {
  if (keep_alive_) {
    std::array<char, 16 * 1024> scratch;
    try {
      while (co_await read_body(scratch.data(), scratch.size()) > 0) {
      }
      co_return;
    } catch (const std::exception&) {
      keep_alive_ = false;
      co_return;
    }
  }
  co_await lingering_close();
}

template <typename Stream>
awaitable<void> http_session<Stream>::lingering_close() {
  // Closing with unread request bytes makes the kernel send RST, which can destroy the response
  // before the client reads it. Half-close, then discard what is in flight for a moment.
  keep_alive_ = false;
  // TLS has no half-close: the client learns the response is complete from its length (and
  // Connection: close), and run() sends close_notify once the client is done sending.
  if constexpr (!is_tls) {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
  }
  co_await discard_input(stream_, tcp());
  if constexpr (!is_tls) stream_.close();
}

template <typename Stream>
const http::request_header& http_session<Stream>::request() const {
  return parser_->get();
}

template <typename Stream>
std::optional<std::uint64_t> http_session<Stream>::content_length() const {
  return parser_->content_length() ? std::optional<std::uint64_t>(*parser_->content_length())
                                   : std::nullopt;
}

template <typename Stream>
bool http_session<Stream>::body_complete() const {
  return body_done_;
}

template <typename Stream>
awaitable<std::size_t> http_session<Stream>::read_body(void* data, std::size_t size) {
  if (body_done_ || size == 0) co_return 0;
  if (continue_pending_ && !response_sent_) {
    continue_pending_ = false;
    static constexpr std::string_view msg = "HTTP/1.1 100 Continue\r\n\r\n";
    co_await write_buffer(asio::buffer(msg.data(), msg.size()));
  }
  if (body_mode_ == body_mode::length) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(size, body_remaining_));
    std::size_t n = 0;
    if (buffer_.size() > 0) {
      n = asio::buffer_copy(asio::buffer(data, want), buffer_.data());
      buffer_.consume(n);
    } else {
      tcp().expires_after(limits_.read_timeout);
      n = co_await stream_.async_read_some(asio::buffer(data, want), asio::use_awaitable);
    }
    body_remaining_ -= n;
    body_received_ += n;
    body_done_ = body_remaining_ == 0;
    co_return n;
  }
  for (;;) {
    auto& body = parser_->get().body();
    body.data = data;
    body.size = size;
    tcp().expires_after(limits_.read_timeout);
    error_code ec;
    co_await bhttp::async_read_some(stream_, buffer_, *parser_,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) throw boost::system::system_error(ec);
    const std::size_t n = size - body.size;
    body_received_ += n;
    body_done_ = parser_->is_done();
    if (n > 0 || body_done_) co_return n;
  }
}

template <typename Stream>
void http_session<Stream>::prepare_common(bhttp::fields& f, bool& keep_alive) {
  const bool drainable =
      body_done_ || (body_mode_ == body_mode::length && body_remaining_ <= drain_limit);
  // A client still waiting for 100 Continue may or may not send its body now that a final
  // answer came instead: close rather than guess (and never send a 100 after that answer).
  keep_alive = !closing_ && parser_->get().keep_alive() && drainable && !continue_pending_;
  f.set("X-Request-Id", request_id_);
  for (const auto& [name, value] : extra_headers_)
    f.set(name, value);
  // HTTP/1.1 defaults to keep-alive and HTTP/1.0 to close: say so only when it differs.
  const bool http11 = request().version() >= 11;
  if (http11 && !keep_alive) f.set(bhttp::field::connection, "close");
  if (!http11 && keep_alive) f.set(bhttp::field::connection, "keep-alive");
}

template <typename Stream>
awaitable<void> http_session<Stream>::send(bhttp::response<bhttp::string_body> res) {
  res.version(request().version());
  prepare_common(res.base(), keep_alive_);
  const auto status = res.result();
  if (status == bhttp::status::no_content || status == bhttp::status::not_modified) {
    res.body().clear();
  } else {
    res.content_length(res.body().size());
  }
  status_ = res.result_int();
  response_sent_ = true;
  out_.clear();
  append_header(res.base(), out_);
  header_bytes_out_ = out_.size();
  std::array<asio::const_buffer, 2> buffers{asio::buffer(out_), asio::const_buffer()};
  if (request().method() != bhttp::verb::head) {
    bytes_out_ = res.body().size();
    buffers[1] = asio::buffer(res.body());
  }
  if (!send_now(buffers)) co_await send_rest(buffers);
  release_out_buffer();
}

template <typename Stream>
awaitable<void> http_session<Stream>::send_file(bhttp::response_header<> header, int fd,
                                                std::vector<http::body_piece> pieces) {
  header.version(request().version());
  prepare_common(header, keep_alive_);
  status_ = header.result_int();
  response_sent_ = true;

  out_.clear();
  append_header(header, out_);
  header_bytes_out_ = out_.size();
  if (request().method() == bhttp::verb::head) {
    co_await write_buffers(asio::buffer(out_));
    release_out_buffer();
    co_return;
  }

  std::uint64_t total = 0;
  for (const auto& p : pieces)
    total += p.text.size() + p.length;
  if (total <= small_body) {
    // One write for header and body: no extra round trip or Nagle interplay for small files.
    for (const auto& p : pieces) {
      out_ += p.text;
      const std::size_t at = out_.size();
      out_.resize(at + p.length);
      std::size_t done = 0;
      while (done < p.length) {
        const ssize_t n = ::pread(fd, out_.data() + at + done, p.length - done,
                                  static_cast<off_t>(p.offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("pread");
        done += static_cast<std::size_t>(n);
      }
    }
    std::array<asio::const_buffer, 2> buffers{asio::buffer(out_), asio::const_buffer()};
    if (!send_now(buffers)) co_await send_rest(buffers);
    bytes_out_ = total;
    release_out_buffer();
    co_return;
  }
  // The body follows at once: MSG_MORE lets the kernel put the header into the body's first
  // segment. Sent on its own right before sendfile(2), the header cost 1 MiB downloads a third
  // of their throughput (measured: 32 connections, 1.4k against 3.3k responses/s).
  std::array<asio::const_buffer, 2> head{asio::buffer(out_), asio::const_buffer()};
  if (!send_now(head, MSG_MORE)) co_await send_rest(head);
  release_out_buffer();
  for (const auto& p : pieces) {
    if (!p.text.empty()) co_await write_buffers(asio::buffer(p.text));
    co_await send_file_range(fd, p.offset, p.length);
    bytes_out_ += p.text.size() + p.length;
  }
}

template <typename Stream>
awaitable<void> http_session<Stream>::write_buffer(asio::const_buffer b) {
  co_await write_buffers(b);
}

template <typename Stream>
awaitable<void> http_session<Stream>::write_buffers(asio::const_buffer first,
                                                    asio::const_buffer second) {
  std::array<asio::const_buffer, 2> buffers{first, second};
  if (!send_now(buffers)) co_await send_rest(buffers);
}

template <typename Stream>
bool http_session<Stream>::send_now(std::array<asio::const_buffer, 2>& buffers, int flags) {
  // Most responses fit in the socket's send buffer: send at once (the socket is non-blocking),
  // and wait (with the write timeout) only for what does not fit. A plain async_write would
  // arm and cancel a timer and complete through the scheduler even when nothing has to wait.
  // Over TLS everything is encrypted on its way: send_rest writes it all.
  if constexpr (is_tls) return buffers[0].size() == 0 && buffers[1].size() == 0;
  error_code ec;
  std::size_t sent = tcp().socket().send(buffers, flags, ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    throw boost::system::system_error(ec);
  }
  if (ec) sent = 0;
  for (auto& b : buffers) {
    const std::size_t skip = std::min(sent, b.size());
    b += skip;
    sent -= skip;
  }
  return buffers[0].size() == 0 && buffers[1].size() == 0;
}

template <typename Stream>
awaitable<void> http_session<Stream>::send_rest(std::array<asio::const_buffer, 2> buffers) {
  tcp().expires_after(limits_.write_timeout);
  co_await asio::async_write(stream_, buffers, asio::use_awaitable);
}

template <typename Stream>
void http_session<Stream>::release_out_buffer() {
  // Kept between responses so that small ones need no allocation; a large one's is not kept
  // for the life of an idle keep-alive connection.
  if (out_.capacity() > 16 * 1024) std::string().swap(out_);
}

template <typename Stream>
awaitable<void> http_session<Stream>::send_file_range(int fd, std::uint64_t offset,
                                                      std::uint64_t length) {
  if constexpr (is_tls) {
    co_await copy_file_range_tls(fd, offset, length);
    co_return;
  }
  auto& socket = tcp().socket();
  socket.native_non_blocking(true);
  auto off = static_cast<off_t>(offset);
  while (length > 0) {
    const std::size_t step = static_cast<std::size_t>(std::min<std::uint64_t>(length, 1u << 30));
    const ssize_t n = ::sendfile(socket.native_handle(), fd, &off, step);
    if (n > 0) {
      length -= static_cast<std::uint64_t>(n);
      continue;
    }
    if (n == 0) {
      throw boost::system::system_error(asio::error::eof, "sendfile: file shorter than expected");
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw_errno("sendfile");
    co_await wait_writable();
  }
}

template <typename Stream>
awaitable<void> http_session<Stream>::copy_file_range_tls(int fd, std::uint64_t offset,
                                                          std::uint64_t length) {
  const auto slice = static_cast<std::size_t>(std::min<std::uint64_t>(length, tls_file_slice));
  const std::unique_ptr<char[]> buf(new char[slice]);
  while (length > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length, slice));
    const ssize_t n = ::pread(fd, buf.get(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("pread");
    if (n == 0) {
      throw boost::system::system_error(asio::error::eof, "pread: file shorter than expected");
    }
    tcp().expires_after(limits_.write_timeout);
    co_await asio::async_write(stream_, asio::buffer(buf.get(), static_cast<std::size_t>(n)),
                               asio::use_awaitable);
    offset += static_cast<std::uint64_t>(n);
    length -= static_cast<std::uint64_t>(n);
  }
}

template <typename Stream>
awaitable<void> http_session<Stream>::wait_writable() {
  // Asio 1.74 has no awaitable operators to race two waits, so the timer cancels the socket.
  // The generation guards against a timer that fired just as the wait completed.
  const std::uint64_t generation = ++write_wait_generation_;
  write_timer_.expires_after(limits_.write_timeout);
  write_timer_.async_wait([this, self = this->shared_from_this(), generation](error_code ec) {
    if (!ec && generation == write_wait_generation_) tcp().socket().cancel();
  });
  error_code ec;
  co_await tcp().socket().async_wait(tcp::socket::wait_write,
                                     asio::redirect_error(asio::use_awaitable, ec));
  ++write_wait_generation_;
  write_timer_.cancel();
  if (ec == asio::error::operation_aborted) ec = beast::error::timeout;
  if (ec) throw boost::system::system_error(ec);
}

template <typename Stream>
void http_session<Stream>::release_read_buffer() {
  // After an upgrade the WebSocket stream reads with its own buffer; the HTTP read buffer (64 KiB
  // reserved) would otherwise stay allocated for the life of every WebSocket connection. Bytes
  // the client sent after its upgrade request cannot be here: it must wait for our 101 first.
  buffer_ = beast::flat_buffer();
}

template <typename Stream>
bool http_session<Stream>::is_websocket_upgrade() const {
  return websocket::is_upgrade(parser_->get());
}

template <typename Stream>
awaitable<void> http_session<Stream>::stream_websocket(
    std::function<void(std::shared_ptr<http::message_sink>)> on_open) {
  response_sent_ = true;
  keep_alive_ = false;
  status_ = 101;
  streamed_ = true;
  tcp().expires_never();
  stream_moved_ = true;
  auto sink = std::make_shared<ws_sink<Stream>>(std::move(stream_), route());
  auto& ws = sink->ws_;
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.read_message_max(64 * 1024);
  ws.set_option(websocket::stream_base::decorator(
      [id = request_id_](websocket::response_type& r) { r.set("X-Request-Id", id); }));
  co_await ws.async_accept(parser_->get(), asio::use_awaitable);
  const auto open = route().open_stream(http::route_metrics::stream_kind::websocket);
  on_shutdown_ = [weak = std::weak_ptr<ws_sink<Stream>>(sink)] {
    if (auto s = weak.lock()) s->close();
  };
  if (closing_) sink->close();
  release_read_buffer();
  on_open(sink);
  // The stream is one-way: client messages are read only to be dropped, a few bytes at a time,
  // into the coroutine frame (a dynamic buffer would keep a frame-sized allocation per
  // connection for nothing). Control frames are answered inside the read.
  std::array<char, 64> discard;
  for (;;) {
    error_code ec;
    co_await ws.async_read_some(asio::buffer(discard),
                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  sink->close();
}

namespace {

template <typename Stream>
class ws_channel final : public http::websocket_channel {
 public:
  ws_channel(websocket::stream<Stream>& ws, std::chrono::milliseconds write_timeout,
             http::route_metrics& route)
      : ws_(ws), timer_(ws.get_executor()), write_timeout_(write_timeout), route_(route) {}

  awaitable<std::optional<piece>> read_some(void* data, std::size_t size) override {
    error_code ec;
    const std::size_t n = co_await ws_.async_read_some(
        asio::buffer(data, size), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return std::nullopt;
    route_.add_bytes_in(n);
    co_return piece{n, ws_.got_binary(), ws_.is_message_done()};
  }

  awaitable<void> write_text(std::string text) override {
    // WebSocket timeouts cover reads only: a client that stops reading would hold this write
    // (and its session) forever, so the write races a timer that drops the connection.
    timer_.expires_after(write_timeout_);
    timer_.async_wait([this](error_code ec) {
      if (!ec) beast::get_lowest_layer(ws_).socket().close(ec);
    });
    ws_.text(true);
    route_.add_bytes_out(text.size());
    error_code ec;
    co_await ws_.async_write(asio::buffer(text), asio::redirect_error(asio::use_awaitable, ec));
    timer_.cancel();
    if (ec) throw boost::system::system_error(ec);
  }

  awaitable<void> close(std::uint16_t code, std::string reason) override {
    error_code ec;
    websocket::close_reason why(static_cast<websocket::close_code>(code), reason);
    co_await ws_.async_close(why, asio::redirect_error(asio::use_awaitable, ec));
  }

  // The timer's handler refers to this object: wait until it has run before it goes away.
  awaitable<void> settle() {
    timer_.cancel();
    error_code ignored;
    timer_.expires_after(std::chrono::milliseconds(0));
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

 private:
  websocket::stream<Stream>& ws_;
  asio::steady_timer timer_;
  std::chrono::milliseconds write_timeout_;
  http::route_metrics& route_;
};

}  // namespace

template <typename Stream>
awaitable<void> http_session<Stream>::converse_websocket(
    std::size_t max_message_bytes,
    std::function<awaitable<void>(http::websocket_channel&)> conversation) {
  response_sent_ = true;
  keep_alive_ = false;
  status_ = 101;
  streamed_ = true;
  tcp().expires_never();
  stream_moved_ = true;
  auto ws = std::make_shared<websocket::stream<Stream>>(std::move(stream_));
  // Pings after half the idle time find a vanished client; one that never answers is dropped.
  websocket::stream_base::timeout t{};
  t.handshake_timeout = limits_.header_timeout;
  t.idle_timeout = limits_.idle_timeout;
  t.keep_alive_pings = true;
  ws->set_option(t);
  ws->read_message_max(max_message_bytes);
  ws->set_option(websocket::stream_base::decorator(
      [id = request_id_](websocket::response_type& r) { r.set("X-Request-Id", id); }));
  co_await ws->async_accept(parser_->get(), asio::use_awaitable);
  const auto open = route().open_stream(http::route_metrics::stream_kind::websocket);
  on_shutdown_ = [weak = std::weak_ptr(ws)] {
    if (auto s = weak.lock()) {
      error_code ignored;
      beast::get_lowest_layer(*s).socket().close(ignored);
    }
  };
  if (closing_) on_shutdown_();
  release_read_buffer();
  ws_channel<Stream> channel(*ws, limits_.write_timeout, route());
  std::exception_ptr failure;
  try {
    co_await conversation(channel);
  } catch (...) {
    failure = std::current_exception();
  }
  co_await channel.settle();
  on_shutdown_ = nullptr;
  if (failure) std::rethrow_exception(failure);
}

template <typename Stream>
awaitable<void> http_session<Stream>::stream_sse(
    std::function<void(std::shared_ptr<http::message_sink>)> on_open) {
  bhttp::response_header<> h;
  h.result(bhttp::status::ok);
  h.version(request().version());
  h.set(bhttp::field::content_type, "text/event-stream");
  h.set(bhttp::field::cache_control, "no-cache");
  h.set("X-Request-Id", request_id_);
  h.set(bhttp::field::connection, "close");  // the body runs until the connection closes
  keep_alive_ = false;
  response_sent_ = true;
  status_ = 200;
  streamed_ = true;
  std::string head;
  append_header(h, head);
  head += ": stream open\n\n";
  header_bytes_out_ = head.size();
  co_await write_buffer(asio::buffer(head));

  const auto open = route().open_stream(http::route_metrics::stream_kind::sse);
  auto sink = std::make_shared<sse_sink<Stream>>(stream_, limits_.write_timeout, route());
  on_shutdown_ = [weak = std::weak_ptr<sse_sink<Stream>>(sink)] {
    if (auto s = weak.lock()) s->close();
  };
  on_open(sink);
  // A comment line every 15 s keeps proxies from timing the stream out and finds dead clients.
  asio::steady_timer ping(stream_.get_executor());
  auto keepalive = std::make_shared<const std::string>(": ping\n\n");
  std::function<void(error_code)> tick = [&, keepalive](error_code ec) {
    if (ec || sink->closed()) return;
    sink->enqueue(keepalive);
    ping.expires_after(std::chrono::seconds(15));
    ping.async_wait(tick);
  };
  ping.expires_after(std::chrono::seconds(15));
  ping.async_wait(tick);
  std::array<char, 1024> scratch;
  while (!sink->closed() && !closing_) {
    tcp().expires_never();
    error_code ec;
    co_await stream_.async_read_some(asio::buffer(scratch),
                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  sink->close();
  ping.cancel();
  // The timer's handler may still be queued: wait for it so `tick` outlives its last use.
  error_code ignored;
  ping.expires_after(std::chrono::milliseconds(0));
  co_await ping.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

template <typename Stream>
http::route_metrics& http_session<Stream>::route() noexcept {
  if (route_) return *route_;
  const bool have_request = parser_ && parser_->is_header_done();
  return metrics_.unmatched(have_request ? parser_->get().method() : bhttp::verb::unknown);
}

template <typename Stream>
void http_session<Stream>::finish_request(unsigned status) {
  const auto took = clock::now() - started_;
  std::optional<std::chrono::nanoseconds> latency;
  if (!streamed_) latency = took;
  route().record(status, latency, header_bytes_in_ + body_received_,
                 header_bytes_out_ + bytes_out_);
  log_access(status, took);
}

template <typename Stream>
void http_session<Stream>::log_access(unsigned status, clock::duration took) {
  const bool have_request = parser_ && parser_->is_header_done();
  transport::log_access({
      .request_id = request_id_,
      .user = principal_,
      .method = have_request ? parser_->get().method_string() : std::string_view{},
      .target = have_request ? parser_->get().target() : std::string_view{},
      .status = status,
      .bytes_in = body_received_,
      .bytes_out = bytes_out_,
      .duration_us = std::chrono::duration_cast<std::chrono::microseconds>(took).count(),
  });
}

template class http_session<plain_stream>;
template class http_session<tls_stream>;

}  // namespace sharebox::transport
