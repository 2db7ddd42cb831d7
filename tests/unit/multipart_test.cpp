#include <gtest/gtest.h>

#include "sharebox/http/multipart.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sharebox::http {
namespace {

using namespace std::string_literals;

struct recorded_part {
  part_header header;
  std::string data;
  bool ended = false;
};

bool operator==(const recorded_part& a, const recorded_part& b) {
  return a.header.name == b.header.name && a.header.filename == b.header.filename &&
         a.header.content_type == b.header.content_type && a.data == b.data && a.ended == b.ended;
}

class recorder : public multipart_handler {
 public:
  void on_part_begin(const part_header& header) override {
    if (!parts.empty() && !parts.back().ended) protocol_error = true;
    parts.push_back({header, "", false});
  }
  void on_part_data(std::string_view data) override {
    if (parts.empty() || parts.back().ended || data.empty()) protocol_error = true;
    if (!parts.empty()) parts.back().data.append(data);
    emitted += data.size();
  }
  void on_part_end() override {
    if (parts.empty() || parts.back().ended) protocol_error = true;
    if (!parts.empty()) parts.back().ended = true;
  }

  std::vector<recorded_part> parts;
  std::size_t emitted = 0;
  bool protocol_error = false;
};

struct outcome {
  std::error_code feed_error;
  std::error_code finish_error;
  std::vector<recorded_part> parts;
  bool protocol_error = false;
};

outcome parse_pieces(const std::string& boundary, const std::vector<std::string_view>& pieces,
                     multipart_parser::limits lim = {}) {
  multipart_parser parser(boundary, lim);
  recorder rec;
  outcome out;
  for (const auto piece : pieces) {
    out.feed_error = parser.feed(piece, rec);
    if (out.feed_error) break;
  }
  out.finish_error = parser.finish();
  out.parts = std::move(rec.parts);
  out.protocol_error = rec.protocol_error;
  return out;
}

outcome parse_whole(const std::string& boundary, std::string_view body,
                    multipart_parser::limits lim = {}) {
  return parse_pieces(boundary, {body}, lim);
}

std::vector<std::string_view> split_at(std::string_view body, std::vector<std::size_t> cuts) {
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::string_view> pieces;
  std::size_t prev = 0;
  for (const auto cut : cuts) {
    pieces.push_back(body.substr(prev, cut - prev));
    prev = cut;
  }
  pieces.push_back(body.substr(prev));
  return pieces;
}

const std::string& web_boundary() {
  static const std::string b = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
  return b;
}

std::string binary_payload() {
  std::string s = "\r\n--" + web_boundary().substr(0, 10) + "\r\r\n\n\0\0\xff\xfe--"s +
                  web_boundary() + "x"s + "\r\n-"s + "\r\n--"s;
  for (int i = 0; i < 300; ++i)
    s.push_back(static_cast<char>((i * 37) % 256));
  return s;
}

std::string sample_body() {
  return "--" + web_boundary() +
         "\r\n"
         "Content-Disposition: form-data; name=\"title\"\r\n"
         "\r\n"
         "hello world\r\n"
         "--" +
         web_boundary() +
         "\r\n"
         "Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
         "Content-Type: application/octet-stream\r\n"
         "\r\n" +
         binary_payload() + "\r\n--" + web_boundary() +
         "\r\n"
         "Content-Disposition: form-data; name=\"empty\"\r\n"
         "\r\n"
         "\r\n--" +
         web_boundary() + "--\r\n";
}

void expect_sample(const outcome& out) {
  EXPECT_FALSE(out.feed_error) << out.feed_error.message();
  EXPECT_FALSE(out.finish_error) << out.finish_error.message();
  EXPECT_FALSE(out.protocol_error);
  ASSERT_EQ(out.parts.size(), 3u);
  EXPECT_EQ(out.parts[0].header.name, "title");
  EXPECT_FALSE(out.parts[0].header.filename.has_value());
  EXPECT_EQ(out.parts[0].data, "hello world");
  EXPECT_EQ(out.parts[1].header.name, "file");
  EXPECT_EQ(out.parts[1].header.filename, "a.bin");
  EXPECT_EQ(out.parts[1].header.content_type, "application/octet-stream");
  EXPECT_EQ(out.parts[1].data, binary_payload());
  EXPECT_EQ(out.parts[2].header.name, "empty");
  EXPECT_EQ(out.parts[2].data, "");
  for (const auto& p : out.parts)
    EXPECT_TRUE(p.ended);
}

std::string single_part(std::string_view headers, std::string_view data,
                        std::string_view b = web_boundary()) {
  std::string body = "--" + std::string(b) + "\r\n";
  body += headers;
  body += "\r\n";
  body += data;
  body += "\r\n--" + std::string(b) + "--\r\n";
  return body;
}

part_header header_of(std::string_view headers) {
  const auto out = parse_whole(web_boundary(), single_part(headers, "x"));
  EXPECT_FALSE(out.feed_error) << out.feed_error.message();
  EXPECT_EQ(out.parts.size(), 1u);
  return out.parts.empty() ? part_header{} : out.parts.front().header;
}

TEST(MultipartParser, WholeBody) {
  expect_sample(parse_whole(web_boundary(), sample_body()));
}

TEST(MultipartParser, ByteByByte) {
  const std::string body = sample_body();
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < body.size(); ++i)
    pieces.push_back(std::string_view(body).substr(i, 1));
  const auto out = parse_pieces(web_boundary(), pieces);
  expect_sample(out);
  EXPECT_EQ(out.parts, parse_whole(web_boundary(), body).parts);
}

