#pragma once
// One HTTP/1.1 connection: reads request headers with limits and timeouts, hands each request
// to the handler as an `exchange`, streams bodies in both directions, keeps the connection
// alive when it safely can. Everything runs on the connection's strand.
#include <array>
#include <functional>
#include <memory>
#include <optional>

#include "sharebox/http/exchange.hpp"
#include "sharebox/transport/limits.hpp"

namespace sharebox::transport {

class connection_registry;

using http::request_handler;

class http_session final : public std::enable_shared_from_this<http_session>,
                           private http::exchange {
 public:
  http_session(tcp::socket socket, const limits& lim,
               std::shared_ptr<const request_handler> handler, connection_registry& registry,
               http::request_metrics& metrics);
  ~http_session() override;

  void start();
  // Graceful shutdown: an idle connection closes now, a busy one after its current response.
  void shutdown();

 private:
  enum class body_mode { none, length, chunked };

  awaitable<void> run();
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

  beast::tcp_stream stream_;
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
  bool stream_moved_ = false;
  std::function<void()> on_shutdown_;  // closes an open stream on graceful shutdown  // handed to a
                                       // WebSocket stream: nothing left to close here
};

}  // namespace sharebox::transport
