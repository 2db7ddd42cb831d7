#include "sharebox/client/rate_limiter.hpp"

#include <algorithm>
#include <thread>

namespace sharebox::client {

void rate_limiter::acquire(std::uint64_t bytes) {
  using namespace std::chrono;
  const auto cost = duration_cast<steady_clock::duration>(
      duration<double>(static_cast<double>(bytes) / static_cast<double>(rate_)));
  steady_clock::time_point start;
  {
    // Reserve the next slot of the shared timeline, then sleep outside the lock so other threads
    // can queue up behind us.
    std::lock_guard lock(mu_);
    start = std::max(next_, steady_clock::now());
    next_ = start + cost;
  }
  std::this_thread::sleep_until(start);
}

}  // namespace sharebox::client
