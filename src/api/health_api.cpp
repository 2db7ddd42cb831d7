#include "sharebox/api/handlers.hpp"

namespace sharebox::api {

awaitable<void> get_health(request_context& ctx) {
  // Liveness only: answered without touching the database or the pool, so it stays fast
  // however busy the server is.
  nlohmann::json body{{"status", "ok"}, {"service", "sharebox"}};
  if (ctx.svc.health_details) body.update(ctx.svc.health_details());
  co_await ctx.io.send(json_response(bhttp::status::ok, body));
}

}  // namespace sharebox::api
