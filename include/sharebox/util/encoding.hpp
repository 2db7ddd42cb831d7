#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sharebox::util {

std::string to_hex(const void* data, std::size_t size);
template <typename Bytes>
std::string to_hex(const Bytes& b) {
  return to_hex(b.data(), b.size());
}
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);
// Standard alphabet, padding required; nullopt if malformed.
std::optional<std::string> base64_decode(std::string_view text);

// Percent-decoding of a URL component; nullopt on a malformed escape. `plus_is_space` for
// application/x-www-form-urlencoded query strings.
std::optional<std::string> url_decode(std::string_view s, bool plus_is_space);
std::string url_encode(std::string_view s);

bool is_valid_utf8(std::string_view s) noexcept;

}  // namespace sharebox::util
