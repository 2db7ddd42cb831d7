// The access log's redaction of credentials in request targets, loggable_target
// (src/transport/access_log.cpp). Input: a request target, as received.
//
// Properties, with the query read as the server reads it (pairs split on '&', names
// percent-decoded as parse_target decodes them):
//  - every pair whose name is a credential (ticket, key, api_key, token, ...; any case, however
//    it is percent-encoded) and that has a value is logged as NAME=REDACTED;
//  - every other pair, and everything before the '?', is logged unchanged;
//  - a target with nothing to redact is returned as it is, without a copy.
#include <algorithm>
#include <array>

#include "fuzz_support.hpp"
#include "sharebox/transport/access_log.hpp"
#include "sharebox/util/encoding.hpp"

namespace {

using namespace sharebox;

constexpr std::array<std::string_view, 8> secrets = {
    "ticket", "key", "api_key", "apikey", "token", "access_token", "session", "password"};

bool is_secret(std::string_view raw_name) {
  const auto decoded = util::url_decode(raw_name, true);
  const std::string_view name = decoded ? std::string_view(*decoded) : raw_name;
  return std::any_of(secrets.begin(), secrets.end(),
                     [&](std::string_view s) { return fuzz::iequals(name, s); });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view target = fuzz::as_text(data, size);
  std::string scratch;
  const std::string_view logged = transport::loggable_target(target, scratch);

  const auto mark = target.find('?');
  if (mark == std::string_view::npos) {
    FUZZ_CHECK(logged.data() == target.data() && logged.size() == target.size());
    return 0;
  }
  FUZZ_CHECK(logged.substr(0, mark + 1) == target.substr(0, mark + 1));
  const auto in = split(target.substr(mark + 1), '&');
  const auto out = split(logged.substr(mark + 1), '&');
  FUZZ_CHECK(in.size() == out.size());
  bool redacted = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto eq = in[i].find('=');
    const auto name = in[i].substr(0, eq);
    if (eq != std::string_view::npos && is_secret(name)) {
      FUZZ_CHECK(out[i] == std::string(name) + "=REDACTED");
      redacted = true;
    } else {
      FUZZ_CHECK(out[i] == in[i]);
    }
  }
  if (!redacted) FUZZ_CHECK(logged.data() == target.data());
  return 0;
}
