#include "sharebox/client/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

#include "sharebox/client/format.hpp"

namespace sharebox::client {

namespace {

using clock = std::chrono::steady_clock;
constexpr auto redraw_every = std::chrono::milliseconds(200);
constexpr auto speed_window = std::chrono::seconds(1);

double seconds(clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

progress::progress(const std::string& label, std::uint64_t total, std::uint64_t done, bool live)
    : label_(printable(label)),
      total_(total),
      done_(static_cast<std::int64_t>(done)),
      start_done_(static_cast<std::int64_t>(done)),
      live_(live),
      started_(clock::now()),
      sample_time_(started_),
      sample_done_(start_done_) {
  if (live_) thread_ = std::thread([this] { loop(); });
}

progress::~progress() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Leave the terminal on a fresh line if the transfer failed mid-bar.
  if (live_ && !finished_) std::cerr << "\n" << std::flush;
}

bool progress::want_live(bool no_progress) {
  return !no_progress && ::isatty(STDERR_FILENO) == 1;
}

void progress::reset(std::uint64_t done) {
  std::lock_guard lock(mu_);
  done_.store(static_cast<std::int64_t>(done));
  start_done_ = static_cast<std::int64_t>(done);
  started_ = clock::now();
  sample_time_ = started_;
  sample_done_ = start_done_;
  speed_ = 0;
}

std::chrono::steady_clock::duration progress::elapsed() const {
  return clock::now() - started_;
}

double progress::average_speed() const {
  const double s = seconds(elapsed());
  return s > 0 ? static_cast<double>(done_.load() - start_done_) / s : 0;
}

void progress::loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, redraw_every, [this] { return stop_; });
    if (!stop_) draw(false);
  }
}

// Called with mu_ held.
void progress::draw(bool final) {
  const auto now = clock::now();
  const std::int64_t done = done_.load();
  if (now - sample_time_ >= speed_window || final) {
    const double dt = seconds(now - sample_time_);
    if (dt > 0) {
      const double current = static_cast<double>(done - sample_done_) / dt;
      // Smooth over a few windows so the number stays readable.
      speed_ = speed_ == 0 ? current : 0.5 * speed_ + 0.5 * current;
    }
    sample_time_ = now;
    sample_done_ = done;
  }
  // Until the first window closes, the average so far beats showing 0 B/s.
  const double speed = final || speed_ == 0 ? average_speed() : speed_;
  const auto shown = static_cast<std::uint64_t>(std::max<std::int64_t>(done, 0));
  const double fraction =
      total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(shown) / static_cast<double>(total_));
  std::optional<std::chrono::seconds> eta;
  if (final) {
    eta = std::chrono::seconds(static_cast<long>(seconds(elapsed())));
  } else if (speed > 0) {
    eta = std::chrono::seconds(
        static_cast<long>(static_cast<double>(total_ - std::min(shown, total_)) / speed));
  }
  constexpr int bar_width = 24;
  const int filled = static_cast<int>(fraction * bar_width);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(bar_width - filled), '.');
  char line[512];
  std::snprintf(line, sizeof line, "\r%-24.24s [%s] %3d%%  %s / %s  %s/s  %s %s\x1b[K",
                label_.c_str(), bar.c_str(), static_cast<int>(fraction * 100),
                human_size(shown).c_str(), human_size(total_).c_str(),
                human_size(static_cast<std::uint64_t>(speed)).c_str(), final ? "in" : "ETA",
                human_duration(eta).c_str());
  std::cerr << line << std::flush;
}

void progress::interrupt_line() {
  std::lock_guard lock(mu_);
  if (live_) std::cerr << "\r\x1b[K" << std::flush;
}

void progress::finish(const std::string& summary) {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (live_) {
    draw(true);
    std::cerr << "\n";
  } else if (!summary.empty()) {
    std::cerr << summary << "\n";
  }
  std::cerr << std::flush;
}

}  // namespace sharebox::client
