#pragma once
// A SQLite connection that keeps its prepared statements. Parsing and planning the same SQL on
// every call cost more than running it: a download spent most of its database time in
// sqlite3Parser before statements were kept.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sharebox::storage {

class sqlite_connection final : public SQLite::Database {
 public:
  using SQLite::Database::Database;

  // The statement for `sql`, reset, with no bindings. A statement left mid-result keeps its
  // implicit read transaction (a stale snapshot, and a WAL checkpoint held back) until it is
  // reset, so callers end every use with finish_statements().
  SQLite::Statement& prepare(std::string_view sql);
  // Resets every statement handed out since the last call.
  void finish_statements() noexcept;

 private:
  struct sql_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  // Declared after the base: destroyed before the database handle closes.
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>, sql_hash, std::equal_to<>>
      statements_;
  std::vector<SQLite::Statement*> in_use_;
};

// `db` must be a sqlite_connection (every connection sqlite_store opens is one).
SQLite::Statement& prepare(SQLite::Database& db, std::string_view sql);

}  // namespace sharebox::storage
