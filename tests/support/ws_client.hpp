#pragma once
// A blocking WebSocket test client whose reads have a deadline.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sharebox::test {

class ws_client {
 public:
  // Connects to 127.0.0.1:port and upgrades `target` with the extra `headers`; throws
  // boost::system::system_error if the server refuses the upgrade.
  ws_client(std::uint16_t port, const std::string& target,
            std::vector<std::pair<std::string, std::string>> headers = {});

  // The next message as JSON, or nullopt if none arrives within `timeout` or the connection
  // ended (closed() tells which).
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout);
  // Skips messages until one matches.
  std::optional<nlohmann::json> next_matching(
      const std::function<bool(const nlohmann::json&)>& pred, std::chrono::milliseconds timeout);

  void text(std::string_view s);
  // Sends `bytes` as binary messages of at most `piece` bytes each.
  void binary(std::string_view bytes, std::size_t piece = 64 * 1024);
  // Drops the TCP connection without a closing handshake (a vanished client).
  void vanish();
  bool closed() const { return closed_; }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  bool closed_ = false;
};

}  // namespace sharebox::test
