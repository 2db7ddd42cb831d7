#pragma once
// A private, real RabbitMQ broker for integration tests, and an independent AMQP client (pika)
// to check what the code under test published.
//
// The broker is started by scripts/start-rabbitmq in a fresh temporary directory that holds all
// of its state, listens on 127.0.0.1 on a free port, and never touches a system RabbitMQ. Start
// takes several seconds, so share one per test suite (SetUpTestSuite). If the test process dies
// without running the destructor, the broker stops itself within a second or so (the script's
// --owner-pid watcher).
//
// Requires SHAREBOX_SOURCE_DIR (the repository root) to be defined for the test target.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sharebox::test {

class rabbitmq_broker {
 public:
  // Generous: on a machine without rabbitmq-server the script installs it first.
  static constexpr std::chrono::seconds start_timeout{300};
  static constexpr std::chrono::seconds stop_timeout{120};

  // Starts a broker in a new mkdtemp directory. Throws std::runtime_error (with the broker's
  // log tail) if it does not come up.
  rabbitmq_broker();
  // Stops the broker and removes its directory (kept if SHAREBOX_TEST_KEEP_DATA is set). Prints
  // the broker log tail if the current test failed.
  ~rabbitmq_broker();
  rabbitmq_broker(const rabbitmq_broker&) = delete;
  rabbitmq_broker& operator=(const rabbitmq_broker&) = delete;

  // amqp://guest:guest@127.0.0.1:PORT/ — unchanged across stop()/start().
  const std::string& url() const { return url_; }
  std::uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  bool running() const { return running_; }

  // Clean broker shutdown (rabbitmqctl stop): clients see the connection closed and further
  // connects refused, as in an outage. Durable queues and persistent messages are kept.
  void stop();
  // Starts the broker again on the same directory, node name and port. Throws on failure, or if
  // the URL would change.
  void start();

  // The end of the broker's own log file (for failure messages).
  std::string log_tail(std::size_t max_bytes = 16 * 1024) const;

 private:
  void run_start();

  std::filesystem::path dir_;
  std::string url_;
  std::uint16_t port_ = 0;
  bool running_ = false;
};

// Takes up to `count` messages from `queue` (acking each) and returns one line per message, in
// delivery order: the JSON object printed by tests/support/consume.py,
//   {"body": <the message body, parsed if it is JSON, else a string>,
//    "properties": {"message_id", "type", "content_type", "delivery_mode", "timestamp",
//                   "headers"},
//    "routing_key": ..., "exchange": ..., "redelivered": ...}
// Waits up to `timeout` for them (retrying while the broker is unreachable or the queue does not
// exist yet) and returns fewer than `count` if they did not all arrive in time. Declares nothing.
// Throws std::runtime_error if the client fails for another reason.
std::vector<std::string> consume_with_pika(const std::string& url, const std::string& queue,
                                           std::size_t count, std::chrono::seconds timeout);

// Takes every ready message from each of `queues` (acking each), in one client run: one line per
// message as consume_with_pika prints it, plus "queue": the queue it came from. For after the
// publisher has had its messages confirmed; a queue that does not exist counts as empty.
std::vector<std::string> drain_with_pika(const std::string& url,
                                         const std::vector<std::string>& queues,
                                         std::chrono::seconds timeout);

// Number of ready (not yet delivered) messages in `queue`. Throws if the queue does not exist.
std::size_t queue_depth(const std::string& url, const std::string& queue);

// Test setup: declares `queue` durable and publishes each body to it through the default
// exchange as a persistent application/json message, waiting for publisher confirms.
void publish_with_pika(const std::string& url, const std::string& queue,
                       const std::vector<std::string>& bodies);

}  // namespace sharebox::test
