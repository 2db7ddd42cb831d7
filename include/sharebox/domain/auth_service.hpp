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

struct user_page {
  std::vector<user> items;
  std::optional<std::string> next_after;  // set when more users follow
};

struct user_details {
  user account;
  std::vector<api_key> keys;  // revoked ones too, oldest first
};

// What PATCH /admin/users/{id} and `sharebox user enable|disable` change; unset: unchanged.
struct user_change {
  std::optional<bool> disabled;
  std::optional<bool> admin;
};

// Every way of authenticating refuses a disabled user with errc::unauthenticated ("This
// account is disabled."), so no caller can forget the check.
class auth_service {
 public:
  explicit auth_service(metadata_store& meta) : meta_(meta) {}

  // nullopt if the key is not valid.
  std::optional<user> authenticate(std::string_view key);
  // For --trust-user-header: the proxy vouches for the id, so unknown users are created.
  user trusted_user(std::string_view user_id);
  // The user a stream ticket was issued to, as they are now: unauthenticated if they have been
  // disabled (or removed) since.
  user active_user(std::string_view user_id);

  // Browser sessions: an API key is exchanged once for a random token kept in an HttpOnly
  // cookie, so the page never has to keep the key. nullopt if the key is not valid.
  std::optional<opened_session> open_session(std::string_view key, std::int64_t ttl_ms);
  // The session's user, if the token is known, unexpired and its key not revoked.
  std::optional<std::pair<user, web_session>> session_user(std::string_view token);
  bool close_session(std::string_view token);
  std::int64_t purge_sessions();

  // admin_required unless `caller` is an administrator (disabled ones never get this far).
  static void require_admin(const user& caller);

  // The user is created at the key's created_at.
  issued_key create_user(std::string_view name, bool admin, std::string_view key_label = "initial");
  issued_key add_key(std::string_view user_id, std::string_view label);
  // `key_or_id` is either a key id or the secret key itself.
  bool revoke(std::string_view key_or_id);
  // Revokes key `key_id` of `user_id`: key_not_found if it is not theirs or already revoked.
  void revoke_key_of(std::string_view user_id, std::string_view key_id);
  std::vector<api_key> keys(std::string_view user_id);

  user_page list_users(std::optional<std::string_view> after, std::size_t limit);
  // user_not_found if there is no such user.
  user_details user_with_keys(std::string_view user_id);
  // user_not_found; last_admin if it would leave no enabled administrator (nobody could manage
  // users over HTTP any more).
  user update_user(std::string_view user_id, const user_change& change);
  std::vector<std::string> disabled_user_ids();

  // On an empty database: creates user `admin` and returns its key, once.
  std::optional<issued_key> bootstrap_admin();
  // API_KEY_MAPPINGS ("key:user,key2:user2"): ensures each user exists and owns its key.
  void provision(std::string_view mappings);

 private:
  metadata_store& meta_;
};

std::string hash_key(std::string_view secret);

}  // namespace sharebox::domain
