#include <gtest/gtest.h>

#include "sharebox/http/conditional.hpp"

#include <random>
#include <string>

namespace sharebox::http {
namespace {

using namespace std::chrono;
using namespace std::string_literals;

// Sun, 06 Nov 1994 08:49:37 GMT
constexpr sys_seconds rfc_example{seconds{784111777}};

TEST(EtagMatch, StrongComparison) {
  EXPECT_TRUE(etag_matches("\"abc\"", "\"abc\"", false));
  EXPECT_FALSE(etag_matches("\"abd\"", "\"abc\"", false));
  EXPECT_FALSE(etag_matches("W/\"abc\"", "\"abc\"", false));
  EXPECT_FALSE(etag_matches("\"abc\"", "W/\"abc\"", false));
  EXPECT_FALSE(etag_matches("\"ABC\"", "\"abc\"", false));
}

TEST(EtagMatch, WeakComparison) {
  EXPECT_TRUE(etag_matches("\"abc\"", "\"abc\"", true));
  EXPECT_TRUE(etag_matches("W/\"abc\"", "\"abc\"", true));
  EXPECT_TRUE(etag_matches("W/\"abc\"", "W/\"abc\"", true));
  EXPECT_FALSE(etag_matches("W/\"abd\"", "\"abc\"", true));
}

TEST(EtagMatch, Lists) {
  EXPECT_TRUE(etag_matches("\"x\", \"y\", \"abc\"", "\"abc\"", false));
  EXPECT_TRUE(etag_matches("\"x\",W/\"abc\"", "\"abc\"", true));
  EXPECT_FALSE(etag_matches("\"x\",W/\"abc\"", "\"abc\"", false));
  EXPECT_TRUE(etag_matches(" ,, \"x\" ,\t\"abc\" , ", "\"abc\"", false));
  // Commas are legal inside an entity-tag.
  EXPECT_TRUE(etag_matches("\"a,b\"", "\"a,b\"", false));
  EXPECT_FALSE(etag_matches("\"a,b\"", "\"a\"", false));
  EXPECT_FALSE(etag_matches("", "\"abc\"", false));
}

TEST(EtagMatch, Wildcard) {
  EXPECT_TRUE(etag_matches("*", "\"abc\"", false));
  EXPECT_TRUE(etag_matches(" * ", "\"abc\"", true));
  // No current representation: nothing matches, not even "*".
  EXPECT_FALSE(etag_matches("*", "", false));
}

TEST(EtagMatch, UnquotedLenience) {
  EXPECT_TRUE(etag_matches("3", "\"3\"", false));
  EXPECT_TRUE(etag_matches("1, 3", "\"3\"", false));
  EXPECT_TRUE(etag_matches("W/3", "\"3\"", true));
  EXPECT_FALSE(etag_matches("W/3", "\"3\"", false));
  EXPECT_FALSE(etag_matches("33", "\"3\"", false));
}

TEST(EtagMatch, MalformedInputIsHarmless) {
  EXPECT_FALSE(etag_matches("\"abc", "\"abc\"", false));
  EXPECT_FALSE(etag_matches("W/", "\"abc\"", true));
  EXPECT_TRUE(etag_matches("\"x\"garbage, \"abc\"", "\"abc\"", false));
  EXPECT_FALSE(etag_matches("\"", "\"abc\"", false));
  EXPECT_FALSE(etag_matches(std::string_view("\"\0\"", 3), "\"abc\"", false));
}

conditions none() {
  return {};
}

TEST(Preconditions, NoConditionsProceed) {
  EXPECT_EQ(evaluate(none(), "\"e\"", rfc_example, true), precondition::proceed);
  EXPECT_EQ(evaluate(none(), "\"e\"", rfc_example, false), precondition::proceed);
}

TEST(Preconditions, IfMatch) {
  conditions c;
  c.if_match = "\"e\"";
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::proceed);
  c.if_match = "\"other\"";
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::failed);
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, true), precondition::failed);
  c.if_match = "W/\"e\"";  // If-Match uses strong comparison
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::failed);
  c.if_match = "*";
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::proceed);
}

TEST(Preconditions, IfMatchTakesPrecedenceOverIfUnmodifiedSince) {
  conditions c;
  c.if_match = "\"e\"";
  c.if_unmodified_since = "Sat, 01 Jan 1990 00:00:00 GMT";  // would fail on its own
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::proceed);
  c.if_match.reset();
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::failed);
}

TEST(Preconditions, IfUnmodifiedSince) {
  conditions c;
  c.if_unmodified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::proceed);
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example + seconds{1}, false), precondition::failed);
  c.if_unmodified_since = "not a date";  // ignored
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::proceed);
}

TEST(Preconditions, IfNoneMatch) {
  conditions c;
  c.if_none_match = "W/\"e\"";  // weak comparison
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, true), precondition::not_modified);
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::failed);
  c.if_none_match = "\"x\", \"y\"";
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, true), precondition::proceed);
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::proceed);
  c.if_none_match = "*";
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::failed);
  // Create-only upload: no current representation.
  EXPECT_EQ(evaluate(c, "", rfc_example, false), precondition::proceed);
}

