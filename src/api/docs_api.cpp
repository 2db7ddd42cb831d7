// The API description (docs/openapi.yaml, as JSON) and Swagger UI rendering it, both embedded at
// build time: no file to install, nothing fetched from the internet.
#include <stdexcept>

#include "sharebox/api/docs_assets.hpp"
#include "sharebox/api/handlers.hpp"

namespace sharebox::api {

namespace {

const web_asset& openapi_asset() {
  const auto* a = find_asset(docs_assets(), "openapi.json");
  // The build always embeds it (CMakeLists.txt): its absence is a broken build, not a 404.
  if (!a) throw std::logic_error("openapi.json is not embedded");
  return *a;
}

}  // namespace

std::string_view openapi_json() {
  return openapi_asset().body;
}

awaitable<void> get_openapi(request_context& ctx) {
  co_await send_static_asset(ctx, openapi_asset());
}

awaitable<void> get_docs_index(request_context& ctx) {
  const auto* a = find_asset(docs_assets(), "index.html");
  if (!a) throw std::logic_error("the docs page is not embedded");
  co_await send_static_asset(ctx, *a);
}

awaitable<void> get_docs_asset(request_context& ctx) {
  // By exact name in the embedded table: no path is ever built from the request.
  const auto* a = find_asset(docs_assets(), ctx.path.at("name"));
  if (!a) {
    throw http::api_error(bhttp::status::not_found, "route_not_found", "No such docs file.");
  }
  co_await send_static_asset(ctx, *a);
}

}  // namespace sharebox::api
