#pragma once
// RFC 9110's small pieces of header syntax, shared by the header parsers (ranges, conditional
// requests, multipart). ASCII only on purpose: header field values are octets, and a locale must
// never change what a request means.
#include <algorithm>
#include <string_view>

namespace sharebox::http {

// Optional whitespace (RFC 9110 §5.6.3).
constexpr bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

constexpr std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back()))
    s.remove_suffix(1);
  return s;
}

constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool ascii_iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

}  // namespace sharebox::http
