// File events through the outbox to a real RabbitMQ broker, read back by an independent
// consumer (python3-pika): the schema of each type, nothing lost across a broker outage or a
// SIGKILL of the server, and per-file commit order.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>

#include "support/api_client.hpp"
#include "support/fixture.hpp"
#include "support/rabbitmq.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Events : public server_test {
 protected:
  static void SetUpTestSuite() { broker_ = new rabbitmq_broker(); }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }

  // Each test publishes to its own exchange and queue, so tests sharing the broker never see
  // each other's events.
  std::string suffix() const {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  std::string exchange() const { return "ex." + suffix(); }
  std::string queue() const { return "q." + suffix(); }

  std::vector<std::string> server_args() const override {
    return {"--rabbitmq-url", broker_->url(),     "--events-exchange",
            exchange(),       "--rabbitmq-queue", queue()};
  }

  // Messages as consume.py prints them: {"body", "properties", "routing_key", "exchange"}.
  std::vector<json> consume(std::size_t count, std::chrono::seconds timeout = 30s) {
    std::vector<json> out;
    for (const auto& line : consume_with_pika(broker_->url(), queue(), count, timeout)) {
      out.push_back(json::parse(line));
    }
    return out;
  }

  // Consumes until every id in `file_ids` has a file.uploaded event (delivery is at-least-once:
  // duplicates are allowed, gaps are not).
  std::set<std::string> consume_uploads(const std::set<std::string>& file_ids,
                                        std::chrono::seconds timeout) {
    std::set<std::string> seen;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (seen.size() < file_ids.size() && std::chrono::steady_clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(
          deadline - std::chrono::steady_clock::now());
      for (const auto& m : consume(file_ids.size() - seen.size(), std::max(left, 1s))) {
        if (m["body"]["type"] == "file.uploaded") seen.insert(m["body"]["file"]["id"]);
      }
    }
    return seen;
  }

  json health() { return json_body(anonymous().get("/health")); }

  bool wait_for(const std::function<bool()>& cond, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (cond()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return cond();
  }

  static rabbitmq_broker* broker_;
};

rabbitmq_broker* Events::broker_ = nullptr;

void expect_file_schema(const json& f) {
  for (const char* k : {"id", "name", "content_type", "sha256", "owner"}) {
    EXPECT_TRUE(f.contains(k) && f[k].is_string()) << k << " in " << f.dump();
  }
  EXPECT_TRUE(f["size"].is_number_unsigned()) << f.dump();
  EXPECT_TRUE(f["version"].is_number_integer()) << f.dump();
}

TEST_F(Events, EveryTypeHasTheDocumentedSchemaAndProperties) {
  ASSERT_TRUE(wait_for([&] { return health()["events"]["broker"] == "connected"; }, 20s))
      << health().dump();
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  const std::string id = created_id(alice.upload("a.txt", "hello"));
  ASSERT_TRUE(has_status(alice.share(id, "bob", "write"), 201));
  ASSERT_TRUE(has_status(bob.put_raw(id, "by bob", etag_for(1)), 200));
  ASSERT_TRUE(has_status(alice.del("/shares/" + id + "/bob"), 204));
  ASSERT_TRUE(has_status(alice.del("/files/" + id), 204));

  const auto messages = consume(5);
  ASSERT_EQ(messages.size(), 5u);
  const std::vector<std::string> types{"file.uploaded", "file.shared", "file.updated",
                                       "file.unshared", "file.deleted"};
  const std::vector<std::string> actors{"alice", "alice", "bob", "alice", "alice"};
  std::set<std::string> ids;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    SCOPED_TRACE(messages[i].dump());
    const auto& body = messages[i]["body"];
    const auto& props = messages[i]["properties"];
    EXPECT_EQ(body["type"], types[i]);
    EXPECT_EQ(body["actor"], actors[i]);
    EXPECT_EQ(body["file"]["id"], id);
    EXPECT_EQ(body["file"]["owner"], "alice");
    expect_file_schema(body["file"]);
    EXPECT_TRUE(body["occurred_at"].is_string());
    ASSERT_TRUE(body["id"].is_string());
    EXPECT_TRUE(ids.insert(body["id"].get<std::string>()).second) << "event ids must be unique";
    EXPECT_EQ(props["message_id"], body["id"]);
    EXPECT_EQ(props["type"], body["type"]);
    EXPECT_EQ(props["content_type"], "application/json");
    EXPECT_EQ(props["delivery_mode"], 2);
    EXPECT_TRUE(props["timestamp"].is_number());
    EXPECT_EQ(messages[i]["routing_key"], types[i]);
    EXPECT_EQ(messages[i]["exchange"], exchange());
  }
  EXPECT_EQ(messages[0]["body"]["file"]["version"], 1);
  EXPECT_EQ(messages[0]["body"]["file"]["sha256"], sha256_hex("hello"));
  EXPECT_EQ(messages[1]["body"]["target_user_id"], "bob");
  EXPECT_EQ(messages[1]["body"]["permission"], "write");
  EXPECT_EQ(messages[2]["body"]["file"]["version"], 2);
  EXPECT_EQ(messages[3]["body"]["target_user_id"], "bob");
  EXPECT_FALSE(messages[0]["body"].contains("target_user_id"));
}

