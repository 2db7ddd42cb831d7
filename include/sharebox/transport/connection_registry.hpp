#pragma once
// Live connections, for graceful shutdown. The lock guards only the set; shutdown requests are
// posted to each connection's own strand after it is released.
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace sharebox::transport {

// What the registry needs of a connection, whatever stream (plain or TLS) it runs on.
class registered_connection {
 public:
  virtual ~registered_connection() = default;
  // Graceful shutdown: an idle connection closes now, a busy one after its current response.
  virtual void shutdown() = 0;
};

class connection_registry {
 public:
  void add(const std::shared_ptr<registered_connection>& c);
  void remove(const registered_connection* c);
  // Asks every connection to finish its current request and close.
  void shutdown_all();
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<const registered_connection*, std::weak_ptr<registered_connection>>
      connections_;
};

}  // namespace sharebox::transport
