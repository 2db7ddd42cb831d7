// Routing, authentication and the mapping of every error to a problem response.
#include <spdlog/spdlog.h>

#include "sharebox/api/context.hpp"
#include "sharebox/api/download_cache.hpp"
#include "sharebox/api/handlers.hpp"
#include "sharebox/api/metrics.hpp"
#include "sharebox/api/rate_limiter.hpp"
#include "sharebox/api/request_params.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/http/problem.hpp"

namespace sharebox::api {

namespace {

using verb = bhttp::verb;

[[noreturn]] void unauthenticated(std::string detail) {
  throw domain::error(domain::errc::unauthenticated, std::move(detail));
}

bool changes_state(verb m) {
  return m != verb::get && m != verb::head && m != verb::options;
}

}  // namespace

std::optional<std::string_view> presented_key(const http::request_header& req) {
  const auto auth = req[bhttp::field::authorization];
  if (auth.size() > 7 && beast::iequals(auth.substr(0, 7), "Bearer ")) {
    auto key = auth.substr(7);
    while (!key.empty() && key.front() == ' ')
      key.remove_prefix(1);
    return key;
  }
  if (const auto it = req.find("X-API-Key"); it != req.end()) return it->value();
  return std::nullopt;
}

void require_own_page(const request_context& ctx, std::string detail) {
  if (ctx.io.request()[bhttp::field::origin].empty() || !origin_allowed(ctx)) {
    throw http::api_error(bhttp::status::forbidden, "csrf_rejected", std::move(detail));
  }
}

std::optional<std::string_view> session_cookie(const http::request_header& req) {
  // Cookie: a=1; sharebox_session=TOKEN; b=2 (RFC 6265 section 5.4). Several Cookie fields may
  // be present (HTTP/2 proxies split them).
  const auto [first, last] = req.equal_range(bhttp::field::cookie);
  for (auto field = first; field != last; ++field) {
    std::string_view rest = field->value();
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ')
        pair.remove_prefix(1);
      const auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == session_cookie_name) {
        return pair.substr(eq + 1);
      }
    }
  }
  return std::nullopt;
}

bool origin_allowed(const request_context& ctx) {
  const auto& req = ctx.io.request();
  return origin_allowed(req[bhttp::field::origin], req[bhttp::field::host],
                        ctx.svc.opts.cors_origins);
}

void require_allowed_origin(const request_context& ctx) {
  if (!origin_allowed(ctx)) {
    throw http::api_error(bhttp::status::forbidden, "origin_not_allowed",
                          "Requests from the page at " +
                              std::string(ctx.io.request()[bhttp::field::origin]) +
                              " are not accepted with this sign-in.");
  }
}

credential read_credential(request_context& ctx) {
  const auto& req = ctx.io.request();
  if (const auto key = presented_key(req)) return {credential::kind::api_key, std::string(*key)};
  if (ctx.svc.opts.trust_user_header) {
    if (const auto it = req.find("X-User-Id"); it != req.end()) {
      return {credential::kind::trusted_user, std::string(it->value())};
    }
  }
  if (const auto cookie = session_cookie(req)) {
    // A cookie comes with every request the browser makes, whichever page caused it: changes
    // are accepted only from our own pages (CSRF). SameSite=Strict already stops most; the
    // Origin check also covers same-site pages on other ports and older browsers.
    if (changes_state(req.method())) {
      require_own_page(ctx,
                       "Changes made with the sign-in cookie must come from sharebox's own pages "
                       "(Origin).");
    }
    return {credential::kind::session, std::string(*cookie)};
  }
  unauthenticated("Send an API key as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'.");
}

domain::user resolve_credential(const services& svc, const credential& c) {
  switch (c.type) {
    case credential::kind::api_key: {
      auto u = svc.auth.authenticate(c.secret);
      if (!u) unauthenticated("The API key is not valid.");
      return *u;
    }
    case credential::kind::trusted_user:
      return svc.auth.trusted_user(c.secret);
    case credential::kind::session: {
      auto s = svc.auth.session_user(c.secret);
      if (!s) unauthenticated("The session has ended; sign in again.");
      return s->first;
    }
  }
  unauthenticated("Unknown credential.");
}

