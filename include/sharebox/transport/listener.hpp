#pragma once
#include <functional>
#include <memory>

#include "sharebox/http/beast.hpp"

namespace sharebox::transport {

// Accepts connections, each on its own strand, and hands the socket on.
class listener : public std::enable_shared_from_this<listener> {
 public:
  using on_accept = std::function<void(tcp::socket)>;
  listener(asio::io_context& ioc, const tcp::endpoint& endpoint, on_accept handler);

  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();

 private:
  awaitable<void> accept_loop();

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  on_accept handler_;
};

}  // namespace sharebox::transport
