#pragma once
// Feeds the live streams: on every commit with events, reads what was committed since its
// cursor (events and notifications) and hands each to the hub for the users who may see it.
// Its own thread, so neither the committing worker nor a network thread waits on it.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "sharebox/api/live_hub.hpp"
#include "sharebox/domain/ports.hpp"

namespace sharebox::app {

class live_feed {
 public:
  live_feed(domain::live_source& source, api::live_hub& hub) : source_(source), hub_(hub) {}
  ~live_feed() { stop(); }
  void start();
  void stop();
  void notify();

 private:
  void run();
  bool deliver_batch();

  domain::live_source& source_;
  api::live_hub& hub_;
  std::int64_t event_cursor_ = 0;
  std::int64_t notification_cursor_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool notified_ = false;
};

}  // namespace sharebox::app
