#pragma once
// Conditional requests (RFC 9110 §13) and the small header formats around downloads.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sharebox::http {

using sys_seconds = std::chrono::sys_seconds;

// True if the entity-tag list `header` (If-Match / If-None-Match value: "*", or a comma
// separated list of entity-tags, possibly W/-prefixed) matches `etag` (a quoted strong tag).
// `weak` selects weak comparison (If-None-Match) instead of strong (If-Match). For curl users,
// a bare unquoted token (If-Match: 3) is accepted as if it were quoted.
bool etag_matches(std::string_view header, std::string_view etag, bool weak);

struct conditions {
  std::optional<std::string_view> if_match;
  std::optional<std::string_view> if_none_match;
  std::optional<std::string_view> if_modified_since;
  std::optional<std::string_view> if_unmodified_since;
};

enum class precondition { proceed, not_modified, failed };

// RFC 9110 §13.2.2 evaluation order for a representation with `etag` and `last_modified`.
// `safe` is true for GET/HEAD (If-None-Match match -> not_modified; otherwise -> failed).
precondition evaluate(const conditions& c, std::string_view etag, sys_seconds last_modified,
                      bool safe);

// If-Range (RFC 9110 §13.1.5): true if the Range header may be honoured. A strong entity-tag
// must equal `etag`; an HTTP-date must equal `last_modified` exactly; weak tags never match.
bool if_range_allows(std::string_view if_range, std::string_view etag, sys_seconds last_modified);

// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(sys_seconds t);
// Accepts IMF-fixdate, and the obsolete RFC 850 and asctime formats.
std::optional<sys_seconds> parse_http_date(std::string_view s);

// Content-Disposition value (RFC 6266): `disposition; filename="ascii fallback"` plus
// `filename*=UTF-8''percent-encoded` when the name is not plain printable ASCII. Quotes,
// backslashes and control characters never reach the quoted fallback.
std::string content_disposition(std::string_view disposition, std::string_view filename);

}  // namespace sharebox::http