TEST_F(Events, BrokerOutageLosesNothing) {
  ASSERT_TRUE(wait_for([&] { return health()["events"]["broker"] == "connected"; }, 20s));
  auto alice = make_user("alice");
  broker_->stop();
  ASSERT_TRUE(wait_for([&] { return health()["events"]["broker"] == "disconnected"; }, 20s))
      << health().dump();

  std::set<std::string> uploaded;
  for (int i = 0; i < 200; ++i) {
    const auto r = alice.upload_raw("f" + std::to_string(i), "content " + std::to_string(i));
    ASSERT_TRUE(has_status(r, 201)) << "uploads must succeed while the broker is down";
    uploaded.insert(created_id(r));
  }
  EXPECT_TRUE(wait_for([&] { return health()["events"]["outbox_backlog"] == 200; }, 10s))
      << health().dump();

  broker_->start();
  EXPECT_EQ(consume_uploads(uploaded, 90s), uploaded);
  EXPECT_TRUE(wait_for([&] { return health()["events"]["outbox_backlog"] == 0; }, 20s))
      << health().dump();
}

TEST_F(Events, CommittedEventsSurviveSigkill) {
  auto alice = make_user("alice");
  std::set<std::string> uploaded;
  // Half the burst while the broker is up, half while it is down: at the kill, some events are
  // certainly committed but unpublished, whatever the timing.
  for (int i = 0; i < 50; ++i) {
    if (i == 25) broker_->stop();
    const auto r = alice.upload_raw("k" + std::to_string(i), "x");
    ASSERT_TRUE(has_status(r, 201));
    uploaded.insert(created_id(r));
  }
  server().kill9();  // right after the last 201
  broker_->start();
  server().restart();
  EXPECT_EQ(consume_uploads(uploaded, 60s), uploaded);
}

TEST_F(Events, EventsAboutOneFileArriveInCommitOrder) {
  auto alice = make_user("alice");
  const std::string id = created_id(alice.upload_raw("o.txt", "v1"));
  for (int v = 1; v <= 20; ++v) {
    ASSERT_TRUE(has_status(alice.put_raw(id, "v" + std::to_string(v + 1), etag_for(v)), 200));
  }
  const auto messages = consume(21);
  ASSERT_EQ(messages.size(), 21u);
  long previous = 0;
  for (const auto& m : messages) {
    const long version = m["body"]["file"]["version"];
    EXPECT_EQ(version, previous + 1) << m.dump();
    previous = version;
  }
}

TEST_F(Events, ConsumerCommandPrintsAndAcks) {
  auto alice = make_user("alice");
  const std::string id = created_id(alice.upload_raw("c.txt", "x"));
  ASSERT_TRUE(has_status(alice.del("/files/" + id), 204));
  const auto r = server().run_cli({"events", "--rabbitmq-url", broker_->url(), "--exchange",
                                   exchange(), "--queue", queue(), "--count", "2", "--json"},
                                  30s);
  ASSERT_TRUE(r.exit.clean()) << r.exit.describe() << r.err;
  std::vector<json> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0]["type"], "file.uploaded");
  EXPECT_EQ(lines[1]["type"], "file.deleted");
  EXPECT_EQ(lines[0]["file"]["id"], id);

  const auto readable = server().run_cli({"events", "--rabbitmq-url", broker_->url(), "--exchange",
                                          exchange(), "--queue", queue(), "--count", "1"},
                                         3s);
  // Acked messages are gone: nothing left to print, so --count 1 times out.
  EXPECT_FALSE(readable.exit.clean());
  EXPECT_TRUE(readable.out.empty()) << readable.out;
}

TEST_F(Events, ConsumerBindsAPrivateQueueToAPattern) {
  auto alice = make_user("alice");
  make_user("bob");
  const std::string id = created_id(alice.upload_raw("b.txt", "x"));
  auto consumer = std::async(std::launch::async, [&] {
    return server().run_cli({"events", "--rabbitmq-url", broker_->url(), "--exchange", exchange(),
                             "--bind", "file.shared", "--count", "1", "--json"},
                            60s);
  });
  // The private queue exists only once the command runs: keep producing until it has one.
  // Uploads go out too and must not match the pattern.
  for (int i = 0; i < 200 && consumer.wait_for(100ms) != std::future_status::ready; ++i) {
    ASSERT_TRUE(has_status(alice.upload_raw("noise", "y"), 201));
    ASSERT_TRUE(has_status(alice.share(id, "bob", i % 2 ? "read" : "write"), i == 0 ? 201 : 200));
  }
  const auto r = consumer.get();
  ASSERT_TRUE(r.exit.clean()) << r.exit.describe() << r.err;
  const auto j = json::parse(trim(r.out));
  EXPECT_EQ(j["type"], "file.shared");
  EXPECT_EQ(j["file"]["id"], id);
}

}  // namespace
}  // namespace sharebox::test
