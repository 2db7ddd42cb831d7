#include "sharebox/storage/migrations.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <stdexcept>

#include "sharebox/util/time.hpp"

namespace sharebox::storage {

int migrate(SQLite::Database& db, const std::vector<migration>& migrations) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  int current = 0;
  {
    SQLite::Statement q(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    q.executeStep();
    current = q.getColumn(0).getInt();
  }
  const int known = migrations.empty() ? 0 : migrations.back().version;
  if (current > known) {
    throw std::runtime_error("database schema version " + std::to_string(current) +
                             " is newer than this sharebox understands (up to " +
                             std::to_string(known) +
                             "); it was written by a newer release: upgrade sharebox");
  }
  int applied = 0;
  for (const auto& m : migrations) {
    if (m.version <= current) continue;
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    db.exec(m.sql);
    SQLite::Statement rec(
        db, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?,?,?)");
    rec.bind(1, m.version);
    rec.bind(2, m.name);
    rec.bind(3, static_cast<int64_t>(util::now_ms()));
    rec.exec();
    tx.commit();
    ++applied;
  }
  return applied;
}

}  // namespace sharebox::storage
