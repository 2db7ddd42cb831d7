// The per-credential token buckets of --rate-limit, on an injected clock (no sleeps).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sharebox/api/rate_limiter.hpp"

namespace {

using sharebox::api::rate_limiter;
using sharebox::api::token_bucket;
using std::chrono::milliseconds;

const token_bucket::time_point t0{std::chrono::seconds(1000)};

TEST(TokenBucket, StartsFullAndRefillsAtTheRate) {
  token_bucket b(3, t0);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(b.take(2, 3, t0)) << i;
  EXPECT_FALSE(b.take(2, 3, t0));
  EXPECT_DOUBLE_EQ(b.wait(2), 0.5);  // one token at 2 a second
  EXPECT_FALSE(b.take(2, 3, t0 + milliseconds(499)));
  EXPECT_TRUE(b.take(2, 3, t0 + milliseconds(500)));
  EXPECT_FALSE(b.take(2, 3, t0 + milliseconds(500)));
}

TEST(TokenBucket, NeverHoldsMoreThanTheBurst) {
  token_bucket b(2, t0);
  EXPECT_TRUE(b.take(1, 2, t0));
  const auto later = t0 + std::chrono::hours(1);
  EXPECT_TRUE(b.full(1, 2, later));
  EXPECT_TRUE(b.take(1, 2, later));
  EXPECT_TRUE(b.take(1, 2, later));
  EXPECT_FALSE(b.take(1, 2, later));
  EXPECT_FALSE(b.full(1, 2, later));
}

TEST(TokenBucket, AClockGoingBackwardsAddsNothing) {
  token_bucket b(1, t0);
  EXPECT_TRUE(b.take(1, 1, t0));
  EXPECT_FALSE(b.take(1, 1, t0 - milliseconds(5000)));
  EXPECT_TRUE(b.take(1, 1, t0 + milliseconds(1000)));
}

TEST(RateLimiter, OffAdmitsEverything) {
  rate_limiter off({0, 0});
  EXPECT_FALSE(off.enabled());
  for (int i = 0; i < 10000; ++i)
    ASSERT_FALSE(off.admit("kkey", t0));
  EXPECT_EQ(off.size(), 0u);
}

TEST(RateLimiter, BurstThenRetryAfterInWholeSeconds) {
  rate_limiter lim({0.5, 3});
  EXPECT_TRUE(lim.enabled());
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(lim.admit("ka", t0)) << i;
  // 0.5 a second: the next token is 2 s away.
  EXPECT_EQ(lim.admit("ka", t0), 2);
  EXPECT_EQ(lim.admit("ka", t0 + milliseconds(1500)), 1);  // 0.5 s left: rounded up to 1
  EXPECT_FALSE(lim.admit("ka", t0 + milliseconds(2000)));
  EXPECT_EQ(lim.admit("ka", t0 + milliseconds(2000)), 2);
}

TEST(RateLimiter, RetryAfterIsAtLeastOneSecond) {
  rate_limiter lim({1000, 1});
  EXPECT_FALSE(lim.admit("ka", t0));
  EXPECT_EQ(lim.admit("ka", t0), 1);  // 1 ms away, but Retry-After counts whole seconds
  EXPECT_FALSE(lim.admit("ka", t0 + milliseconds(1)));
}

TEST(RateLimiter, CredentialsHaveBucketsOfTheirOwn) {
  rate_limiter lim({1, 2});
  EXPECT_FALSE(lim.admit("ka", t0));
  EXPECT_FALSE(lim.admit("ka", t0));
  EXPECT_TRUE(lim.admit("ka", t0));
  EXPECT_FALSE(lim.admit("kb", t0));
  EXPECT_FALSE(lim.admit("kb", t0));
  EXPECT_TRUE(lim.admit("kb", t0));
  EXPECT_EQ(lim.size(), 2u);
}

TEST(RateLimiter, DefaultBurstIsTwiceTheRateAndAtLeastOne) {
  EXPECT_DOUBLE_EQ(rate_limiter({5, 0}).burst(), 10);
  EXPECT_DOUBLE_EQ(rate_limiter({0.2, 0}).burst(), 1);
  EXPECT_DOUBLE_EQ(rate_limiter({5, 0.5}).burst(), 1);
  EXPECT_DOUBLE_EQ(rate_limiter({5, 7}).burst(), 7);
}

// Credentials whose buckets share the shard of `id` (the limiter spreads them by this hash).
std::vector<std::string> same_shard_as(const std::string& id, std::size_t n) {
  const auto shard = [](const std::string& s) { return std::hash<std::string_view>{}(s) % 16; };
  std::vector<std::string> out;
  for (int i = 0; out.size() < n; ++i) {
    const std::string other = "k" + std::to_string(i);
    if (shard(other) == shard(id)) out.push_back(other);
  }
  return out;
}

TEST(RateLimiter, WhenAShardIsFullRefilledBucketsGoFirst) {
  rate_limiter lim({1, 2, 32});  // 16 shards of 2 buckets
  const auto others = same_shard_as("kbusy", 2);
  EXPECT_FALSE(lim.admit("kbusy", t0));
  EXPECT_FALSE(lim.admit("kbusy", t0));  // empty now
  EXPECT_FALSE(lim.admit(others[0], t0));
  // 1.5 s later others[0] is full again (as good as new), kbusy holds 1.5 tokens: the shard
  // makes room for others[1] by dropping others[0], not kbusy.
  const auto later = t0 + milliseconds(1500);
  EXPECT_FALSE(lim.admit(others[1], later));
  EXPECT_EQ(lim.size(), 2u);
  EXPECT_FALSE(lim.admit("kbusy", later));
  EXPECT_EQ(lim.admit("kbusy", later), 1) << "kbusy's bucket was kept, not replaced by a new one";
}

TEST(RateLimiter, EveryBucketBusyStillStaysBounded) {
  rate_limiter lim({0.001, 1, 16});  // 1 bucket per shard, none ever refills in this test
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(lim.admit("k" + std::to_string(i), t0));
    ASSERT_LE(lim.size(), 16u);
  }
}

}  // namespace
