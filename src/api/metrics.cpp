#include "sharebox/api/metrics.hpp"

namespace sharebox::api {

namespace {

constexpr std::array<std::string_view, 5> upload_stream_names = {"multipart", "raw", "chunked",
                                                                 "tus", "intake"};

// docs/ws-intake.md's verdicts; storage_failure() may add a domain error's code, which then
// counts as "other".
constexpr std::array<std::string_view, 12> verdict_codes = {
    "accepted",  "too_large",    "size_mismatch", "unsupported_type", "corrupt",  "session_limit",
    "duplicate", "invalid_name", "cancelled",     "storage_full",     "internal", "other"};

}  // namespace

api_metrics::api_metrics(util::metrics::registry& r) : registry_(r), requests_(r) {
  for (std::size_t i = 0; i < upload_stream_names.size(); ++i) {
    uploads_[i] = &r.add_gauge("sharebox_uploads_in_progress",
                               "Uploads whose bytes are arriving now, by how they arrive "
                               "(multipart or raw POST/PUT /files, chunked, tus, intake).",
                               {{"protocol", std::string(upload_stream_names[i])}});
  }
  for (const auto code : verdict_codes) {
    verdicts_.emplace_back(std::string(code),
                           &r.add_counter("sharebox_image_verdicts_total",
                                          "Image intake verdicts, by code (accepted, or why the "
                                          "picture was refused).",
                                          {{"code", std::string(code)}}));
  }
}

void api_metrics::verdict(std::string_view code) noexcept {
  for (auto& [name, c] : verdicts_) {
    if (name == code) {
      c->inc();
      return;
    }
  }
  verdicts_.back().second->inc();
}

std::uint64_t api_metrics::verdicts(std::string_view code) const noexcept {
  for (const auto& [name, c] : verdicts_) {
    if (name == code) return c->value();
  }
  return 0;
}

}  // namespace sharebox::api
