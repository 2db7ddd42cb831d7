#include "sharebox/domain/auth_service.hpp"

#include <stdexcept>

#include "sharebox/domain/errors.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::domain {

std::string hash_key(std::string_view secret) {
  const auto d = util::sha256::of(secret);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

namespace {

issued_key make_key(std::string_view user_id, std::string_view label) {
  issued_key k;
  k.secret = "sbx_" + util::base64url_encode(util::random_bytes(32));
  k.record = api_key{util::new_id(),     std::string(user_id), hash_key(k.secret),
                     std::string(label), util::now_ms(),       std::nullopt};
  return k;
}

[[noreturn]] void account_disabled() {
  throw error(errc::unauthenticated, "This account is disabled.");
}

// The user, unless disabled.
std::optional<user> enabled(std::optional<user> u) {
  if (u && u->disabled) account_disabled();
  return u;
}

void check_label(std::string_view label) {
  if (!is_valid_key_label(label)) {
    throw error(errc::invalid_parameter,
                "Key labels are at most 200 bytes of UTF-8 without control characters.");
  }
}

}  // namespace

std::optional<user> auth_service::authenticate(std::string_view key) {
  if (key.empty() || key.size() > 512) return std::nullopt;
  const std::string h = hash_key(key);
  std::optional<user> u;
  meta_.read([&](metadata_txn& tx) {
    auto k = tx.find_key_by_hash(h);
    // The lookup is by an index on the hash; the final comparison is constant-time anyway so
    // that no code path compares secret-derived bytes with an early exit.
    if (!k || k->revoked_at || !util::constant_time_equal(k->key_hash, h)) return;
    u = tx.find_user(k->user_id);
  });
  return enabled(std::move(u));
}

std::optional<opened_session> auth_service::open_session(std::string_view key,
                                                         std::int64_t ttl_ms) {
  if (key.empty() || key.size() > 512) return std::nullopt;
  const std::string h = hash_key(key);
  std::optional<opened_session> out;
  meta_.write([&](metadata_txn& tx) {
    auto k = tx.find_key_by_hash(h);
    if (!k || k->revoked_at || !util::constant_time_equal(k->key_hash, h)) return;
    auto u = enabled(tx.find_user(k->user_id));
    if (!u) return;
    opened_session s;
    s.owner = std::move(*u);
    s.token = "sbs_" + util::base64url_encode(util::random_bytes(32));
    s.record = web_session{hash_key(s.token), s.owner.id, k->id, util::now_ms(), 0};
    s.record.expires_at = s.record.created_at + ttl_ms;
    tx.insert_session(s.record);
    out = std::move(s);
  });
  return out;
}

std::optional<std::pair<user, web_session>> auth_service::session_user(std::string_view token) {
  if (token.empty() || token.size() > 128) return std::nullopt;
  const std::string h = hash_key(token);
  std::optional<std::pair<user, web_session>> out;
  meta_.read([&](metadata_txn& tx) {
    auto s = tx.find_session(h);
    if (!s || s->expires_at <= util::now_ms()) return;
    if (auto u = enabled(tx.find_user(s->user_id))) out.emplace(std::move(*u), std::move(*s));
  });
  return out;
}

bool auth_service::close_session(std::string_view token) {
  if (token.empty() || token.size() > 128) return false;
  bool closed = false;
  meta_.write([&](metadata_txn& tx) { closed = tx.delete_session(hash_key(token)); });
  return closed;
}

std::int64_t auth_service::purge_sessions() {
  std::int64_t n = 0;
  meta_.write([&](metadata_txn& tx) { n = tx.purge_sessions(util::now_ms()); });
  return n;
}

user auth_service::trusted_user(std::string_view user_id) {
  if (!is_valid_user_name(user_id)) {
    throw error(errc::unauthenticated, "X-User-Id is not a valid user id.");
  }
  std::optional<user> u;
  meta_.read([&](metadata_txn& tx) { u = tx.find_user(user_id); });
  if (u) return *enabled(std::move(u));
  meta_.write([&](metadata_txn& tx) {
    u = tx.find_user(user_id);
    if (!u) {
      u = user{std::string(user_id), false, util::now_ms(), false};
      tx.insert_user(*u);
    }
  });
  return *enabled(std::move(u));
}

user auth_service::active_user(std::string_view user_id) {
  std::optional<user> u;
  meta_.read([&](metadata_txn& tx) { u = tx.find_user(user_id); });
  if (!u) throw error(errc::unauthenticated, "The ticket's user no longer exists.");
  return *enabled(std::move(u));
}

void auth_service::require_admin(const user& caller) {
  if (!caller.is_admin) {
    throw error(errc::admin_required, "This needs an administrator's credentials.");
  }
}

issued_key auth_service::create_user(std::string_view name, bool admin,
                                     std::string_view key_label) {
  if (!is_valid_user_name(name)) {
    throw error(errc::invalid_user_name,
                "User names are 1-64 characters of a-z, 0-9, '.', '_' and '-', starting with a "
                "letter or digit.");
  }
  check_label(key_label);
  issued_key k = make_key(name, key_label);
  meta_.write([&](metadata_txn& tx) {
    if (tx.find_user(name)) throw error(errc::user_exists, "That user already exists.");
    tx.insert_user(user{std::string(name), admin, k.record.created_at, false});
    tx.insert_key(k.record);
  });
  return k;
}

issued_key auth_service::add_key(std::string_view user_id, std::string_view label) {
  check_label(label);
  issued_key k = make_key(user_id, label);
  meta_.write([&](metadata_txn& tx) {
    if (!tx.find_user(user_id)) throw error(errc::user_not_found, "No such user.");
    tx.insert_key(k.record);
  });
  return k;
}

bool auth_service::revoke(std::string_view key_or_id) {
  bool revoked = false;
  meta_.write([&](metadata_txn& tx) {
    if (auto k = tx.find_key_by_hash(hash_key(key_or_id))) {
      revoked = tx.revoke_key(k->id, util::now_ms());
    } else {
      revoked = tx.revoke_key(key_or_id, util::now_ms());
    }
  });
  return revoked;
}

void auth_service::revoke_key_of(std::string_view user_id, std::string_view key_id) {
  meta_.write([&](metadata_txn& tx) {
    const auto k = tx.find_key(key_id);
    if (!k || k->user_id != user_id || !tx.revoke_key(key_id, util::now_ms())) {
      throw error(errc::key_not_found, "That user has no active key with this id.");
    }
  });
}

std::vector<api_key> auth_service::keys(std::string_view user_id) {
  std::vector<api_key> out;
  meta_.read([&](metadata_txn& tx) { out = tx.keys_of(user_id); });
  return out;
}

user_page auth_service::list_users(std::optional<std::string_view> after, std::size_t limit) {
  user_page page;
  // One more than asked: whether another page follows, without a count.
  meta_.read([&](metadata_txn& tx) { page.items = tx.list_users(after, limit + 1); });
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_after = page.items.back().id;
  }
  return page;
}

