#include "sharebox/transport/connection_registry.hpp"

#include <vector>

#include "sharebox/transport/http_session.hpp"

namespace sharebox::transport {

void connection_registry::add(const std::shared_ptr<http_session>& s) {
  std::lock_guard lock(mutex_);
  sessions_.emplace(s.get(), s);
}

void connection_registry::remove(const http_session* s) {
  std::lock_guard lock(mutex_);
  sessions_.erase(s);
}

void connection_registry::shutdown_all() {
  std::vector<std::shared_ptr<http_session>> live;
  {
    std::lock_guard lock(mutex_);
    for (auto& [_, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live)
    s->shutdown();
}

std::size_t connection_registry::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace sharebox::transport
