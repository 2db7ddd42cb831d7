#pragma once
// Publishes the outbox to RabbitMQ: its own thread, rows in commit order, each batch marked
// published only after the broker confirmed all of it. A crash or a lost connection between
// publish and mark means the batch goes out again: delivery is at-least-once, consumers dedupe
// by message_id. While the broker is unreachable, events wait in the outbox and the relay
// retries with exponential backoff; serving is never affected.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "sharebox/domain/ports.hpp"
#include "sharebox/events/amqp.hpp"

namespace sharebox::events {

struct relay_options {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds confirm_timeout{15000};
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::hours retention{24 * 7};  // published rows are kept this long, then pruned
  std::size_t batch = 256;
};

struct relay_status {
  bool connected = false;
  std::int64_t backlog = 0;
  std::uint64_t published = 0;
  std::uint64_t failures = 0;
  std::string last_error;
};

class relay {
 public:
  relay(domain::event_outbox& outbox, broker_config cfg, relay_options opts);
  ~relay();
  relay(const relay&) = delete;
  relay& operator=(const relay&) = delete;

  void start();
  // Stops after the batch in flight (bounded by the confirm timeout).
  void stop();
  // New events were committed: publish them now rather than at the next poll.
  void notify();
  relay_status status() const;

 private:
  void run();
  void serve_connection(amqp_connection& conn);
  bool publish_batch(amqp_connection& conn);
  void prune_if_due();
  // Waits up to `d` for notify()/stop(); returns true if woken by notify.
  bool wait(std::chrono::milliseconds d);
  void set_disconnected(const std::string& why);

  domain::event_outbox& outbox_;
  broker_config cfg_;
  relay_options opts_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool notified_ = false;
  std::chrono::steady_clock::time_point next_prune_{};

  std::atomic<bool> connected_{false};
  std::atomic<std::int64_t> backlog_{0};
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::string last_error_;  // guarded by mutex_
};

}  // namespace sharebox::events
