#include "support/ws_client.hpp"

namespace sharebox::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using nlohmann::json;

ws_client::ws_client(std::uint16_t port, const std::string& target,
                     std::vector<std::pair<std::string, std::string>> headers)
    : ws_(ioc_) {
  tcp::resolver resolver(ioc_);
  asio::connect(ws_.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
  ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& r) {
    for (const auto& [k, v] : headers)
      r.set(k, v);
  }));
  ws_.handshake("127.0.0.1:" + std::to_string(port), target);
}

std::optional<json> ws_client::next(std::chrono::milliseconds timeout) {
  beast::flat_buffer buffer;
  std::optional<beast::error_code> result;
  ws_.async_read(buffer, [&](beast::error_code ec, std::size_t) { result = ec; });
  ioc_.restart();
  ioc_.run_for(timeout);
  if (!result) {
    ws_.next_layer().cancel();
    ioc_.restart();
    ioc_.run();
    return std::nullopt;
  }
  if (*result) {
    closed_ = true;
    return std::nullopt;
  }
  return json::parse(beast::buffers_to_string(buffer.data()));
}

std::optional<json> ws_client::next_matching(const std::function<bool(const json&)>& pred,
                                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = next(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!m) return std::nullopt;
    if (pred(*m)) return m;
  }
  return std::nullopt;
}

void ws_client::text(std::string_view s) {
  ws_.text(true);
  ws_.write(asio::buffer(s));
}

void ws_client::binary(std::string_view bytes, std::size_t piece) {
  ws_.binary(true);
  for (std::size_t off = 0; off < bytes.size(); off += piece)
    ws_.write(asio::buffer(bytes.substr(off, piece)));
}

void ws_client::vanish() {
  beast::error_code ec;
  ws_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
  ws_.next_layer().close(ec);
}

}  // namespace sharebox::test