TEST(MultipartParser, RandomSplitsGiveIdenticalParts) {
  const std::string body = sample_body();
  const auto reference = parse_whole(web_boundary(), body).parts;
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 200; ++iter) {
    std::uniform_int_distribution<std::size_t> count_dist(1, 40);
    std::uniform_int_distribution<std::size_t> pos_dist(0, body.size());
    std::vector<std::size_t> cuts(count_dist(rng));
    for (auto& c : cuts)
      c = pos_dist(rng);
    const auto out = parse_pieces(web_boundary(), split_at(body, cuts));
    ASSERT_FALSE(out.feed_error) << "iteration " << iter;
    ASSERT_FALSE(out.finish_error) << "iteration " << iter;
    ASSERT_EQ(out.parts, reference) << "iteration " << iter;
  }
}

TEST(MultipartParser, BoundarySplitAcrossReadsAtEveryOffset) {
  const std::string body = sample_body();
  const auto reference = parse_whole(web_boundary(), body).parts;
  const std::size_t second = body.find("\r\n--" + web_boundary(), 10);
  ASSERT_NE(second, std::string::npos);
  for (std::size_t cut = second; cut <= second + web_boundary().size() + 6; ++cut) {
    const auto out = parse_pieces(web_boundary(), split_at(body, {cut}));
    EXPECT_FALSE(out.finish_error) << cut;
    EXPECT_EQ(out.parts, reference) << cut;
  }
}

TEST(MultipartParser, NearBoundarySequencesAreData) {
  const std::string b = "bound";
  const std::string data = "a\r\n--boun\r\n--bounX\r\n-\r\n--boun-d--bound--bound\r\n--\r\n";
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    const std::string body = single_part("Content-Disposition: form-data; name=\"d\"\r\n", data, b);
    const std::size_t start = body.find(data);
    const auto out = parse_pieces(b, split_at(body, {start + cut}));
    ASSERT_FALSE(out.finish_error) << cut;
    ASSERT_EQ(out.parts.size(), 1u);
    EXPECT_EQ(out.parts[0].data, data) << cut;
  }
}

