#pragma once
#include <cstdint>
#include <string>

namespace sharebox::util {

// Milliseconds since the Unix epoch, the unit timestamps are stored in.
std::int64_t now_ms();
// RFC 3339 UTC with milliseconds, e.g. "2026-11-22T03:47:55.123Z".
std::string format_rfc3339(std::int64_t unix_ms);

}  // namespace sharebox::util
