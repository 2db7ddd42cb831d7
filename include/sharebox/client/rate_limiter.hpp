#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>

namespace sharebox::client {

// Paces bytes shared by several threads to a steady rate (no burst beyond one slice).
class rate_limiter {
 public:
  explicit rate_limiter(std::uint64_t bytes_per_second) : rate_(bytes_per_second) {}
  // Blocks until `bytes` more may be sent.
  void acquire(std::uint64_t bytes);

 private:
  std::uint64_t rate_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point next_{};
};

}  // namespace sharebox::client
