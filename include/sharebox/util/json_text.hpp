#pragma once
// JSON string literals written straight into a buffer: log lines are built at request rate, and a
// nlohmann::json value per line would cost an allocation per field.
#include <string_view>

#include "sharebox/util/encoding.hpp"

namespace sharebox::util {

// Appends `s` as a quoted JSON string. Bytes that are not valid UTF-8 (a request target may hold
// any) are written as \u00XX so the line stays valid JSON; nothing is dropped.
template <typename Buffer>
void append_json_string(Buffer& out, std::string_view s) {
  constexpr char hex[] = "0123456789abcdef";
  const bool utf8 = is_valid_utf8(s);
  const auto put = [&out](std::string_view piece) {
    out.append(piece.data(), piece.data() + piece.size());
  };
  put("\"");
  std::size_t plain_from = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool needs_escape =
        c < 0x20 || c == '"' || c == '\\' || c == 0x7f || (c >= 0x80 && !utf8);
    if (!needs_escape) continue;
    put(s.substr(plain_from, i - plain_from));
    plain_from = i + 1;
    switch (c) {
      case '"':
        put("\\\"");
        break;
      case '\\':
        put("\\\\");
        break;
      case '\n':
        put("\\n");
        break;
      case '\r':
        put("\\r");
        break;
      case '\t':
        put("\\t");
        break;
      default: {
        const char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
        put(std::string_view(esc, sizeof esc));
      }
    }
  }
  put(s.substr(plain_from));
  put("\"");
}

}  // namespace sharebox::util
