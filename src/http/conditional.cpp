#include "sharebox/http/conditional.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>

#include "sharebox/http/syntax.hpp"

namespace sharebox::http {

namespace {

using namespace std::chrono;

// ---- entity tags -------------------------------------------------------------------------

struct entity_tag {
  bool weak = false;
  std::string_view opaque;  // without quotes
};

// Reads one entity-tag at `pos` and advances past it. Quoted tags may contain commas, so the
// list cannot simply be split on ','. An unquoted token is accepted as if it were quoted.
std::optional<entity_tag> next_tag(std::string_view s, std::size_t& pos) {
  entity_tag tag;
  if (s.size() - pos >= 2 && (s[pos] == 'W' || s[pos] == 'w') && s[pos + 1] == '/') {
    tag.weak = true;
    pos += 2;
  }
  if (pos < s.size() && s[pos] == '"') {
    const std::size_t close = s.find('"', pos + 1);
    if (close == std::string_view::npos) {
      pos = s.size();
      return std::nullopt;
    }
    tag.opaque = s.substr(pos + 1, close - pos - 1);
    pos = close + 1;
  } else {
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] != ',' && !is_ows(s[pos]))
      ++pos;
    tag.opaque = s.substr(start, pos - start);
    if (tag.opaque.empty()) return std::nullopt;
  }
  // Skip anything glued to the tag (malformed) up to the next list separator.
  while (pos < s.size() && s[pos] != ',')
    ++pos;
  return tag;
}

entity_tag parse_own_tag(std::string_view etag) {
  std::size_t pos = 0;
  etag = trim_ows(etag);
  return next_tag(etag, pos).value_or(entity_tag{false, etag});
}

bool tags_match(const entity_tag& a, const entity_tag& b, bool weak) {
  if (!weak && (a.weak || b.weak)) return false;
  return a.opaque == b.opaque;
}

// ---- dates -------------------------------------------------------------------------------

constexpr std::array<std::string_view, 7> short_days = {"Sun", "Mon", "Tue", "Wed",
                                                        "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> long_days = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Sequential matcher over a date string; every method fails (returns false) instead of reading
// past the end.
class date_cursor {
 public:
  explicit date_cursor(std::string_view s) : s_(s) {}

  bool literal(std::string_view lit) {
    if (!ascii_iequals(s_.substr(pos_, lit.size()), lit)) return false;
    pos_ += lit.size();
    return true;
  }

  template <std::size_t N>
  bool one_of(const std::array<std::string_view, N>& names, unsigned& index) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<unsigned>(i);
        return true;
      }
    }
    return false;
  }

  bool digits(std::size_t n, int& out) {
    if (s_.size() - pos_ < n) return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s_[pos_ + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    out = v;
    pos_ += n;
    return true;
  }

  // asctime pads single-digit days with a space instead of a zero.
  bool padded_day(int& out) {
    if (literal(" ")) return digits(1, out);
    return digits(2, out);
  }

  bool time_of_day(int& h, int& m, int& sec) {
    return digits(2, h) && literal(":") && digits(2, m) && literal(":") && digits(2, sec);
  }

  bool at_end() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

struct date_fields {
  int year = 0;
  unsigned month = 0;  // 0-based
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
};

std::optional<sys_seconds> to_time(const date_fields& f) {
  const year_month_day ymd{year{f.year}, month{f.month + 1}, day{static_cast<unsigned>(f.day)}};
  if (!ymd.ok() || f.hour > 23 || f.minute > 59 || f.second > 60) return std::nullopt;
  // A leap second (:60) is folded into :59 so parsed dates stay within the formattable range.
  return sys_days{ymd} + hours{f.hour} + minutes{f.minute} + seconds{std::min(f.second, 59)};
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<sys_seconds> parse_imf_fixdate(std::string_view s) {
  date_cursor c(s);
  date_fields f;
  unsigned wd = 0;
  if (c.one_of(short_days, wd) && c.literal(", ") && c.digits(2, f.day) && c.literal(" ") &&
      c.one_of(month_names, f.month) && c.literal(" ") && c.digits(4, f.year) && c.literal(" ") &&
      c.time_of_day(f.hour, f.minute, f.second) && c.literal(" GMT") && c.at_end()) {
    return to_time(f);
  }
  return std::nullopt;
}

// RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century;
// otherwise the nearest such year, so the answer stays right across a century boundary.
int expand_two_digit_year(int yy) {
  const year_month_day today{floor<days>(system_clock::now())};
  const int current = static_cast<int>(today.year());
  int y = current / 100 * 100 + yy;
  if (y > current + 50) {
    y -= 100;
  } else if (y <= current - 50) {
    y += 100;
  }
  return y;
}

// "Sunday, 06-Nov-94 08:49:37 GMT"
std::optional<sys_seconds> parse_rfc850(std::string_view s) {
  date_cursor c(s);
  date_fields f;
  unsigned wd = 0;
  int yy = 0;
  if (c.one_of(long_days, wd) && c.literal(", ") && c.digits(2, f.day) && c.literal("-") &&
      c.one_of(month_names, f.month) && c.literal("-") && c.digits(2, yy) && c.literal(" ") &&
      c.time_of_day(f.hour, f.minute, f.second) && c.literal(" GMT") && c.at_end()) {
    f.year = expand_two_digit_year(yy);
    return to_time(f);
  }
  return std::nullopt;
}

// "Sun Nov  6 08:49:37 1994"
std::optional<sys_seconds> parse_asctime(std::string_view s) {
  date_cursor c(s);
  date_fields f;
  unsigned wd = 0;
  if (c.one_of(short_days, wd) && c.literal(" ") && c.one_of(month_names, f.month) &&
      c.literal(" ") && c.padded_day(f.day) && c.literal(" ") &&
      c.time_of_day(f.hour, f.minute, f.second) && c.literal(" ") && c.digits(4, f.year) &&
      c.at_end()) {
    return to_time(f);
  }
  return std::nullopt;
}

// ---- Content-Disposition -----------------------------------------------------------------

// Length of the well-formed UTF-8 sequence at s[i], or 0 if the byte does not start one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  static constexpr std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool plain_filename_char(char c) {
  return c >= 0x20 && c <= 0x7E && c != '"' && c != '\\';
}

// One '_' per character (not per byte) so "résumé" becomes "r_sum_", not "r__sum__".
std::string ascii_fallback(std::string_view name) {
  std::string out;
  std::size_t i = 0;
  while (i < name.size()) {
    if (plain_filename_char(name[i])) {
      out.push_back(name[i]);
      ++i;
      continue;
    }
    out.push_back('_');
    i += std::max<std::size_t>(1, utf8_sequence_length(name, i));
  }
  return out;
}

bool is_attr_char(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
}

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    if (is_attr_char(ch)) {
      out.push_back(ch);
    } else {
      const auto c = static_cast<unsigned char>(ch);
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0x0F]);
    }
  }
  return out;
}

}  // namespace

