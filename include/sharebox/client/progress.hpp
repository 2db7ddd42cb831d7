#pragma once
// Transfer progress on stderr: a live bar (percentage, bytes, speed, ETA) when stderr is a
// terminal, otherwise a single summary line when the transfer ends.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace sharebox::client {

class progress {
 public:
  // `done` bytes of `total` are already there (resumed transfers); speed counts only new bytes.
  progress(const std::string& label, std::uint64_t total, std::uint64_t done, bool live);
  ~progress();
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;

  void add(std::int64_t bytes) { done_.fetch_add(bytes, std::memory_order_relaxed); }
  void reset(std::uint64_t done);
  // Stops the bar; prints the final bar line, or `summary` as one line when not live.
  void finish(const std::string& summary);
  // Clears the bar line before other output goes to stderr.
  void interrupt_line();

  std::uint64_t done() const { return static_cast<std::uint64_t>(done_.load()); }
  std::chrono::steady_clock::duration elapsed() const;
  // Bytes transferred by this process per second, over the whole run.
  double average_speed() const;

  // True when a live bar should be drawn: stderr is a terminal and the user did not opt out.
  static bool want_live(bool no_progress);

 private:
  void loop();
  void draw(bool final);

  std::string label_;
  std::uint64_t total_;
  std::atomic<std::int64_t> done_;
  std::int64_t start_done_;
  bool live_;
  std::chrono::steady_clock::time_point started_;
  // Recent samples for the current speed: (time, bytes) a second or more apart.
  std::chrono::steady_clock::time_point sample_time_;
  std::int64_t sample_done_;
  double speed_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool finished_ = false;
  std::thread thread_;
};

}  // namespace sharebox::client
