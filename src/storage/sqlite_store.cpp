#include "sharebox/storage/sqlite_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "sqlite_bind.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/storage/migrations.hpp"
#include "sharebox/storage/sqlite_connection.hpp"
#include "sharebox/storage/sqlite_uploads.hpp"
#include "sharebox/util/metrics.hpp"

namespace sharebox::storage {

namespace {

using domain::api_key;
using domain::file_record;
using domain::file_view;
using domain::share;
using domain::user;

constexpr const char* file_columns =
    "f.seq, f.id, f.owner, f.name, f.size, f.content_type, f.sha256, f.blob, f.version, "
    "f.created_at, f.updated_at, f.image_width, f.image_height, f.image_format";
constexpr int file_column_count = 14;

file_record read_file(SQLite::Statement& q) {
  file_record f;
  f.seq = q.getColumn(0).getInt64();
  f.id = q.getColumn(1).getString();
  f.owner = q.getColumn(2).getString();
  f.name = q.getColumn(3).getString();
  f.size = static_cast<std::uint64_t>(q.getColumn(4).getInt64());
  f.content_type = q.getColumn(5).getString();
  f.sha256 = q.getColumn(6).getString();
  f.blob = q.getColumn(7).getString();
  f.version = q.getColumn(8).getInt64();
  f.created_at = q.getColumn(9).getInt64();
  f.updated_at = q.getColumn(10).getInt64();
  if (!q.getColumn(13).isNull()) {
    f.image = domain::image_meta{q.getColumn(11).getInt(), q.getColumn(12).getInt(),
                                 q.getColumn(13).getString()};
  }
  return f;
}

// Columns: id, is_admin, created_at, disabled.
user read_user(SQLite::Statement& q) {
  user u;
  u.id = q.getColumn(0).getString();
  u.is_admin = q.getColumn(1).getInt() != 0;
  u.created_at = q.getColumn(2).getInt64();
  u.disabled = q.getColumn(3).getInt() != 0;
  return u;
}

api_key read_key(SQLite::Statement& q) {
  api_key k;
  k.id = q.getColumn(0).getString();
  k.user_id = q.getColumn(1).getString();
  const auto& h = q.getColumn(2);
  k.key_hash.assign(static_cast<const char*>(h.getBlob()), static_cast<std::size_t>(h.getBytes()));
  k.label = q.getColumn(3).getString();
  k.created_at = q.getColumn(4).getInt64();
  if (!q.getColumn(5).isNull()) k.revoked_at = q.getColumn(5).getInt64();
  return k;
}

share read_share(SQLite::Statement& q) {
  share s;
  s.file_id = q.getColumn(0).getString();
  s.user_id = q.getColumn(1).getString();
  s.perm = domain::parse_permission(q.getColumn(2).getString()).value_or(domain::permission::read);
  s.granted_by = q.getColumn(3).getString();
  s.created_at = q.getColumn(4).getInt64();
  return s;
}

constexpr const char* notification_columns =
    "seq, id, user_id, type, title, file_id, file_name, actor, event_id, created_at, read_at";

domain::notification read_notification(SQLite::Statement& q) {
  domain::notification n;
  n.seq = q.getColumn(0).getInt64();
  n.id = q.getColumn(1).getString();
  n.user_id = q.getColumn(2).getString();
  n.type = q.getColumn(3).getString();
  n.title = q.getColumn(4).getString();
  n.file_id = q.getColumn(5).getString();
  n.file_name = q.getColumn(6).getString();
  n.actor = q.getColumn(7).getString();
  n.event_id = q.getColumn(8).getString();
  n.created_at = q.getColumn(9).getInt64();
  if (!q.getColumn(10).isNull()) n.read_at = q.getColumn(10).getInt64();
  return n;
}

// Binds the three image columns from `first` on (NULLs when the file is not a known picture).
void bind_image(SQLite::Statement& q, int first, const std::optional<domain::image_meta>& image) {
  if (!image) {
    for (int i = 0; i < 3; ++i)
      q.bind(first + i);
    return;
  }
  q.bind(first, image->width);
  q.bind(first + 1, image->height);
  bind_text(q, first + 2, image->format);
}

class txn final : public domain::metadata_txn {
 public:
  explicit txn(SQLite::Database& db) : db_(db) {}

