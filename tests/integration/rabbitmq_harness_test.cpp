// The RabbitMQ test harness itself: a private broker, the pika consumer, and stop/start on the
// same port keeping durable data (what outbox tests rely on to simulate an outage).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/rabbitmq.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// True if something accepts TCP connections on 127.0.0.1:port.
bool accepts_connections(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::vector<json> parse_all(const std::vector<std::string>& lines) {
  std::vector<json> out;
  for (const auto& line : lines)
    out.push_back(json::parse(line));
  return out;
}

class RabbitMqHarness : public ::testing::Test {
 protected:
  // One broker for the whole suite: starting one takes several seconds.
  static void SetUpTestSuite() {
    try {
      broker_ = std::make_unique<rabbitmq_broker>();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() { broker_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(broker_) << "broker did not start: " << start_error_;
    // A failed restart test must not take the following tests down with it.
    if (!broker_->running()) broker_->start();
  }

  static rabbitmq_broker& broker() { return *broker_; }

  static inline std::unique_ptr<rabbitmq_broker> broker_;
  static inline std::string start_error_;
};

TEST_F(RabbitMqHarness, ConsumesPublishedMessagesInOrderWithProperties) {
  const std::string queue = "harness_roundtrip";
  publish_with_pika(broker().url(), queue,
                    {R"({"seq":1,"name":"a.txt"})", R"({"seq":2})", "not json"});
  EXPECT_EQ(queue_depth(broker().url(), queue), 3u);

  const auto messages = parse_all(consume_with_pika(broker().url(), queue, 3, 10s));
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0]["body"], json::parse(R"({"seq":1,"name":"a.txt"})"));
  EXPECT_EQ(messages[1]["body"]["seq"], 2);
  EXPECT_EQ(messages[2]["body"], "not json");  // non-JSON bodies come back as strings
  for (const auto& m : messages) {
    EXPECT_EQ(m["routing_key"], queue);
    EXPECT_EQ(m["exchange"], "");
    EXPECT_EQ(m["properties"]["delivery_mode"], 2);
    EXPECT_EQ(m["properties"]["content_type"], "application/json");
    EXPECT_TRUE(m["properties"]["message_id"].is_string());
    EXPECT_TRUE(m["properties"]["timestamp"].is_number_integer());
  }
  EXPECT_NE(messages[0]["properties"]["message_id"], messages[1]["properties"]["message_id"]);

  // Consumed messages were acked, and asking for more returns what arrived by the deadline.
  EXPECT_EQ(queue_depth(broker().url(), queue), 0u);
  EXPECT_TRUE(consume_with_pika(broker().url(), queue, 1, 1s).empty());
}

TEST_F(RabbitMqHarness, PersistentMessagesSurviveRestartOnTheSamePort) {
  const std::string queue = "harness_durable";
  publish_with_pika(broker().url(), queue, {R"({"n":1})", R"({"n":2})"});
  const std::string url = broker().url();

  broker().stop();
  EXPECT_FALSE(broker().running());
  EXPECT_FALSE(accepts_connections(broker().port())) << "broker still listening after stop()";

  broker().start();
  EXPECT_EQ(broker().url(), url);
  ASSERT_EQ(queue_depth(url, queue), 2u);
  const auto messages = parse_all(consume_with_pika(url, queue, 2, 10s));
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0]["body"]["n"], 1);
  EXPECT_EQ(messages[1]["body"]["n"], 2);
}

}  // namespace
}  // namespace sharebox::test
