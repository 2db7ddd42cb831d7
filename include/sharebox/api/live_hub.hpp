#pragma once
// Live subscribers (WebSocket and SSE streams) by user. The lock guards only the map: sends
// happen after it is released, and each sink queues onto its own connection's strand.
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sharebox/api/context.hpp"
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
  // Streams open now (GET /health: live_subscribers).
  std::size_t subscribers() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<std::weak_ptr<http::message_sink>>> by_user_;
};

// Short-lived, single-use tickets for clients that cannot send headers (browser WebSocket and
// EventSource): POST /auth/ws-ticket with a key, then connect with ?ticket=. A ticket stands for
// the credential that asked for it, which is checked again when the ticket is used: revoking the
// key (or ending the session) ends its unused tickets too, as disabling the user does.
class ticket_store {
 public:
  explicit ticket_store(std::chrono::seconds ttl) : ttl_(ttl) {}
  std::string issue(credential asked_by);
  // The credential the ticket was issued to, once; nullopt if unknown, used or expired.
  std::optional<credential> redeem(std::string_view ticket);
  std::chrono::seconds ttl() const { return ttl_; }

 private:
  struct entry {
    credential asked_by;  // held in memory for the ticket's short life only
    std::chrono::steady_clock::time_point expires;
  };
  std::chrono::seconds ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, entry> tickets_;
};

}  // namespace sharebox::api