  void insert_upload(const domain::upload_record& u) override { uploads_sql::insert(db_, u); }
  std::optional<domain::upload_record> find_upload(std::string_view id) override {
    return uploads_sql::find(db_, id);
  }
  void update_upload(const domain::upload_record& u) override { uploads_sql::update(db_, u); }
  bool delete_upload(std::string_view id) override { return uploads_sql::remove(db_, id); }
  std::int64_t count_open_uploads(std::string_view owner) override {
    return uploads_sql::count_open(db_, owner);
  }
  bool insert_chunk(std::string_view upload_id, std::uint64_t index) override {
    return uploads_sql::insert_chunk(db_, upload_id, index);
  }
  bool has_chunk(std::string_view upload_id, std::uint64_t index) override {
    return uploads_sql::has_chunk(db_, upload_id, index);
  }
  void delete_chunk(std::string_view upload_id, std::uint64_t index) override {
    uploads_sql::delete_chunk(db_, upload_id, index);
  }
  std::uint64_t count_chunks(std::string_view upload_id) override {
    return uploads_sql::count_chunks(db_, upload_id);
  }
  std::vector<std::uint64_t> chunks_of(std::string_view upload_id) override {
    return uploads_sql::chunks_of(db_, upload_id);
  }
  void delete_chunks(std::string_view upload_id) override {
    uploads_sql::delete_chunks(db_, upload_id);
  }
  std::vector<domain::upload_record> uploads_expired_by(std::int64_t now,
                                                        std::size_t limit) override {
    return uploads_sql::expired_by(db_, now, limit);
  }
  std::int64_t purge_uploads(std::int64_t now) override { return uploads_sql::purge(db_, now); }
  std::vector<std::string> open_upload_ids() override { return uploads_sql::open_ids(db_); }

  std::optional<user> find_user(std::string_view id) override {
    // A literal (no string built per call): authentication reads this on every cache miss.
    auto& q = prepare(db_, "SELECT id, is_admin, created_at, disabled FROM users WHERE id = ?");
    bind_text(q, 1, id);
    if (!q.executeStep()) return std::nullopt;
    return read_user(q);
  }

  void insert_user(const user& u) override {
    auto& q =
        prepare(db_, "INSERT INTO users(id, is_admin, created_at, disabled) VALUES (?,?,?,?)");
    bind_text(q, 1, u.id);
    q.bind(2, u.is_admin ? 1 : 0);
    bind_i64(q, 3, u.created_at);
    q.bind(4, u.disabled ? 1 : 0);
    q.exec();
  }

  std::vector<user> list_users(std::optional<std::string_view> after, std::size_t limit) override {
    // "" sorts before every valid id: the first page is the same statement.
    auto& q = prepare(
        db_,
        "SELECT id, is_admin, created_at, disabled FROM users WHERE id > ? ORDER BY id LIMIT ?");
    bind_text(q, 1, after.value_or(""));
    bind_i64(q, 2, static_cast<std::int64_t>(limit));
    std::vector<user> out;
    while (q.executeStep())
      out.push_back(read_user(q));
    return out;
  }

  void update_user(const user& u) override {
    auto& q = prepare(db_, "UPDATE users SET is_admin = ?, disabled = ? WHERE id = ?");
    q.bind(1, u.is_admin ? 1 : 0);
    q.bind(2, u.disabled ? 1 : 0);
    bind_text(q, 3, u.id);
    q.exec();
  }

  std::int64_t count_enabled_admins() override {
    auto& q = prepare(db_, "SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0");
    q.executeStep();
    return q.getColumn(0).getInt64();
  }

  std::vector<std::string> disabled_user_ids() override {
    auto& q = prepare(db_, "SELECT id FROM users WHERE disabled = 1");
    std::vector<std::string> out;
    while (q.executeStep())
      out.push_back(q.getColumn(0).getString());
    return out;
  }

  std::int64_t count_users() override {
    auto& q = prepare(db_, "SELECT COUNT(*) FROM users");
    q.executeStep();
    return q.getColumn(0).getInt64();
  }

