#include "sharebox/api/request_params.hpp"

#include <charconv>
#include <system_error>

#include "sharebox/domain/errors.hpp"
#include "sharebox/http/beast.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::api {

namespace {

[[noreturn]] void invalid_parameter(std::string detail) {
  throw domain::error(domain::errc::invalid_parameter, std::move(detail));
}

}  // namespace

std::string encode_page_cursor(std::int64_t seq) {
  // Appended, not `"s" + std::to_string(seq)`: GCC 12 at -O3 reports a false
  // -Wstringop-overflow for that once inlined into list_files.
  std::string text = "s";
  text += std::to_string(seq);
  return util::base64url_encode(text);
}

std::optional<std::int64_t> page_cursor(const http::params& query) {
  const auto it = query.find("cursor");
  if (it == query.end()) return std::nullopt;
  const auto raw = util::base64url_decode(it->second);
  std::int64_t seq = 0;
  if (raw && raw->size() >= 2 && raw->size() <= 20 && (*raw)[0] == 's' &&
      raw->find_first_not_of("0123456789", 1) == std::string::npos) {
    // Digits only, so from_chars fails only past INT64_MAX (which std::stoll threw for: a 500).
    const auto [end, ec] = std::from_chars(raw->data() + 1, raw->data() + raw->size(), seq);
    if (ec == std::errc() && end == raw->data() + raw->size()) return seq;
  }
  invalid_parameter("cursor is not a cursor this server issued.");
}

bool unread_only_param(const http::params& query) {
  const auto it = query.find("unread_only");
  if (it == query.end()) return false;
  if (it->second == "true" || it->second == "1") return true;
  if (it->second == "false" || it->second == "0") return false;
  invalid_parameter("unread_only must be true or false.");
}

std::uint64_t parse_chunk_index(std::string_view s) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || (s.size() > 1 && s[0] == '0')) {
    throw domain::error(domain::errc::invalid_chunk_index,
                        "The chunk index must be a decimal integer.");
  }
  return v;
}

bool origin_allowed(std::string_view origin, std::string_view host,
                    const std::vector<std::string>& cors_origins) {
  if (origin.empty()) return true;  // not a browser (browsers send Origin where it matters)
  for (const auto& o : cors_origins) {
    if (o == "*" || o == origin) return true;
  }
  // Same origin: the page came from this server, i.e. Origin names the Host it talks to.
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (origin.size() == scheme.size() + host.size() && origin.starts_with(scheme) &&
        beast::iequals(origin.substr(scheme.size()), host) && !host.empty()) {
      return true;
    }
  }
  return false;
}

}  // namespace sharebox::api
