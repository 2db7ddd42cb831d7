#include "sharebox/api/handlers.hpp"
#include "sharebox/api/request_params.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::api {

namespace {

constexpr std::size_t default_limit = 50;

}  // namespace

awaitable<void> list_notifications(request_context& ctx) {
  const bool unread_only = unread_only_param(ctx.query);
  const std::size_t limit = limit_param(ctx.query, default_limit);
  auto items = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.notifications.list(ctx.user, unread_only, limit); });
  nlohmann::json body = nlohmann::json::array();
  for (const auto& n : items)
    body.push_back(to_json(n));
  co_await ctx.io.send(json_response(bhttp::status::ok, body));
}

awaitable<void> unread_notifications(request_context& ctx) {
  const auto n = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.notifications.unread_count(ctx.user); });
  const nlohmann::json body{{"unread", n}};
  co_await ctx.io.send(json_response(bhttp::status::ok, body));
}

awaitable<void> read_notification(request_context& ctx) {
  auto n = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.notifications.mark_read(ctx.user, ctx.path.at("id")); });
  co_await ctx.io.send(json_response(bhttp::status::ok, to_json(n)));
}

awaitable<void> read_all_notifications(request_context& ctx) {
  const auto n = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.notifications.mark_all_read(ctx.user); });
  const nlohmann::json body{{"updated", n}};
  co_await ctx.io.send(json_response(bhttp::status::ok, body));
}

awaitable<void> delete_notification(request_context& ctx) {
  co_await http::offload(ctx.svc.pool,
                         [&] { ctx.svc.notifications.remove(ctx.user, ctx.path.at("id")); });
  http::string_response res{bhttp::status::no_content, 11};
  co_await ctx.io.send(std::move(res));
}

}  // namespace sharebox::api
