#include "sharebox/api/live_hub.hpp"

#include <algorithm>
#include <set>

#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::api {

void live_hub::subscribe(const std::string& user_id,
                         const std::shared_ptr<http::message_sink>& sink) {
  std::lock_guard lock(mutex_);
  auto& sinks = by_user_[user_id];
  std::erase_if(sinks, [](const auto& w) { return w.expired(); });
  sinks.push_back(sink);
}

void live_hub::publish(const std::vector<std::string>& user_ids, const std::string& kind,
                       const std::shared_ptr<const std::string>& text) {
  std::vector<std::shared_ptr<http::message_sink>> targets;
  {
    std::lock_guard lock(mutex_);
    std::set<std::string_view> seen;
    for (const auto& u : user_ids) {
      if (!seen.insert(u).second) continue;
      const auto it = by_user_.find(u);
      if (it == by_user_.end()) continue;
      auto& sinks = it->second;
      std::erase_if(sinks, [&](const auto& w) {
        auto s = w.lock();
        if (!s) return true;
        targets.push_back(std::move(s));
        return false;
      });
      if (sinks.empty()) by_user_.erase(it);
    }
  }
  for (const auto& s : targets)
    s->send(kind, text);
}

void live_hub::disconnect(const std::string& user_id) {
  std::vector<std::weak_ptr<http::message_sink>> sinks;
  {
    std::lock_guard lock(mutex_);
    const auto it = by_user_.find(user_id);
    if (it == by_user_.end()) return;
    sinks = std::move(it->second);
    by_user_.erase(it);
  }
  for (const auto& w : sinks) {
    if (auto s = w.lock()) s->disconnect();
  }
}

std::size_t live_hub::subscribers() const {
  // Ended streams leave their entries behind until their user's next subscription or event:
  // only those still open count.
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [_, sinks] : by_user_)
    n += static_cast<std::size_t>(
        std::count_if(sinks.begin(), sinks.end(), [](const auto& w) { return !w.expired(); }));
  return n;
}

std::string ticket_store::issue(credential asked_by) {
  const auto now = std::chrono::steady_clock::now();
  std::string ticket = "tkt_" + util::base64url_encode(util::random_bytes(24));
  std::lock_guard lock(mutex_);
  std::erase_if(tickets_, [&](const auto& kv) { return kv.second.expires <= now; });
  tickets_.emplace(ticket, entry{std::move(asked_by), now + ttl_});
  return ticket;
}

std::optional<credential> ticket_store::redeem(std::string_view ticket) {
  std::lock_guard lock(mutex_);
  const auto it = tickets_.find(std::string(ticket));
  if (it == tickets_.end()) return std::nullopt;
  auto e = std::move(it->second);
  tickets_.erase(it);  // single use, even if expired
  if (e.expires <= std::chrono::steady_clock::now()) return std::nullopt;
  return std::move(e.asked_by);
}

}  // namespace sharebox::api
