// Browser sign-in: an API key is exchanged for a session cookie the page's scripts cannot read.
#include "sharebox/api/handlers.hpp"
#include "sharebox/api/json_requests.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::api {

namespace {

std::string cookie_header(const request_context& ctx, std::string_view value,
                          std::int64_t max_age_s) {
  std::string c(session_cookie_name);
  c += '=';
  c += value;
  c += "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
  if (ctx.svc.opts.secure_cookies) c += "; Secure";
  return c;
}

nlohmann::json session_json(const domain::user& u, std::int64_t expires_at) {
  return {{"user_id", u.id},
          {"is_admin", u.is_admin},
          {"expires_at", util::format_rfc3339(expires_at)}};
}

// The key from {"api_key": "..."} or, for scripts, the usual key headers.
awaitable<std::string> key_to_exchange(request_context& ctx) {
  if (const auto key = presented_key(ctx.io.request())) co_return std::string(*key);
  const auto body = co_await read_json_body(ctx);
  co_return parse_session_key(body);
}

}  // namespace

awaitable<void> post_session(request_context& ctx) {
  // Login CSRF: another site's page must not sign the browser in as someone else.
  require_allowed_origin(ctx);
  const std::string key = co_await key_to_exchange(ctx);
  const auto ttl = ctx.svc.opts.session_ttl_ms;
  auto s =
      co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.auth.open_session(key, ttl); });
  if (!s) throw domain::error(domain::errc::unauthenticated, "The API key is not valid.");
  auto res = json_response(bhttp::status::created, session_json(s->owner, s->record.expires_at));
  res.set(bhttp::field::set_cookie, cookie_header(ctx, s->token, ttl / 1000));
  res.set(bhttp::field::cache_control, "no-store");
  ctx.io.set_principal(s->owner.id);
  co_await ctx.io.send(std::move(res));
}

awaitable<void> get_session(request_context& ctx) {
  const auto cookie = session_cookie(ctx.io.request());
  if (!cookie) throw domain::error(domain::errc::unauthenticated, "Not signed in.");
  const std::string token(*cookie);
  auto s = co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.auth.session_user(token); });
  if (!s) throw domain::error(domain::errc::unauthenticated, "The session has ended.");
  ctx.io.set_principal(s->first.id);
  auto res = json_response(bhttp::status::ok, session_json(s->first, s->second.expires_at));
  res.set(bhttp::field::cache_control, "no-store");
  co_await ctx.io.send(std::move(res));
}

awaitable<void> delete_session(request_context& ctx) {
  const auto cookie = session_cookie(ctx.io.request());
  // Signing out is a change like any other: only our own pages may do it.
  if (cookie) require_own_page(ctx, "Sign out from sharebox's own pages.");
  if (cookie) {
    const std::string token(*cookie);
    co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.auth.close_session(token); });
  }
  http::string_response res{bhttp::status::no_content, 11};
  res.set(bhttp::field::set_cookie, cookie_header(ctx, "", 0));
  co_await ctx.io.send(std::move(res));
}

}  // namespace sharebox::api
