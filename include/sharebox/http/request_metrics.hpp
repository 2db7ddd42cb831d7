#pragma once
// Request metrics by route: the router resolves each route's slot once, at start, and hands it
// to the exchange with every request it matches; the transport, which knows the status, the
// bytes and the timing, records into that slot with a few relaxed atomic additions. No lock,
// map or string on the request path. The route label is the route's pattern ("/files/{id}"),
// never the path a client sent, so the series stay few whatever clients send.
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "sharebox/http/beast.hpp"
#include "sharebox/util/metrics.hpp"

namespace sharebox::http {

// Every status Beast knows (all a handler can answer, and 499 for a client that left) has its
// own counter: a compact table maps a code to its slot with one load, where an array indexed by
// the code itself would keep 500 counters per route for the 60 that exist. Slot 0 counts anything
// else, labelled status="other".
namespace detail {
inline constexpr std::array<std::uint16_t, 62> known_statuses = {
    100, 101, 102, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302,
    303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410,
    411, 412, 413, 414, 415, 416, 417, 421, 422, 423, 424, 426, 428, 429, 431, 444,
    451, 499, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511, 599};
inline constexpr auto status_slot_table = [] {
  std::array<std::uint8_t, 600> t{};
  for (std::size_t i = 0; i < known_statuses.size(); ++i)
    t[known_statuses[i]] = static_cast<std::uint8_t>(i + 1);
  return t;
}();
}  // namespace detail

inline constexpr std::size_t status_slots = detail::known_statuses.size() + 1;
inline std::size_t status_slot(unsigned status) noexcept {
  return status < detail::status_slot_table.size() ? detail::status_slot_table[status] : 0;
}
// The code a slot counts; 0 for the "other" slot.
inline unsigned status_of_slot(std::size_t slot) noexcept {
  return slot == 0 || slot >= status_slots ? 0 : detail::known_statuses[slot - 1];
}

class route_metrics {
 public:
  enum class stream_kind : std::uint8_t { none, websocket, sse };

  route_metrics(std::string method, std::string route, const util::metrics::bucket_layout& b);
  route_metrics(const route_metrics&) = delete;
  route_metrics& operator=(const route_metrics&) = delete;

  // One finished request; `took` is left out for streams, whose length is the client's choice
  // and says nothing of the server's latency.
  void record(unsigned status, std::optional<std::chrono::nanoseconds> took, std::uint64_t bytes_in,
              std::uint64_t bytes_out) noexcept {
    by_status_[status_slot(status)].inc();
    if (took) duration_.observe(static_cast<std::uint64_t>(took->count()));
    bytes_in_.inc(bytes_in);
    bytes_out_.inc(bytes_out);
  }
  // Bytes of messages on a stream, counted as they pass.
  void add_bytes_in(std::uint64_t n) noexcept { bytes_in_.inc(n); }
  void add_bytes_out(std::uint64_t n) noexcept { bytes_out_.inc(n); }
  // A WebSocket or SSE stream on this route: open while the hold lives. The route is exposed as
  // a stream route from its first stream on.
  [[nodiscard]] util::metrics::gauge_hold open_stream(stream_kind kind) noexcept {
    kind_.store(kind, std::memory_order_relaxed);
    return util::metrics::gauge_hold(streams_);
  }

  const std::string& method() const noexcept { return method_; }
  const std::string& route() const noexcept { return route_; }
  std::uint64_t count(unsigned status) const noexcept {
    return by_status_[status_slot(status)].value();
  }

 private:
  friend class request_metrics;

  std::string method_;
  std::string route_;
  std::array<util::metrics::counter, status_slots> by_status_;
  util::metrics::histogram duration_;
  util::metrics::counter bytes_in_;
  util::metrics::counter bytes_out_;
  util::metrics::gauge streams_;
  std::atomic<stream_kind> kind_{stream_kind::none};
};

class request_metrics {
 public:
  // Writes the sharebox_http_* families (and the open stream gauges) into `r` at every scrape.
  explicit request_metrics(util::metrics::registry& r);
  request_metrics(const request_metrics&) = delete;
  request_metrics& operator=(const request_metrics&) = delete;

  // A route's slot; add each route once, before serving. The reference stays valid.
  route_metrics& add_route(std::string_view method, std::string_view pattern);
  // Requests that matched no route (404, 405, malformed requests, CORS preflights), by method:
  // route="unmatched".
  route_metrics& unmatched(bhttp::verb method) noexcept;

 private:
  void collect(util::metrics::text_writer& w) const;

  mutable std::mutex mutex_;  // routes_ grows at start while a scrape may read it
  std::deque<route_metrics> routes_;
  std::deque<route_metrics> others_;           // route="unmatched", one per method
  std::array<route_metrics*, 8> unmatched_{};  // GET ... OPTIONS, then any other method
};

}  // namespace sharebox::http
