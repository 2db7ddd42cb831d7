#include "sharebox/client/url.hpp"

#include <cctype>
#include <charconv>
#include <string>

#include "sharebox/client/error.hpp"

namespace sharebox::client {

namespace {

[[noreturn]] void bad_url(std::string_view text, std::string_view why) {
  throw client_error("invalid server URL '" + std::string(text) + "': " + std::string(why) +
                     " (expected http[s]://HOST[:PORT][/PREFIX], set with --url or SHAREBOX_URL)");
}

std::uint16_t parse_port(std::string_view text, std::string_view digits) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || value == 0 ||
      value > 65535) {
    bad_url(text, "bad port");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string server_url::host_header() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::string server_url::text() const {
  return scheme + "://" + host_header() + prefix;
}

std::string server_url::target(std::string_view path) const {
  return prefix + std::string(path);
}

server_url parse_server_url(std::string_view text) {
  server_url u;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) bad_url(text, "no scheme");
  u.scheme = std::string(text.substr(0, sep));
  for (char& c : u.scheme)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https") bad_url(text, "only http:// and https://");

  std::string_view rest = text.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) bad_url(text, "no query or fragment");
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    bad_url(text, "credentials in the URL are not supported; use --key");
  }
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  u.prefix = std::string(path);

  u.port = u.scheme == "https" ? 443 : 80;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) bad_url(text, "unterminated IPv6 address");
    u.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad_url(text, "junk after the IPv6 address");
      u.port = parse_port(text, after.substr(1));
    }
  } else {
    // One colon at most: an IPv6 address needs brackets, and "host:1:2" is not a port.
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      bad_url(text, "IPv6 addresses go in brackets, and there is one port at most");
    }
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = parse_port(text, authority.substr(colon + 1));
  }
  if (u.host.empty()) bad_url(text, "no host");
  return u;
}

}  // namespace sharebox::client
