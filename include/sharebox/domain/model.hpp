#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sharebox::domain {

struct user {
  std::string id;  // the user name: users are addressed by name in shares and X-User-Id
  bool is_admin = false;
  std::int64_t created_at = 0;
  // Refused on every way in (keys, sessions, tickets, X-User-Id) until enabled again.
  bool disabled = false;
};

enum class permission { read, write };
std::string_view to_string(permission p) noexcept;
std::optional<permission> parse_permission(std::string_view s) noexcept;

// What image intake learnt about a picture: kept with the file, cleared when its content changes.
struct image_meta {
  int width = 0;
  int height = 0;
  std::string format;  // jpeg, png, webp, heic, heif
};

struct file_record {
  std::int64_t seq = 0;  // insertion order; the list cursor
  std::string id;
  std::string owner;
  std::string name;
  std::uint64_t size = 0;
  std::string content_type;
  std::string sha256;  // hex
  std::string blob;    // blob store id, never client-derived
  std::int64_t version = 1;
  std::int64_t created_at = 0;  // unix ms
  std::int64_t updated_at = 0;
  std::optional<image_meta> image;
};

// Strong entity-tag of a file's current content: the version changes on every content change.
std::string etag_of(const file_record& f);

struct share {
  std::string file_id;
  std::string user_id;
  permission perm = permission::read;
  std::string granted_by;
  std::int64_t created_at = 0;
};

// A file as seen by one user: the owner, or a share recipient.
struct file_view {
  file_record file;
  std::optional<permission> shared_permission;  // set when the viewer is not the owner
  std::optional<std::string> shared_by;
  // Who the file is shared with: filled by listings, for the owner only.
  std::vector<share> shared_with;
  bool can_write() const noexcept {
    return !shared_permission || *shared_permission == permission::write;
  }
  bool is_owner() const noexcept { return !shared_permission; }
};

struct api_key {
  std::string id;  // public identifier, for listing and revoking
  std::string user_id;
  std::string key_hash;  // SHA-256 of the secret key, raw bytes
  std::string label;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> revoked_at;
};

// A browser sign-in: the cookie carries the token, the store only its SHA-256.
struct web_session {
  std::string token_hash;  // raw bytes
  std::string user_id;
  std::optional<std::string> key_id;  // the key that opened it; revoking it ends the session
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
};

struct file_page {
  std::vector<file_view> items;
  std::optional<std::int64_t> next_before_seq;  // set when more items remain
};

// Names are metadata only (never paths): valid UTF-8, 1..255 bytes, no control characters.
bool is_valid_file_name(std::string_view name) noexcept;
// User names: [a-z0-9._-], 1..64, starting with a letter or digit.
bool is_valid_user_name(std::string_view name) noexcept;
// Key labels are notes printed by `sharebox key list`: at most 200 bytes of UTF-8, no control
// characters (which could rewrite an administrator's terminal).
bool is_valid_key_label(std::string_view label) noexcept;

}  // namespace sharebox::domain