  void insert_key(const api_key& k) override {
    auto& q = prepare(db_,
                      "INSERT INTO api_keys(id, user_id, key_hash, label, created_at) "
                      "VALUES (?,?,?,?,?)");
    bind_text(q, 1, k.id);
    bind_text(q, 2, k.user_id);
    bind_blob(q, 3, k.key_hash);
    bind_text(q, 4, k.label);
    bind_i64(q, 5, k.created_at);
    q.exec();
  }

  std::optional<api_key> find_key_by_hash(std::string_view key_hash) override {
    auto& q = prepare(db_,
                      "SELECT id, user_id, key_hash, label, created_at, revoked_at FROM api_keys "
                      "WHERE key_hash = ?");
    bind_blob(q, 1, key_hash);
    if (!q.executeStep()) return std::nullopt;
    return read_key(q);
  }

  std::optional<api_key> find_key(std::string_view key_id) override {
    auto& q = prepare(db_,
                      "SELECT id, user_id, key_hash, label, created_at, revoked_at FROM api_keys "
                      "WHERE id = ?");
    bind_text(q, 1, key_id);
    if (!q.executeStep()) return std::nullopt;
    return read_key(q);
  }

  std::vector<api_key> keys_of(std::string_view user_id) override {
    auto& q = prepare(db_,
                      "SELECT id, user_id, key_hash, label, created_at, revoked_at FROM api_keys "
                      "WHERE user_id = ? ORDER BY created_at");
    bind_text(q, 1, user_id);
    std::vector<api_key> out;
    while (q.executeStep())
      out.push_back(read_key(q));
    return out;
  }

