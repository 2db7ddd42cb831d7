#include "sharebox/events/relay.hpp"

#include <spdlog/spdlog.h>

#include "sharebox/events/event_json.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::events {

using namespace std::chrono_literals;

relay::relay(domain::event_outbox& outbox, broker_config cfg, relay_options opts)
    : outbox_(outbox), cfg_(std::move(cfg)), opts_(opts) {}

relay::~relay() {
  stop();
}

void relay::start() {
  backlog_ = outbox_.backlog();
  thread_ = std::thread([this] { run(); });
}

void relay::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void relay::notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  cv_.notify_all();
}

relay_status relay::status() const {
  relay_status s;
  s.connected = connected_;
  s.backlog = backlog_;
  s.published = published_;
  s.failures = failures_;
  std::lock_guard lock(mutex_);
  s.last_error = last_error_;
  return s;
}

bool relay::wait(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, d, [&] { return stopping_ || notified_; });
  const bool woke = notified_;
  notified_ = false;
  return woke;
}

void relay::set_disconnected(const std::string& why) {
  ++failures_;
  const bool was_connected = connected_.exchange(false);
  std::string previous;
  {
    std::lock_guard lock(mutex_);
    previous = std::exchange(last_error_, why);
  }
  // Log transitions, not every retry: a broker down for an hour is one line, not thousands.
  if (was_connected || previous != why) {
    spdlog::warn("events: broker unavailable ({}); events wait in the outbox", why);
  }
}

void relay::run() {
  auto backoff = 250ms;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    try {
      amqp_connection conn(cfg_.url, opts_.connect_timeout);
      conn.declare_topology(cfg_);
      conn.enable_confirms();
      connected_ = true;
      {
        std::lock_guard lock(mutex_);
        last_error_.clear();
      }
      spdlog::info("events: connected to the broker; publishing to exchange {} (queue {})",
                   cfg_.exchange, cfg_.queue);
      backoff = 250ms;
      serve_connection(conn);
      connected_ = false;
      return;  // only returns normally when stopping
    } catch (const std::exception& e) {
      set_disconnected(e.what());
    }
    // Backoff in short slices so the backlog figure stays fresh and stop() stays prompt.
    const auto until = std::chrono::steady_clock::now() + backoff;
    while (std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
      try {
        backlog_ = outbox_.backlog();
      } catch (const std::exception&) {
      }
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock,
                   std::min<std::chrono::milliseconds>(
                       500ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                                  until - std::chrono::steady_clock::now())),
                   [&] { return stopping_; });
    }
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, opts_.max_backoff);
  }
}

void relay::serve_connection(amqp_connection& conn) {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (publish_batch(conn)) continue;
    prune_if_due();
    if (!wait(1s)) conn.poll_alive(10ms);  // idle: notice a broker that went away
  }
}

bool relay::publish_batch(amqp_connection& conn) {
  const auto batch = outbox_.unpublished(opts_.batch);
  backlog_ = static_cast<std::int64_t>(batch.size()) < static_cast<std::int64_t>(opts_.batch)
                 ? static_cast<std::int64_t>(batch.size())
                 : outbox_.backlog();
  if (batch.empty()) return false;
  std::uint64_t last_tag = 0;
  for (const auto& entry : batch) {
    const auto& e = entry.ev;
    last_tag = conn.publish(cfg_.exchange, e.type, event_json(e).dump(), e.id, e.type,
                            e.occurred_at / 1000);
  }
  conn.wait_confirms(last_tag, opts_.confirm_timeout);
  outbox_.mark_published(batch.front().seq, batch.back().seq, util::now_ms());
  published_ += batch.size();
  backlog_ = std::max<std::int64_t>(0, backlog_ - static_cast<std::int64_t>(batch.size()));
  return true;
}

void relay::prune_if_due() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_prune_) return;
  next_prune_ = now + 10min;
  const auto cutoff =
      util::now_ms() -
      std::chrono::duration_cast<std::chrono::milliseconds>(opts_.retention).count();
  if (const auto n = outbox_.prune_published(cutoff)) {
    spdlog::info("events: pruned {} published event(s) older than the retention period", n);
  }
}

}  // namespace sharebox::events
