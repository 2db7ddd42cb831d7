// Query parameters (src/api/request_params.cpp, src/api/common.cpp): ?limit= (GET /files,
// /notifications, /admin/users), ?cursor= (GET /files' paging cursor), ?unread_only=, read from a
// request target as parse_target decodes it, and the base64 codings the cursor and tus use.
// Input: a request target.
//
// Properties:
//  - limit: accepted exactly for 1-1000 written in at most 4 digits, and read as that number;
//  - cursor: anything this server did not issue is 400 invalid_parameter (never a 500); a cursor
//    accepted names a sequence number >= 0, and every sequence number's cursor decodes to
//    itself;
//  - unread_only: true|1|false|0 only;
//  - base64 and base64url decode what they encode.
#include <cstring>

#include "fuzz_support.hpp"
#include "sharebox/api/handlers.hpp"
#include "sharebox/api/request_params.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/router.hpp"
#include "sharebox/util/encoding.hpp"

namespace {

using namespace sharebox;

template <typename Fn>
bool accepted(Fn fn) {
  try {
    fn();
    return true;
  } catch (const domain::error& e) {
    FUZZ_CHECK(e.code() == domain::errc::invalid_parameter);
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);

  FUZZ_CHECK(util::base64url_decode(util::base64url_encode(input)) == input);
  FUZZ_CHECK(util::base64_decode(util::base64_encode(input)) == input);
  if (size >= 8) {
    std::int64_t seq = 0;
    std::memcpy(&seq, data, sizeof seq);
    if (seq < 0) seq = -(seq + 1);
    http::params q{{"cursor", api::encode_page_cursor(seq)}};
    FUZZ_CHECK(api::page_cursor(q) == seq);
  }

  const auto target = http::parse_target(input);
  if (!target) return 0;
  const auto& q = target->query;

  std::size_t limit = 0;
  const bool limit_ok = accepted([&] { limit = api::limit_param(q, 77); });
  if (const auto it = q.find("limit"); it == q.end()) {
    FUZZ_CHECK(limit_ok && limit == 77);
  } else {
    const auto v = fuzz::decimal(it->second);
    const bool want = it->second.size() <= 4 && v && *v >= 1 && *v <= 1000;
    FUZZ_CHECK(limit_ok == want);
    if (limit_ok) FUZZ_CHECK(limit == *v);
  }

  std::int64_t cursor = -1;  // none (a plain integer: GCC 12 warns on an optional here)
  if (accepted([&] { cursor = api::page_cursor(q).value_or(-1); }) && cursor != -1) {
    FUZZ_CHECK(cursor >= 0);
    const http::params again{{"cursor", api::encode_page_cursor(cursor)}};
    FUZZ_CHECK(api::page_cursor(again) == cursor);
  }
  if (q.find("cursor") == q.end()) FUZZ_CHECK(cursor == -1);

  bool unread = false;
  const bool unread_ok = accepted([&] { unread = api::unread_only_param(q); });
  if (const auto it = q.find("unread_only"); it != q.end()) {
    const auto& v = it->second;
    FUZZ_CHECK(unread_ok == (v == "true" || v == "1" || v == "false" || v == "0"));
    if (unread_ok) FUZZ_CHECK(unread == (v == "true" || v == "1"));
  } else {
    FUZZ_CHECK(unread_ok && !unread);
  }
  return 0;
}
