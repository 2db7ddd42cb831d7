#pragma once
// Live connections, for graceful shutdown. The lock guards only the set; shutdown requests are
// posted to each connection's own strand after it is released.
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace sharebox::transport {

class http_session;

class connection_registry {
 public:
  void add(const std::shared_ptr<http_session>& s);
  void remove(const http_session* s);
  // Asks every connection to finish its current request and close.
  void shutdown_all();
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<const http_session*, std::weak_ptr<http_session>> sessions_;
};

}  // namespace sharebox::transport
