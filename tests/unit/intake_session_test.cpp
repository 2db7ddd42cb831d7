// The rules of an image intake session, apart from any protocol or decoding.
#include <gtest/gtest.h>

#include "sharebox/domain/intake_session.hpp"

namespace sharebox::domain {
namespace {

intake_session session(std::size_t max_files = 10) {
  intake_limits l;
  l.max_files = max_files;
  return intake_session(l);
}

TEST(IntakeSession, DeclaredSizeOverTheLimitIsTooLarge) {
  auto s = session();
  EXPECT_FALSE(s.check_announce("a.jpg", 5ull << 20));
  const auto r = s.check_announce("a.jpg", (5ull << 20) + 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, "too_large");
  EXPECT_NE(r->message.find("5.0 MiB"), std::string::npos) << r->message;
  EXPECT_FALSE(s.check_announce("stream.jpg", std::nullopt)) << "unknown sizes are checked later";
}

TEST(IntakeSession, NamesAreChecked) {
  auto s = session();
  EXPECT_EQ(s.check_announce("", 10)->code, "invalid_name");
  EXPECT_EQ(s.check_announce(std::string("a\nb.jpg"), 10)->code, "invalid_name");
  EXPECT_EQ(s.check_announce(std::string(256, 'a'), 10)->code, "invalid_name");
  EXPECT_FALSE(s.check_announce("Ünïcode café.jpg", 10));
}

TEST(IntakeSession, OnlyAcceptedFilesCountTowardsTheLimit) {
  auto s = session(2);
  s.accepted("a", "a.jpg", "sha-a", 0x0, 50);
  EXPECT_FALSE(s.check_announce("b.jpg", 10));
  s.accepted("b", "b.jpg", "sha-b", ~0ull, 50);
  const auto r = s.check_announce("c.jpg", 10);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, "session_limit");
  EXPECT_EQ(s.accepted_count(), 2u);
}

TEST(IntakeSession, SameBytesAreADuplicate) {
  auto s = session();
  s.accepted("a", "a.jpg", "aaaa", 0x1234, 50);
  const auto r = s.check_duplicate("aaaa", 0xffff'0000'0000'0000ull, 50);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, "duplicate");
  EXPECT_EQ(r->duplicate_of, "a");
  EXPECT_NE(r->message.find("same file"), std::string::npos) << r->message;
}

TEST(IntakeSession, NearbyPerceptualHashesAreTheSamePicture) {
  auto s = session();
  s.accepted("a", "a.jpg", "sha-a", 0x0000'0000'0000'0000ull, 50);
  s.accepted("b", "b.jpg", "sha-b", 0xffff'ffff'0000'0000ull, 50);
  // 10 bits from a: the same picture. 11 bits: not.
  const auto near = s.check_duplicate("sha-x", 0x3ffull, 50);
  ASSERT_TRUE(near);
  EXPECT_EQ(near->duplicate_of, "a");
  EXPECT_NE(near->message.find("same picture"), std::string::npos) << near->message;
  EXPECT_FALSE(s.check_duplicate("sha-y", 0x7ffull, 50));
  // The closest earlier file is named.
  const auto closest = s.check_duplicate("sha-z", 0xffff'fffe'0000'0000ull, 50);
  ASSERT_TRUE(closest);
  EXPECT_EQ(closest->duplicate_of, "b");
}

TEST(IntakeSession, PicturesWithLittleStructureAreComparedByBytesOnly) {
  auto s = session();
  s.accepted("fog", "fog.jpg", "sha-fog", 0x1234, 1.0);
  s.accepted("cat", "cat.jpg", "sha-cat", 0xffff'ffff'0000'0000ull, 40.0);
  EXPECT_FALSE(s.check_duplicate("sha-other-fog", 0x1234, 1.1))
      << "two textures hash alike without being the same picture";
  EXPECT_FALSE(s.check_duplicate("sha-bright-fog", 0x1234, 40.0))
      << "nor is a structured picture matched against a textured one";
  EXPECT_TRUE(s.check_duplicate("sha-fog", 0x9999, 1.0)) << "the same bytes still are";
  EXPECT_TRUE(s.check_duplicate("sha-cat-png", 0xffff'ffff'0000'0001ull, 39.0));
}

TEST(IntakeSession, HumanSizes) {
  EXPECT_EQ(human_size(512), "512 bytes");
  EXPECT_EQ(human_size(2048), "2.0 KiB");
  EXPECT_EQ(human_size(6ull << 20), "6.0 MiB");
}

}  // namespace
}  // namespace sharebox::domain
