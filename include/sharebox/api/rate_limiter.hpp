#pragma once
// Per-credential request rates (--rate-limit): a token bucket for each API key, browser session
// or proxied user that made requests lately.
//
// Only credentials that authenticated get a bucket (callers check after authentication), so a
// flood of made-up keys costs no memory. A bucket that has refilled is the same as a new one and
// may be dropped at any time: when a shard reaches its share of `max_buckets`, the full ones go
// (and, if every one is in use, an arbitrary one, which only forgives that credential some
// requests). Buckets are spread over shards by id, each with its own mutex, so requests of
// different credentials rarely wait for each other.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sharebox::api {

class token_bucket {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  token_bucket(double burst, time_point now) : tokens_(burst), updated_(now) {}
  // Takes a token if there is one (true); refills at `rate` a second up to `burst` first.
  bool take(double rate, double burst, time_point now) noexcept;
  // Seconds until the next token, after a take() that failed.
  double wait(double rate) const noexcept { return (1.0 - tokens_) / rate; }
  // Refilled to `now`, whether it would be full: as good as a new bucket.
  bool full(double rate, double burst, time_point now) const noexcept;

 private:
  double tokens_;
  time_point updated_;
};

class rate_limiter {
 public:
  using time_point = token_bucket::time_point;

  struct settings {
    double rate = 0;   // requests a second per credential; 0: no limit
    double burst = 0;  // bucket size (at least 1); 0: max(1, 2 x rate)
    std::size_t max_buckets = 16384;
  };

  explicit rate_limiter(settings s);

  bool enabled() const noexcept { return rate_ > 0; }
  double rate() const noexcept { return rate_; }
  double burst() const noexcept { return burst_; }

  // One request of `credential` (an opaque id: prefix and hash, never a secret itself): nullopt
  // if it may proceed, else the whole seconds to wait before the next one will (at least 1).
  std::optional<std::int64_t> admit(std::string_view credential, time_point now);

  std::size_t size() const;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, token_bucket, string_hash, std::equal_to<>> buckets;
  };
  static constexpr std::size_t shard_count = 16;

  // Under the shard's mutex: room for one more bucket.
  void make_room(shard& s, time_point now);

  double rate_;
  double burst_;
  std::size_t max_per_shard_;
  std::array<shard, shard_count> shards_;
};

}  // namespace sharebox::api
