#pragma once
// The small values handlers read from a request's path, query and headers, as pure functions:
// the handlers and the fuzz targets (tests/fuzz) call the same code.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharebox/http/router.hpp"

namespace sharebox::api {

// GET /files' opaque paging cursor: base64url of "s<seq>". decode_page_cursor is the inverse of
// encode_cursor for every seq >= 0; anything this server did not issue is 400
// invalid_parameter.
std::string encode_page_cursor(std::int64_t seq);
std::optional<std::int64_t> page_cursor(const http::params& query);

// ?unread_only=true|1|false|0 (absent: false); 400 invalid_parameter otherwise.
bool unread_only_param(const http::params& query);

// The {index} of PUT /v1/uploads/{id}/chunks/{index}: a decimal integer without leading zeros;
// 400 invalid_chunk_index otherwise.
std::uint64_t parse_chunk_index(std::string_view text);

// Whether a browser page at `origin` may use the cookie sign-in: true without an Origin, for an
// origin in `cors_origins` (or "*"), and for the server's own origin (http:// or https:// and the
// Host it was reached at, compared case-insensitively).
bool origin_allowed(std::string_view origin, std::string_view host,
                    const std::vector<std::string>& cors_origins);

}  // namespace sharebox::api