TEST(MultipartParser, BoundaryInsideDataWithoutCrlfIsData) {
  const std::string data = "--" + web_boundary() + "\n--" + web_boundary() + "--";
  const auto out = parse_whole(web_boundary(), single_part("Content-Type: a/b\r\n", data));
  ASSERT_FALSE(out.finish_error);
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].data, data);
}

TEST(MultipartParser, BinaryDataWithNulAndBareCrLf) {
  std::string data;
  for (int i = 0; i < 1024; ++i)
    data.push_back("\r\n\0-"[i % 4]);
  const auto out = parse_whole(web_boundary(), single_part("Content-Type: x/y\r\n", data));
  ASSERT_FALSE(out.finish_error);
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].data, data);
  EXPECT_EQ(out.parts[0].header.content_type, "x/y");
}

TEST(MultipartParser, EmptyPartsAndPartWithoutHeaders) {
  const std::string body = "--b\r\n\r\n\r\n--b\r\n\r\nabc\r\n--b\r\nX-A: 1\r\n\r\n\r\n--b--";
  const auto out = parse_whole("b", body);
  ASSERT_FALSE(out.finish_error) << out.finish_error.message();
  ASSERT_EQ(out.parts.size(), 3u);
  EXPECT_EQ(out.parts[0].data, "");
  EXPECT_EQ(out.parts[1].data, "abc");
  EXPECT_EQ(out.parts[2].data, "");
  EXPECT_EQ(out.parts[0].header.name, "");
}

TEST(MultipartParser, ZeroPartsIsValid) {
  const auto out = parse_whole("b", "--b--\r\n");
  EXPECT_FALSE(out.finish_error);
  EXPECT_TRUE(out.parts.empty());
}

TEST(MultipartParser, PreambleEpilogueAndTransportPadding) {
  const std::string body =
      "This is the preamble.\r\n--b \t\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
      "--b\t\r\n\r\n2\r\n--b--  \r\nepilogue --b\r\n garbage";
  const auto out = parse_whole("b", body);
  ASSERT_FALSE(out.feed_error);
  ASSERT_FALSE(out.finish_error);
  ASSERT_EQ(out.parts.size(), 2u);
  EXPECT_EQ(out.parts[0].header.name, "a");
  EXPECT_EQ(out.parts[0].data, "1");
  EXPECT_EQ(out.parts[1].data, "2");
}

TEST(MultipartParser, DoneAndFeedAfterDoneIgnored) {
  multipart_parser parser("b");
  recorder rec;
  EXPECT_FALSE(parser.done());
  EXPECT_FALSE(parser.feed("--b\r\n\r\nx\r\n--b--", rec));
  EXPECT_TRUE(parser.done());
  EXPECT_FALSE(parser.feed("\r\n--b\r\n\r\nmore", rec));
  EXPECT_FALSE(parser.finish());
  EXPECT_EQ(rec.parts.size(), 1u);
}

TEST(MultipartParser, MissingFinalBoundary) {
  auto out = parse_whole("b", "--b\r\n\r\nabc\r\n--b\r\n\r\ndef");
  EXPECT_FALSE(out.feed_error);
  EXPECT_EQ(out.finish_error, multipart_errc::missing_final_boundary);

  out = parse_whole("b", "");
  EXPECT_EQ(out.finish_error, multipart_errc::missing_final_boundary);

  out = parse_whole("b", "--b\r\n\r\nabc\r\n--b-");
  EXPECT_EQ(out.finish_error, multipart_errc::missing_final_boundary);
}

TEST(MultipartParser, HugeHeaderIsRejected) {
  multipart_parser::limits lim;
  lim.max_header_bytes = 1024;
  const std::string big = "X-Big: " + std::string(2000, 'a') + "\r\n";
  auto out = parse_whole("b", single_part(big, "x", "b"), lim);
  EXPECT_EQ(out.feed_error, multipart_errc::header_too_large);
  EXPECT_EQ(out.finish_error, multipart_errc::header_too_large);

  // Also when the header never ends and arrives in small pieces.
  multipart_parser parser("b", lim);
  recorder rec;
  std::error_code ec = parser.feed("--b\r\n", rec);
  for (int i = 0; i < 2000 && !ec; ++i)
    ec = parser.feed("aaaaaaaa", rec);
  EXPECT_EQ(ec, multipart_errc::header_too_large);
}

