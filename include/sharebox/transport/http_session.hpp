#pragma once
// One HTTP/1.1 connection: reads request headers with limits and timeouts, hands each request
// to the handler as an `exchange`, streams bodies in both directions, keeps the connection
// alive when it safely can. Everything runs on the connection's strand.
//
// The session is a template on its stream: plain TCP (`plain_stream`) or TLS over TCP
// (`tls_stream`), both instantiated in http_session.cpp. The plain one keeps its shortcuts
// (direct non-blocking sends, sendfile(2)) with no per-operation indirection; the TLS one
// handshakes first and moves every byte through the TLS stream.
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>

#include <boost/beast/ssl.hpp>

#include "sharebox/http/exchange.hpp"
#include "sharebox/transport/connection_registry.hpp"
#include "sharebox/transport/limits.hpp"

namespace sharebox::transport {

using http::request_handler;
using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

template <typename Stream>
class http_session final : public registered_connection,
                           public std::enable_shared_from_this<http_session<Stream>>,
                           private http::exchange {
 public:
  // `stream` wraps the accepted socket; a tls_stream has not handshaken yet.
  http_session(Stream stream, const limits& lim, std::shared_ptr<const request_handler> handler,
               connection_registry& registry, http::request_metrics& metrics);
  ~http_session() override;

  void start();
  void shutdown() override;

 private:
  enum class body_mode { none, length, chunked };
  static constexpr bool is_tls = !std::is_same_v<Stream, plain_stream>;

  // The TCP stream under it all: where timeouts are set and sockets closed.
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }
  awaitable<void> run();
  // TLS: detects a TLS client (refusing plain HTTP) and handshakes, all within the header
  // timeout. False if the connection is done.
  awaitable<bool> accept_tls();
  awaitable<void> refuse_plain_http();
  awaitable<bool> read_request_header();
  awaitable<error_code> wait_for_request();
  void arm_idle_timer();
  awaitable<void> serve_request();
  awaitable<void> answer_early(bhttp::status status, std::string code, std::string detail);
  awaitable<void> finish_body_or_close();
  awaitable<void> lingering_close();
  awaitable<void> write_buffer(asio::const_buffer b);
  awaitable<void> write_buffers(asio::const_buffer first, asio::const_buffer second = {});
  // Sends what the socket takes now (flags as for send(2)); true if that was everything. The
  // buffers are advanced past what was sent.
  bool send_now(std::array<asio::const_buffer, 2>& buffers, int flags = 0);
  awaitable<void> send_rest(std::array<asio::const_buffer, 2> buffers);
  void release_out_buffer();
  awaitable<void> send_file_range(int fd, std::uint64_t offset, std::uint64_t length);
  // Over TLS: the range read into memory a slice at a time and written through the stream.
  awaitable<void> copy_file_range_tls(int fd, std::uint64_t offset, std::uint64_t length);
  awaitable<void> wait_writable();
  void prepare_common(bhttp::fields& f, bool& keep_alive);
  void release_read_buffer();
  // The request is over: its metrics and its access log line.
  void finish_request(unsigned status);
  void log_access(unsigned status, std::chrono::steady_clock::duration took);
  http::route_metrics& route() noexcept;

  // http::exchange
  const http::request_header& request() const override;
  std::optional<std::uint64_t> content_length() const override;
  awaitable<std::size_t> read_body(void* data, std::size_t size) override;
  bool body_complete() const override;
  awaitable<void> send(bhttp::response<bhttp::string_body> res) override;
  awaitable<void> send_file(bhttp::response_header<> header, int fd,
                            std::vector<http::body_piece> pieces) override;
  bool response_sent() const override { return response_sent_; }
  void add_response_header(std::string name, std::string value) override {
    extra_headers_.emplace_back(std::move(name), std::move(value));
  }
  awaitable<void> stream_websocket(
      std::function<void(std::shared_ptr<http::message_sink>)> on_open) override;
  awaitable<void> converse_websocket(
      std::size_t max_message_bytes,
      std::function<awaitable<void>(http::websocket_channel&)> conversation) override;
  awaitable<void> stream_sse(
      std::function<void(std::shared_ptr<http::message_sink>)> on_open) override;
  bool is_websocket_upgrade() const override;
  const std::string& request_id() const override { return request_id_; }
  void set_principal(std::string_view user) override { principal_ = user; }
  void set_route(http::route_metrics& r) override { route_ = &r; }

  Stream stream_;
  asio::steady_timer write_timer_;
  std::uint64_t write_wait_generation_ = 0;
  asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point idle_deadline_;
  bool idle_timer_armed_ = false;
  bool awaiting_request_ = false;
  bool idle_timed_out_ = false;
  const limits& limits_;
  std::shared_ptr<const request_handler> handler_;
  connection_registry& registry_;
  http::request_metrics& metrics_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::string out_;  // a response's header block, with the body when small

  // Per request.
  body_mode body_mode_ = body_mode::none;
  std::uint64_t body_remaining_ = 0;  // body_mode::length
  std::uint64_t body_received_ = 0;
  bool body_done_ = true;
  bool continue_pending_ = false;
  bool response_sent_ = false;
  bool keep_alive_ = false;
  std::string request_id_;
  std::uint64_t bytes_out_ = 0;  // body bytes sent
  std::uint64_t header_bytes_in_ = 0;
  std::uint64_t header_bytes_out_ = 0;
  bool streamed_ = false;  // a WebSocket or SSE stream: no latency to speak of
  http::route_metrics* route_ = nullptr;
  unsigned status_ = 0;
  std::string principal_;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  std::chrono::steady_clock::time_point started_;

  bool idle_ = true;
  bool closing_ = false;
  bool stream_moved_ = false;          // handed to a WebSocket stream: nothing left to close here
  std::function<void()> on_shutdown_;  // closes an open stream on graceful shutdown
};

extern template class http_session<plain_stream>;
extern template class http_session<tls_stream>;

}  // namespace sharebox::transport
