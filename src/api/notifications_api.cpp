#include "sharebox/api/handlers.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::api {

namespace {

constexpr std::size_t default_limit = 50;

bool unread_only_param(const http::params& query) {
  const auto it = query.find("unread_only");
  if (it == query.end()) return false;
  if (it->second == "true" || it->second == "1") return true;
  if (it->second == "false" || it->second == "0") return false;
  throw domain::error(domain::errc::invalid_parameter, "unread_only must be true or false.");
}

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