TEST(MultipartParser, HeaderExactlyAtLimitIsAccepted) {
  multipart_parser::limits lim;
  const std::string line = "X-A: " + std::string(100, 'a') + "\r\n";
  lim.max_header_bytes = line.size() + 2;  // header lines plus the blank line
  auto out = parse_whole("b", single_part(line, "x", "b"), lim);
  EXPECT_FALSE(out.finish_error) << out.finish_error.message();
  lim.max_header_bytes -= 1;
  out = parse_whole("b", single_part(line, "x", "b"), lim);
  EXPECT_EQ(out.finish_error, multipart_errc::header_too_large);
}

TEST(MultipartParser, TooManyParts) {
  multipart_parser::limits lim;
  lim.max_parts = 3;
  std::string body;
  for (int i = 0; i < 3; ++i)
    body += "--b\r\n\r\nx\r\n";
  EXPECT_FALSE(parse_whole("b", body + "--b--", lim).finish_error);
  const auto out = parse_whole("b", body + "--b\r\n\r\nx\r\n--b--", lim);
  EXPECT_EQ(out.feed_error, multipart_errc::too_many_parts);
  EXPECT_EQ(out.parts.size(), 3u);
}

TEST(MultipartParser, GarbageIsMalformed) {
  EXPECT_EQ(parse_whole("b", "--bX\r\n\r\n\r\n--b--").feed_error, multipart_errc::malformed);
  EXPECT_EQ(parse_whole("b", "--b\rX").feed_error, multipart_errc::malformed);
  EXPECT_EQ(parse_whole("b", "--b -\r\n").feed_error, multipart_errc::malformed);
  EXPECT_EQ(parse_whole("b", "--b-x").feed_error, multipart_errc::malformed);
  EXPECT_EQ(parse_whole("b", "--b\r\nno colon here\r\n\r\nx\r\n--b--").feed_error,
            multipart_errc::malformed);
  EXPECT_EQ(parse_whole("b", "--b\r\n: empty name\r\n\r\nx\r\n--b--").feed_error,
            multipart_errc::malformed);
  EXPECT_EQ(parse_whole("b", "--b\r\nBad Name: v\r\n\r\nx\r\n--b--").feed_error,
            multipart_errc::malformed);
  EXPECT_EQ(parse_whole("b", "--b\r\n folded first\r\n\r\nx\r\n--b--").feed_error,
            multipart_errc::malformed);
  // The delimiter must not occur inside content (RFC 2046), so this is not data.
  EXPECT_EQ(parse_whole("b", "--b\r\n\r\nabc\r\n--bX\r\n--b--").feed_error,
            multipart_errc::malformed);
}

TEST(MultipartParser, HoldsBackOnlyPossibleDelimiterPrefix) {
  multipart_parser parser("bnd");
  recorder rec;
  ASSERT_FALSE(parser.feed("--bnd\r\n\r\nabc\r\n--bn", rec));
  ASSERT_EQ(rec.parts.size(), 1u);
  EXPECT_EQ(rec.parts[0].data, "abc");
  ASSERT_FALSE(parser.feed("x\r", rec));
  EXPECT_EQ(rec.parts[0].data, "abc\r\n--bnx");
  ASSERT_FALSE(parser.feed("\r", rec));  // "\r\r": only the last CR can start a delimiter
  EXPECT_EQ(rec.parts[0].data, "abc\r\n--bnx\r");
  ASSERT_FALSE(parser.feed("\n--bnd--", rec));
  EXPECT_EQ(rec.parts[0].data, "abc\r\n--bnx\r");
  EXPECT_TRUE(rec.parts[0].ended);
  EXPECT_FALSE(parser.finish());
}

