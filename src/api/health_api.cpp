#include "sharebox/api/handlers.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/http/problem.hpp"

namespace sharebox::api {

awaitable<void> get_health(request_context& ctx) {
  // Liveness only: answered without touching the database or the pool, so it stays fast
  // however busy the server is.
  nlohmann::json body{{"status", "ok"}, {"service", "sharebox"}};
  if (ctx.svc.health_details) body.update(ctx.svc.health_details());
  co_await ctx.io.send(json_response(bhttp::status::ok, body));
}

awaitable<void> get_ready(request_context& ctx) {
  // Readiness, unlike liveness, touches the database and the disk: on the pool. The broker's
  // state is reported but never makes the server unready: events wait in the outbox.
  const auto r = co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.readiness_check(); });
  nlohmann::json body{{"checks", r.checks}};
  if (ctx.svc.health_details) body.update(ctx.svc.health_details());
  if (r.ready) {
    body["status"] = "ready";
    co_await ctx.io.send(json_response(bhttp::status::ok, body));
    co_return;
  }
  const http::problem p{bhttp::status::service_unavailable,
                        "not_ready",
                        "the server cannot do its work yet: see checks",
                        {}};
  co_await ctx.io.send(http::problem_response(p, body));
}

}  // namespace sharebox::api
