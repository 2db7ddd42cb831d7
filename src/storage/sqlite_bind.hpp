#pragma once
// Typed parameter binding for the SQLite statements of storage/.
#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sharebox::storage {

// Not bind(i, ptr, size): in SQLiteCpp that overload binds a BLOB, and a BLOB never equals TEXT.
inline void bind_text(SQLite::Statement& q, int i, std::string_view s) {
  q.bind(i, std::string(s));
}
inline void bind_blob(SQLite::Statement& q, int i, std::string_view s) {
  q.bind(i, static_cast<const void*>(s.data()), static_cast<int>(s.size()));
}
inline void bind_i64(SQLite::Statement& q, int i, std::int64_t v) {
  q.bind(i, static_cast<int64_t>(v));
}
inline void bind_u64(SQLite::Statement& q, int i, std::uint64_t v) {
  bind_i64(q, i, static_cast<std::int64_t>(v));
}

}  // namespace sharebox::storage
