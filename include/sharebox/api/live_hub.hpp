#pragma once
// Live subscribers (WebSocket and SSE streams) by user. The lock guards only the map: sends
// happen after it is released, and each sink queues onto its own connection's strand.
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sharebox/http/exchange.hpp"

namespace sharebox::api {

class live_hub {
 public:
  void subscribe(const std::string& user_id, const std::shared_ptr<http::message_sink>& sink);
  // Sends to every open stream of each listed user (a user listed twice gets it once).
  void publish(const std::vector<std::string>& user_ids, const std::string& kind,
               const std::shared_ptr<const std::string>& text);
  // Ends every open stream of the user (disabled: what they could see must stop reaching them).
  void disconnect(const std::string& user_id);
  std::size_t subscribers() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<std::weak_ptr<http::message_sink>>> by_user_;
};

// Short-lived, single-use tickets for clients that cannot send headers (browser WebSocket and
// EventSource): POST /auth/ws-ticket with a key, then connect with ?ticket=.
class ticket_store {
 public:
  explicit ticket_store(std::chrono::seconds ttl) : ttl_(ttl) {}
  std::string issue(const std::string& user_id);
  // The ticket's user, once; nullopt if unknown, used or expired.
  std::optional<std::string> redeem(std::string_view ticket);
  std::chrono::seconds ttl() const { return ttl_; }

 private:
  struct entry {
    std::string user_id;
    std::chrono::steady_clock::time_point expires;
  };
  std::chrono::seconds ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, entry> tickets_;
};

}  // namespace sharebox::api