TEST(Preconditions, IfNoneMatchTakesPrecedenceOverIfModifiedSince) {
  conditions c;
  c.if_none_match = "\"other\"";
  c.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";  // would be not_modified on its own
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, true), precondition::proceed);
  c.if_none_match.reset();
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, true), precondition::not_modified);
}

TEST(Preconditions, IfModifiedSince) {
  conditions c;
  c.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, true), precondition::not_modified);
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example - hours{1}, true), precondition::not_modified);
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example + seconds{1}, true), precondition::proceed);
  // Only for safe methods.
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, false), precondition::proceed);
  c.if_modified_since = "garbage";
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, true), precondition::proceed);
}

TEST(Preconditions, FailedIfMatchBeatsIfNoneMatch) {
  conditions c;
  c.if_match = "\"other\"";
  c.if_none_match = "\"e\"";
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, true), precondition::failed);
  c.if_match = "\"e\"";
  EXPECT_EQ(evaluate(c, "\"e\"", rfc_example, true), precondition::not_modified);
}

TEST(IfRange, EntityTag) {
  EXPECT_TRUE(if_range_allows("\"e\"", "\"e\"", rfc_example));
  EXPECT_TRUE(if_range_allows(" \"e\" ", "\"e\"", rfc_example));
  EXPECT_FALSE(if_range_allows("\"x\"", "\"e\"", rfc_example));
  EXPECT_FALSE(if_range_allows("W/\"e\"", "\"e\"", rfc_example));
  EXPECT_FALSE(if_range_allows("\"e\"", "W/\"e\"", rfc_example));
  EXPECT_FALSE(if_range_allows("\"e\", \"f\"", "\"e\"", rfc_example));
  EXPECT_FALSE(if_range_allows("\"e", "\"e\"", rfc_example));
  EXPECT_FALSE(if_range_allows("\"", "\"e\"", rfc_example));
  EXPECT_FALSE(if_range_allows("", "\"e\"", rfc_example));
}

TEST(IfRange, Date) {
  EXPECT_TRUE(if_range_allows("Sun, 06 Nov 1994 08:49:37 GMT", "\"e\"", rfc_example));
  EXPECT_TRUE(if_range_allows("Sun Nov  6 08:49:37 1994", "\"e\"", rfc_example));
  EXPECT_FALSE(if_range_allows("Sun, 06 Nov 1994 08:49:38 GMT", "\"e\"", rfc_example));
  EXPECT_FALSE(if_range_allows("Sun, 06 Nov 1994 08:49:36 GMT", "\"e\"", rfc_example));
  EXPECT_FALSE(if_range_allows("yesterday", "\"e\"", rfc_example));
}

TEST(HttpDate, Format) {
  EXPECT_EQ(format_http_date(rfc_example), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(sys_seconds{}), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(
      format_http_date(sys_days{2024y / February / 29} + hours{23} + minutes{59} + seconds{59}),
      "Thu, 29 Feb 2024 23:59:59 GMT");
  EXPECT_EQ(format_http_date(sys_days{1969y / December / 31}), "Wed, 31 Dec 1969 00:00:00 GMT");
}

TEST(HttpDate, FormatClampsToFourDigitYears) {
  EXPECT_EQ(format_http_date(sys_days{12000y / 1 / 1}), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(format_http_date(sys_days{-50y / 1 / 1}), "Sat, 01 Jan 0000 00:00:00 GMT");
}

TEST(HttpDate, ParsesAllThreeFormats) {
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), rfc_example);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), rfc_example);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), rfc_example);
  EXPECT_EQ(parse_http_date("Sun Nov 06 08:49:37 1994"), rfc_example);
  EXPECT_EQ(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT\t"), rfc_example);
  EXPECT_EQ(parse_http_date("sun, 06 nov 1994 08:49:37 gmt"), rfc_example);
  // A leap second is accepted and folded into :59.
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:60 GMT"), rfc_example + seconds{22});
}

TEST(HttpDate, RoundTrip) {
  std::mt19937_64 rng(4242);
  for (int i = 0; i < 2000; ++i) {
    const sys_seconds t{seconds{static_cast<std::int64_t>(rng() % 253402300799ULL)}};
    const auto parsed = parse_http_date(format_http_date(t));
    ASSERT_TRUE(parsed.has_value()) << format_http_date(t);
    ASSERT_EQ(*parsed, t) << format_http_date(t);
  }
}

TEST(HttpDate, TwoDigitYearsPivot) {
  // RFC 9110 §5.6.7: more than 50 years in the future means the previous century.
  const int this_year = static_cast<int>(year_month_day{floor<days>(system_clock::now())}.year());
  const int far = (this_year + 60) % 100;
  const auto t = parse_http_date("Monday, 01-Jan-" + std::string(far < 10 ? "0" : "") +
                                 std::to_string(far) + " 00:00:00 GMT");
  ASSERT_TRUE(t.has_value());
  EXPECT_LT(year_month_day{floor<days>(*t)}.year(), year{this_year});
  const int near = (this_year + 10) % 100;
  const auto u = parse_http_date("Monday, 01-Jan-" + std::string(near < 10 ? "0" : "") +
                                 std::to_string(near) + " 00:00:00 GMT");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(year_month_day{floor<days>(*u)}.year(), year{this_year + 10});
}

