#include "sharebox/api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace sharebox::api {

namespace {

double refilled(double tokens, double rate, double burst, token_bucket::time_point from,
                token_bucket::time_point to) noexcept {
  // A clock that went backwards (it cannot, steady_clock; tests inject theirs) adds nothing.
  const double elapsed = std::max(0.0, std::chrono::duration<double>(to - from).count());
  return std::min(burst, tokens + elapsed * rate);
}

}  // namespace

bool token_bucket::take(double rate, double burst, time_point now) noexcept {
  tokens_ = refilled(tokens_, rate, burst, updated_, now);
  updated_ = std::max(updated_, now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

bool token_bucket::full(double rate, double burst, time_point now) const noexcept {
  return refilled(tokens_, rate, burst, updated_, now) >= burst;
}

rate_limiter::rate_limiter(settings s)
    : rate_(std::max(0.0, s.rate)),
      burst_(std::max(1.0, s.burst > 0 ? s.burst : 2 * rate_)),
      max_per_shard_(std::max<std::size_t>(1, s.max_buckets / shard_count)) {}

std::optional<std::int64_t> rate_limiter::admit(std::string_view credential, time_point now) {
  if (!enabled()) return std::nullopt;
  auto& s = shards_[string_hash{}(credential) % shard_count];
  std::lock_guard lock(s.mutex);
  auto it = s.buckets.find(credential);
  if (it == s.buckets.end()) {
    if (s.buckets.size() >= max_per_shard_) make_room(s, now);
    it = s.buckets.emplace(std::string(credential), token_bucket(burst_, now)).first;
  }
  if (it->second.take(rate_, burst_, now)) return std::nullopt;
  // Whole seconds for Retry-After, rounded up: a client that waits that long finds a token.
  const double seconds = std::ceil(it->second.wait(rate_));
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(seconds));
}

void rate_limiter::make_room(shard& s, time_point now) {
  std::erase_if(s.buckets, [&](const auto& kv) { return kv.second.full(rate_, burst_, now); });
  if (s.buckets.size() >= max_per_shard_) s.buckets.erase(s.buckets.begin());
}

std::size_t rate_limiter::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace sharebox::api
