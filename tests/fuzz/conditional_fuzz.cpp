// Conditional requests and the header formats around downloads (src/http/conditional.cpp).
// Input: header lines: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since,
// If-Range, and the representation: X-ETag (its entity-tag: a well-formed one as it is, W/
// included; anything else in quotes, as etag_of() makes them, e.g. 3 -> "3"), X-Last-Modified
// (Unix seconds), X-Filename (its name, for Content-Disposition).
//
// Properties:
//  - a strong match is also a weak match; "*" and the tag itself match any current tag;
//  - evaluate() follows RFC 9110 §13.2.2 (read here directly from etag_matches and
//    parse_http_date): 304 only for GET/HEAD, 412 only from If-Match/If-Unmodified-Since or a
//    matching If-None-Match on an unsafe method, no conditions -> proceed;
//  - If-Range allows a range only for the exact strong tag or the exact date;
//  - every date that parses formats as a 29-byte IMF-fixdate that parses back to it;
//  - Content-Disposition is a safe header value (printable ASCII), its quoted filename holds no
//    quote or backslash, and the name comes back exactly: from the quoted fallback when it is
//    plain, else from filename*.
#include <algorithm>

#include "fuzz_support.hpp"
#include "sharebox/http/conditional.hpp"
#include "sharebox/util/encoding.hpp"

namespace {

using namespace sharebox;
using namespace std::chrono;

void check_date(std::string_view text) {
  const auto t = http::parse_http_date(text);
  if (!t) return;
  const std::string formatted = http::format_http_date(*t);
  FUZZ_CHECK(formatted.size() == 29);
  FUZZ_CHECK(http::parse_http_date(formatted) == t);
}

void check_disposition(std::string_view filename) {
  const std::string v = http::content_disposition("attachment", filename);
  FUZZ_CHECK(std::all_of(v.begin(), v.end(), [](char c) { return c >= 0x20 && c <= 0x7e; }));
  constexpr std::string_view head = "attachment; filename=\"";
  FUZZ_CHECK(v.starts_with(head));
  const auto close = v.find('"', head.size());
  FUZZ_CHECK(close != std::string::npos);
  const std::string_view fallback = std::string_view(v).substr(head.size(), close - head.size());
  FUZZ_CHECK(fallback.find('\\') == std::string_view::npos);
  const std::string_view rest = std::string_view(v).substr(close + 1);
  constexpr std::string_view ext = "; filename*=UTF-8''";
  if (rest.empty()) {
    FUZZ_CHECK(fallback == filename);
  } else {
    FUZZ_CHECK(rest.starts_with(ext));
    const auto decoded = util::url_decode(rest.substr(ext.size()), false);
    FUZZ_CHECK(decoded && *decoded == filename);
    FUZZ_CHECK(fallback != filename);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto h = fuzz::header_block::parse(fuzz::as_text(data, size));

  std::string etag = "\"1\"";
  if (const auto e = h.get("X-ETag")) {
    const std::string_view opaque = e->starts_with("W/") ? e->substr(2) : *e;
    const bool well_formed =
        opaque.size() >= 2 && opaque.front() == '"' && opaque.find('"', 1) == opaque.size() - 1;
    if (well_formed) {
      etag = std::string(*e);
    } else {
      etag = "\"";
      for (const char ch : *e)
        if (ch != '"') etag += ch;
      etag += '"';
    }
  }
  // Within the years format_http_date can write (0000-9999).
  const auto seconds = static_cast<std::int64_t>(
      fuzz::decimal(h.get("X-Last-Modified").value_or("")).value_or(784111777) % 253402300800ull);
  const http::sys_seconds last_modified{std::chrono::seconds(seconds)};

  const http::conditions c{h.get("If-Match"), h.get("If-None-Match"), h.get("If-Modified-Since"),
                           h.get("If-Unmodified-Since")};
  const bool own_tag_is_strong_quoted = etag.size() >= 2 && etag.front() == '"' &&
                                        etag.back() == '"' && etag.find('"', 1) == etag.size() - 1;

  // ---- entity tags ----
  for (const auto& header : {c.if_match, c.if_none_match}) {
    if (!header) continue;
    const bool strong = http::etag_matches(*header, etag, false);
    const bool weak = http::etag_matches(*header, etag, true);
    FUZZ_CHECK(!strong || weak);
  }
  const bool has_tag = etag.find_first_not_of(" \t") != std::string::npos;
  FUZZ_CHECK(http::etag_matches("*", etag, false) == has_tag);
  if (own_tag_is_strong_quoted) {
    FUZZ_CHECK(http::etag_matches(etag, etag, false));
    FUZZ_CHECK(http::etag_matches("W/" + etag, etag, true));
    FUZZ_CHECK(!http::etag_matches("W/" + etag, etag, false));
  }

  // ---- evaluation order (RFC 9110 §13.2.2) ----
  for (const bool safe : {true, false}) {
    const auto got = http::evaluate(c, etag, last_modified, safe);
    http::precondition want = http::precondition::proceed;
    bool decided = false;
    if (c.if_match) {
      if (!http::etag_matches(*c.if_match, etag, false)) {
        want = http::precondition::failed;
        decided = true;
      }
    } else if (c.if_unmodified_since) {
      const auto d = http::parse_http_date(*c.if_unmodified_since);
      if (d && last_modified > *d) {
        want = http::precondition::failed;
        decided = true;
      }
    }
    if (!decided) {
      if (c.if_none_match) {
        if (http::etag_matches(*c.if_none_match, etag, true)) {
          want = safe ? http::precondition::not_modified : http::precondition::failed;
        }
      } else if (c.if_modified_since && safe) {
        const auto d = http::parse_http_date(*c.if_modified_since);
        if (d && last_modified <= *d) want = http::precondition::not_modified;
      }
    }
    FUZZ_CHECK(got == want);
    if (!safe) FUZZ_CHECK(got != http::precondition::not_modified);
  }
  FUZZ_CHECK(http::evaluate({}, etag, last_modified, true) == http::precondition::proceed);

  // ---- If-Range ----
  if (const auto r = h.get("If-Range")) {
    if (http::if_range_allows(*r, etag, last_modified)) {
      std::string_view t = *r;
      while (!t.empty() && (t.front() == ' ' || t.front() == '\t'))
        t.remove_prefix(1);
      while (!t.empty() && (t.back() == ' ' || t.back() == '\t'))
        t.remove_suffix(1);
      const bool same_tag = own_tag_is_strong_quoted && t == etag;
      FUZZ_CHECK(same_tag || http::parse_http_date(t) == last_modified);
    }
  }
  if (own_tag_is_strong_quoted && etag.size() > 2) {
    FUZZ_CHECK(http::if_range_allows(etag, etag, last_modified));
  }
  FUZZ_CHECK(http::if_range_allows(http::format_http_date(last_modified), etag, last_modified));

  // ---- dates ----
  for (const auto& d : {c.if_modified_since, c.if_unmodified_since, h.get("If-Range")})
    if (d) check_date(*d);
  FUZZ_CHECK(http::parse_http_date(http::format_http_date(last_modified)) == last_modified);

  // ---- Content-Disposition ----
  if (const auto f = h.get("X-Filename")) check_disposition(*f);
  return 0;
}
