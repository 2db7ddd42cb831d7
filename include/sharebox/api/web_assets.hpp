#pragma once
// The browser app (web/), embedded at build time by cmake/embed_web.cmake.
#include <span>
#include <string_view>

namespace sharebox::api {

struct web_asset {
  std::string_view name;  // e.g. "app.js"; served at /app/<name> (index.html also at /)
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;  // strong, quoted: a prefix of the content's SHA-256
};

std::span<const web_asset> web_assets();

}  // namespace sharebox::api
