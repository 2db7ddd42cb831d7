// The log's JSON string writer, append_json_string (include/sharebox/util/json_text.hpp), and
// the UTF-8 check it relies on (util::is_valid_utf8, also what file names are validated with).
// Input: any bytes (a request target, user name or header value, as logged).
//
// Properties:
//  - the output is always one valid JSON string (nlohmann parses it, strictly);
//  - it decodes to the input when the input is UTF-8, and otherwise to the input read as
//    Latin-1 (every byte kept, as \u00XX), so nothing is dropped or invented;
//  - is_valid_utf8 agrees with nlohmann's own UTF-8 validation.
#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "sharebox/util/encoding.hpp"
#include "sharebox/util/json_text.hpp"

namespace {

std::string latin1_as_utf8(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using sharebox::util::append_json_string;
  using sharebox::util::is_valid_utf8;
  const std::string_view input = sharebox::fuzz::as_text(data, size);

  std::string out;
  append_json_string(out, input);
  const auto j = nlohmann::json::parse(out, nullptr, false);
  FUZZ_CHECK(!j.is_discarded() && j.is_string());
  const bool utf8 = is_valid_utf8(input);
  FUZZ_CHECK(j.get<std::string>() == (utf8 ? std::string(input) : latin1_as_utf8(input)));

  // Appending keeps what was there (the log line is built by appending fields).
  std::string line = "x";
  append_json_string(line, input);
  FUZZ_CHECK(line == "x" + out);

  // The same text, unescaped between quotes: nlohmann accepts it exactly when it is UTF-8
  // (quotes, backslashes and control characters aside, which JSON itself forbids raw).
  bool plain = true;
  for (const char c : input)
    plain = plain && c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
  if (plain) {
    const auto raw = nlohmann::json::parse("\"" + std::string(input) + "\"", nullptr, false);
    FUZZ_CHECK(raw.is_discarded() == !utf8);
  }
  return 0;
}
