#include "sharebox/storage/sqlite_connection.hpp"

namespace sharebox::storage {

SQLite::Statement& sqlite_connection::prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it =
        statements_
            .emplace(std::string(sql), std::make_unique<SQLite::Statement>(*this, std::string(sql)))
            .first;
  }
  auto& q = *it->second;
  // A statement reused within one transaction (e.g. once per listed file) was not yet reset.
  q.tryReset();
  q.clearBindings();
  in_use_.push_back(&q);
  return q;
}

void sqlite_connection::finish_statements() noexcept {
  for (auto* q : in_use_)
    q->tryReset();
  in_use_.clear();
}

SQLite::Statement& prepare(SQLite::Database& db, std::string_view sql) {
  return static_cast<sqlite_connection&>(db).prepare(sql);
}

}  // namespace sharebox::storage
