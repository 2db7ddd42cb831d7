#pragma once
// A thin RAII layer over librabbitmq (rabbitmq-c): one connection, one channel. Blocking; used
// only from the relay's own thread and by the `sharebox events` command.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace sharebox::events {

struct broker_config {
  std::string url = "amqp://guest:guest@localhost:5672/";
  std::string exchange = "sharebox.events";
  std::string queue = "file_alerts";
};

// RABBITMQ_URL wins; else RABBITMQ_HOST (the seed's variable) on the default port.
std::string broker_url_from(const std::string& url, const std::string& host);

class amqp_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct delivered_message {
  std::string body;
  std::string routing_key;
  std::string message_id;
  std::string type;
  std::uint64_t delivery_tag = 0;
};

class amqp_connection {
 public:
  // Connects, logs in and opens channel 1. Throws amqp_error.
  amqp_connection(const std::string& url, std::chrono::milliseconds timeout);
  ~amqp_connection();
  amqp_connection(const amqp_connection&) = delete;
  amqp_connection& operator=(const amqp_connection&) = delete;

  // Durable topic exchange, durable queue bound to `file.*`.
  void declare_topology(const broker_config& cfg);
  void enable_confirms();

  // Publishes one persistent JSON message; returns its delivery tag (confirm mode).
  std::uint64_t publish(const std::string& exchange, const std::string& routing_key,
                        const std::string& body, const std::string& message_id,
                        const std::string& type, std::int64_t timestamp_s);
  // Waits until every tag up to `last_tag` is confirmed. Throws on nack, close or timeout.
  void wait_confirms(std::uint64_t last_tag, std::chrono::milliseconds timeout);
  // Reads pending frames without blocking long: detects a broker that closed the connection.
  void poll_alive(std::chrono::milliseconds timeout);

  // Consumer side.
  std::string declare_private_queue(const std::string& exchange, const std::string& pattern);
  void consume(const std::string& queue, std::uint16_t prefetch);
  std::optional<delivered_message> next_message(std::chrono::milliseconds timeout);
  void ack(std::uint64_t delivery_tag);

 private:
  struct state;
  std::unique_ptr<state> s_;
  std::uint64_t next_tag_ = 1;
  std::uint64_t confirmed_ = 0;
};

}  // namespace sharebox::events