TEST(MultipartParser, ErrorIsSticky) {
  multipart_parser parser("b");
  recorder rec;
  EXPECT_EQ(parser.feed("--bZ", rec), multipart_errc::malformed);
  EXPECT_EQ(parser.feed("\r\n\r\n--b--", rec), multipart_errc::malformed);
  EXPECT_EQ(parser.finish(), multipart_errc::malformed);
  EXPECT_FALSE(parser.done());
}

TEST(MultipartParser, InvalidBoundaryFailsEveryCall) {
  for (const std::string& b :
       {""s, std::string(71, 'a'), "a\"b"s, "ends with space "s, "a\r\nb"s}) {
    multipart_parser parser(b);
    recorder rec;
    EXPECT_EQ(parser.feed("--" + b + "--", rec), multipart_errc::bad_boundary) << b;
    EXPECT_EQ(parser.finish(), multipart_errc::bad_boundary) << b;
  }
  multipart_parser ok(std::string(70, 'a'));
  recorder rec;
  EXPECT_FALSE(ok.feed("--" + std::string(70, 'a') + "--", rec));
  EXPECT_FALSE(ok.finish());
}

TEST(MultipartParser, ErrorCategory) {
  const std::error_code ec = multipart_errc::header_too_large;
  EXPECT_STREQ(ec.category().name(), "multipart");
  EXPECT_EQ(&ec.category(), &multipart_category());
  EXPECT_FALSE(ec.message().empty());
  EXPECT_EQ(make_error_code(multipart_errc::malformed).value(),
            static_cast<int>(multipart_errc::malformed));
  EXPECT_FALSE(std::error_code(99, multipart_category()).message().empty());
}

TEST(MultipartParser, ContentDispositionParameters) {
  auto h = header_of("content-disposition: FORM-DATA; NAME=\"up\"; FileName=\"x.txt\"\r\n");
  EXPECT_EQ(h.name, "up");
  EXPECT_EQ(h.filename, "x.txt");

  h = header_of("Content-Disposition: form-data;name=plain;filename=a b.txt\r\n");
  EXPECT_EQ(h.name, "plain");
  EXPECT_EQ(h.filename, "a b.txt");

  h = header_of("Content-Disposition: form-data; name=\"a;b=c\"; filename=\"q\\\"uote.txt\"\r\n");
  EXPECT_EQ(h.name, "a;b=c");
  EXPECT_EQ(h.filename, "q\"uote.txt");

  h = header_of("Content-Disposition: form-data; name = \"sp\" ; filename=\"\"\r\n");
  EXPECT_EQ(h.name, "sp");
  EXPECT_EQ(h.filename, "");

  h = header_of(
      "Content-Disposition: form-data; broken; name=\"ok\"; =x; filename=\"unterminated\r\n");
  EXPECT_EQ(h.name, "ok");
  EXPECT_EQ(h.filename, "unterminated");

  h = header_of("Content-Type:   text/plain; charset=utf-8  \r\n");
  EXPECT_EQ(h.name, "");
  EXPECT_FALSE(h.filename.has_value());
  EXPECT_EQ(h.content_type, "text/plain; charset=utf-8");
}