TEST(HttpDate, RejectsInvalid) {
  for (const char* s :
       {"", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMTX",
        "Sun, 06 Nov 94 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov  6 08:49:37 94", "Sun Nov 6 08:49:37 1994",
        "Sun, 06 Nov 1994 08:49:3a GMT", "1994-11-06T08:49:37Z", "784111777"}) {
    EXPECT_FALSE(parse_http_date(s).has_value()) << s;
  }
}

TEST(HttpDate, RandomInputNeverCrashes) {
  std::mt19937 rng(77);
  const std::string alphabet = "SunMoTeWdhFrialJbpyAgOcNvD0123456789 ,:-GMT\0\xff"s;
  const std::string seed = "Sun, 06 Nov 1994 08:49:37 GMT";
  for (int iter = 0; iter < 5000; ++iter) {
    std::string s = seed;
    // Mutate a valid date so many inputs get deep into the parsers.
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const std::size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          s.erase(pos, 1);
          break;
        default:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    if (const auto t = parse_http_date(s)) {
      ASSERT_EQ(parse_http_date(format_http_date(*t)), t) << s;
    }
    (void)etag_matches(s, "\"abc\"", iter % 2 == 0);
    (void)if_range_allows(s, "\"abc\"", rfc_example);
  }
}

TEST(ContentDisposition, PlainAscii) {
  EXPECT_EQ(content_disposition("attachment", "report.pdf"), "attachment; filename=\"report.pdf\"");
  EXPECT_EQ(content_disposition("inline", "a b (1).txt"), "inline; filename=\"a b (1).txt\"");
  EXPECT_EQ(content_disposition("attachment", ""), "attachment; filename=\"\"");
}

TEST(ContentDisposition, Utf8) {
  EXPECT_EQ(content_disposition("attachment", "r\xC3\xA9sum\xC3\xA9.pdf"),
            "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf");
  EXPECT_EQ(content_disposition("attachment", "\xE6\x97\xA5\xE6\x9C\xAC.txt"),
            "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt");
  // Four-byte sequence (emoji) is one character in the fallback.
  EXPECT_EQ(content_disposition("attachment", "\xF0\x9F\x98\x80"),
            "attachment; filename=\"_\"; filename*=UTF-8''%F0%9F%98%80");
}

TEST(ContentDisposition, QuotesBackslashesAndControls) {
  EXPECT_EQ(content_disposition("attachment", "a\"b.txt"),
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt");
  EXPECT_EQ(content_disposition("attachment", "a\\b.txt"),
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%5Cb.txt");
  EXPECT_EQ(content_disposition("attachment", "a\r\nSet-Cookie: x"),
            "attachment; filename=\"a__Set-Cookie: x\"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x");
  EXPECT_EQ(content_disposition("attachment", "nul\0tab\t\x7f"s),
            "attachment; filename=\"nul_tab__\"; filename*=UTF-8''nul%00tab%09%7F");
  // Invalid UTF-8 bytes are replaced one by one and still percent-encoded.
  EXPECT_EQ(content_disposition("attachment", "x\xC3(\xFF"),
            "attachment; filename=\"x_(_\"; filename*=UTF-8''x%C3%28%FF");
}

TEST(ContentDisposition, PercentEncodesOutsideAttrChar) {
  const std::string all_ascii_specials = "\xC3\xA9 !#$&+-.^_`|~%'()*,/:;<=>?@[]{}";
  EXPECT_EQ(content_disposition("attachment", all_ascii_specials),
            "attachment; filename=\"_ !#$&+-.^_`|~%'()*,/:;<=>?@[]{}\"; "
            "filename*=UTF-8''%C3%A9%20!#$&+-.^_`|~%25%27%28%29%2A%2C%2F%3A%3B%3C%3D%3E%3F%40%5B%"
            "5D%7B%7D");
}

TEST(ContentDisposition, RandomInputIsAlwaysSafe) {
  std::mt19937 rng(5);
  for (int iter = 0; iter < 5000; ++iter) {
    std::string name;
    const std::size_t len = rng() % 24;
    for (std::size_t i = 0; i < len; ++i)
      name.push_back(static_cast<char>(rng() % 256));
    const std::string v = content_disposition("attachment", name);
    const std::size_t open = v.find('"');
    const std::size_t close = v.find('"', open + 1);
    ASSERT_NE(close, std::string::npos);
    ASSERT_EQ(v.find('"', close + 1), std::string::npos) << "exactly one quoted string";
    for (const char c : v) {
      ASSERT_TRUE(c >= 0x20 && c <= 0x7E) << "non-printable byte in header value";
    }
    ASSERT_EQ(v.find('\\'), std::string::npos);
  }
}

}  // namespace
}  // namespace sharebox::http