  bool revoke_key(std::string_view key_id, std::int64_t at) override {
    auto& q =
        prepare(db_, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
    bind_i64(q, 1, at);
    bind_text(q, 2, key_id);
    return q.exec() > 0;
  }

  void insert_session(const domain::web_session& s) override {
    auto& q = prepare(db_,
                      "INSERT INTO sessions(token_hash, user_id, key_id, created_at, expires_at) "
                      "VALUES (?,?,?,?,?)");
    bind_blob(q, 1, s.token_hash);
    bind_text(q, 2, s.user_id);
    if (s.key_id) bind_text(q, 3, *s.key_id);
    bind_i64(q, 4, s.created_at);
    bind_i64(q, 5, s.expires_at);
    q.exec();
  }

  std::optional<domain::web_session> find_session(std::string_view token_hash) override {
    auto& q = prepare(db_,
                      "SELECT s.user_id, s.key_id, s.created_at, s.expires_at FROM sessions s "
                      "LEFT JOIN api_keys k ON k.id = s.key_id WHERE s.token_hash = ? AND "
                      "(s.key_id IS NULL OR k.revoked_at IS NULL)");
    bind_blob(q, 1, token_hash);
    if (!q.executeStep()) return std::nullopt;
    domain::web_session s;
    s.token_hash = std::string(token_hash);
    s.user_id = q.getColumn(0).getString();
    if (!q.getColumn(1).isNull()) s.key_id = q.getColumn(1).getString();
    s.created_at = q.getColumn(2).getInt64();
    s.expires_at = q.getColumn(3).getInt64();
    return s;
  }

  bool delete_session(std::string_view token_hash) override {
    auto& q = prepare(db_, "DELETE FROM sessions WHERE token_hash = ?");
    bind_blob(q, 1, token_hash);
    return q.exec() > 0;
  }

  std::int64_t purge_sessions(std::int64_t now) override {
    auto& q = prepare(db_, "DELETE FROM sessions WHERE expires_at < ?");
    bind_i64(q, 1, now);
    return q.exec();
  }

  std::optional<file_record> find_file(std::string_view id) override {
    auto& q = prepare(db_, std::string("SELECT ") + file_columns + " FROM files f WHERE f.id = ?");
    bind_text(q, 1, id);
    if (!q.executeStep()) return std::nullopt;
    return read_file(q);
  }

  void insert_file(const file_record& f) override {
    auto& q = prepare(db_,
                      "INSERT INTO files(id, owner, name, size, content_type, sha256, blob, "
                      "version, created_at, updated_at, image_width, image_height, image_format) "
                      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
    bind_text(q, 1, f.id);
    bind_text(q, 2, f.owner);
    bind_text(q, 3, f.name);
    bind_i64(q, 4, static_cast<std::int64_t>(f.size));
    bind_text(q, 5, f.content_type);
    bind_text(q, 6, f.sha256);
    bind_text(q, 7, f.blob);
    bind_i64(q, 8, f.version);
    bind_i64(q, 9, f.created_at);
    bind_i64(q, 10, f.updated_at);
    bind_image(q, 11, f.image);
    q.exec();
  }

  void update_file(const file_record& f) override {
    auto& q = prepare(db_,
                      "UPDATE files SET name = ?, size = ?, content_type = ?, sha256 = ?, "
                      "blob = ?, version = ?, updated_at = ?, image_width = ?, image_height = ?, "
                      "image_format = ? WHERE id = ?");
    bind_text(q, 1, f.name);
    bind_i64(q, 2, static_cast<std::int64_t>(f.size));
    bind_text(q, 3, f.content_type);
    bind_text(q, 4, f.sha256);
    bind_text(q, 5, f.blob);
    bind_i64(q, 6, f.version);
    bind_i64(q, 7, f.updated_at);
    bind_image(q, 8, f.image);
    bind_text(q, 11, f.id);
    q.exec();
  }

  void delete_file(std::string_view id) override {
    auto& q = prepare(db_, "DELETE FROM files WHERE id = ?");
    bind_text(q, 1, id);
    q.exec();
  }

  std::vector<file_view> visible_files(std::string_view user_id,
                                       std::optional<std::int64_t> before_seq,
                                       std::size_t limit) override {
    // Owned files and files shared with the user, merged by seq (keyset paging: seq < cursor).
    // Each half walks an index in seq order, files_owner(owner, seq) and
    // shares_user_seq(user_id, file_seq), and SQLite merges them, so a page reads about `limit`
    // rows of each whatever the user's total or the page's depth. The shared half must order by
    // s.file_seq (equal to f.seq) for its index to give the order; a single OR over a join would
    // scan.
    static const std::string sql = [] {
      const std::string shared_columns =
          std::string("s.file_seq") + std::string(file_columns).substr(std::strlen("f.seq"));
      return std::string("SELECT ") + file_columns +
             ", NULL, NULL FROM files f WHERE f.owner = ?1 AND f.seq < ?2 "
             "UNION ALL SELECT " +
             shared_columns +
             ", s.permission, s.granted_by FROM shares s JOIN files f ON f.id = s.file_id "
             "WHERE s.user_id = ?1 AND s.file_seq < ?2 "
             "ORDER BY 1 DESC LIMIT ?3";
    }();
    auto& q = prepare(db_, sql);
    bind_text(q, 1, user_id);
    bind_i64(q, 2, before_seq.value_or(std::numeric_limits<std::int64_t>::max()));
    bind_i64(q, 3, static_cast<std::int64_t>(limit));
    std::vector<file_view> out;
    while (q.executeStep()) {
      file_view v{read_file(q), std::nullopt, std::nullopt, {}};
      if (!q.getColumn(file_column_count).isNull()) {
        v.shared_permission = domain::parse_permission(q.getColumn(file_column_count).getString());
        v.shared_by = q.getColumn(file_column_count + 1).getString();
      }
      out.push_back(std::move(v));
    }
    return out;
  }

  std::optional<share> find_share(std::string_view file_id, std::string_view user_id) override {
    auto& q = prepare(db_,
                      "SELECT file_id, user_id, permission, granted_by, created_at FROM shares "
                      "WHERE file_id = ? AND user_id = ?");
    bind_text(q, 1, file_id);
    bind_text(q, 2, user_id);
    if (!q.executeStep()) return std::nullopt;
    return read_share(q);
  }

  void upsert_share(const share& s) override {
    auto& q = prepare(db_,
                      "INSERT INTO shares(file_id, user_id, permission, granted_by, created_at, "
                      "file_seq) VALUES (?1,?2,?3,?4,?5,(SELECT seq FROM files WHERE id = ?1)) "
                      "ON CONFLICT(file_id, user_id) DO UPDATE SET "
                      "permission = excluded.permission, granted_by = excluded.granted_by");
    bind_text(q, 1, s.file_id);
    bind_text(q, 2, s.user_id);
    bind_text(q, 3, domain::to_string(s.perm));
    bind_text(q, 4, s.granted_by);
    bind_i64(q, 5, s.created_at);
    q.exec();
  }

  bool delete_share(std::string_view file_id, std::string_view user_id) override {
    auto& q = prepare(db_, "DELETE FROM shares WHERE file_id = ? AND user_id = ?");
    bind_text(q, 1, file_id);
    bind_text(q, 2, user_id);
    return q.exec() > 0;
  }

  void append_event(const domain::event& e) override {
    auto& q = prepare(db_,
                      "INSERT INTO outbox(id, type, occurred_at, actor, file_id, file_name, "
                      "file_size, content_type, sha256, version, owner, target_user_id, "
                      "permission, audience) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    bind_text(q, 1, e.id);
    bind_text(q, 2, e.type);
    bind_i64(q, 3, e.occurred_at);
    bind_text(q, 4, e.actor);
    bind_text(q, 5, e.file.id);
    bind_text(q, 6, e.file.name);
    bind_i64(q, 7, static_cast<std::int64_t>(e.file.size));
    bind_text(q, 8, e.file.content_type);
    bind_text(q, 9, e.file.sha256);
    bind_i64(q, 10, e.file.version);
    bind_text(q, 11, e.file.owner);
    if (e.target_user_id) bind_text(q, 12, *e.target_user_id);
    if (e.perm) bind_text(q, 13, domain::to_string(*e.perm));
    std::string audience;
    for (const auto& u : e.audience)
      audience += (audience.empty() ? "" : " ") + u;
    bind_text(q, 14, audience);
    q.exec();
    appended_events_ = true;
  }

  bool appended_events() const noexcept { return appended_events_; }

  void insert_notification(const domain::notification& n) override {
    auto& q = prepare(db_,
                      "INSERT INTO notifications(id, user_id, type, title, file_id, file_name, "
                      "actor, event_id, created_at) VALUES (?,?,?,?,?,?,?,?,?)");
    bind_text(q, 1, n.id);
    bind_text(q, 2, n.user_id);
    bind_text(q, 3, n.type);
    bind_text(q, 4, n.title);
    bind_text(q, 5, n.file_id);
    bind_text(q, 6, n.file_name);
    bind_text(q, 7, n.actor);
    bind_text(q, 8, n.event_id);
    bind_i64(q, 9, n.created_at);
    q.exec();
  }

  std::vector<domain::notification> notifications_of(std::string_view user_id, bool unread_only,
                                                     std::size_t limit) override {
    auto& q =
        prepare(db_, std::string("SELECT ") + notification_columns +
                         " FROM notifications WHERE user_id = ? " +
                         (unread_only ? "AND read_at IS NULL " : "") + "ORDER BY seq DESC LIMIT ?");
    bind_text(q, 1, user_id);
    bind_i64(q, 2, static_cast<std::int64_t>(limit));
    std::vector<domain::notification> out;
    while (q.executeStep())
      out.push_back(read_notification(q));
    return out;
  }

  std::int64_t unread_count(std::string_view user_id) override {
    auto& q =
        prepare(db_, "SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read_at IS NULL");
    bind_text(q, 1, user_id);
    q.executeStep();
    return q.getColumn(0).getInt64();
  }

  std::optional<domain::notification> find_notification(std::string_view user_id,
                                                        std::string_view id) override {
    auto& q = prepare(db_, std::string("SELECT ") + notification_columns +
                               " FROM notifications WHERE user_id = ? AND id = ?");
    bind_text(q, 1, user_id);
    bind_text(q, 2, id);
    if (!q.executeStep()) return std::nullopt;
    return read_notification(q);
  }

  void mark_read(std::string_view user_id, std::string_view id, std::int64_t at) override {
    auto& q = prepare(db_,
                      "UPDATE notifications SET read_at = ? WHERE user_id = ? AND id = ? AND "
                      "read_at IS NULL");
    bind_i64(q, 1, at);
    bind_text(q, 2, user_id);
    bind_text(q, 3, id);
    q.exec();
  }

  std::int64_t mark_all_read(std::string_view user_id, std::int64_t at) override {
    auto& q =
        prepare(db_, "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL");
    bind_i64(q, 1, at);
    bind_text(q, 2, user_id);
    return q.exec();
  }

  void delete_notification(std::string_view user_id, std::string_view id) override {
    auto& q = prepare(db_, "DELETE FROM notifications WHERE user_id = ? AND id = ?");
    bind_text(q, 1, user_id);
    bind_text(q, 2, id);
    q.exec();
  }

  std::vector<share> shares_of(std::string_view file_id) override {
    auto& q = prepare(db_,
                      "SELECT file_id, user_id, permission, granted_by, created_at FROM shares "
                      "WHERE file_id = ? ORDER BY created_at, user_id");
    bind_text(q, 1, file_id);
    std::vector<share> out;
    while (q.executeStep())
      out.push_back(read_share(q));
    return out;
  }

  std::vector<share> shares_of_files(const std::vector<std::string>& file_ids) override {
    std::vector<share> out;
    if (file_ids.empty()) return out;
    // One query for a whole page instead of one per file. The ids travel as one JSON array, so
    // the statement text (and the connection's statement cache) is the same for every page.
    nlohmann::json ids = file_ids;
    auto& q = prepare(db_,
                      "SELECT file_id, user_id, permission, granted_by, created_at FROM shares "
                      "WHERE file_id IN (SELECT value FROM json_each(?)) "
                      "ORDER BY file_id, created_at, user_id");
    bind_text(q, 1, ids.dump());
    while (q.executeStep())
      out.push_back(read_share(q));
    return out;
  }

 private:
  SQLite::Database& db_;
  bool appended_events_ = false;
};

domain::outbox_entry read_outbox_entry(SQLite::Statement& q) {
  domain::outbox_entry o;
  o.seq = q.getColumn(0).getInt64();
  auto& e = o.ev;
  e.id = q.getColumn(1).getString();
  e.type = q.getColumn(2).getString();
  e.occurred_at = q.getColumn(3).getInt64();
  e.actor = q.getColumn(4).getString();
  e.file.id = q.getColumn(5).getString();
  e.file.name = q.getColumn(6).getString();
  e.file.size = static_cast<std::uint64_t>(q.getColumn(7).getInt64());
  e.file.content_type = q.getColumn(8).getString();
  e.file.sha256 = q.getColumn(9).getString();
  e.file.version = q.getColumn(10).getInt64();
  e.file.owner = q.getColumn(11).getString();
  if (!q.getColumn(12).isNull()) e.target_user_id = q.getColumn(12).getString();
  if (!q.getColumn(13).isNull()) e.perm = domain::parse_permission(q.getColumn(13).getString());
  std::string_view audience = q.getColumn(14).getText();
  while (!audience.empty()) {
    const auto space = audience.find(' ');
    e.audience.emplace_back(audience.substr(0, space));
    audience = space == std::string_view::npos ? std::string_view{} : audience.substr(space + 1);
  }
  return o;
}

// Runs `exec` (a COMMIT, or a write in autocommit mode), timing it into `h` if there is one.
template <typename Fn>
auto timed_commit(util::metrics::histogram* h, Fn&& exec) {
  if (!h) return exec();
  const auto started = std::chrono::steady_clock::now();
  auto result = exec();
  h->observe(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            std::chrono::steady_clock::now() - started)
                                            .count()));
  return result;
}

// Whether the exception being handled is SQLite finding the disk full (SQLITE_FULL, usually
// the COMMIT that grows the WAL, or an I/O error whose cause was ENOSPC). Asked before anything
// else runs on `db`, which would replace its last error.
bool disk_full(SQLite::Database& db) {
  try {
    throw;
  } catch (const SQLite::Exception& e) {
    const int code = e.getErrorCode() & 0xff;
    const int cause = sqlite3_system_errno(db.getHandle());
    return code == SQLITE_FULL || (code == SQLITE_IOERR && (cause == ENOSPC || cause == EDQUOT));
  } catch (...) {
    return false;
  }
}

// Runs fn between BEGIN (of the given kind) and COMMIT, rolling back if it throws. Returns
// whether the committed transaction appended events. `commit_time` times the COMMIT. A full
// disk is storage_full (507), as it is for blobs, not an internal error.
bool in_transaction(SQLite::Database& db, const char* begin,
                    const std::function<void(domain::metadata_txn&)>& fn,
                    util::metrics::histogram* commit_time = nullptr) {
  auto& conn = static_cast<sqlite_connection&>(db);
  prepare(conn, begin).exec();
  try {
    txn t(db);
    fn(t);
    conn.finish_statements();
    timed_commit(commit_time, [&] { return prepare(conn, "COMMIT").exec(); });
    conn.finish_statements();
    return t.appended_events();
  } catch (...) {
    const bool full = disk_full(db);
    conn.finish_statements();
    try {
      db.exec("ROLLBACK");
    } catch (...) {
      // The transaction may already be gone (e.g. after SQLITE_FULL); nothing left to undo.
    }
    if (full) {
      throw domain::error(domain::errc::storage_full,
                          "The server has no space left to record this change.");
    }
    throw;
  }
}

}  // namespace

sqlite_store::sqlite_store(const std::filesystem::path& db_path) : path_(db_path) {
  writer_ = open_connection();
  writer_->exec("PRAGMA journal_mode = WAL");
  migrations_applied_ = migrate(*writer_, embedded_migrations());
}

sqlite_store::~sqlite_store() = default;

std::unique_ptr<sqlite_connection> sqlite_store::open_connection() const {
  auto db = std::make_unique<sqlite_connection>(
      path_.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX);
  db->setBusyTimeout(10000);
  // FULL: a commit is on disk before it returns, so a 2xx survives power loss (NORMAL in WAL
  // mode may lose the last transactions).
  db->exec("PRAGMA synchronous = FULL");
  db->exec("PRAGMA foreign_keys = ON");
  return db;
}

std::unique_ptr<sqlite_connection> sqlite_store::acquire_reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!readers_.empty()) {
      auto db = std::move(readers_.back());
      readers_.pop_back();
      return db;
    }
  }
  return open_connection();
}

