// Credentials and origins in request headers (src/api/api.cpp, src/api/request_params.cpp): the
// API key of `Authorization: Bearer` or X-API-Key, the sign-in cookie among a browser's
// cookies, and the Origin check that guards cookie sign-ins (CSRF).
// Input: header lines: Authorization, X-API-Key, Cookie (any number), Origin, Host, and
// X-Cors-Origin lines for the server's --cors-origins.
//
// Properties:
//  - the key is the Authorization value after "Bearer " (any case, leading spaces dropped), else
//    the first X-API-Key, else none: nothing else is ever taken for a key;
//  - the cookie is the value of the first `sharebox_session=` pair of the Cookie fields, in
//    order; it never holds a ';' (it cannot run into the next cookie);
//  - an origin is allowed exactly when it is absent, listed (or "*" is), or is http:// or
//    https:// followed by the Host, compared without case.
#include <algorithm>

#include "fuzz_support.hpp"
#include "sharebox/api/handlers.hpp"
#include "sharebox/api/request_params.hpp"

namespace {

using namespace sharebox;

std::optional<std::string_view> expected_key(const fuzz::header_block& h) {
  if (const auto auth = h.get("Authorization");
      auth && auth->size() > 7 && fuzz::iequals(auth->substr(0, 7), "Bearer ")) {
    auto key = auth->substr(7);
    while (!key.empty() && key.front() == ' ')
      key.remove_prefix(1);
    return key;
  }
  return h.get("X-API-Key");
}

std::optional<std::string_view> expected_cookie(const fuzz::header_block& h) {
  for (std::string_view rest : h.all("Cookie")) {
    for (;;) {
      const auto semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      while (!pair.empty() && pair.front() == ' ')
        pair.remove_prefix(1);
      if (pair.starts_with("sharebox_session=")) return pair.substr(17);
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto h = fuzz::header_block::parse(fuzz::as_text(data, size));
  http::request_header req;
  for (const auto& [name, value] : h.fields)
    req.insert(name, value);

  // Beast finds known fields by name without case, as header_block does.
  const auto key = api::presented_key(req);
  const auto want_key = expected_key(h);
  FUZZ_CHECK(key.has_value() == want_key.has_value());
  if (key) FUZZ_CHECK(*key == *want_key);

  const auto cookie = api::session_cookie(req);
  const auto want_cookie = expected_cookie(h);
  FUZZ_CHECK(cookie.has_value() == want_cookie.has_value());
  if (cookie) {
    FUZZ_CHECK(*cookie == *want_cookie);
    FUZZ_CHECK(cookie->find(';') == std::string_view::npos);
  }

  std::vector<std::string> cors;
  for (const auto o : h.all("X-Cors-Origin"))
    cors.emplace_back(o);
  const std::string_view origin = h.get("Origin").value_or("");
  const std::string_view host = h.get("Host").value_or("");
  const bool allowed = api::origin_allowed(origin, host, cors);
  const bool listed = std::any_of(cors.begin(), cors.end(),
                                  [&](const std::string& o) { return o == "*" || o == origin; });
  const bool own =
      !host.empty() && ((origin.starts_with("http://") && fuzz::iequals(origin.substr(7), host)) ||
                        (origin.starts_with("https://") && fuzz::iequals(origin.substr(8), host)));
  FUZZ_CHECK(allowed == (origin.empty() || listed || own));
  // Another page never passes for ours by adding to the Host: the scheme and Host must be all.
  if (!host.empty()) {
    FUZZ_CHECK(!api::origin_allowed("http://" + std::string(host) + ".evil", host, {}));
    FUZZ_CHECK(api::origin_allowed("https://" + std::string(host), host, {}));
  }
  return 0;
}