bool etag_matches(std::string_view header, std::string_view etag, bool weak) {
  // An empty etag means there is no current representation, which not even "*" matches.
  if (trim_ows(etag).empty()) return false;
  const entity_tag own = parse_own_tag(etag);
  header = trim_ows(header);
  if (header == "*") return true;
  std::size_t pos = 0;
  while (pos < header.size()) {
    if (header[pos] == ',' || is_ows(header[pos])) {
      ++pos;
      continue;
    }
    const auto tag = next_tag(header, pos);
    if (tag && tags_match(*tag, own, weak)) return true;
  }
  return false;
}

precondition evaluate(const conditions& c, std::string_view etag, sys_seconds last_modified,
                      bool safe) {
  if (c.if_match) {
    if (!etag_matches(*c.if_match, etag, false)) return precondition::failed;
  } else if (c.if_unmodified_since) {
    // An invalid date means the field is ignored (RFC 9110 §13.1.4).
    const auto date = parse_http_date(*c.if_unmodified_since);
    if (date && last_modified > *date) return precondition::failed;
  }

  if (c.if_none_match) {
    if (etag_matches(*c.if_none_match, etag, true)) {
      return safe ? precondition::not_modified : precondition::failed;
    }
  } else if (c.if_modified_since && safe) {
    const auto date = parse_http_date(*c.if_modified_since);
    if (date && last_modified <= *date) return precondition::not_modified;
  }
  return precondition::proceed;
}

bool if_range_allows(std::string_view if_range, std::string_view etag, sys_seconds last_modified) {
  if_range = trim_ows(if_range);
  if (if_range.empty()) return false;
  if (if_range.starts_with("W/") || if_range.starts_with("w/")) return false;
  if (if_range.front() == '"') {
    if (if_range.size() < 2 || if_range.find('"', 1) != if_range.size() - 1) return false;
    const entity_tag own = parse_own_tag(etag);
    return !own.weak && !own.opaque.empty() &&
           if_range.substr(1, if_range.size() - 2) == own.opaque;
  }
  const auto date = parse_http_date(if_range);
  return date && *date == last_modified;
}

std::string format_http_date(sys_seconds t) {
  // IMF-fixdate has a four-digit year; clamp rather than emit something unparseable.
  constexpr sys_seconds earliest = sys_days{year{0} / January / 1};
  constexpr sys_seconds latest =
      sys_days{year{9999} / December / 31} + hours{23} + minutes{59} + seconds{59};
  t = std::clamp(t, earliest, latest);
  const sys_days day_point = floor<days>(t);
  const year_month_day ymd{day_point};
  const weekday wd{day_point};
  const hh_mm_ss hms{t - day_point};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT",
                short_days[wd.c_encoding()].data(), static_cast<unsigned>(ymd.day()),
                month_names[static_cast<unsigned>(ymd.month()) - 1].data(),
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf;
}

std::optional<sys_seconds> parse_http_date(std::string_view s) {
  s = trim_ows(s);
  if (auto t = parse_imf_fixdate(s)) return t;
  if (auto t = parse_rfc850(s)) return t;
  return parse_asctime(s);
}

std::string content_disposition(std::string_view disposition, std::string_view filename) {
  std::string out(disposition);
  out += "; filename=\"";
  out += ascii_fallback(filename);
  out += '"';
  if (!std::all_of(filename.begin(), filename.end(), plain_filename_char)) {
    out += "; filename*=UTF-8''";
    out += percent_encode(filename);
  }
  return out;
}

}  // namespace sharebox::http
