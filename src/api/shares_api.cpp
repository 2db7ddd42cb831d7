#include "sharebox/api/handlers.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/offload.hpp"

namespace sharebox::api {

awaitable<void> post_share(request_context& ctx) {
  const auto body = co_await read_json_body(ctx);
  const auto target = body.find("target_user_id");
  if (target == body.end() || !target->is_string() || target->get<std::string>().empty()) {
    throw domain::error(domain::errc::invalid_parameter,
                        "target_user_id must be a non-empty string.");
  }
  domain::permission perm = domain::permission::read;
  if (const auto p = body.find("permission"); p != body.end()) {
    const auto parsed =
        p->is_string() ? domain::parse_permission(p->get<std::string>()) : std::nullopt;
    if (!parsed) {
      throw domain::error(domain::errc::invalid_permission,
                          "permission must be \"read\" or \"write\".");
    }
    perm = *parsed;
  }
  const std::string user_id = target->get<std::string>();
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