std::string rate_bucket(const credential& c, std::string_view key_hash) {
  // Secrets are bucketed by a prefix of their SHA-256, short enough to stay in std::string's
  // inline buffer: 112 bits cannot collide by accident, and only valid credentials get here.
  constexpr std::size_t kept = 14;
  switch (c.type) {
    case credential::kind::api_key:
      return "k" + (key_hash.empty() ? domain::hash_key(c.secret) : std::string(key_hash))
                       .substr(0, kept);
    case credential::kind::session:
      return "s" + domain::hash_key(c.secret).substr(0, kept);
    case credential::kind::trusted_user:
      break;
  }
  return user_rate_bucket(c.secret);
}

std::string user_rate_bucket(std::string_view user_id) {
  std::string b = "u";
  b += user_id;
  return b;
}

void limit_rate(request_context& ctx, std::string_view bucket, std::string_view user_id) {
  auto& limiter = ctx.svc.limiter;
  const auto wait = limiter.admit(bucket, std::chrono::steady_clock::now());
  if (!wait) return;
  ctx.io.set_principal(user_id);  // the access log says whom the 429 went to
  throw http::api_error(bhttp::status::too_many_requests, "rate_limited",
                        fmt::format("Too many requests with this credential (at most {:g} a "
                                    "second, in bursts of {:g}); retry in {} s.",
                                    limiter.rate(), limiter.burst(), *wait),
                        {{"retry_after", *wait}});
}

void accept_caller(request_context& ctx, const credential& c, domain::user u) {
  ctx.user = std::move(u);
  ctx.via_session = c.type == credential::kind::session;
  ctx.io.set_principal(ctx.user.id);
}

awaitable<domain::user> authenticate(request_context& ctx) {
  const credential c = read_credential(ctx);
  // An API key the download cache knows needs no hand-off (see download_cache for why that is
  // never stale); one it does not know is remembered for the next request.
  auto& cache = ctx.svc.downloads;
  std::optional<download_cache::stamp> at;
  std::string key_hash;
  if (c.type == credential::kind::api_key && download_cache::cacheable_key(c.secret)) {
    at = cache.now();
    if (at) {
      key_hash = download_cache::key_hash(c.secret);
      if (auto cached = cache.user(*at, key_hash)) {
        if (ctx.svc.limiter.enabled()) limit_rate(ctx, rate_bucket(c, key_hash), cached->id);
        co_return std::move(*cached);
      }
    }
  }
  auto u =
      co_await http::offload(ctx.svc.read_pool, [&] { return resolve_credential(ctx.svc, c); });
  ctx.via_session = c.type == credential::kind::session;
  if (ctx.svc.limiter.enabled()) limit_rate(ctx, rate_bucket(c, key_hash), u.id);
  if (at) cache.remember_user(*at, std::move(key_hash), u);
  co_return u;
}

