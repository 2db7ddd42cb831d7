#include "sharebox/api/handlers.hpp"
#include "sharebox/api/metrics.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/http/problem.hpp"
#include "sharebox/util/crypto.hpp"

namespace sharebox::api {

namespace {

// --metrics-key, when set: scrapers send it as a bearer token (Prometheus' `authorization`
// setting). Compared in constant time, like every other secret here.
void require_metrics_key(const request_context& ctx) {
  const auto& want = ctx.svc.opts.metrics_key;
  if (want.empty()) return;
  const auto presented = presented_key(ctx.io.request());
  if (!presented) {
    throw http::api_error(bhttp::status::unauthorized, "unauthenticated",
                          "GET /metrics needs the metrics key as 'Authorization: Bearer KEY'.");
  }
  // Hashed first: the comparison then takes the same time whatever the lengths.
  const auto a = util::sha256::of(*presented);
  const auto b = util::sha256::of(want);
  if (!util::constant_time_equal(
          std::string_view(reinterpret_cast<const char*>(a.data()), a.size()),
          std::string_view(reinterpret_cast<const char*>(b.data()), b.size()))) {
    throw http::api_error(bhttp::status::unauthorized, "unauthenticated",
                          "The metrics key is not valid.");
  }
}

}  // namespace

awaitable<void> get_metrics(request_context& ctx) {
  require_metrics_key(ctx);
  // Rendering reads the database (outbox backlog, open uploads) and /proc: on the pool.
  auto text = co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.metrics.render(); });
  http::string_response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-store");
  res.body() = std::move(text);
  co_await ctx.io.send(std::move(res));
}

}  // namespace sharebox::api
