#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "sharebox/http/router.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"
#include "sharebox/util/time.hpp"

using namespace sharebox;

TEST(Ids, EncodingOfGivenBytes) {
  std::string out = "stale";
  util::encode_id(std::string(16, '\0'), out);
  EXPECT_EQ(out, std::string(26, 'a'));
  util::encode_id(std::string(16, '\xff'), out);
  EXPECT_EQ(out, std::string(25, '7') + "4");  // the last character holds 3 bits, then 0s
  EXPECT_TRUE(util::is_valid_id(out));
}

TEST(Ids, AreValidUniqueAndUrlSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = util::new_id();
    EXPECT_EQ(id.size(), 26u);
    EXPECT_TRUE(util::is_valid_id(id)) << id;
    EXPECT_TRUE(seen.insert(id).second);
  }
  EXPECT_FALSE(util::is_valid_id("../../etc/passwd"));
  EXPECT_FALSE(util::is_valid_id("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
  EXPECT_FALSE(util::is_valid_id(""));
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(util::to_hex(util::sha256::of("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  util::sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(util::to_hex(h.finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Encoding, Base64urlRoundTrip) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    EXPECT_EQ(util::base64url_decode(util::base64url_encode(s)), s);
  }
  EXPECT_EQ(util::base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(util::base64url_decode("a"));
  EXPECT_FALSE(util::base64url_decode("ab+/"));
}

TEST(Encoding, UrlDecode) {
  EXPECT_EQ(util::url_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(util::url_decode("a+b", false), "a+b");
  EXPECT_FALSE(util::url_decode("%", false));
  EXPECT_FALSE(util::url_decode("%2", false));
  EXPECT_FALSE(util::url_decode("%zz", false));
  EXPECT_EQ(util::url_decode("%00", false), std::string(1, '\0'));
}

TEST(Encoding, Utf8Validation) {
  EXPECT_TRUE(util::is_valid_utf8("r\xc3\xa9sum\xc3\xa9"));
  EXPECT_TRUE(util::is_valid_utf8("\xe6\x97\xa5\xe6\x9c\xac"));
  EXPECT_FALSE(util::is_valid_utf8("\xc3"));          // truncated
  EXPECT_FALSE(util::is_valid_utf8("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(util::is_valid_utf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(util::is_valid_utf8("\xff"));
}

TEST(Time, Rfc3339) {
  EXPECT_EQ(util::format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(util::format_rfc3339(1784692075123), "2026-07-22T03:47:55.123Z");
}

TEST(Target, SplitsAndDecodes) {
  auto t = http::parse_target("/files/abc%20d/meta?limit=5&name=a+b%2Fc&flag");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, (std::vector<std::string>{"files", "abc d", "meta"}));
  EXPECT_EQ(t->query.at("limit"), "5");
  EXPECT_EQ(t->query.at("name"), "a b/c");
  EXPECT_EQ(t->query.at("flag"), "");
  EXPECT_FALSE(http::parse_target("http://example.com/files"));
  EXPECT_FALSE(http::parse_target("/files/%zz"));
  auto trailing = http::parse_target("/files/");
  ASSERT_TRUE(trailing);
  EXPECT_EQ(trailing->path, (std::vector<std::string>{"files", ""}));
}

TEST(Router, MatchesParamsAndReportsAllowedMethods) {
  http::router<int> r;
  r.add(bhttp::verb::get, "/files", 1);
  r.add(bhttp::verb::get, "/files/{id}", 2);
  r.add(bhttp::verb::put, "/files/{id}", 3);
  r.add(bhttp::verb::delete_, "/shares/{id}/{user}", 4);

  auto m = r.find(bhttp::verb::put, {"files", "x1"});
  ASSERT_TRUE(m.found);
  EXPECT_EQ(m.found->handler, 3);
  EXPECT_EQ(m.path_params.at("id"), "x1");

  m = r.find(bhttp::verb::head, {"files", "x1"});
  ASSERT_TRUE(m.found);
  EXPECT_EQ(m.found->handler, 2);

  m = r.find(bhttp::verb::post, {"files", "x1"});
  EXPECT_FALSE(m.found);
  EXPECT_EQ(m.allowed,
            (std::vector<bhttp::verb>{bhttp::verb::get, bhttp::verb::head, bhttp::verb::put}));

  m = r.find(bhttp::verb::get, {"nope"});
  EXPECT_FALSE(m.found);
  EXPECT_TRUE(m.allowed.empty());

  EXPECT_FALSE(r.find(bhttp::verb::get, {"files", ""}).found);
  m = r.find(bhttp::verb::delete_, {"shares", "f", "bob"});
  ASSERT_TRUE(m.found);
  EXPECT_EQ(m.path_params.at("user"), "bob");
}

TEST(Base64, StandardDecodeRequiresPadding) {
  EXPECT_EQ(util::base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(util::base64_decode("aGk="), "hi");
  EXPECT_EQ(util::base64_decode("aGV5"), "hey");
  EXPECT_EQ(util::base64_decode(""), "");
  EXPECT_EQ(util::base64_decode("+/8="), std::string("\xfb\xff"));
  EXPECT_FALSE(util::base64_decode("aGVsbG8"));    // unpadded
  EXPECT_FALSE(util::base64_decode("aG=sbG8="));   // '=' inside
  EXPECT_FALSE(util::base64_decode("aGVs bG8="));  // not in the alphabet
  EXPECT_FALSE(util::base64_decode("-_8="));       // the URL alphabet is not this one
  for (const std::string s : {"", "a", "ab", "abc", "abcd", "\x00\xff\x10"})
    EXPECT_EQ(util::base64_decode(util::base64_encode(s)), s);
}

TEST(Hasher, KnownDigestsAndForkedState) {
  const auto hex_of = [](util::hash_algorithm a, std::string_view s) {
    util::hasher h(a);
    h.update(s.data(), s.size());
    return util::to_hex(h.finish());
  };
  EXPECT_EQ(hex_of(util::hash_algorithm::md5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(hex_of(util::hash_algorithm::sha1, "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex_of(util::hash_algorithm::sha256, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  // A copy continues independently: the original is untouched by what the copy sees.
  util::hasher base(util::hash_algorithm::sha256);
  base.update("ab", 2);
  util::hasher fork = base;
  fork.update("X", 1);
  base.update("c", 1);
  EXPECT_EQ(util::to_hex(base.finish()), hex_of(util::hash_algorithm::sha256, "abc"));
  EXPECT_EQ(util::to_hex(fork.finish()), hex_of(util::hash_algorithm::sha256, "abX"));

  EXPECT_EQ(util::parse_hash_algorithm("SHA-256"), util::hash_algorithm::sha256);
  EXPECT_EQ(util::parse_hash_algorithm("sha1"), util::hash_algorithm::sha1);
  EXPECT_FALSE(util::parse_hash_algorithm("crc32"));
  EXPECT_EQ(util::parse_hash_algorithm("CRC32C"), util::hash_algorithm::crc32c);
}

TEST(Crc32c, KnownValuesWholeAndPiecewise) {
  const auto crc_of = [](std::string_view s) {
    util::crc32c c;
    c.update(s.data(), s.size());
    return c.value();
  };
  // RFC 9260 appendix A's check value, the IANA registry's example, and RFC 3720's 32 zeros.
  EXPECT_EQ(crc_of("123456789"), 0xe3069283u);
  EXPECT_EQ(crc_of("dog"), 0x0a72a4dfu);
  EXPECT_EQ(crc_of(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(crc_of(""), 0u);

  // Any split gives the same value: the word-at-a-time path and the byte tail agree.
  std::string data(1000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i * 131 + 7);
  const auto whole = crc_of(data);
  for (std::size_t cut : {1u, 7u, 8u, 9u, 500u, 999u}) {
    util::crc32c c;
    c.update(data.data(), cut);
    c.update(data.data() + cut, data.size() - cut);
    EXPECT_EQ(c.value(), whole) << cut;
  }

  // As a digest: 4 bytes, big-endian (RFC 9530's Content-Digest encoding).
  util::hasher h(util::hash_algorithm::crc32c);
  h.update("dog", 3);
  util::hasher fork = h;
  EXPECT_EQ(util::to_hex(h.finish()), "0a72a4df");
  fork.update("s", 1);
  util::hasher dogs(util::hash_algorithm::crc32c);
  dogs.update("dogs", 4);
  EXPECT_EQ(util::to_hex(fork.finish()), util::to_hex(dogs.finish()));
}

// The interleaved path (three streams over 3 x 8 KiB and 3 x 256-byte blocks, joined by the
// shift tables) against a bit-at-a-time CRC written from the definition, at every length around
// the block boundaries, at unaligned addresses and with updates cut at odd places.
TEST(Crc32c, LargeBuffersMatchTheBitwiseDefinition) {
  const auto bitwise = [](const unsigned char* p, std::size_t n) {
    std::uint32_t crc = 0xffffffffu;
    for (std::size_t i = 0; i < n; ++i) {
      crc ^= p[i];
      for (int k = 0; k < 8; ++k)
        crc = (crc & 1u) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
  };
  std::vector<unsigned char> data(3 * 8192 * 2 + 3 * 256 * 3 + 64);
  std::uint32_t x = 12345;
  for (auto& b : data) {
    x = x * 1103515245u + 12345u;
    b = static_cast<unsigned char>(x >> 24);
  }
  std::vector<std::size_t> lengths = {0,
                                      1,
                                      7,
                                      8,
                                      767,
                                      768,
                                      769,
                                      3 * 256 * 3 + 5,
                                      3 * 8192 - 1,
                                      3 * 8192,
                                      3 * 8192 + 1,
                                      3 * 8192 + 768 + 9,
                                      3 * 8192 * 2 + 3 * 256 * 3 + 3};
  for (const std::size_t length : lengths) {
    for (const std::size_t offset : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
      const unsigned char* p = data.data() + offset;
      util::crc32c whole;
      whole.update(p, length);
      EXPECT_EQ(whole.value(), bitwise(p, length)) << length << " at +" << offset;
      util::crc32c parts;
      const std::size_t cut = length / 3 + 1;
      if (cut <= length) {
        parts.update(p, cut);
        parts.update(p + cut, length - cut);
        EXPECT_EQ(parts.value(), whole.value()) << length << " cut at " << cut;
      }
    }
  }
}
