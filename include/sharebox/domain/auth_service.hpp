#pragma once
// Users and API keys. Keys are 256-bit random secrets shown once; only their SHA-256 is stored
// (a slow KDF buys nothing for secrets of that entropy).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharebox/domain/model.hpp"
#include "sharebox/domain/ports.hpp"

namespace sharebox::domain {

struct issued_key {
  api_key record;
  std::string secret;  // the only time the key exists in clear
};

struct opened_session {
  user owner;
  web_session record;
  std::string token;  // the only time the token exists in clear: it goes into the cookie
};

class auth_service {
 public:
  explicit auth_service(metadata_store& meta) : meta_(meta) {}

  std::optional<user> authenticate(std::string_view key);
  // For --trust-user-header: the proxy vouches for the id, so unknown users are created.
  user trusted_user(std::string_view user_id);

  // Browser sessions: an API key is exchanged once for a random token kept in an HttpOnly
  // cookie, so the page never has to keep the key. nullopt if the key is not valid.
  std::optional<opened_session> open_session(std::string_view key, std::int64_t ttl_ms);
  // The session's user, if the token is known, unexpired and its key not revoked.
  std::optional<std::pair<user, web_session>> session_user(std::string_view token);
  bool close_session(std::string_view token);
  std::int64_t purge_sessions();

  issued_key create_user(std::string_view name, bool admin);
  issued_key add_key(std::string_view user_id, std::string_view label);
  // `key_or_id` is either a key id or the secret key itself.
  bool revoke(std::string_view key_or_id);
  std::vector<api_key> keys(std::string_view user_id);

  // On an empty database: creates user `admin` and returns its key, once.
  std::optional<issued_key> bootstrap_admin();
  // API_KEY_MAPPINGS ("key:user,key2:user2"): ensures each user exists and owns its key.
  void provision(std::string_view mappings);

 private:
  metadata_store& meta_;
};

std::string hash_key(std::string_view secret);

}  // namespace sharebox::domain
