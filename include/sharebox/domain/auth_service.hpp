#pragma once
// Users and API keys. Keys are 256-bit random secrets shown once; only their SHA-256 is stored
// (a slow KDF buys nothing for secrets of that entropy).
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

class auth_service {
 public:
  explicit auth_service(metadata_store& meta) : meta_(meta) {}

  std::optional<user> authenticate(std::string_view key);
  // For --trust-user-header: the proxy vouches for the id, so unknown users are created.
  user trusted_user(std::string_view user_id);

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
