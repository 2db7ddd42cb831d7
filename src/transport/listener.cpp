#include "sharebox/transport/listener.hpp"

#include <spdlog/spdlog.h>

namespace sharebox::transport {

listener::listener(asio::io_context& ioc, const tcp::endpoint& endpoint, on_accept handler,
                   bool one_thread)
    : ioc_(ioc),
      one_thread_(one_thread),
      acceptor_(connection_executor()),
      handler_(std::move(handler)) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void listener::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(),
                 [self = shared_from_this()](std::exception_ptr) {});
}

void listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    error_code ec;
    self->acceptor_.close(ec);
  });
}

asio::any_io_executor listener::connection_executor() {
  if (one_thread_) return ioc_.get_executor();
  return asio::make_strand(ioc_);
}

awaitable<void> listener::accept_loop() {
  asio::steady_timer backoff(acceptor_.get_executor());
  while (acceptor_.is_open()) {
    error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(
        connection_executor(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
    if (ec) {
      // EMFILE and friends: pause instead of spinning, the condition is usually transient.
      spdlog::warn("accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    handler_(std::move(socket));
  }
}

}  // namespace sharebox::transport
