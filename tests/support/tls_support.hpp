#pragma once
// TLS clients for the integration tests: blocking HTTPS and WSS connections whose operations
// have deadlines, trusting only a given CA file (see test_certificate.hpp).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/test_certificate.hpp"

namespace sharebox::test {

// One TLS connection to 127.0.0.1:port that trusts only `ca_file`. Not thread-safe.
class tls_connection {
 public:
  // Connects and handshakes; throws std::system_error on failure (a refused certificate too).
  tls_connection(std::uint16_t port, const std::filesystem::path& ca_file,
                 milliseconds timeout = std::chrono::seconds(10));
  ~tls_connection();
  tls_connection(const tls_connection&) = delete;
  tls_connection& operator=(const tls_connection&) = delete;

  // Sends one request (Host and Content-Length are added) and reads one response.
  response request(std::string_view method, std::string_view target,
                   const header_list& headers = {}, std::string_view body = {});
  // Reads until the server closes (close_notify, FIN or RST) or `timeout` elapses.
  read_until_close_result read_until_close(milliseconds timeout);
  // The ALPN protocol the server chose ("" if none).
  std::string alpn() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A WebSocket over TLS (wss://127.0.0.1:port/target), trusting only `ca_file`.
class wss_client {
 public:
  wss_client(std::uint16_t port, const std::filesystem::path& ca_file, const std::string& target,
             const header_list& headers = {});
  ~wss_client();
  wss_client(const wss_client&) = delete;
  wss_client& operator=(const wss_client&) = delete;

  // The next message as JSON, or nullopt if the connection ended or none arrived within
  // `timeout` (the connection is then closed too).
  std::optional<nlohmann::json> next(milliseconds timeout);
  bool closed() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The full path of `program` found on PATH, or "" if it is not there.
std::string find_on_path(const std::string& program);

}  // namespace sharebox::test
