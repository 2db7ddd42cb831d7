#include "sharebox/api/handlers.hpp"
#include "sharebox/api/json_requests.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/offload.hpp"

namespace sharebox::api {

awaitable<void> post_share(request_context& ctx) {
  const auto body = co_await read_json_body(ctx);
  const auto req = parse_share_request(body);
  const std::string& user_id = req.target_user_id;
  const domain::permission perm = req.perm;
  auto [share, outcome] = co_await http::offload(ctx.svc.pool, [&] {
    return ctx.svc.files.share_file(ctx.user, ctx.path.at("id"), user_id, perm);
  });
  const auto status =
      outcome == domain::share_outcome::created ? bhttp::status::created : bhttp::status::ok;
  co_await ctx.io.send(json_response(status, to_json(share)));
}

awaitable<void> list_shares(request_context& ctx) {
  auto shares = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.files.shares(ctx.user, ctx.path.at("id")); });
  nlohmann::json items = nlohmann::json::array();
  for (const auto& s : shares)
    items.push_back(to_json(s));
  co_await ctx.io.send(json_response(bhttp::status::ok, items));
}

awaitable<void> delete_share(request_context& ctx) {
  co_await http::offload(ctx.svc.pool, [&] {
    ctx.svc.files.unshare(ctx.user, ctx.path.at("id"), ctx.path.at("user_id"));
  });
  http::string_response res{bhttp::status::no_content, 11};
  co_await ctx.io.send(std::move(res));
}

}  // namespace sharebox::api