TEST(MultipartParser, FilenameStarPreferred) {
  auto h = header_of(
      "Content-Disposition: form-data; name=\"f\"; filename=\"r_sum_.pdf\"; "
      "filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n");
  EXPECT_EQ(h.filename, "r\xC3\xA9sum\xC3\xA9.pdf");

  h = header_of(
      "Content-Disposition: form-data; filename*=utf-8'en'%E6%97%A5%E6%9C%AC.txt; "
      "filename=\"fallback.txt\"\r\n");
  EXPECT_EQ(h.filename, "\xE6\x97\xA5\xE6\x9C\xAC.txt");

  h = header_of("Content-Disposition: form-data; filename*=ISO-8859-1''caf%E9\r\n");
  EXPECT_EQ(h.filename, "caf\xC3\xA9");

  // Broken or unsupported filename* falls back to filename.
  for (const char* bad : {"UTF-8''bad%zz", "UTF-8''%C3", "KOI8-R''abc", "no-quotes", "UTF-8''%"}) {
    h = header_of("Content-Disposition: form-data; filename=\"fb.txt\"; filename*=" +
                  std::string(bad) + "\r\n");
    EXPECT_EQ(h.filename, "fb.txt") << bad;
  }
}

TEST(MultipartParser, FilenamePathIsStripped) {
  auto h = header_of("Content-Disposition: form-data; filename=\"C:\\Users\\me\\doc.txt\"\r\n");
  EXPECT_EQ(h.filename, "doc.txt");
  h = header_of("Content-Disposition: form-data; filename=\"/home/me/../x.tar.gz\"\r\n");
  EXPECT_EQ(h.filename, "x.tar.gz");
  h = header_of("Content-Disposition: form-data; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd\r\n");
  EXPECT_EQ(h.filename, "passwd");
  h = header_of("Content-Disposition: form-data; filename=\"dir/\"\r\n");
  EXPECT_EQ(h.filename, "");
}

TEST(MultipartParser, HeaderNamesCaseInsensitiveAndFolding) {
  const auto h = header_of(
      "CONTENT-TYPE: image/png\r\nX-Other: 1\r\ncOnTeNt-DiSpOsItIoN: form-data;\r\n"
      " name=\"folded\"\r\n");
  EXPECT_EQ(h.content_type, "image/png");
  EXPECT_EQ(h.name, "folded");
  // A folded line of whitespace alone adds nothing, and a value folded from an empty start has
  // no leading space (found by tests/fuzz/multipart_fuzz.cpp).
  EXPECT_EQ(header_of("Content-Type: image/png\r\n\t\r\n").content_type, "image/png");
  EXPECT_EQ(header_of("Content-Type:\r\n image/png\r\n").content_type, "image/png");
}

// A handler that checks content on the fly instead of storing 5 MiB.
class streaming_checker : public multipart_handler {
 public:
  explicit streaming_checker(const std::string& expected) : expected_(expected) {}
  void on_part_begin(const part_header&) override { ++parts; }
  void on_part_data(std::string_view data) override {
    if (expected_.compare(emitted, data.size(), data) != 0) mismatch = true;
    emitted += data.size();
    ++calls;
  }
  void on_part_end() override { ++ends; }

  std::size_t emitted = 0;
  std::size_t calls = 0;
  int parts = 0;
  int ends = 0;
  bool mismatch = false;

 private:
  const std::string& expected_;
};

TEST(MultipartParser, LargePartIsStreamedNotBuffered) {
  std::string data(std::size_t{5} * 1024 * 1024, '\0');
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& c : data)
    c = static_cast<char>(byte(rng));
  // Sprinkle near-delimiters so the parser has to hold bytes back now and then.
  for (std::size_t i = 1000; i + 64 < data.size(); i += 65521) {
    const std::string near =
        "\r\n--" + web_boundary().substr(0, (i / 65521) % web_boundary().size()) + "!";
    data.replace(i, near.size(), near);
  }
  const std::string head = "--" + web_boundary() +
                           "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big\"\r\n"
                           "\r\n";
  const std::string body = head + data + "\r\n--" + web_boundary() + "--\r\n";
  const std::size_t max_held = web_boundary().size() + 4;  // "\r\n--" + boundary

  multipart_parser parser(web_boundary());
  streaming_checker checker(data);
  constexpr std::size_t chunk = std::size_t{64} * 1024;
  for (std::size_t off = 0; off < body.size(); off += chunk) {
    ASSERT_FALSE(parser.feed(std::string_view(body).substr(off, chunk), checker));
    const std::size_t fed = std::min(off + chunk, body.size());
    if (fed >= head.size() && checker.ends == 0) {
      ASSERT_GE(checker.emitted + max_held, fed - head.size()) << "offset " << off;
    }
  }
  EXPECT_FALSE(parser.finish());
  EXPECT_TRUE(parser.done());
  EXPECT_EQ(checker.parts, 1);
  EXPECT_EQ(checker.ends, 1);
  EXPECT_EQ(checker.emitted, data.size());
  EXPECT_FALSE(checker.mismatch);
}

