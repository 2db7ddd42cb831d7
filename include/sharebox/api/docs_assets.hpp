#pragma once
// The API description and the page that renders it (GET /openapi.json, GET /docs): files
// embedded at build time (CMakeLists.txt, cmake/embed_files.cmake). docs/openapi.yaml becomes
// openapi.json; the page is docs/ui/ plus Swagger UI from npm (docs/package-lock.json).
#include <span>
#include <string_view>

#include "sharebox/api/web_assets.hpp"

namespace sharebox::api {

std::span<const web_asset> docs_assets();

// docs/openapi.yaml as JSON: the body of GET /openapi.json.
std::string_view openapi_json();

}  // namespace sharebox::api
