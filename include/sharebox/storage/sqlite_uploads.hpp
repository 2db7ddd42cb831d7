#pragma once
// The uploads tables, for sqlite_store's transactions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharebox/domain/upload.hpp"

namespace SQLite {
class Database;
}

namespace sharebox::storage::uploads_sql {

void insert(SQLite::Database& db, const domain::upload_record& u);
std::optional<domain::upload_record> find(SQLite::Database& db, std::string_view id);
void update(SQLite::Database& db, const domain::upload_record& u);
bool remove(SQLite::Database& db, std::string_view id);
std::int64_t count_open(SQLite::Database& db, std::string_view owner);
bool insert_chunk(SQLite::Database& db, std::string_view upload_id, std::uint64_t index);
bool has_chunk(SQLite::Database& db, std::string_view upload_id, std::uint64_t index);
void delete_chunk(SQLite::Database& db, std::string_view upload_id, std::uint64_t index);
std::uint64_t count_chunks(SQLite::Database& db, std::string_view upload_id);
std::vector<std::uint64_t> chunks_of(SQLite::Database& db, std::string_view upload_id);
void delete_chunks(SQLite::Database& db, std::string_view upload_id);
std::vector<domain::upload_record> expired_by(SQLite::Database& db, std::int64_t now,
                                              std::size_t limit);
std::int64_t purge(SQLite::Database& db, std::int64_t now);
std::vector<std::string> open_ids(SQLite::Database& db);

}  // namespace sharebox::storage::uploads_sql
