#pragma once
#include <string>
#include <vector>

namespace SQLite {
class Database;
}

namespace sharebox::storage {

struct migration {
  int version;
  std::string name;
  std::string sql;
};

// migrations/*.sql, compiled into the binary in version order.
const std::vector<migration>& embedded_migrations();

// Applies every pending migration, each in its own transaction, recording it in
// schema_migrations. Throws std::runtime_error if the database was written by a newer sharebox
// (a version this binary does not know), so an old binary never runs on a newer schema.
// Returns the number of migrations applied.
int migrate(SQLite::Database& db, const std::vector<migration>& migrations);

}  // namespace sharebox::storage
