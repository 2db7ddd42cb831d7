// Live streams of the events a user may see, and the tickets browsers use to open them.
#include "sharebox/api/handlers.hpp"
#include "sharebox/api/live_hub.hpp"
#include "sharebox/api/rate_limiter.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/offload.hpp"

namespace sharebox::api {

awaitable<domain::user> stream_user(request_context& ctx) {
  if (const auto it = ctx.query.find("ticket"); it != ctx.query.end()) {
    const auto asked_by = ctx.svc.tickets.redeem(it->second);
    if (!asked_by) {
      throw domain::error(domain::errc::unauthenticated,
                          "The ticket is unknown, expired or already used.");
    }
    // Resolved again: the key that asked for the ticket may have been revoked since (or the
    // session ended, or the user disabled), and then the ticket must not work either.
    const credential c = *asked_by;
    auto u =
        co_await http::offload(ctx.svc.read_pool, [&] { return resolve_credential(ctx.svc, c); });
    if (ctx.svc.limiter.enabled()) limit_rate(ctx, user_rate_bucket(u.id), u.id);
    co_return u;
  }
  co_return co_await authenticate(ctx);
}

awaitable<void> post_ws_ticket(request_context& ctx) {
  // The credential the router authenticated, read again: the ticket is tied to it.
  const nlohmann::json body{{"ticket", ctx.svc.tickets.issue(read_credential(ctx))},
                            {"expires_in", ctx.svc.tickets.ttl().count()}};
  co_await ctx.io.send(json_response(bhttp::status::created, body));
}

awaitable<void> admit_websocket(request_context& ctx) {
  if (!ctx.io.is_websocket_upgrade()) {
    throw http::api_error(bhttp::status::upgrade_required, "websocket_required",
                          "Connect with a WebSocket client (Upgrade: websocket).");
  }
  // Browsers let any page open a WebSocket to any host, with our cookie attached.
  require_allowed_origin(ctx);
  ctx.user = co_await stream_user(ctx);
  ctx.io.set_principal(ctx.user.id);
}

awaitable<void> ws_events(request_context& ctx) {
  co_await admit_websocket(ctx);
  co_await ctx.io.stream_websocket(
      [&](std::shared_ptr<http::message_sink> sink) { ctx.svc.hub.subscribe(ctx.user.id, sink); });
}

awaitable<void> sse_events(request_context& ctx) {
  require_allowed_origin(ctx);
  ctx.user = co_await stream_user(ctx);
  ctx.io.set_principal(ctx.user.id);
  co_await ctx.io.stream_sse(
      [&](std::shared_ptr<http::message_sink> sink) { ctx.svc.hub.subscribe(ctx.user.id, sink); });
}

}  // namespace sharebox::api