void sqlite_store::release_reader(std::unique_ptr<sqlite_connection> db) {
  std::lock_guard lock(readers_mutex_);
  readers_.push_back(std::move(db));
}

void sqlite_store::read(const std::function<void(domain::metadata_txn&)>& fn) {
  auto db = acquire_reader();
  try {
    in_transaction(*db, "BEGIN", fn);
  } catch (...) {
    release_reader(std::move(db));
    throw;
  }
  release_reader(std::move(db));
}

void sqlite_store::write(const std::function<void(domain::metadata_txn&)>& fn) {
  bool appended = false;
  {
    std::lock_guard lock(write_mutex_);
    appended = in_transaction(*writer_, "BEGIN IMMEDIATE", fn, commit_time_);
  }
  if (appended && on_events_committed_) on_events_committed_();
}

void sqlite_store::on_events_committed(std::function<void()> hook) {
  on_events_committed_ = std::move(hook);
}

std::vector<domain::outbox_entry> sqlite_store::unpublished(std::size_t limit) {
  std::vector<domain::outbox_entry> out;
  read_only([&](SQLite::Database& db) {
    auto& q = prepare(db,
                      "SELECT seq, id, type, occurred_at, actor, file_id, file_name, file_size, "
                      "content_type, sha256, version, owner, target_user_id, permission, "
                      "audience FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?");
    bind_i64(q, 1, static_cast<std::int64_t>(limit));
    while (q.executeStep())
      out.push_back(read_outbox_entry(q));
  });
  return out;
}