TEST(MultipartParser, RandomInputNeverCrashes) {
  std::mt19937 rng(2024);
  const std::string b = "xyz";
  const std::string alphabet = "-\r\n xyzab:;=\"\\\0\xff"s;
  const std::vector<std::string> tokens = {"--xyz",
                                           "\r\n",
                                           "\r\n--xyz",
                                           "--",
                                           "Content-Disposition: form-data; name=\"a\"",
                                           "\r\n\r\n",
                                           "--xyz--",
                                           " ",
                                           "filename*=UTF-8''%41"};
  multipart_parser::limits lim;
  lim.max_header_bytes = 64;
  lim.max_parts = 8;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string input;
    const std::size_t pieces = rng() % 40;
    for (std::size_t i = 0; i < pieces; ++i) {
      if (rng() % 2 == 0) {
        input += tokens[rng() % tokens.size()];
      } else {
        input.push_back(alphabet[rng() % alphabet.size()]);
      }
    }
    multipart_parser parser(b, lim);
    recorder rec;
    std::size_t off = 0;
    std::error_code ec;
    while (off < input.size() && !ec) {
      const std::size_t n = 1 + rng() % 7;
      ec = parser.feed(std::string_view(input).substr(off, n), rec);
      off += n;
    }
    const std::error_code fin = parser.finish();
    ASSERT_FALSE(rec.protocol_error) << iter;
    ASSERT_LE(rec.emitted, input.size());
    ASSERT_LE(rec.parts.size(), lim.max_parts);
    if (!fin) {
      ASSERT_TRUE(parser.done());
      for (const auto& p : rec.parts)
        ASSERT_TRUE(p.ended);
    }
  }
}

TEST(MultipartBoundary, ExtractsBoundary) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=----abc"), "----abc");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;BOUNDARY=x"), "x");
  EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8; boundary=\"a b:c\""), "a b:c");
  EXPECT_EQ(multipart_boundary("multipart/form-data ; boundary=\"q\" ; x=y"), "q");
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=" + std::string(70, '7')),
            std::string(70, '7'));
}

TEST(MultipartBoundary, RejectsInvalid) {
  EXPECT_EQ(multipart_boundary(""), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data"), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary="), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"\""), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/mixed; boundary=abc"), std::nullopt);
  EXPECT_EQ(multipart_boundary("text/plain; boundary=abc"), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=" + std::string(71, '7')),
            std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"trailing \""), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=a{b"), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"unterminated"), std::nullopt);
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundaryx=abc"), std::nullopt);
}

TEST(MultipartBoundary, RandomInputNeverCrashes) {
  std::mt19937 rng(99);
  const std::string alphabet = "multipart/form-data;boundary=\" \\\t\0\xff"s;
  for (int iter = 0; iter < 5000; ++iter) {
    std::string s = iter % 2 == 0 ? "multipart/form-data; " : "";
    const std::size_t len = rng() % 60;
    for (std::size_t i = 0; i < len; ++i)
      s.push_back(alphabet[rng() % alphabet.size()]);
    const auto b = multipart_boundary(s);
    if (b) {
      ASSERT_GE(b->size(), 1u);
      ASSERT_LE(b->size(), 70u);
    }
  }
}

}  // namespace
}  // namespace sharebox::http
