#include "sharebox/transport/connection_registry.hpp"

#include <vector>

namespace sharebox::transport {

void connection_registry::add(const std::shared_ptr<registered_connection>& c) {
  std::lock_guard lock(mutex_);
  connections_.emplace(c.get(), c);
}

void connection_registry::remove(const registered_connection* c) {
  std::lock_guard lock(mutex_);
  connections_.erase(c);
}

void connection_registry::shutdown_all() {
  std::vector<std::shared_ptr<registered_connection>> live;
  {
    std::lock_guard lock(mutex_);
    for (auto& [_, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live)
    c->shutdown();
}

std::size_t connection_registry::size() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

}  // namespace sharebox::transport
