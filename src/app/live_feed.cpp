#include "sharebox/app/live_feed.hpp"

#include <spdlog/spdlog.h>

#include "sharebox/api/handlers.hpp"
#include "sharebox/events/event_json.hpp"

namespace sharebox::app {

void live_feed::start() {
  std::tie(event_cursor_, notification_cursor_) = source_.latest_seqs();
  thread_ = std::thread([this] { run(); });
}

void live_feed::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void live_feed::notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  cv_.notify_all();
}

void live_feed::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // The timeout is a safety net only: commits notify.
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || notified_; });
      if (stopping_) return;
      notified_ = false;
    }
    try {
      while (deliver_batch()) {
      }
    } catch (const std::exception& e) {
      spdlog::warn("live feed: {}", e.what());
    }
  }
}

bool live_feed::deliver_batch() {
  constexpr std::size_t batch = 500;
  const auto changes = source_.changes_after(event_cursor_, notification_cursor_, batch);
  for (const auto& entry : changes.events) {
    const nlohmann::json msg{{"kind", "event"}, {"event", events::event_json(entry.ev)}};
    hub_.publish(entry.ev.audience, entry.ev.type, std::make_shared<const std::string>(msg.dump()));
    event_cursor_ = entry.seq;
  }
  for (const auto& n : changes.notifications) {
    const nlohmann::json msg{{"kind", "notification"}, {"notification", api::to_json(n)}};
    hub_.publish({n.user_id}, "notification", std::make_shared<const std::string>(msg.dump()));
    notification_cursor_ = n.seq;
  }
  return changes.events.size() == batch || changes.notifications.size() == batch;
}

}  // namespace sharebox::app
