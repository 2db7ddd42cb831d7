#pragma once
// What the API layer measures, and the registry GET /metrics renders: requests by route (the
// router assigns routes, the transport records them), uploads whose bytes are arriving, and
// image intake verdicts.
#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sharebox/http/request_metrics.hpp"
#include "sharebox/util/metrics.hpp"

namespace sharebox::api {

// How an upload's bytes arrive: POST/PUT /files as a form or a raw body, a chunk of the chunked
// API, a tus PATCH (or creation with data), or a picture on the intake WebSocket.
enum class upload_stream { multipart, raw, chunked, tus, intake };

class api_metrics {
 public:
  explicit api_metrics(util::metrics::registry& r);
  api_metrics(const api_metrics&) = delete;
  api_metrics& operator=(const api_metrics&) = delete;

  http::request_metrics& requests() noexcept { return requests_; }
  // Counts an upload as in progress while the hold lives.
  [[nodiscard]] util::metrics::gauge_hold receiving(upload_stream s) noexcept {
    return util::metrics::gauge_hold(*uploads_[static_cast<std::size_t>(s)]);
  }
  // An intake verdict: "accepted" or the rejection's code (docs/ws-intake.md); codes not known
  // up front count as code="other".
  void verdict(std::string_view code) noexcept;
  std::uint64_t verdicts(std::string_view code) const noexcept;

  // The text of GET /metrics. Runs every collector (some read the database): call it on a
  // worker thread.
  std::string render() const { return registry_.render(); }

 private:
  util::metrics::registry& registry_;
  http::request_metrics requests_;
  std::array<util::metrics::gauge*, 5> uploads_{};
  std::vector<std::pair<std::string, util::metrics::counter*>> verdicts_;
};

}  // namespace sharebox::api