user_details auth_service::user_with_keys(std::string_view user_id) {
  std::optional<user_details> out;
  meta_.read([&](metadata_txn& tx) {
    if (auto u = tx.find_user(user_id)) out = user_details{std::move(*u), tx.keys_of(user_id)};
  });
  if (!out) throw error(errc::user_not_found, "No such user.");
  return std::move(*out);
}

user auth_service::update_user(std::string_view user_id, const user_change& change) {
  std::optional<user> out;
  meta_.write([&](metadata_txn& tx) {
    auto u = tx.find_user(user_id);
    if (!u) throw error(errc::user_not_found, "No such user.");
    const bool was_enabled_admin = u->is_admin && !u->disabled;
    if (change.disabled) u->disabled = *change.disabled;
    if (change.admin) u->is_admin = *change.admin;
    // Counted in the write transaction: two administrators disabling each other at once are
    // serialised, and the second is refused.
    if (was_enabled_admin && !(u->is_admin && !u->disabled) && tx.count_enabled_admins() <= 1) {
      throw error(errc::last_admin,
                  "This is the last enabled administrator: make another one first.");
    }
    tx.update_user(*u);
    out = std::move(u);
  });
  return std::move(*out);
}

std::vector<std::string> auth_service::disabled_user_ids() {
  std::vector<std::string> out;
  meta_.read([&](metadata_txn& tx) { out = tx.disabled_user_ids(); });
  return out;
}

std::optional<issued_key> auth_service::bootstrap_admin() {
  std::optional<issued_key> k;
  meta_.write([&](metadata_txn& tx) {
    if (tx.count_users() != 0) return;
    k = make_key("admin", "initial");
    tx.insert_user(user{"admin", true, util::now_ms(), false});
    tx.insert_key(k->record);
  });
  return k;
}

void auth_service::provision(std::string_view mappings) {
  meta_.write([&](metadata_txn& tx) {
    while (!mappings.empty()) {
      const auto comma = mappings.find(',');
      std::string_view item = mappings.substr(0, comma);
      mappings = comma == std::string_view::npos ? std::string_view{} : mappings.substr(comma + 1);
      while (!item.empty() && item.front() == ' ')
        item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ')
        item.remove_suffix(1);
      if (item.empty()) continue;
      const auto colon = item.rfind(':');
      if (colon == std::string_view::npos || colon == 0) {
        throw std::invalid_argument("API_KEY_MAPPINGS entries must be key:user");
      }
      const std::string_view key = item.substr(0, colon);
      const std::string_view user_id = item.substr(colon + 1);
      if (!is_valid_user_name(user_id)) {
        throw std::invalid_argument("API_KEY_MAPPINGS: invalid user name '" + std::string(user_id) +
                                    "'");
      }
      if (!tx.find_user(user_id)) {
        tx.insert_user(user{std::string(user_id), false, util::now_ms(), false});
      }
      const std::string h = hash_key(key);
      if (auto existing = tx.find_key_by_hash(h)) {
        if (existing->user_id != user_id) {
          throw std::invalid_argument("API_KEY_MAPPINGS: a key is mapped to two users");
        }
        continue;
      }
      tx.insert_key(api_key{util::new_id(), std::string(user_id), h, "API_KEY_MAPPINGS",
                            util::now_ms(), std::nullopt});
    }
  });
}

}  // namespace sharebox::domain
