// Range requests (206/416, multipart/byteranges) and conditional GETs (304, If-Range).
#include <gtest/gtest.h>

#include <string>

#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;

class RangesConditional : public server_test {
 protected:
  void SetUp() override {
    server_test::SetUp();
    alice_.emplace(make_user("alice"));
    const response up = alice().upload("data.bin", content_, "application/x-data");
    ASSERT_TRUE(has_status(up, 201));
    id_ = created_id(up);
    target_ = "/files/" + id_;
  }

  api_client& alice() { return *alice_; }
  response get(header_list h) { return alice().get(target_, std::move(h)); }

  const std::string content_ = generate_bytes(1000, 3);
  std::optional<api_client> alice_;
  std::string id_;
  std::string target_;
};

TEST_F(RangesConditional, SingleRangeIs206) {
  const response r = get({{"Range", "bytes=0-9"}});
  ASSERT_TRUE(has_status(r, 206));
  EXPECT_EQ(r.header("Content-Range"), "bytes 0-9/1000");
  EXPECT_EQ(r.header("Content-Length"), "10");
  EXPECT_EQ(r.header("Content-Type"), "application/x-data");
  EXPECT_EQ(r.header("ETag"), "\"1\"");
  EXPECT_TRUE(r.body == content_.substr(0, 10));
}

TEST_F(RangesConditional, OpenEndedAndSuffixRanges) {
  const response tail = get({{"Range", "bytes=990-"}});
  ASSERT_TRUE(has_status(tail, 206));
  EXPECT_EQ(tail.header("Content-Range"), "bytes 990-999/1000");
  EXPECT_TRUE(tail.body == content_.substr(990));

  const response suffix = get({{"Range", "bytes=-25"}});
  ASSERT_TRUE(has_status(suffix, 206));
  EXPECT_EQ(suffix.header("Content-Range"), "bytes 975-999/1000");
  EXPECT_TRUE(suffix.body == content_.substr(975));

  // A last-byte-pos past the end is clipped.
  const response clipped = get({{"Range", "bytes=500-5000"}});
  ASSERT_TRUE(has_status(clipped, 206));
  EXPECT_EQ(clipped.header("Content-Range"), "bytes 500-999/1000");
  EXPECT_EQ(clipped.body.size(), 500u);
}

TEST_F(RangesConditional, MultipleRangesAreMultipartByteranges) {
  const response r = get({{"Range", "bytes=0-9,100-119,-5"}});
  ASSERT_TRUE(has_status(r, 206));
  const std::string ct = r.header("Content-Type");
  EXPECT_EQ(to_lower(ct).rfind("multipart/byteranges", 0), 0u) << ct;
  const auto boundary = header_param(ct, "boundary");
  ASSERT_TRUE(boundary.has_value()) << ct;
  EXPECT_FALSE(r.has_header("Content-Range")) << "Content-Range belongs in the parts";
  if (r.has_header("Content-Length")) {
    EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
  }

  const auto parts = parse_multipart(r.body, *boundary);
  ASSERT_TRUE(parts.has_value()) << r.describe();
  ASSERT_EQ(parts->size(), 3u) << r.describe();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"bytes 0-9/1000", content_.substr(0, 10)},
      {"bytes 100-119/1000", content_.substr(100, 20)},
      {"bytes 995-999/1000", content_.substr(995)},
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("part " + std::to_string(i));
    EXPECT_EQ((*parts)[i].headers.get("Content-Type"), "application/x-data");
    EXPECT_EQ((*parts)[i].headers.get("Content-Range"), expected[i].first);
    EXPECT_TRUE((*parts)[i].data == expected[i].second) << "part body differs";
  }
}

TEST_F(RangesConditional, UnsatisfiableRangeIs416) {
  for (const char* range : {"bytes=1000-", "bytes=5000-6000", "bytes=1000-1000"}) {
    SCOPED_TRACE(range);
    const response r = get({{"Range", range}});
    EXPECT_TRUE(is_problem(r, 416));
    EXPECT_EQ(r.header("Content-Range"), "bytes */1000");
  }
  // The connection is still usable afterwards.
  EXPECT_TRUE(has_status(get({}), 200));
}

TEST_F(RangesConditional, IfNoneMatchCurrentEtagIs304) {
  const response r = get({{"If-None-Match", "\"1\""}});
  ASSERT_TRUE(has_status(r, 304));
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("ETag"), "\"1\"");
  EXPECT_TRUE(has_status(get({{"If-None-Match", "\"0\", \"1\""}}), 304));
  EXPECT_TRUE(has_status(alice().head(target_, {{"If-None-Match", "\"1\""}}), 304));
  // Next request on the same connection is not confused by a body.
  EXPECT_TRUE(has_status(alice().get(target_ + "/meta"), 200));
}

TEST_F(RangesConditional, IfNoneMatchStaleEtagIs200) {
  const response r = get({{"If-None-Match", "\"999\""}});
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_TRUE(r.body == content_);
}

TEST_F(RangesConditional, IfNoneMatchAfterUpdateServesNewContent) {
  ASSERT_TRUE(has_status(alice().put_raw(id_, "new content", "\"1\""), 200));
  const response r = get({{"If-None-Match", "\"1\""}});
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(r.body, "new content");
  EXPECT_EQ(r.header("ETag"), "\"2\"");
  EXPECT_TRUE(has_status(get({{"If-None-Match", "\"2\""}}), 304));
}

TEST_F(RangesConditional, IfRangeCurrentEtagHonoursRange) {
  const response r = get({{"Range", "bytes=10-19"}, {"If-Range", "\"1\""}});
  ASSERT_TRUE(has_status(r, 206));
  EXPECT_EQ(r.header("Content-Range"), "bytes 10-19/1000");
  EXPECT_TRUE(r.body == content_.substr(10, 10));
}

TEST_F(RangesConditional, IfRangeStaleEtagSendsFullRepresentation) {
  const std::string v2 = generate_bytes(600, 4);
  ASSERT_TRUE(has_status(alice().put_raw(id_, v2, "\"1\""), 200));
  const response stale = get({{"Range", "bytes=10-19"}, {"If-Range", "\"1\""}});
  ASSERT_TRUE(has_status(stale, 200));
  EXPECT_FALSE(stale.has_header("Content-Range"));
  EXPECT_TRUE(stale.body == v2);

  const response current = get({{"Range", "bytes=10-19"}, {"If-Range", "\"2\""}});
  ASSERT_TRUE(has_status(current, 206));
  EXPECT_EQ(current.header("Content-Range"), "bytes 10-19/600");
  EXPECT_TRUE(current.body == v2.substr(10, 10));
}

TEST_F(RangesConditional, RangeOnSharedFileWorksForReader) {
  api_client bob = make_user("bob");
  ASSERT_TRUE(has_status(alice().share(id_, "bob"), 201));
  const response r = bob.get(target_, {{"Range", "bytes=0-3"}});
  ASSERT_TRUE(has_status(r, 206));
  EXPECT_TRUE(r.body == content_.substr(0, 4));
}

}  // namespace
}  // namespace sharebox::test
