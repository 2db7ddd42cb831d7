#include "sharebox/http/request_metrics.hpp"

namespace sharebox::http {

namespace {

using util::metrics::labels;
using util::metrics::text_writer;

constexpr std::array<bhttp::verb, 7> unmatched_verbs = {
    bhttp::verb::get,   bhttp::verb::head,    bhttp::verb::post,   bhttp::verb::put,
    bhttp::verb::patch, bhttp::verb::delete_, bhttp::verb::options};

labels route_labels(const route_metrics& r) {
  return {{"route", r.route()}, {"method", r.method()}};
}

}  // namespace

route_metrics::route_metrics(std::string method, std::string route,
                             const util::metrics::bucket_layout& b)
    : method_(std::move(method)), route_(std::move(route)), duration_(b) {}

request_metrics::request_metrics(util::metrics::registry& r) {
  for (std::size_t i = 0; i < unmatched_verbs.size(); ++i) {
    unmatched_[i] = &others_.emplace_back(std::string(bhttp::to_string(unmatched_verbs[i])),
                                          "unmatched", util::metrics::duration_buckets());
  }
  unmatched_.back() =
      &others_.emplace_back("OTHER", "unmatched", util::metrics::duration_buckets());
  r.add_collector([this](text_writer& w) { collect(w); });
}

route_metrics& request_metrics::add_route(std::string_view method, std::string_view pattern) {
  std::lock_guard lock(mutex_);
  return routes_.emplace_back(std::string(method), std::string(pattern),
                              util::metrics::duration_buckets());
}

route_metrics& request_metrics::unmatched(bhttp::verb method) noexcept {
  for (std::size_t i = 0; i < unmatched_verbs.size(); ++i) {
    if (unmatched_verbs[i] == method) return *unmatched_[i];
  }
  return *unmatched_.back();
}

void request_metrics::collect(text_writer& w) const {
  std::lock_guard lock(mutex_);
  const auto each = [&](auto&& fn) {
    for (const auto& r : routes_)
      fn(r);
    for (const auto& r : others_)
      fn(r);
  };

  w.family("sharebox_http_requests_total", "counter",
           "HTTP requests answered, by route pattern, method and status (route=\"unmatched\": no "
           "route; HEAD counts as GET).");
  each([&](const route_metrics& r) {
    for (std::size_t slot = 0; slot < status_slots; ++slot) {
      const auto n = r.by_status_[slot].value();
      if (n == 0) continue;
      const unsigned code = status_of_slot(slot);
      auto l = route_labels(r);
      l.emplace_back("status", code ? std::to_string(code) : std::string("other"));
      w.sample("sharebox_http_requests_total", l, n);
    }
  });

  w.family("sharebox_http_request_duration_seconds", "histogram",
           "Time from a request's complete header to its last response byte sent, by route and "
           "method; WebSocket and SSE streams are not observed.");
  each([&](const route_metrics& r) {
    if (r.duration_.read().count() > 0)
      w.histogram("sharebox_http_request_duration_seconds", route_labels(r), r.duration_);
  });

  w.family("sharebox_http_request_bytes_total", "counter",
           "Bytes received: request headers and bodies, and WebSocket messages, by route and "
           "method.");
  each([&](const route_metrics& r) {
    if (const auto n = r.bytes_in_.value())
      w.sample("sharebox_http_request_bytes_total", route_labels(r), n);
  });

  w.family("sharebox_http_response_bytes_total", "counter",
           "Bytes sent: response headers and bodies, and WebSocket and SSE messages, by route and "
           "method.");
  each([&](const route_metrics& r) {
    if (const auto n = r.bytes_out_.value())
      w.sample("sharebox_http_response_bytes_total", route_labels(r), n);
  });

  const auto streams = [&](route_metrics::stream_kind kind, const char* name, const char* help) {
    w.family(name, "gauge", help);
    each([&](const route_metrics& r) {
      if (r.kind_.load(std::memory_order_relaxed) == kind)
        w.sample(name, {{"route", r.route()}}, r.streams_.value());
    });
  };
  streams(route_metrics::stream_kind::websocket, "sharebox_open_websockets",
          "Open WebSocket connections, by route.");
  streams(route_metrics::stream_kind::sse, "sharebox_open_sse_streams",
          "Open Server-Sent Events streams, by route.");
}

}  // namespace sharebox::http
