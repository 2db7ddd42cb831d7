// Administration over HTTP: users, their keys, and disabling them. Every route needs an
// administrator; a disabled user is refused on the very next request by any credential (see
// auth_service), and their open live streams are ended here.
#include "sharebox/api/handlers.hpp"
#include "sharebox/api/json_requests.hpp"
#include "sharebox/api/live_hub.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::api {

namespace {

// Checked before any body is read: a non-administrator learns nothing from a 400.
void require_admin(const request_context& ctx) {
  domain::auth_service::require_admin(ctx.user);
}

std::string key_location(const std::string& user_id, const std::string& key_id) {
  return "/admin/users/" + user_id + "/keys/" + key_id;
}

http::string_response no_store(http::string_response res) {
  // Responses with a secret in them must not linger in caches.
  res.set(bhttp::field::cache_control, "no-store");
  return res;
}

}  // namespace

awaitable<void> post_admin_user(request_context& ctx) {
  require_admin(ctx);
  const auto body = co_await read_json_body(ctx);
  const auto req = parse_new_user(body);
  const std::string& user_id = req.name;
  const bool admin = req.admin;
  const std::string& label = req.key_label;
  auto key = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.auth.create_user(user_id, admin, label); });
  const domain::user created{user_id, admin, key.record.created_at, false};
  auto res = json_response(bhttp::status::created,
                           nlohmann::json{{"user", to_json(created)}, {"key", to_json(key)}});
  // Names are [a-z0-9._-]: nothing to escape in a path.
  res.set(bhttp::field::location, "/admin/users/" + user_id);
  co_await ctx.io.send(no_store(std::move(res)));
}

awaitable<void> list_admin_users(request_context& ctx) {
  require_admin(ctx);
  const std::size_t limit = limit_param(ctx.query, default_page_size);
  std::optional<std::string> after;
  if (const auto it = ctx.query.find("after"); it != ctx.query.end() && !it->second.empty()) {
    after = it->second;
  }
  auto page = co_await http::offload(ctx.svc.pool, [&] {
    return ctx.svc.auth.list_users(after ? std::optional<std::string_view>(*after) : std::nullopt,
                                   limit);
  });
  nlohmann::json users = nlohmann::json::array();
  for (const auto& u : page.items)
    users.push_back(to_json(u));
  nlohmann::json body{{"users", std::move(users)}};
  if (page.next_after) body["next"] = *page.next_after;
  auto res = json_response(bhttp::status::ok, body);
  if (page.next_after) {
    res.set(bhttp::field::link, "</admin/users?limit=" + std::to_string(limit) +
                                    "&after=" + *page.next_after + ">; rel=\"next\"");
  }
  co_await ctx.io.send(std::move(res));
}

awaitable<void> get_admin_user(request_context& ctx) {
  require_admin(ctx);
  const std::string& user_id = ctx.path.at("user_id");
  auto details =
      co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.auth.user_with_keys(user_id); });
  auto body = to_json(details.account);
  auto keys = nlohmann::json::array();
  for (const auto& k : details.keys)
    keys.push_back(to_json(k));
  body["keys"] = std::move(keys);
  co_await ctx.io.send(json_response(bhttp::status::ok, body));
}

awaitable<void> patch_admin_user(request_context& ctx) {
  require_admin(ctx);
  const auto body = co_await read_json_body(ctx);
  const domain::user_change change = parse_user_change(body);
  const std::string& user_id = ctx.path.at("user_id");
  auto u = co_await http::offload(ctx.svc.pool,
                                  [&] { return ctx.svc.auth.update_user(user_id, change); });
  // Their next request is refused already (the change is committed); what they were being sent
  // stops too.
  if (u.disabled) ctx.svc.hub.disconnect(u.id);
  co_await ctx.io.send(json_response(bhttp::status::ok, to_json(u)));
}

awaitable<void> post_admin_key(request_context& ctx) {
  require_admin(ctx);
  const auto body = co_await read_optional_json_body(ctx);
  const std::string label = parse_new_key_label(body);
  const std::string& user_id = ctx.path.at("user_id");
  auto key =
      co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.auth.add_key(user_id, label); });
  auto res = json_response(bhttp::status::created, to_json(key));
  res.set(bhttp::field::location, key_location(user_id, key.record.id));
  co_await ctx.io.send(no_store(std::move(res)));
}

awaitable<void> delete_admin_key(request_context& ctx) {
  require_admin(ctx);
  co_await http::offload(ctx.svc.pool, [&] {
    ctx.svc.auth.revoke_key_of(ctx.path.at("user_id"), ctx.path.at("key_id"));
  });
  http::string_response res{bhttp::status::no_content, 11};
  co_await ctx.io.send(std::move(res));
}

}  // namespace sharebox::api