namespace {

struct route_entry {
  handler fn;
  bool public_route = false;
  // The handler resolves ctx.credential itself, in the same pool hand-off as its own
  // database work (GET /files/{id}: one hand-off per download instead of two).
  bool resolves_caller = false;
};

http::router<route_entry> build_routes() {
  http::router<route_entry> r;
  r.add(verb::get, "/health", {get_health, true});
  r.add(verb::get, "/ready", {get_ready, true});
  r.add(verb::get, "/metrics", {get_metrics, true});
  r.add(verb::get, "/", {get_web_index, true});
  r.add(verb::get, "/app/{name}", {get_web_asset, true});
  r.add(verb::get, "/openapi.json", {get_openapi, true});
  r.add(verb::get, "/docs", {get_docs_index, true});
  r.add(verb::get, "/docs/{name}", {get_docs_asset, true});
  r.add(verb::post, "/auth/session", {post_session, true});  // takes the key in its body
  r.add(verb::get, "/auth/session", {get_session, true});
  r.add(verb::delete_, "/auth/session", {delete_session, true});
  r.add(verb::get, "/ws/intake", {ws_intake, true});  // authenticates itself: ticket, cookie or key
  r.add(verb::get, "/files/{id}/thumbnail", {get_thumbnail});
  r.add(verb::post, "/files", {post_file});
  r.add(verb::get, "/files", {list_files});
  r.add(verb::get, "/files/{id}", {get_file, false, true});
  r.add(verb::put, "/files/{id}", {put_file});
  r.add(verb::delete_, "/files/{id}", {delete_file});
  r.add(verb::get, "/files/{id}/meta", {get_file_meta});
  r.add(verb::post, "/auth/ws-ticket", {post_ws_ticket});
  r.add(verb::get, "/ws/events", {ws_events, true});  // authenticates itself: ticket or key
  r.add(verb::get, "/events", {sse_events, true});
  r.add(verb::get, "/notifications", {list_notifications});
  r.add(verb::get, "/notifications/unread-count", {unread_notifications});
  r.add(verb::patch, "/notifications/read-all", {read_all_notifications});
  r.add(verb::patch, "/notifications/{id}/read", {read_notification});
  r.add(verb::delete_, "/notifications/{id}", {delete_notification});
  r.add(verb::post, "/v1/uploads/init", {post_upload_init});
  r.add(verb::get, "/v1/uploads/{id}", {get_upload});
  r.add(verb::delete_, "/v1/uploads/{id}", {delete_upload});
  r.add(verb::put, "/v1/uploads/{id}/chunks/{index}", {put_upload_chunk});
  r.add(verb::get, "/v1/uploads/{id}/missing-chunks", {get_missing_chunks});
  r.add(verb::post, "/v1/uploads/{id}/complete", {post_upload_complete});
  r.add(verb::get, "/v1/uploads/{id}/download", {get_upload_download});
  // tus: OPTIONS is public (capability discovery; browsers send CORS preflights without
  // credentials). Both "/tus" and "/tus/" are the creation endpoint.
  for (const char* endpoint : {"/tus", "/tus/"}) {
    r.add(verb::options, endpoint, {tus_options, true});
    r.add(verb::post, endpoint, {tus_create});
  }
  r.add(verb::options, "/tus/{id}", {tus_options, true});
  r.add(verb::get, "/tus/{id}", {tus_head_or_get});
  r.add(verb::patch, "/tus/{id}", {tus_patch});
  r.add(verb::delete_, "/tus/{id}", {tus_delete});
  r.add(verb::post, "/admin/users", {post_admin_user});
  r.add(verb::get, "/admin/users", {list_admin_users});
  r.add(verb::get, "/admin/users/{user_id}", {get_admin_user});
  r.add(verb::patch, "/admin/users/{user_id}", {patch_admin_user});
  r.add(verb::post, "/admin/users/{user_id}/keys", {post_admin_key});
  r.add(verb::delete_, "/admin/users/{user_id}/keys/{key_id}", {delete_admin_key});
  r.add(verb::post, "/shares/{id}", {post_share});
  r.add(verb::get, "/shares/{id}", {list_shares});
  r.add(verb::delete_, "/shares/{id}/{user_id}", {delete_share});
  return r;
}

std::string allow_header(const std::vector<verb>& methods) {
  std::string out;
  for (const auto m : methods) {
    const auto name = bhttp::to_string(m);
    if (out.find(name) != std::string::npos) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

constexpr const char* cors_allowed_methods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
constexpr const char* cors_allowed_headers =
    "Authorization, X-API-Key, Content-Type, Content-Digest, If-Match, If-None-Match, "
    "X-Request-Id, Tus-Resumable, Upload-Length, Upload-Offset, Upload-Metadata, "
    "Upload-Defer-Length, Upload-Concat, Upload-Checksum";
constexpr const char* cors_exposed_headers =
    "Location, ETag, X-Request-Id, Retry-After, Content-Range, Tus-Resumable, Tus-Version, "
    "Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, Upload-Offset, Upload-Length, "
    "Upload-Metadata, Upload-Defer-Length, Upload-Concat, Upload-Expires, Sharebox-File-Id";

class api {
 public:
  explicit api(const services& svc) : svc_(svc), routes_(build_routes()) {
    // Each route's metrics slot is resolved here, once: a request only indexes this table.
    for (const auto& r : routes_.routes())
      route_metrics_.push_back(
          &svc.metrics.requests().add_route(bhttp::to_string(r.method), r.pattern));
  }

  awaitable<void> operator()(http::exchange& io) const {
    // Most requests come without an Origin: checked first, so that they do not pay for the
    // coroutine frame of answer_cors.
    if (!io.request()[bhttp::field::origin].empty()) {
      if (co_await answer_cors(io)) co_return;
    }
    std::optional<http::problem> failure;
    std::string allow;
    try {
      co_await route(io, allow);
    } catch (const domain::error& e) {
      failure = http::to_problem(e);
    } catch (const http::api_error& e) {
      failure = http::to_problem(e);
    }
    if (!failure) co_return;
    if (io.response_sent()) {
      spdlog::warn("request {}: error after the response started: {}", io.request_id(),
                   failure->detail);
      co_return;
    }
    auto res = http::problem_response(*failure);
    if (failure->status == bhttp::status::unauthorized) {
      res.set(bhttp::field::www_authenticate, "Bearer realm=\"sharebox\"");
    }
    if (!allow.empty()) res.set(bhttp::field::allow, allow);
    if (failure->status == bhttp::status::too_many_requests) {
      std::int64_t seconds = 1;
      for (const auto& f : failure->extra) {
        if (f.name == "retry_after") seconds = std::get<std::int64_t>(f.value);
      }
      res.set(bhttp::field::retry_after, std::to_string(seconds));
    }
    co_await io.send(std::move(res));
  }

 private:
  bool origin_allowed(std::string_view origin) const {
    for (const auto& o : svc_.opts.cors_origins) {
      if (o == "*" || o == origin) return true;
    }
    return false;
  }

  // Browser pages on allowed origins may call the API: their responses say so, and preflights
  // are answered here, before routing and authentication (browsers send them without
  // credentials). True if the request was a preflight and has been answered.
  awaitable<bool> answer_cors(http::exchange& io) const {
    const auto& req = io.request();
    const auto origin = req[bhttp::field::origin];
    if (origin.empty() || !origin_allowed(origin)) co_return false;
    io.add_response_header("Access-Control-Allow-Origin", std::string(origin));
    io.add_response_header("Vary", "Origin");
    const bool preflight = req.method() == verb::options &&
                           req.find(bhttp::field::access_control_request_method) != req.end();
    if (!preflight) {
      io.add_response_header("Access-Control-Expose-Headers", cors_exposed_headers);
      co_return false;
    }
    http::string_response res{bhttp::status::no_content, 11};
    res.set(bhttp::field::access_control_allow_methods, cors_allowed_methods);
    // Echoing the requested headers is safe: every request is still authenticated on its own.
    const auto requested = req[bhttp::field::access_control_request_headers];
    res.set(bhttp::field::access_control_allow_headers,
            requested.empty() ? std::string_view(cors_allowed_headers) : requested);
    res.set(bhttp::field::access_control_max_age, "86400");
    co_await io.send(std::move(res));
    co_return true;
  }

  awaitable<void> route(http::exchange& io, std::string& allow) const {
    auto target = http::parse_target(io.request().target());
    if (!target) {
      throw http::api_error(bhttp::status::bad_request, "bad_request", "Malformed request target.");
    }
    auto m = routes_.find(io.request().method(), target->path);
    if (!m.found) {
      if (m.allowed.empty()) {
        throw http::api_error(bhttp::status::not_found, "route_not_found",
                              "No such endpoint: " + std::string(io.request().target()));
      }
      allow = allow_header(m.allowed);
      throw http::api_error(bhttp::status::method_not_allowed, "method_not_allowed",
                            "Allowed methods: " + allow + ".");
    }
    // tus requires Tus-Resumable on every response, a failed authentication's included.
    if (!target->path.empty() && target->path.front() == "tus")
      io.add_response_header("Tus-Resumable", "1.0.0");
    io.set_route(*route_metrics_[static_cast<std::size_t>(m.found - routes_.routes().data())]);
    request_context ctx{io,    svc_, std::move(m.path_params), std::move(target->query), {},
                        false, {}};
    const auto& entry = m.found->handler;
    if (entry.resolves_caller) {
      ctx.credential = read_credential(ctx);
    } else if (!entry.public_route) {
      ctx.user = co_await authenticate(ctx);
      io.set_principal(ctx.user.id);
    }
    co_await m.found->handler.fn(ctx);
  }

  const services& svc_;
  http::router<route_entry> routes_;
  std::vector<http::route_metrics*> route_metrics_;  // by index in routes_.routes()
};

}  // namespace

std::vector<route_info> registered_routes() {
  const auto routes = build_routes();
  std::vector<route_info> out;
  for (const auto& r : routes.routes())
    out.push_back({r.method, r.pattern, r.handler.public_route});
  return out;
}

http::request_handler make_api(const services& svc) {
  auto a = std::make_shared<const api>(svc);
  return [a](http::exchange& io) { return (*a)(io); };
}

}  // namespace sharebox::api