void sqlite_store::mark_published(std::int64_t first_seq, std::int64_t last_seq, std::int64_t at) {
  std::lock_guard lock(write_mutex_);
  auto& q = prepare(*writer_,
                    "UPDATE outbox SET published_at = ? WHERE seq BETWEEN ? AND ? AND "
                    "published_at IS NULL");
  bind_i64(q, 1, at);
  bind_i64(q, 2, first_seq);
  bind_i64(q, 3, last_seq);
  timed_commit(commit_time_, [&] { return q.exec(); });  // autocommit: the exec commits
  writer_->finish_statements();
}

domain::live_changes sqlite_store::changes_after(std::int64_t event_seq,
                                                 std::int64_t notification_seq, std::size_t limit) {
  domain::live_changes out;
  read_only([&](SQLite::Database& db) {
    SQLite::Transaction snapshot(db, SQLite::TransactionBehavior::DEFERRED);
    auto& events = prepare(db,
                           "SELECT seq, id, type, occurred_at, actor, file_id, file_name, "
                           "file_size, content_type, sha256, version, owner, target_user_id, "
                           "permission, audience FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
    bind_i64(events, 1, event_seq);
    bind_i64(events, 2, static_cast<std::int64_t>(limit));
    while (events.executeStep())
      out.events.push_back(read_outbox_entry(events));
    auto& notes = prepare(db, std::string("SELECT ") + notification_columns +
                                  " FROM notifications WHERE seq > ? ORDER BY seq LIMIT ?");
    bind_i64(notes, 1, notification_seq);
    bind_i64(notes, 2, static_cast<std::int64_t>(limit));
    while (notes.executeStep())
      out.notifications.push_back(read_notification(notes));
    snapshot.commit();
  });
  return out;
}

std::pair<std::int64_t, std::int64_t> sqlite_store::latest_seqs() {
  std::pair<std::int64_t, std::int64_t> out;
  read_only([&](SQLite::Database& db) {
    auto& q = prepare(db,
                      "SELECT (SELECT COALESCE(MAX(seq), 0) FROM outbox), "
                      "(SELECT COALESCE(MAX(seq), 0) FROM notifications)");
    q.executeStep();
    out = {q.getColumn(0).getInt64(), q.getColumn(1).getInt64()};
  });
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> sqlite_store::open_uploads_by_protocol() {
  std::vector<std::pair<std::string, std::int64_t>> out{{"chunked", 0}, {"tus", 0}};
  read_only([&](SQLite::Database& db) {
    // On the (state, expires_at) index: only open uploads are visited.
    auto& q = prepare(
        db, "SELECT protocol, COUNT(*) FROM uploads WHERE state = 'open' GROUP BY protocol");
    while (q.executeStep()) {
      const std::string protocol = q.getColumn(0).getString();
      for (auto& [name, n] : out) {
        if (name == protocol) n = q.getColumn(1).getInt64();
      }
    }
  });
  return out;
}

std::int64_t sqlite_store::backlog() {
  std::int64_t n = 0;
  read_only([&](SQLite::Database& db) {
    auto& q = prepare(db, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL");
    q.executeStep();
    n = q.getColumn(0).getInt64();
  });
  return n;
}

int sqlite_store::schema_version() {
  int version = 0;
  read_only([&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    q.executeStep();
    version = q.getColumn(0).getInt();
  });
  return version;
}

int sqlite_store::latest_schema_version() {
  const auto& m = embedded_migrations();
  return m.empty() ? 0 : m.back().version;
}

std::vector<std::string> sqlite_store::blobs_with_prefix(std::string_view prefix) {
  std::vector<std::string> out;
  read_only([&](SQLite::Database& db) {
    // A range on the UNIQUE(blob) index; '\x7f' sorts after every id character.
    auto& q = prepare(db, "SELECT blob FROM files WHERE blob >= ?1 AND blob < ?2");
    bind_text(q, 1, prefix);
    bind_text(q, 2, std::string(prefix) + '\x7f');
    while (q.executeStep())
      out.emplace_back(q.getColumn(0).getString());
  });
  return out;
}

std::int64_t sqlite_store::prune_published(std::int64_t cutoff) {
  std::lock_guard lock(write_mutex_);
  auto& q =
      prepare(*writer_, "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?");
  bind_i64(q, 1, cutoff);
  const int n = timed_commit(commit_time_, [&] { return q.exec(); });
  writer_->finish_statements();
  return n;
}

void sqlite_store::read_only(const std::function<void(SQLite::Database&)>& fn) {
  auto db = acquire_reader();
  try {
    fn(*db);
  } catch (...) {
    db->finish_statements();
    release_reader(std::move(db));
    throw;
  }
  db->finish_statements();
  release_reader(std::move(db));
}

}  // namespace sharebox::storage
