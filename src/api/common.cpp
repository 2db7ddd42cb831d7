#include "sharebox/api/handlers.hpp"
#include "sharebox/api/json_requests.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/problem.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::api {

nlohmann::json to_json(const domain::file_view& v, bool listing) {
  const auto& f = v.file;
  nlohmann::json j{
      {"id", f.id},
      {"name", f.name},
      {"size", f.size},
      {"content_type", f.content_type},
      {"sha256", f.sha256},
      {"version", f.version},
      {"etag", domain::etag_of(f)},
      {"owner", f.owner},
      {"created_at", util::format_rfc3339(f.created_at)},
      {"updated_at", util::format_rfc3339(f.updated_at)},
  };
  if (v.shared_permission) {
    j["permission"] = domain::to_string(*v.shared_permission);
    j["shared_by"] = v.shared_by.value_or(f.owner);
  }
  if (f.image) {
    j["image"] = {
        {"width", f.image->width}, {"height", f.image->height}, {"format", f.image->format}};
  }
  if (listing && v.is_owner()) {
    auto shared = nlohmann::json::array();
    for (const auto& s : v.shared_with)
      shared.push_back({{"user_id", s.user_id}, {"permission", domain::to_string(s.perm)}});
    j["shared_with"] = std::move(shared);
  }
  return j;
}

nlohmann::json to_json(const domain::share& s) {
  return nlohmann::json{
      {"file_id", s.file_id},
      {"user_id", s.user_id},
      {"permission", domain::to_string(s.perm)},
      {"granted_by", s.granted_by},
      {"created_at", util::format_rfc3339(s.created_at)},
  };
}

nlohmann::json to_json(const domain::notification& n) {
  nlohmann::json j{
      {"id", n.id},
      {"type", n.type},
      {"title", n.title},
      {"file_id", n.file_id},
      {"file_name", n.file_name},
      {"actor", n.actor},
      {"event_id", n.event_id},
      {"created_at", util::format_rfc3339(n.created_at)},
      {"read", n.read_at.has_value()},
  };
  if (n.read_at) j["read_at"] = util::format_rfc3339(*n.read_at);
  return j;
}

nlohmann::json to_json(const domain::user& u) {
  return {{"id", u.id},
          {"admin", u.is_admin},
          {"disabled", u.disabled},
          {"created_at", util::format_rfc3339(u.created_at)}};
}

nlohmann::json to_json(const domain::api_key& k) {
  return {{"id", k.id},
          {"label", k.label},
          {"created_at", util::format_rfc3339(k.created_at)},
          {"revoked_at", k.revoked_at ? nlohmann::json(util::format_rfc3339(*k.revoked_at))
                                      : nlohmann::json(nullptr)}};
}

nlohmann::json to_json(const domain::issued_key& k) {
  auto j = to_json(k.record);
  j["key"] = k.secret;
  return j;
}

http::string_response json_response(bhttp::status status, const nlohmann::json& body) {
  http::string_response res{status, 11};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.body() += '\n';
  return res;
}

std::size_t limit_param(const http::params& query, std::size_t default_value) {
  constexpr std::size_t max_limit = 1000;
  const auto it = query.find("limit");
  if (it == query.end()) return default_value;
  const auto& s = it->second;
  if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(s) < 1 || std::stoul(s) > max_limit) {
    throw domain::error(domain::errc::invalid_parameter,
                        "limit must be an integer from 1 to " + std::to_string(max_limit) + ".");
  }
  return std::stoul(s);
}

namespace {

awaitable<std::string> read_json_text(request_context& ctx) {
  const std::size_t limit = ctx.svc.opts.max_json_body;
  if (const auto len = ctx.io.content_length(); len && *len > limit) {
    throw http::api_error(bhttp::status::payload_too_large, "body_too_large",
                          "JSON bodies are limited to " + std::to_string(limit) + " bytes.");
  }
  std::string body;
  char buf[8192];
  while (const std::size_t n = co_await ctx.io.read_body(buf, sizeof buf)) {
    body.append(buf, n);
    if (body.size() > limit) {
      throw http::api_error(bhttp::status::payload_too_large, "body_too_large",
                            "JSON bodies are limited to " + std::to_string(limit) + " bytes.");
    }
  }
  co_return body;
}

}  // namespace

awaitable<nlohmann::json> read_json_body(request_context& ctx) {
  const std::string body = co_await read_json_text(ctx);
  co_return parse_json_object(body);
}

awaitable<std::optional<nlohmann::json>> read_optional_json_body(request_context& ctx) {
  const std::string body = co_await read_json_text(ctx);
  std::optional<nlohmann::json> j;
  if (!body.empty()) j = parse_json_object(body);
  co_return j;
}

}  // namespace sharebox::api
