#include "sharebox/storage/sqlite_uploads.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <sstream>

#include "sharebox/storage/sqlite_connection.hpp"
#include "sqlite_bind.hpp"

namespace sharebox::storage::uploads_sql {

namespace {

using domain::upload_record;

constexpr const char* columns =
    "id, owner, protocol, kind, state, filename, content_type, size, chunk_size, \"offset\", "
    "sha256, metadata, replace_file_id, replace_etag, parts, file_id, created_at, updated_at, "
    "expires_at";

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

upload_record read(SQLite::Statement& q) {
  upload_record u;
  u.id = q.getColumn(0).getString();
  u.owner = q.getColumn(1).getString();
  u.protocol = domain::parse_upload_protocol(q.getColumn(2).getString())
                   .value_or(domain::upload_protocol::chunked);
  u.kind =
      domain::parse_upload_kind(q.getColumn(3).getString()).value_or(domain::upload_kind::single);
  u.state = domain::parse_upload_state(q.getColumn(4).getString())
                .value_or(domain::upload_state::expired);
  u.filename = q.getColumn(5).getString();
  u.content_type = q.getColumn(6).getString();
  if (!q.getColumn(7).isNull()) u.size = static_cast<std::uint64_t>(q.getColumn(7).getInt64());
  u.chunk_size = static_cast<std::uint64_t>(q.getColumn(8).getInt64());
  u.offset = static_cast<std::uint64_t>(q.getColumn(9).getInt64());
  u.sha256 = q.getColumn(10).getString();
  u.metadata = q.getColumn(11).getString();
  u.replace_file_id = q.getColumn(12).getString();
  u.replace_etag = q.getColumn(13).getString();
  u.parts = split(q.getColumn(14).getString());
  u.file_id = q.getColumn(15).getString();
  u.created_at = q.getColumn(16).getInt64();
  u.updated_at = q.getColumn(17).getInt64();
  u.expires_at = q.getColumn(18).getInt64();
  return u;
}

// Binds every column in `columns` order, starting at parameter 1.
void bind_all(SQLite::Statement& q, const upload_record& u) {
  bind_text(q, 1, u.id);
  bind_text(q, 2, u.owner);
  bind_text(q, 3, domain::to_string(u.protocol));
  bind_text(q, 4, domain::to_string(u.kind));
  bind_text(q, 5, domain::to_string(u.state));
  bind_text(q, 6, u.filename);
  bind_text(q, 7, u.content_type);
  if (u.size) {
    bind_u64(q, 8, *u.size);
  } else {
    q.bind(8);
  }
  bind_u64(q, 9, u.chunk_size);
  bind_u64(q, 10, u.offset);
  bind_text(q, 11, u.sha256);
  bind_text(q, 12, u.metadata);
  bind_text(q, 13, u.replace_file_id);
  bind_text(q, 14, u.replace_etag);
  bind_text(q, 15, join(u.parts));
  bind_text(q, 16, u.file_id);
  bind_i64(q, 17, u.created_at);
  bind_i64(q, 18, u.updated_at);
  bind_i64(q, 19, u.expires_at);
}

}  // namespace

void insert(SQLite::Database& db, const upload_record& u) {
  auto& q = prepare(db, std::string("INSERT INTO uploads(") + columns +
                            ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  bind_all(q, u);
  q.exec();
}

std::optional<upload_record> find(SQLite::Database& db, std::string_view id) {
  auto& q = prepare(db, std::string("SELECT ") + columns + " FROM uploads WHERE id = ?");
  bind_text(q, 1, id);
  if (!q.executeStep()) return std::nullopt;
  return read(q);
}

void update(SQLite::Database& db, const upload_record& u) {
  // Same parameter numbering as bind_all; id (1), owner (2), protocol (3) and created_at (17)
  // never change.
  auto& q = prepare(db,
                    "UPDATE uploads SET kind = ?4, state = ?5, filename = ?6, "
                    "content_type = ?7, size = ?8, chunk_size = ?9, \"offset\" = ?10, "
                    "sha256 = ?11, metadata = ?12, replace_file_id = ?13, replace_etag = ?14, "
                    "parts = ?15, file_id = ?16, updated_at = ?18, expires_at = ?19 "
                    "WHERE id = ?1 AND owner = ?2 AND protocol = ?3 AND created_at = ?17");
  bind_all(q, u);
  q.exec();
}

bool remove(SQLite::Database& db, std::string_view id) {
  auto& q = prepare(db, "DELETE FROM uploads WHERE id = ?");
  bind_text(q, 1, id);
  return q.exec() > 0;
}

std::int64_t count_open(SQLite::Database& db, std::string_view owner) {
  auto& q = prepare(db, "SELECT COUNT(*) FROM uploads WHERE owner = ? AND state = 'open'");
  bind_text(q, 1, owner);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

bool insert_chunk(SQLite::Database& db, std::string_view upload_id, std::uint64_t index) {
  auto& q = prepare(db, "INSERT OR IGNORE INTO upload_chunks(upload_id, idx) VALUES (?, ?)");
  bind_text(q, 1, upload_id);
  bind_u64(q, 2, index);
  return q.exec() > 0;
}

bool has_chunk(SQLite::Database& db, std::string_view upload_id, std::uint64_t index) {
  auto& q = prepare(db, "SELECT 1 FROM upload_chunks WHERE upload_id = ? AND idx = ?");
  bind_text(q, 1, upload_id);
  bind_u64(q, 2, index);
  return q.executeStep();
}

void delete_chunk(SQLite::Database& db, std::string_view upload_id, std::uint64_t index) {
  auto& q = prepare(db, "DELETE FROM upload_chunks WHERE upload_id = ? AND idx = ?");
  bind_text(q, 1, upload_id);
  bind_u64(q, 2, index);
  q.exec();
}

std::uint64_t count_chunks(SQLite::Database& db, std::string_view upload_id) {
  auto& q = prepare(db, "SELECT COUNT(*) FROM upload_chunks WHERE upload_id = ?");
  bind_text(q, 1, upload_id);
  q.executeStep();
  return static_cast<std::uint64_t>(q.getColumn(0).getInt64());
}

std::vector<std::uint64_t> chunks_of(SQLite::Database& db, std::string_view upload_id) {
  auto& q = prepare(db, "SELECT idx FROM upload_chunks WHERE upload_id = ? ORDER BY idx");
  bind_text(q, 1, upload_id);
  std::vector<std::uint64_t> out;
  while (q.executeStep())
    out.push_back(static_cast<std::uint64_t>(q.getColumn(0).getInt64()));
  return out;
}

void delete_chunks(SQLite::Database& db, std::string_view upload_id) {
  auto& q = prepare(db, "DELETE FROM upload_chunks WHERE upload_id = ?");
  bind_text(q, 1, upload_id);
  q.exec();
}

std::vector<upload_record> expired_by(SQLite::Database& db, std::int64_t now, std::size_t limit) {
  auto& q = prepare(db, std::string("SELECT ") + columns +
                            " FROM uploads WHERE state = 'open' AND expires_at <= ? "
                            "ORDER BY expires_at LIMIT ?");
  bind_i64(q, 1, now);
  bind_i64(q, 2, static_cast<std::int64_t>(limit));
  std::vector<upload_record> out;
  while (q.executeStep())
    out.push_back(read(q));
  return out;
}

std::int64_t purge(SQLite::Database& db, std::int64_t now) {
  auto& q = prepare(db,
                    "DELETE FROM uploads WHERE state IN ('completed', 'expired') AND "
                    "expires_at <= ?");
  bind_i64(q, 1, now);
  return q.exec();
}

std::vector<std::string> open_ids(SQLite::Database& db) {
  auto& q = prepare(db, "SELECT id FROM uploads WHERE state = 'open'");
  std::vector<std::string> out;
  while (q.executeStep())
    out.push_back(q.getColumn(0).getString());
  return out;
}

}  // namespace sharebox::storage::uploads_sql
