#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace sharebox::client {

// A parsed server URL: http[s]://host[:port][/prefix].
struct server_url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without IPv6 brackets
  std::uint16_t port = 0;
  std::string prefix;  // path prefix without a trailing slash, e.g. "" or "/sharebox"

  // Value for the Host header.
  std::string host_header() const;
  // Canonical text form, e.g. "http://127.0.0.1:8000": the identity of a server in state files.
  std::string text() const;
  // prefix + path (path starts with '/').
  std::string target(std::string_view path) const;
};

// Throws client_error with a clear message on anything that is not a usable http:// or https://
// URL. The default port is 80 or 443.
server_url parse_server_url(std::string_view text);

}  // namespace sharebox::client
