// --rate-limit: a token bucket per credential. A burst passes, the request after it gets 429
// rate_limited with Retry-After, other credentials are unaffected, and the key works again once
// it has waited. Off by default: then no burst is ever limited.
#include <gtest/gtest.h>

#include <thread>

#include "support/api_client.hpp"
#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int burst = 5;

// 0.5 a second: the burst is spent long before a token comes back, even on a loaded machine.
class RateLimit : public alice_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--rate-limit", "0.5", "--rate-limit-burst", std::to_string(burst)};
  }
  // Spends the burst; the next request is refused.
  void spend(api_client& c, const std::string& target) {
    for (int i = 0; i < burst; ++i)
      ASSERT_TRUE(has_status(c.get(target), 200)) << "request " << i + 1 << " of the burst";
  }
  ::testing::AssertionResult limited(const response& r) {
    auto p = is_problem(r, 429, "rate_limited");
    if (!p) return p;
    const std::string after = r.header("Retry-After");
    if (after.empty() || after.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(after) < 1 || std::stoi(after) > 2) {
      return ::testing::AssertionFailure() << "Retry-After: " << r.describe();
    }
    if (json_body(r).value("retry_after", 0) != std::stoi(after)) {
      return ::testing::AssertionFailure() << "retry_after member: " << r.describe();
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(RateLimit, ABurstPassesThenTheKeyWaits) {
  auto a = alice();
  spend(a, "/files");
  const auto r = a.get("/files");
  ASSERT_TRUE(limited(r));
  // Another key (another user's, or another of alice's) has a bucket of its own.
  auto bob = make_user("bob");
  EXPECT_TRUE(has_status(bob.get("/files"), 200));
  const auto second =
      server().run_cli({"key", "add", "alice", "--data-dir", server().data_dir().string()});
  ASSERT_TRUE(second.exit.clean());
  EXPECT_TRUE(has_status(client(trim(second.out)).get("/files"), 200));
  // Public routes are never limited.
  for (int i = 0; i < 2 * burst; ++i)
    ASSERT_TRUE(has_status(a.get("/health"), 200));

  std::this_thread::sleep_for(std::chrono::seconds(std::stoi(r.header("Retry-After"))));
  EXPECT_TRUE(has_status(a.get("/files"), 200));
}

TEST_F(RateLimit, DownloadsFromTheCacheCountToo) {
  const std::string id = created_id(alice().upload_raw("a.txt", "alpha"));  // one token
  auto a = alice();
  for (int i = 0; i < burst - 1; ++i)
    ASSERT_TRUE(has_status(a.get("/files/" + id), 200)) << i;
  EXPECT_TRUE(limited(a.get("/files/" + id)));
  const auto head = a.head("/files/" + id);
  EXPECT_EQ(head.status, 429u) << head.describe();
  EXPECT_FALSE(head.header("Retry-After").empty());
  EXPECT_TRUE(limited(alice().get("/files/" + id))) << "a new connection changes nothing";
}

TEST_F(RateLimit, StreamsAndWrongKeys) {
  auto a = alice();
  spend(a, "/files");
  // WebSocket upgrades and SSE authenticate like any request: refused before they start.
  EXPECT_TRUE(limited(a.get("/events")));
  EXPECT_TRUE(limited(a.send("POST", "/auth/ws-ticket")));
  // Made-up keys get no bucket: they are refused as unauthenticated, however many.
  for (int i = 0; i < 3 * burst; ++i)
    ASSERT_TRUE(is_problem(client("sbx_wrong").get("/files"), 401, "unauthenticated"));
}

TEST_F(RateLimit, BrowserSessionsHaveTheirOwnBucket) {
  const std::string origin = "http://127.0.0.1:" + std::to_string(port());
  auto r = anonymous().send("POST", "/auth/session",
                            {{"Content-Type", "application/json"}, {"Origin", origin}},
                            json{{"api_key", key_}}.dump());
  ASSERT_TRUE(has_status(r, 201));
  const std::string cookie = r.header("Set-Cookie").substr(0, r.header("Set-Cookie").find(';'));
  auto a = alice();
  spend(a, "/files");
  ASSERT_TRUE(limited(a.get("/files")));
  for (int i = 0; i < burst; ++i)
    ASSERT_TRUE(has_status(anonymous().get("/files", {{"Cookie", cookie}}), 200)) << i;
  EXPECT_TRUE(limited(anonymous().get("/files", {{"Cookie", cookie}})));
}

// Default: off (the benchmarks drive tens of thousands of requests a second with one key).
class NoRateLimit : public alice_test {};

TEST_F(NoRateLimit, ABurstIsNeverLimited) {
  const std::string id = created_id(alice().upload_raw("a.txt", "alpha"));
  auto a = alice();
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(has_status(a.get(i % 2 ? "/files" : "/files/" + id), 200)) << i;
  }
}

}  // namespace
}  // namespace sharebox::test
