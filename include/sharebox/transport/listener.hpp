#pragma once
#include <functional>
#include <memory>

#include "sharebox/http/beast.hpp"

namespace sharebox::transport {

// Accepts connections and hands the socket on. With several network threads each connection
// gets its own strand. With one (`one_thread`), the io_context itself runs every handler in
// order, so a strand would add nothing but cost: Asio's type-erased executor cannot hold a
// strand inline and heap-allocates a copy of it for most asynchronous operations (about 20
// allocations per request, measured), besides the strand's own queueing.
class listener : public std::enable_shared_from_this<listener> {
 public:
  using on_accept = std::function<void(tcp::socket)>;
  listener(asio::io_context& ioc, const tcp::endpoint& endpoint, on_accept handler,
           bool one_thread = false);

  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();

 private:
  awaitable<void> accept_loop();

  asio::any_io_executor connection_executor();

  asio::io_context& ioc_;
  bool one_thread_;
  tcp::acceptor acceptor_;
  on_accept handler_;
};

}  // namespace sharebox::transport
