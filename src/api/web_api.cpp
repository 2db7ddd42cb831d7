// The browser app: static files embedded in the binary, served with a strict CSP.
#include "sharebox/api/handlers.hpp"
#include "sharebox/api/web_assets.hpp"

namespace sharebox::api {

const web_asset* find_asset(std::span<const web_asset> assets, std::string_view name) {
  for (const auto& a : assets) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

awaitable<void> send_static_asset(request_context& ctx, const web_asset& a) {
  const auto& req = ctx.io.request();
  const auto inm = req[bhttp::field::if_none_match];
  const bool fresh = !inm.empty() && inm.find(a.etag) != std::string_view::npos;
  http::string_response res{fresh ? bhttp::status::not_modified : bhttp::status::ok, 11};
  res.set(bhttp::field::etag, a.etag);
  // Revalidated on every load: a new build is picked up at once, an unchanged one costs a 304.
  res.set(bhttp::field::cache_control, "no-cache");
  res.set(bhttp::field::content_type, a.content_type);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  // No inline script or style anywhere in the app, so nothing but our own files may run.
  res.set("Content-Security-Policy",
          "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
          "frame-ancestors 'none'");
  if (!fresh) res.body().assign(a.body);
  co_await ctx.io.send(std::move(res));
}

awaitable<void> get_web_index(request_context& ctx) {
  const auto* a = find_asset(web_assets(), "index.html");
  if (!a) {
    throw http::api_error(bhttp::status::not_found, "route_not_found",
                          "This build has no web app.");
  }
  co_await send_static_asset(ctx, *a);
}

awaitable<void> get_web_asset(request_context& ctx) {
  // Looked up by exact name in the embedded table: no path is ever built from the request.
  const auto* a = find_asset(web_assets(), ctx.path.at("name"));
  if (!a) {
    throw http::api_error(bhttp::status::not_found, "route_not_found", "No such app file.");
  }
  co_await send_static_asset(ctx, *a);
}

}  // namespace sharebox::api
