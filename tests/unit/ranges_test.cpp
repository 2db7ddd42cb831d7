#include <gtest/gtest.h>

#include "sharebox/http/ranges.hpp"

#include <limits>
#include <random>
#include <string>

namespace sharebox::http {
namespace {

using kind = range_request::kind;
constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();

std::vector<byte_range> partial(std::string_view header, std::uint64_t size) {
  const auto r = parse_range(header, size);
  EXPECT_EQ(r.result, kind::partial) << header;
  return r.ranges;
}

kind result_of(std::string_view header, std::uint64_t size, std::size_t max_ranges = 32) {
  return parse_range(header, size, max_ranges).result;
}

TEST(RangeParse, SingleForms) {
  EXPECT_EQ(partial("bytes=0-99", 1000), (std::vector<byte_range>{{0, 99}}));
  EXPECT_EQ(partial("bytes=500-", 1000), (std::vector<byte_range>{{500, 999}}));
  EXPECT_EQ(partial("bytes=-200", 1000), (std::vector<byte_range>{{800, 999}}));
  EXPECT_EQ(partial("bytes=999-999", 1000), (std::vector<byte_range>{{999, 999}}));
  EXPECT_EQ(partial("bytes=0-0", 1), (std::vector<byte_range>{{0, 0}}));
  EXPECT_EQ(partial("bytes=0-", 1), (std::vector<byte_range>{{0, 0}}));
  EXPECT_EQ(byte_range({10, 19}).length(), 10u);
}

TEST(RangeParse, ClipsToSize) {
  EXPECT_EQ(partial("bytes=900-5000", 1000), (std::vector<byte_range>{{900, 999}}));
  EXPECT_EQ(partial("bytes=-5000", 1000), (std::vector<byte_range>{{0, 999}}));
  EXPECT_EQ(partial("bytes=-1000", 1000), (std::vector<byte_range>{{0, 999}}));
}

TEST(RangeParse, UnitAndWhitespace) {
  EXPECT_EQ(partial("BYTES=0-1", 10), (std::vector<byte_range>{{0, 1}}));
  EXPECT_EQ(partial("Bytes=0-1 ,\t 4-5 , ", 10), (std::vector<byte_range>{{0, 1}, {4, 5}}));
  EXPECT_EQ(partial("bytes=,0-1,,", 10), (std::vector<byte_range>{{0, 1}}));
  EXPECT_EQ(result_of("items=0-1", 10), kind::full);
  EXPECT_EQ(result_of("bytes 0-1", 10), kind::full);
  EXPECT_EQ(result_of("byte=0-1", 10), kind::full);
  EXPECT_EQ(result_of("", 10), kind::full);
}

TEST(RangeParse, MultipleSortedAndCoalesced) {
  EXPECT_EQ(partial("bytes=50-59,0-9", 100), (std::vector<byte_range>{{0, 9}, {50, 59}}));
  // Overlapping.
  EXPECT_EQ(partial("bytes=0-50,40-60", 100), (std::vector<byte_range>{{0, 60}}));
  // Adjacent.
  EXPECT_EQ(partial("bytes=0-9,10-19", 100), (std::vector<byte_range>{{0, 19}}));
  // Contained, and a suffix overlapping an open range.
  EXPECT_EQ(partial("bytes=0-99,10-20", 100), (std::vector<byte_range>{{0, 99}}));
  EXPECT_EQ(partial("bytes=90-,-20", 100), (std::vector<byte_range>{{80, 99}}));
  // Gap of one byte stays separate.
  EXPECT_EQ(partial("bytes=0-9,11-19", 100), (std::vector<byte_range>{{0, 9}, {11, 19}}));
  EXPECT_EQ(partial("bytes=-1,0-0,50-50", 100),
            (std::vector<byte_range>{{0, 0}, {50, 50}, {99, 99}}));
}

TEST(RangeParse, UnsatisfiableRangesAreDropped) {
  EXPECT_EQ(partial("bytes=0-9,1000-2000", 100), (std::vector<byte_range>{{0, 9}}));
  EXPECT_EQ(partial("bytes=100-,-0,5-5", 100), (std::vector<byte_range>{{5, 5}}));
}

TEST(RangeParse, Unsatisfiable) {
  EXPECT_EQ(result_of("bytes=100-", 100), kind::unsatisfiable);
  EXPECT_EQ(result_of("bytes=100-200", 100), kind::unsatisfiable);
  EXPECT_EQ(result_of("bytes=-0", 100), kind::unsatisfiable);
  EXPECT_EQ(result_of("bytes=200-300,100-", 100), kind::unsatisfiable);
  EXPECT_TRUE(parse_range("bytes=100-", 100).ranges.empty());
}

TEST(RangeParse, EmptyRepresentation) {
  EXPECT_EQ(result_of("bytes=0-", 0), kind::unsatisfiable);
  EXPECT_EQ(result_of("bytes=0-0", 0), kind::unsatisfiable);
  EXPECT_EQ(result_of("bytes=-1", 0), kind::unsatisfiable);
  EXPECT_EQ(result_of("bytes=-0", 0), kind::unsatisfiable);
  EXPECT_EQ(result_of("bytes=x", 0), kind::full);
  EXPECT_EQ(result_of("bytes=5-1", 0), kind::full);
}

TEST(RangeParse, BadSyntaxIgnoresWholeHeader) {
  for (const char* h : {"bytes=", "bytes=,", "bytes=-", "bytes=5", "bytes=a-b", "bytes=1-2-3",
                        "bytes=5-4", "bytes=0-1,5-4", "bytes=0-1,x", "bytes=+1-2", "bytes=1 -2",
                        "bytes=1- 2", "bytes=-1-", "bytes=0x10-20", "bytes=0-1;2-3", "bytes=--1"}) {
    const auto r = parse_range(h, 100);
    EXPECT_EQ(r.result, kind::full) << h;
    EXPECT_TRUE(r.ranges.empty()) << h;
  }
}

TEST(RangeParse, TooManyRanges) {
  std::string h = "bytes=";
  for (int i = 0; i < 33; ++i)
    h += std::to_string(i * 10) + "-" + std::to_string(i * 10) + ",";
  EXPECT_EQ(result_of(h, 10000), kind::full);
  EXPECT_EQ(result_of(h, 10000, 33), kind::partial);
  EXPECT_EQ(result_of("bytes=0-1,3-4", 100, 1), kind::full);
  EXPECT_EQ(result_of("bytes=0-1", 100, 1), kind::partial);
  // Overlapping duplicates count too: they are the classic amplification attack.
  std::string dup = "bytes=";
  for (int i = 0; i < 40; ++i)
    dup += "0-,";
  EXPECT_EQ(result_of(dup, 100), kind::full);
}

TEST(RangeParse, OverflowingNumbersNeverWrap) {
  const std::string huge = "99999999999999999999999";  // > 2^64
  // An enormous first-pos is past any size: unsatisfiable, not wrapped to something small.
  EXPECT_EQ(result_of("bytes=" + huge + "-", 100), kind::unsatisfiable);
  EXPECT_EQ(result_of("bytes=18446744073709551616-", 100), kind::unsatisfiable);  // 2^64
  // An enormous last-pos is clipped.
  EXPECT_EQ(partial("bytes=10-" + huge, 100), (std::vector<byte_range>{{10, 99}}));
  // An enormous suffix selects everything.
  EXPECT_EQ(partial("bytes=-" + huge, 100), (std::vector<byte_range>{{0, 99}}));
  // last < first is detected exactly even when both overflow.
  EXPECT_EQ(result_of("bytes=" + huge + "1-" + huge, 100), kind::full);
  EXPECT_EQ(result_of("bytes=" + huge + "-" + huge + "1", 100), kind::unsatisfiable);
  // Leading zeros are only digits.
  EXPECT_EQ(partial("bytes=0000000000000000000000010-00000000000000000000020", 100),
            (std::vector<byte_range>{{10, 20}}));
  EXPECT_EQ(result_of("bytes=010-9", 100), kind::full);
}

TEST(RangeParse, MaximumSize) {
  EXPECT_EQ(partial("bytes=0-", max_u64), (std::vector<byte_range>{{0, max_u64 - 1}}));
  EXPECT_EQ(partial("bytes=-1", max_u64), (std::vector<byte_range>{{max_u64 - 1, max_u64 - 1}}));
  EXPECT_EQ(partial("bytes=18446744073709551614-18446744073709551615", max_u64),
            (std::vector<byte_range>{{max_u64 - 1, max_u64 - 1}}));
  EXPECT_EQ(result_of("bytes=18446744073709551615-", max_u64), kind::unsatisfiable);
  EXPECT_EQ(partial("bytes=0-10,11-", max_u64), (std::vector<byte_range>{{0, max_u64 - 1}}));
}

TEST(RangeParse, RandomInputStaysWithinBounds) {
  std::mt19937_64 rng(31337);
  const std::string alphabet = "bytes=0123456789-, \t";
  for (int iter = 0; iter < 5000; ++iter) {
    std::string h = iter % 3 == 0 ? "" : "bytes=";
    const std::size_t len = rng() % 40;
    for (std::size_t i = 0; i < len; ++i)
      h.push_back(alphabet[rng() % alphabet.size()]);
    const std::uint64_t size = iter % 5 == 0 ? rng() : rng() % 200;
    const auto r = parse_range(h, size, 8);
    if (r.result != kind::partial) {
      ASSERT_TRUE(r.ranges.empty()) << h;
      continue;
    }
    ASSERT_FALSE(r.ranges.empty()) << h;
    ASSERT_LE(r.ranges.size(), 8u) << h;
    for (std::size_t i = 0; i < r.ranges.size(); ++i) {
      ASSERT_LE(r.ranges[i].first, r.ranges[i].last) << h;
      ASSERT_LT(r.ranges[i].last, size) << h;
      if (i > 0) {
        ASSERT_GT(r.ranges[i].first, r.ranges[i - 1].last + 1) << h;
      }
    }
  }
}

}  // namespace
}  // namespace sharebox::http
