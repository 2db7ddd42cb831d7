// Hostile and broken input over raw sockets: every byte is sent exactly as written here, with no
// HTTP or WebSocket library to fix it up. Each case checks three things:
//   (a) the documented answer (a problem with its code) or a clean close: FIN or RST, with
//       nothing before it but whole HTTP responses;
//   (b) the server goes on serving others, during slow attacks as well as after;
//   (c) nothing is stored: alice's listing, the blobs, staged uploads and upload rows are as they
//       were, and no temp file is left in the data directory.
// Size limits, plain malformed request lines and simple timeouts are in limits_test.cpp; this
// suite covers what an attacker would try next. Short timeouts keep it fast.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/fixture.hpp"
#include "support/raw_socket.hpp"
#include "support/upload_helpers.hpp"

namespace sharebox::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using namespace std::string_literals;
using steady = std::chrono::steady_clock;

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = 1024 * kib;
constexpr std::uint64_t max_file = 32 * mib;
constexpr std::uint64_t intake_max_file = 64 * kib;
constexpr std::uint64_t chunk_size = 64 * kib;  // the smallest the chunked API allows
// The server's timeouts in this suite, and how long a test waits for something that must happen
// at once (generous: the machine may be loaded).
constexpr std::chrono::milliseconds header_timeout = 1s;
constexpr std::chrono::milliseconds read_timeout = 1s;
constexpr std::chrono::milliseconds write_timeout = 1s;
constexpr std::chrono::milliseconds idle_timeout = 2s;
constexpr auto prompt = 5s;

std::string seconds(std::chrono::milliseconds t) {
  return std::to_string(static_cast<double>(t.count()) / 1000);
}

long ms_since(steady::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count());
}

// Every regular file under `dir`, as paths relative to it, sorted.
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) out.push_back(fs::relative(it->path(), dir, fec).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// What a raw exchange came back with.
struct outcome {
  split_responses split;
  peer_end end = peer_end::open;
  std::string raw;
  std::string describe() const {
    std::string out = std::string(to_string(end)) + " after " + std::to_string(raw.size()) +
                      " bytes:\n" + raw.substr(0, 600);
    if (raw.size() > 600) out += "...";
    return out;
  }
};

// The connection ended and nothing but whole HTTP responses came before the end.
::testing::AssertionResult closed_cleanly(const outcome& o) {
  if (o.end == peer_end::open) {
    return ::testing::AssertionFailure() << "the connection is still open: " << o.describe();
  }
  if (!o.split.rest.empty()) {
    return ::testing::AssertionFailure() << "a partial or garbage response: " << o.describe();
  }
  return ::testing::AssertionSuccess();
}

// One problem answer (`status`, `code`) announcing the close, then the close.
::testing::AssertionResult refused(const outcome& o, unsigned status, std::string_view code) {
  if (auto clean = closed_cleanly(o); !clean) return clean;
  if (o.split.responses.size() != 1) {
    return ::testing::AssertionFailure()
           << o.split.responses.size() << " responses instead of one: " << o.describe();
  }
  const response& r = o.split.responses.front();
  if (auto p = is_problem(r, status, code); !p) return p;
  if (!iequals(r.header("Connection"), "close")) {
    return ::testing::AssertionFailure() << "no Connection: close on a final answer\n"
                                         << r.describe();
  }
  return ::testing::AssertionSuccess();
}

class BadInput : public server_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--max-file-size",
            std::to_string(max_file),
            "--header-timeout",
            seconds(header_timeout),
            "--read-timeout",
            seconds(read_timeout),
            "--write-timeout",
            seconds(write_timeout),
            "--idle-timeout",
            seconds(idle_timeout),
            "--intake-max-file-size",
            std::to_string(intake_max_file),
            "--chunk-size",
            std::to_string(chunk_size),
            "--events",
            "off"};
  }

  void SetUp() override {
    server_test::SetUp();
    key_ = add_user("alice");
    alice_.emplace(port(), key_);
    canary_ = created_id(alice().upload_raw("canary.txt", "canary"));
    before_ = snapshot();
  }

  api_client& alice() { return *alice_; }
  std::string auth_line() const { return "Authorization: Bearer " + key_ + "\r\n"; }
  std::string host_line() const { return "Host: 127.0.0.1:" + std::to_string(port()) + "\r\n"; }
  // "METHOD target HTTP/1.1", Host and alice's credentials; the caller adds the rest.
  std::string head(std::string_view method, std::string_view target) const {
    return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n" + host_line() +
           auth_line();
  }

  // Sends `bytes` on a new connection and reads until the server ends it (or `timeout`).
  outcome exchange(std::string_view bytes, std::chrono::milliseconds timeout = prompt) {
    raw_socket s(port());
    s.send(bytes);  // the server may stop reading early: what it answers is what counts
    return finish(s, timeout);
  }
  static outcome finish(raw_socket& s, std::chrono::milliseconds timeout = prompt) {
    outcome o;
    o.end = s.read_until_close(timeout);
    o.raw = s.received();
    o.split = parse_responses(o.raw);
    return o;
  }

  // ---- what is stored ----

  struct stored {
    std::vector<std::string> listing;  // alice's files: id, name, size, version
    std::vector<std::string> blobs;
    std::vector<std::string> staged;
    std::vector<std::string> upload_rows;
    std::vector<std::string> temp;
    bool operator==(const stored&) const = default;
    std::string describe() const {
      std::string out;
      const auto list = [&](const char* what, const std::vector<std::string>& v) {
        out += std::string(what) + ":";
        for (const auto& s : v)
          out += " " + s;
        out += "\n";
      };
      list("files", listing);
      list("blobs", blobs);
      list("staged", staged);
      list("upload rows", upload_rows);
      list("temp", temp);
      return out;
    }
  };

  stored snapshot() {
    stored s;
    api_client c(port(), key_);
    const response r = c.list("limit=1000");
    if (r.status != 200) throw std::runtime_error("GET /files failed\n" + r.describe());
    for (const auto& f : json_body(r)) {
      s.listing.push_back(f["id"].get<std::string>() + " " + f["name"].get<std::string>() + " " +
                          std::to_string(f["size"].get<std::uint64_t>()) + " v" +
                          std::to_string(f["version"].get<long>()));
    }
    const fs::path data = server().data_dir();
    s.blobs = files_under(data / "blobs");
    s.staged = files_in(data / "uploads");
    s.upload_rows = query_column(data / "sharebox.db", "SELECT id FROM uploads ORDER BY id");
    s.temp = files_in(data / "tmp");
    return s;
  }

  // (c): nothing stored since `before` (temp files of an aborted request go when its handler
  // unwinds, which may be a moment after the connection closed).
  void expect_nothing_stored(const stored& before) {
    stored now;
    eventually([&] { return (now = snapshot()) == before; }, prompt);
    EXPECT_TRUE(now == before) << "stored now:\n"
                               << now.describe() << "before:\n"
                               << before.describe();
  }
  void expect_nothing_stored() { expect_nothing_stored(before_); }

  // (b): a new client is served, anonymous and authenticated.
  void expect_serving() {
    ASSERT_TRUE(server().running()) << "the server died";
    const auto start = steady::now();
    EXPECT_TRUE(has_status(request(port(), "GET", "/health"), 200));
    api_client c(port(), key_);
    const response got = c.get("/files/" + canary_);
    EXPECT_TRUE(has_status(got, 200));
    EXPECT_EQ(got.body, "canary");
    EXPECT_LT(ms_since(start), 3000) << "a normal client waited";
  }

  std::string key_;
  std::optional<api_client> alice_;
  std::string canary_;  // alice's file "canary.txt": hidden requests try to delete it
  stored before_;
};

// =============================================================================================
// Request lines and header blocks

TEST_F(BadInput, OversizedRequestLineIs431EvenBeforeItEnds) {
  const std::string long_path = "/files/" + std::string(20 * kib, 'a');
  EXPECT_TRUE(refused(exchange("GET " + long_path + " HTTP/1.1\r\n" + host_line() + "\r\n"), 431,
                      "headers_too_large"));
  EXPECT_TRUE(refused(exchange("GET /files?limit=" + std::string(20 * kib, '1') + " HTTP/1.1\r\n" +
                               host_line() + "\r\n"),
                      431, "headers_too_large"));
  // A request line that never ends is refused once it passes the limit, not at a timeout.
  raw_socket s(port());
  const auto start = steady::now();
  s.send("GET /" + std::string(20 * kib, 'a'));
  const auto o = finish(s);
  EXPECT_TRUE(refused(o, 431, "headers_too_large"));
  EXPECT_LT(ms_since(start), 900) << "answered only at the header timeout";
  expect_serving();
  expect_nothing_stored();
}

TEST_F(BadInput, MalformedRequestLinesAre400) {
  const std::string rest = " HTTP/1.1\r\n" + host_line() + "\r\n";
  const std::vector<std::string> lines = {
      "G(T /health" + rest,                                    // not a method token
      "GET /health\r\n\r\n",                                   // HTTP/0.9: no version
      "GET /health HTTP/2.0\r\n" + host_line() + "\r\n",       // not HTTP/1.x
      "GET /health HTTP/0.9\r\n" + host_line() + "\r\n",       // not HTTP/1.x
      "GET /health HTTP/1.1.1\r\n" + host_line() + "\r\n",     // not a version
      "GET /health http/1.1\r\n" + host_line() + "\r\n",       // the name is case-sensitive
      "GET /health HTTP/1\r\n" + host_line() + "\r\n",         // no minor version
      "GET  /health" + rest,                                   // two spaces
      " GET /health" + rest,                                   // leading space
      "GET /he alth" + rest,                                   // space in the target
      "GET /he\tlth" + rest,                                   // tab in the target
      "GET /health\x7f" + rest,                                // DEL
      "GET /hea\x1blth" + rest,                                // ESC
      "GET /health\0"s + rest,                                 // NUL
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s + rest,  // a TLS hello on the plain port
  };
  for (const auto& raw : lines) {
    SCOPED_TRACE(::testing::PrintToString(raw));
    EXPECT_TRUE(refused(exchange(raw), 400, "bad_request"));
  }
  // Well-framed requests whose target is not a path: refused the same way, though the
  // connection could go on (it does when the client wants it to).
  for (const std::string target : {"health", "*", "/files/%zz", "/files/%2"}) {
    SCOPED_TRACE(target);
    EXPECT_TRUE(refused(
        exchange("GET " + target + " HTTP/1.1\r\n" + host_line() + "Connection: close\r\n\r\n"),
        400, "bad_request"));
  }
  // A well-formed request line with an unknown method is a request like any other.
  const auto brew =
      exchange("BREW /health HTTP/1.1\r\n" + host_line() + "Connection: close\r\n\r\n");
  ASSERT_TRUE(closed_cleanly(brew));
  ASSERT_EQ(brew.split.responses.size(), 1u) << brew.describe();
  EXPECT_TRUE(is_problem(brew.split.responses[0], 405, "method_not_allowed"));
  expect_serving();
  expect_nothing_stored();
}

TEST_F(BadInput, LineEndingsOtherThanCrlfAre400) {
  const std::vector<std::string> requests = {
      "GET /health HTTP/1.1\n" + host_line() + "\n",                // bare LF everywhere
      "GET /health HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n",            // bare LF in a field
      "GET /health HTTP/1.1\r\nHost: x\r\n\n\n",                    // LF LF at the end
      "GET /health HTTP/1.1\rHost: x\r\n\r\n",                      // bare CR
      "GET /health HTTP/1.1\r\nHost: x\r\nX-A: b\rX-B: c\r\n\r\n",  // CR inside a value
      "GET /health HTTP/1.1\r\r\n" + host_line() + "\r\n",          // CR CR LF
  };
  for (const auto& raw : requests) {
    SCOPED_TRACE(::testing::PrintToString(raw));
    EXPECT_TRUE(refused(exchange(raw), 400, "bad_request"));
  }
  expect_serving();
}

TEST_F(BadInput, MalformedHeaderFieldsAre400) {
  // Each field comes right after the request line (where a folded line has nothing to
  // continue), then Host.
  const std::string start = "GET /health HTTP/1.1\r\n";
  const std::vector<std::string> fields = {
      "X Bad: v\r\n",          // space in the name
      "Host : x\r\n",          // space before the colon (RFC 9112 section 5.1: 400)
      "X-Bad\t: v\r\n",        // tab before the colon
      ": no-name\r\n",         // empty name
      "NoColonHere\r\n",       // no colon
      "X-\x01: v\r\n",         // control character in the name
      "X-\xc3\xa9: v\r\n",     // non-ASCII name
      "X-A: v\0w\r\n"s,        // NUL in the value
      "X-A: v\x7fw\r\n",       // DEL in the value
      "X-A: v\x01w\r\n",       // control character in the value
      " X-Leading: fold\r\n",  // a continuation line with nothing to continue
  };
  for (const auto& f : fields) {
    SCOPED_TRACE(::testing::PrintToString(f));
    EXPECT_TRUE(refused(exchange(start + f + host_line() + "\r\n"), 400, "bad_request"));
  }
  expect_serving();
}

// Obsolete line folding (RFC 9112 section 5.2) is replaced by a space, as the RFC allows: a
// continuation line is part of the previous field's value, never a field of its own.
TEST_F(BadInput, ObsFoldedLinesArePartOfTheValueAbove) {
  // A folded "Authorization" is the value of X-Note, not a credential.
  const auto folded_auth =
      exchange("GET /files HTTP/1.1\r\n" + host_line() + "X-Note: a\r\n Authorization: Bearer " +
               key_ + "\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(closed_cleanly(folded_auth));
  ASSERT_EQ(folded_auth.split.responses.size(), 1u) << folded_auth.describe();
  EXPECT_TRUE(is_problem(folded_auth.split.responses[0], 401, "unauthenticated"));

  // A harmless folded value is unfolded and served.
  const auto harmless = exchange("GET /health HTTP/1.1\r\n" + host_line() +
                                 "X-Note: one\r\n\t two\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(closed_cleanly(harmless));
  ASSERT_EQ(harmless.split.responses.size(), 1u) << harmless.describe();
  EXPECT_EQ(harmless.split.responses[0].status, 200u);

  // Folding cannot make a framing header mean something else: "5\r\n 6" is "5 6", not a length.
  EXPECT_TRUE(refused(
      exchange(head("POST", "/files?name=fold.txt") + "Content-Length: 5\r\n 6\r\n\r\nhello"), 400,
      "bad_request"));
  // A folded Transfer-Encoding is still one, and conflicts with Content-Length.
  EXPECT_TRUE(refused(exchange(head("POST", "/files?name=fold.txt") +
                               "Content-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
                               "5\r\nhello\r\n0\r\n\r\n"),
                      400, "bad_request"));
  // A folded value longer than the parser's unfolding buffer counts as too large a header.
  std::string long_fold = "X-Long: start\r\n";
  for (int i = 0; i < 100; ++i)
    long_fold += " " + std::string(60, 'f') + "\r\n";
  EXPECT_TRUE(refused(exchange("GET /health HTTP/1.1\r\n" + host_line() + long_fold + "\r\n"), 431,
                      "headers_too_large"));
  expect_serving();
  expect_nothing_stored();
}

TEST_F(BadInput, HeaderFloodsAreBoundedByTheHeaderLimit) {
  // Thousands of tiny fields add up to the limit like one big one, and are refused at once.
  std::string flood;
  for (int i = 0; i < 5000; ++i)
    flood += "X:" + std::to_string(i % 10) + "\r\n";
  auto start = steady::now();
  EXPECT_TRUE(refused(exchange("GET /health HTTP/1.1\r\n" + host_line() + flood + "\r\n"), 431,
                      "headers_too_large"));
  EXPECT_LT(ms_since(start), 2000);

  // Under the limit, 2,500 fields (many of one name) cost nothing noticeable.
  std::string many;
  for (int i = 0; i < 2500; ++i)
    many += "X:1\r\n";
  start = steady::now();
  const auto ok = exchange("GET /files HTTP/1.1\r\n" + host_line() + auth_line() + many +
                           "Connection: close\r\n\r\n");
  ASSERT_TRUE(closed_cleanly(ok));
  ASSERT_EQ(ok.split.responses.size(), 1u) << ok.describe();
  EXPECT_EQ(ok.split.responses[0].status, 200u);
  EXPECT_LT(ms_since(start), 2000);

  // Five hundred copies of the same Content-Length are one length (RFC 9110 section 8.6).
  std::string lengths;
  for (int i = 0; i < 500; ++i)
    lengths += "Content-Length: 0\r\n";
  const auto same =
      exchange("GET /health HTTP/1.1\r\n" + host_line() + lengths + "Connection: close\r\n\r\n");
  ASSERT_TRUE(closed_cleanly(same));
  ASSERT_EQ(same.split.responses.size(), 1u) << same.describe();
  EXPECT_EQ(same.split.responses[0].status, 200u);

  // Floods on 16 connections at once, never finished: others are served meanwhile.
  std::vector<std::unique_ptr<raw_socket>> floods;
  for (int c = 0; c < 16; ++c) {
    floods.push_back(std::make_unique<raw_socket>(port()));
    floods.back()->send("GET /health HTTP/1.1\r\n" + host_line() + many);
  }
  expect_serving();
  for (auto& s : floods)
    s->send(many);  // past the limit now
  for (auto& s : floods) {
    const auto o = finish(*s);
    EXPECT_TRUE(refused(o, 431, "headers_too_large"));
  }
  expect_serving();
  expect_nothing_stored();
}

// =============================================================================================
// Message framing: Content-Length and Transfer-Encoding

TEST_F(BadInput, ContentLengthsThatDisagreeOrAreNotNumbersAre400) {
  const std::vector<std::string> lengths = {
      "Content-Length: 5\r\nContent-Length: 6\r\n",  // two different
      "Content-Length: 1, 2\r\n",                    // a list of different values
      "Content-Length: 5, 6\r\n",
      "Content-Length: 5,\r\n",   // an empty list member
      "Content-Length: -5\r\n",   // negative
      "Content-Length: +5\r\n",   // signed
      "Content-Length: 0x5\r\n",  // hex
      "Content-Length: 5.0\r\n",
      "Content-Length: 5 5\r\n",
      "Content-Length: five\r\n",
      "Content-Length: \r\n",                         // empty
      "Content-Length: 99999999999999999999999\r\n",  // over 64 bits
  };
  for (const auto& cl : lengths) {
    SCOPED_TRACE(cl);
    EXPECT_TRUE(refused(exchange(head("POST", "/files?name=cl.txt") + cl + "\r\nhello"), 400,
                        "bad_request"));
  }
  // The largest 64-bit length parses, and is simply too large.
  EXPECT_TRUE(refused(exchange(head("POST", "/files?name=cl.txt") +
                               "Content-Length: 18446744073709551615\r\n\r\nhello"),
                      413, "file_too_large"));
  expect_serving();
  expect_nothing_stored();
}

// RFC 9112 section 6.3: a request whose Transfer-Encoding does not end in chunked has no
// reliable length, and Transfer-Encoding with Content-Length is how smuggling starts. sharebox
// decodes no transfer coding but chunked, so anything else is refused, with the connection.
TEST_F(BadInput, TransferEncodingsOtherThanAChunkedBodyAre400) {
  // Each body hides a request that would delete the canary if it were ever parsed as one.
  const std::string hidden =
      "DELETE /files/" + canary_ + " HTTP/1.1\r\n" + host_line() + auth_line() + "\r\n";
  const std::string chunked_body = "5\r\nhello\r\n0\r\n\r\n";
  struct variant {
    std::string fields;
    std::string body;
  };
  const std::vector<variant> variants = {
      {"Transfer-Encoding: gzip\r\n", hidden},
      {"Transfer-Encoding: identity\r\n", hidden},
      {"Transfer-Encoding: chunked, identity\r\n", hidden},
      {"Transfer-Encoding: gzip, chunked\r\n", chunked_body + hidden},
      {"Transfer-Encoding: chunked, chunked\r\n", chunked_body + hidden},
      {"Transfer-Encoding: xchunked\r\n", hidden},
      {"Transfer-Encoding: chunked;q=1\r\n", chunked_body + hidden},
      {"Transfer-Encoding: \"chunked\"\r\n", chunked_body + hidden},
      {"Transfer-Encoding: \r\n", hidden},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunked_body + hidden},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", hidden},
      {"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n", chunked_body + hidden},
      {"Transfer-Encoding: gzip\r\nContent-Length: " + std::to_string(hidden.size()) + "\r\n",
       hidden},
      {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", chunked_body + hidden},
      {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", chunked_body + hidden},
      {"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", chunked_body + hidden},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.fields);
    EXPECT_TRUE(refused(exchange(head("POST", "/files?name=te.txt") + v.fields + "\r\n" + v.body),
                        400, "bad_request"));
  }
  // HTTP/1.0 has no chunked coding (RFC 9112 section 6.1).
  EXPECT_TRUE(refused(exchange("POST /files?name=te.txt HTTP/1.0\r\n" + host_line() + auth_line() +
                               "Transfer-Encoding: chunked\r\n\r\n" + chunked_body + hidden),
                      400, "bad_request"));
  // A GET is no exception: its body would be skipped by its length, which it does not have.
  EXPECT_TRUE(refused(exchange(head("GET", "/health") + "Transfer-Encoding: gzip\r\n\r\n" + hidden),
                      400, "bad_request"));
  expect_serving();
  expect_nothing_stored();

  // Spelling that means chunked all the same: case and surrounding whitespace do not matter.
  for (const std::string te : {"ChUnKeD", "chunked ", "\tchunked\t"}) {
    SCOPED_TRACE(te);
    const auto o = exchange(head("POST", "/files?name=te.txt") + "Transfer-Encoding: " + te +
                            "\r\nConnection: close\r\n\r\n" + chunked_body);
    ASSERT_TRUE(closed_cleanly(o));
    ASSERT_EQ(o.split.responses.size(), 1u) << o.describe();
    ASSERT_TRUE(has_status(o.split.responses[0], 201));
    EXPECT_EQ(json_body(o.split.responses[0])["size"], 5);
  }
}

// Request smuggling: bytes one reading of the framing takes for a body and another for a second
// request. The hidden requests would delete the canary or create a file; neither may happen.
TEST_F(BadInput, SmuggledRequestsAreNeverExecuted) {
  const std::string hidden_delete =
      "DELETE /files/" + canary_ + " HTTP/1.1\r\n" + host_line() + auth_line() + "\r\n";
  const std::string hidden_post = "POST /files?name=smuggled.txt HTTP/1.1\r\n" + host_line() +
                                  auth_line() + "Content-Length: 8\r\n\r\nsmuggled";
  for (const auto& hidden : {hidden_delete, hidden_post}) {
    SCOPED_TRACE(hidden.substr(0, hidden.find(' ')));
    // CL.TE: by Content-Length the hidden request is body; by chunked it follows the body.
    const std::string cl_te_body = "0\r\n\r\n" + hidden;
    EXPECT_TRUE(refused(exchange(head("POST", "/files?name=x.txt") +
                                 "Content-Length: " + std::to_string(cl_te_body.size()) +
                                 "\r\nTransfer-Encoding: chunked\r\n\r\n" + cl_te_body),
                        400, "bad_request"));
    // TE.CL: by chunked the hidden request is a chunk; by Content-Length it follows the body.
    std::ostringstream size;
    size << std::hex << hidden.size();
    EXPECT_TRUE(refused(exchange(head("POST", "/files?name=x.txt") +
                                 "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" +
                                 size.str() + "\r\n" + hidden + "\r\n0\r\n\r\n"),
                        400, "bad_request"));
    // TE.TE: an obfuscated coding one reader ignores and another honours.
    for (const std::string te :
         {"Transfer-Encoding: xchunked\r\n", "Transfer-Encoding : chunked\r\n",
          "Transfer-Encoding: chunked\r\nTransfer-encoding: x\r\n",
          "Transfer-Encoding:\x0b"
          "chunked\r\n"}) {
      SCOPED_TRACE(te);
      EXPECT_TRUE(refused(exchange(head("POST", "/files?name=x.txt") + te + "Content-Length: " +
                                   std::to_string(cl_te_body.size()) + "\r\n\r\n" + cl_te_body),
                          400, "bad_request"));
    }
  }
  expect_nothing_stored();

  // A body with a Content-Length is a body, whatever it looks like: a GET's is skipped unread,
  // and the connection goes on with the next real request.
  raw_socket s(port());
  ASSERT_TRUE(s.send(head("GET", "/health") +
                     "Content-Length: " + std::to_string(hidden_delete.size()) + "\r\n\r\n" +
                     hidden_delete + head("GET", "/files/" + canary_) + "\r\n"));
  ASSERT_TRUE(s.read_until("canary", prompt)) << s.received();
  const auto split = parse_responses(s.received());
  ASSERT_EQ(split.responses.size(), 2u) << s.received();
  EXPECT_EQ(split.responses[0].status, 200u);
  EXPECT_TRUE(has_status(split.responses[1], 200));
  expect_nothing_stored();
  expect_serving();
}

// =============================================================================================
// Chunked bodies

TEST_F(BadInput, InvalidChunkedBodiesAreRefusedAndStoreNothing) {
  const std::string start =
      head("POST", "/files?name=chunky.txt") + "Transfer-Encoding: chunked\r\n\r\n";
  const std::vector<std::string> bodies = {
      "zz\r\nhello\r\n0\r\n\r\n",                  // not hex
      "-5\r\nhello\r\n0\r\n\r\n",                  // negative
      "0x5\r\nhello\r\n0\r\n\r\n",                 // a prefix
      "\r\nhello\r\n0\r\n\r\n",                    // no size
      "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n",  // over 64 bits
      "5\r\nhelloXX0\r\n\r\n",                     // no CRLF after the data
      "5\r\nhello\n0\r\n\r\n",                     // LF only after the data
      "3\r\nhello\r\n0\r\n\r\n",                   // more data than the size
      "5;\x01\r\nhello\r\n0\r\n\r\n",              // a control character in an extension
      "5;=x\r\nhello\r\n0\r\n\r\n",                // an extension without a name
      "5\r\nhello\r\n0\r\nX-Trailer\r\n\r\n",      // a malformed trailer
  };
  // The client is still there to read it: each gets 400 and the close.
  for (const auto& body : bodies) {
    SCOPED_TRACE(::testing::PrintToString(body));
    raw_socket s(port());
    s.send(start + body);
    s.shutdown_write();
    EXPECT_TRUE(refused(finish(s), 400, "bad_request"));
  }
  // A body that is merely unfinished when the client stops sending is an interrupted upload:
  // closed without a word.
  for (const std::string body : {"5\r\nhel", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\nX-T: 1\r\n"}) {
    SCOPED_TRACE(::testing::PrintToString(body));
    raw_socket s(port());
    s.send(start + body);
    s.shutdown_write();
    const auto o = finish(s);
    EXPECT_TRUE(closed_cleanly(o));
    EXPECT_TRUE(o.split.responses.empty()) << o.describe();
  }
  expect_serving();
  expect_nothing_stored();

  // Well-formed extensions are allowed, and ignored.
  const auto ok = exchange(start.substr(0, start.size() - 2) + "Connection: close\r\n\r\n" +
                           "2;name=value;quoted=\"a b\"\r\nhe\r\n3;x\r\nllo\r\n0;end\r\n\r\n");
  ASSERT_TRUE(closed_cleanly(ok));
  ASSERT_EQ(ok.split.responses.size(), 1u) << ok.describe();
  ASSERT_TRUE(has_status(ok.split.responses[0], 201));
  EXPECT_EQ(json_body(ok.split.responses[0])["sha256"], sha256_hex("hello"));
}

// A chunk header or trailer section the client never ends must not grow the server's memory:
// the server stops reading at a bound (its header limit plus a read buffer), answers 400 and
// closes, without having stored anything.
TEST_F(BadInput, EndlessChunkExtensionsAndTrailersAreCutOff) {
  const std::string start =
      head("POST", "/files?name=endless.txt") + "Transfer-Encoding: chunked\r\n\r\n";
  struct variant {
    std::string what;
    std::string prefix;
    std::string unit;  // repeated without end
  };
  const std::vector<variant> variants = {
      {"extensions", "5", ";a=b"},
      {"one long extension", "5;x=", "y"},
      {"trailers", "5\r\nhello\r\n0\r\n", "X-T: 1\r\n"},
  };
  const long rss_before = server().rss_kib();
  for (const auto& v : variants) {
    SCOPED_TRACE(v.what);
    raw_socket s(port());
    ASSERT_TRUE(s.send(start + v.prefix));
    std::string block;
    while (block.size() < 64 * kib)
      block += v.unit;
    // The server may discard a little more before it closes (a lingering close, at most
    // 16 MiB), but it must close.
    std::uint64_t sent = 0;
    while (sent < 64 * mib && s.send(block, 2s))
      sent += block.size();
    EXPECT_LT(sent, 32 * mib) << "the server read " << sent << " bytes of one chunk header";
    EXPECT_TRUE(refused(finish(s), 400, "bad_request"));
  }
  const long rss_after = server().rss_kib();
  if (!sanitized_server()) {
    EXPECT_LT(rss_after - rss_before, 8 * 1024)
        << "RSS grew from " << rss_before << " to " << rss_after << " KiB";
  }
  expect_serving();
  expect_nothing_stored();
}

// =============================================================================================
// Slow clients

// Slowloris: header bytes trickled slower than the header timeout allows. Each connection is
// closed once its header timeout passes, with nothing sent, and a normal client is served
// promptly all the while.
TEST_F(BadInput, SlowlorisHeadersAreCutOffWhileOthersAreServed) {
  constexpr int attackers = 12;
  const std::string header = "GET /files HTTP/1.1\r\n" + host_line() + auth_line() +
                             "X-Slow: " + std::string(200, 's') + "\r\n\r\n";
  std::vector<std::unique_ptr<raw_socket>> socks;
  for (int i = 0; i < attackers; ++i)
    socks.push_back(std::make_unique<raw_socket>(port()));
  const auto start = steady::now();
  std::vector<long> closed_after(attackers, -1);
  std::size_t at = 0;
  int served_meanwhile = 0;
  // One byte per connection every 100 ms, for up to three header timeouts.
  while (ms_since(start) < 3000 && at < header.size()) {
    for (int i = 0; i < attackers; ++i) {
      auto& s = *socks[static_cast<std::size_t>(i)];
      if (closed_after[static_cast<std::size_t>(i)] >= 0) continue;
      s.read_some(0ms);
      if (s.end() != peer_end::open || !s.send(header.substr(at, 1))) {
        closed_after[static_cast<std::size_t>(i)] = ms_since(start);
      }
    }
    ++at;
    if (at % 5 == 0) {
      const auto t = steady::now();
      api_client c(port(), key_);
      EXPECT_TRUE(has_status(c.get("/files/" + canary_), 200));
      EXPECT_LT(ms_since(t), 2000) << "a normal client waited during the attack";
      ++served_meanwhile;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GE(served_meanwhile, 4);
  for (int i = 0; i < attackers; ++i) {
    SCOPED_TRACE("attacker " + std::to_string(i));
    auto& s = *socks[static_cast<std::size_t>(i)];
    const auto o = finish(s, 3s);
    EXPECT_TRUE(closed_cleanly(o));
    EXPECT_EQ(o.raw, "") << "the server answered a request it never got whole";
    const long t = closed_after[static_cast<std::size_t>(i)];
    if (t >= 0) {
      EXPECT_GE(t, header_timeout.count() - 200) << "closed before its header timeout";
      EXPECT_LE(t, 2900) << "closed long after its header timeout";
    }
  }
  expect_serving();
  expect_nothing_stored();
}

// A body trickled slower than the header timeout but never stalling for the read timeout is
// served; while it arrives, others are served and the half-received file is invisible.
TEST_F(BadInput, SlowButSteadyChunkedBodyIsServedAndInvisibleUntilDone) {
  raw_socket s(port());
  ASSERT_TRUE(s.send(head("POST", "/files?name=slow.txt") +
                     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
  const std::string content = "slow and steady";
  for (std::size_t i = 0; i < content.size(); ++i) {
    ASSERT_TRUE(s.send("1\r\n" + content.substr(i, 1) + "\r\n"));
    std::this_thread::sleep_for(150ms);  // 2.2 s in all, never 1 s without a byte
    if (i % 4 == 0) {
      expect_serving();
      EXPECT_EQ(snapshot().listing, before_.listing) << "a half-received file is listed";
    }
  }
  ASSERT_TRUE(s.send("0\r\n\r\n"));
  const auto o = finish(s);
  ASSERT_TRUE(closed_cleanly(o));
  ASSERT_EQ(o.split.responses.size(), 1u) << o.describe();
  ASSERT_TRUE(has_status(o.split.responses[0], 201));
  EXPECT_EQ(json_body(o.split.responses[0])["sha256"], sha256_hex(content));
}

// A chunked body that stalls mid-chunk is dropped at the read timeout: nothing stored.
TEST_F(BadInput, ChunkedBodyStallingMidChunkIsDroppedAtTheReadTimeout) {
  raw_socket s(port());
  ASSERT_TRUE(s.send(head("POST", "/files?name=stall.txt") +
                     "Transfer-Encoding: chunked\r\n\r\n100\r\n" + std::string(100, 'x')));
  const auto start = steady::now();
  expect_serving();
  const auto o = finish(s, 5s);
  EXPECT_TRUE(closed_cleanly(o));
  EXPECT_TRUE(o.split.responses.empty())
      << "answered a request it never got whole: " << o.describe();
  EXPECT_GE(ms_since(start), read_timeout.count() / 2);
  EXPECT_LE(ms_since(start), read_timeout.count() + 3000);
  expect_nothing_stored();
}

// A client that stops reading a large download holds its connection for the write timeout, not
// longer, and the server never buffers the file for it: the kernel's socket buffers are all the
// data in flight.
TEST_F(BadInput, SlowReaderOfABigDownloadIsDroppedAtTheWriteTimeout) {
  const std::uint64_t size = 24 * mib;
  const std::string id = created_id(alice().upload_raw("big.bin", generate_bytes(size, 7)));
  const long rss_before = server().rss_kib();

  raw_socket slow(port(), 16 * 1024);
  ASSERT_TRUE(slow.send(head("GET", "/files/" + id) + "\r\n"));
  ASSERT_TRUE(slow.read_at_least(1, prompt));  // the response has started
  const auto stalled_at = steady::now();
  // While it stalls, others download the same file in full.
  connection other(port(), 10s);
  const auto full = download_stream(other, "/files/" + id, {{"Authorization", "Bearer " + key_}});
  EXPECT_EQ(full.status, 200u);
  EXPECT_EQ(full.size, size);
  expect_serving();
  const long rss_during = server().rss_kib();
  if (!sanitized_server()) {
    EXPECT_LT(rss_during - rss_before, 8 * 1024)
        << "the server holds " << (rss_during - rss_before) << " KiB more for a stalled reader";
  }
  // Past the write timeout (1 s), the server has given up on it.
  std::this_thread::sleep_for(write_timeout + 1500ms - (steady::now() - stalled_at));
  const auto end = slow.read_until_close(10s);
  EXPECT_NE(end, peer_end::open) << "the stalled download is still open";
  EXPECT_LT(slow.received().size(), size / 2)
      << "the server sent " << slow.received().size() << " bytes to a client that read none";
  expect_serving();
}

// =============================================================================================
// Path traversal and NUL bytes in ids and static names

TEST_F(BadInput, TraversalAndNulInIdsAndAssetNamesAre404) {
  struct probe {
    std::string method;
    std::string target;
    unsigned status;
    std::string code;
  };
  const std::vector<probe> probes = {
      {"GET", "/files/..%2f..%2fsharebox.db", 404, "file_not_found"},
      {"GET", "/files/%2e%2e", 404, "file_not_found"},
      {"GET", "/files/..", 404, "file_not_found"},
      {"GET", "/files/%2e%2e%2f%2e%2e%2fserver.log/meta", 404, "file_not_found"},
      {"GET", "/files/%00", 404, "file_not_found"},
      {"GET", "/files/" + canary_ + "%00", 404, "file_not_found"},
      {"GET", "/files/" + canary_ + "%00.txt", 404, "file_not_found"},
      {"GET", "/files/" + canary_ + "%2f..%2f" + canary_, 404, "file_not_found"},
      {"DELETE", "/files/..%2f..%2fsharebox.db", 404, "file_not_found"},
      {"GET", "/files/..%5c..%5csharebox.db/thumbnail", 404, "file_not_found"},
      {"GET", "/shares/..%2f..%2fsharebox.db", 404, "file_not_found"},
      {"GET", "/v1/uploads/..%2f..%2fsharebox.db", 404, "upload_not_found"},
      {"GET", "/v1/uploads/%00/missing-chunks", 404, "upload_not_found"},
      {"GET", "/files/../../server.log", 404, "route_not_found"},
      {"GET", "/app/..%2f..%2fserver.log", 404, "route_not_found"},
      {"GET", "/app/%2e%2e%2f%2e%2e%2fserver.log", 404, "route_not_found"},
      {"GET", "/app/../../server.log", 404, "route_not_found"},
      {"GET", "/app/..%5c..%5cserver.log", 404, "route_not_found"},
      {"GET", "/app/index.html%00", 404, "route_not_found"},
      {"GET", "/app/%00", 404, "route_not_found"},
      {"GET", "/app/%2fetc%2fpasswd", 404, "route_not_found"},
      {"GET", "/docs/..%2fopenapi.yaml", 404, "route_not_found"},
      {"GET", "/docs/%2e%2e%2f%2e%2e%2fsharebox.db", 404, "route_not_found"},
      {"GET", "/docs/openapi.json%00", 404, "route_not_found"},
  };
  for (const auto& p : probes) {
    SCOPED_TRACE(p.method + " " + p.target);
    const response r = alice().send(p.method, p.target);
    EXPECT_TRUE(is_problem(r, p.status, p.code));
    EXPECT_EQ(r.body.find("SQLite format"), std::string::npos);
    EXPECT_EQ(r.body.find("listening on"), std::string::npos);
  }
  // tus answers HEAD without a body.
  const response tus =
      alice().send("HEAD", "/tus/..%2f..%2fsharebox.db", {{"Tus-Resumable", "1.0.0"}});
  EXPECT_EQ(tus.status, 404u) << tus.describe();
  expect_serving();
  expect_nothing_stored();
}

// A name is metadata: "/", "\" and ".." mean nothing to the server, which stores blobs under ids
// it makes up. Names are stored as given (a multipart filename loses its directories, since
// browsers used to send a whole path) and nothing is ever written outside the data directory.
TEST_F(BadInput, TraversalInUploadNamesStaysMetadata) {
  const fs::path root = server().data_dir().parent_path();
  const auto outside_before = files_in(root);
  const std::vector<std::string> names = {"../../escape.txt", "..",
                                          "/etc/passwd",      "a/../../b.txt",
                                          "..\\..\\win.txt",  "%2e%2e%2fx.txt"};
  std::vector<std::string> ids;
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const response raw = alice().upload_raw(name, "raw");
    ASSERT_TRUE(has_status(raw, 201));
    EXPECT_EQ(json_body(raw)["name"], name);
    ids.push_back(created_id(raw));

    const response init =
        alice().post_json("/v1/uploads/init", json{{"filename", name}, {"size", 0}}.dump());
    ASSERT_TRUE(has_status(init, 201));
    EXPECT_EQ(json_body(init)["filename"], name);
    const response done = alice().send(
        "POST", "/v1/uploads/" + json_body(init)["upload_id"].get<std::string>() + "/complete");
    ASSERT_TRUE(has_status(done, 201));
    EXPECT_EQ(json_body(done)["name"], name);

    const response tus = alice().send("POST", "/tus/",
                                      {{"Tus-Resumable", "1.0.0"},
                                       {"Upload-Length", "0"},
                                       {"Upload-Metadata", "filename " + to_base64(name)}});
    ASSERT_EQ(tus.status, 201u) << tus.describe();
    const std::string tus_file = tus.header("Sharebox-File-Id");
    ASSERT_FALSE(tus_file.empty()) << tus.describe();
    EXPECT_EQ(json_body(alice().get("/files/" + tus_file + "/meta"))["name"], name);
  }
  // Multipart filenames lose any directory part, "/" or "\".
  const response part = alice().upload("C:\\Users\\x\\..\\..\\part.txt", "part");
  ASSERT_TRUE(has_status(part, 201));
  EXPECT_EQ(json_body(part)["name"], "part.txt");
  const response part2 = alice().upload("../../part2.txt", "part");
  ASSERT_TRUE(has_status(part2, 201));
  EXPECT_EQ(json_body(part2)["name"], "part2.txt");

  // Downloads offer the name in a well-formed Content-Disposition.
  const response got = alice().get("/files/" + ids[0]);
  ASSERT_TRUE(has_status(got, 200));
  EXPECT_EQ(got.header("Content-Disposition"), "attachment; filename=\"../../escape.txt\"");
  const response win = alice().get("/files/" + ids[4]);
  EXPECT_EQ(win.header("Content-Disposition"),
            "attachment; filename=\".._.._win.txt\"; filename*=UTF-8''..%5C..%5Cwin.txt");

  // Blobs are named by the server; nothing appeared outside the data directory.
  const std::regex id_path("[a-z2-7]{2}/[a-z2-7]{26}");  // shard/id
  const auto blobs = files_under(server().data_dir() / "blobs");
  EXPECT_GE(blobs.size(), names.size());
  for (const auto& b : blobs)
    EXPECT_TRUE(std::regex_match(b, id_path)) << b;
  EXPECT_EQ(files_in(root), outside_before);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const auto leaf = it->path().filename().string();
    EXPECT_EQ(leaf.find("escape"), std::string::npos) << it->path();
    EXPECT_EQ(leaf.find("passwd"), std::string::npos) << it->path();
    EXPECT_EQ(leaf.find("win.txt"), std::string::npos) << it->path();
  }
  EXPECT_TRUE(files_in(server().data_dir() / "tmp").empty());
  expect_serving();
}

// Control characters (NUL, CR, LF) and invalid UTF-8 in a name: 400 invalid_name wherever a
// name comes in (or the intake's invalid_name verdict), and nothing stored. CR LF in a name
// could otherwise split the Content-Disposition header of its downloads.
TEST_F(BadInput, NamesWithNulControlsOrInvalidUtf8Are400) {
  const std::vector<std::string> bad_names = {
      "a\0b.txt"s,           "nul\0"s,       "x\r\nSet-Cookie: a=b",
      "tab\there",           "\xff\xfe.txt", "\xc0\xaf",  // overlong "/"
      "\xed\xa0\x80.txt",                                 // a UTF-16 surrogate
      "\xf4\x90\x80\x80",                                 // past U+10FFFF
      "trunc\xe2\x82",                                    // a truncated sequence
      std::string(256, 'n'),                              // too long
  };
  for (const auto& name : bad_names) {
    SCOPED_TRACE(::testing::PrintToString(name));
    // ?name= (raw body), and as the new name of a replace.
    EXPECT_TRUE(is_problem(alice().upload_raw(name, "x"), 400, "invalid_name"));
    EXPECT_TRUE(is_problem(alice().put_raw(canary_, "new", "\"1\"", "name=" + url_encode(name)),
                           400, "invalid_name"));
    // The multipart `name` field; filename="..." and filename*= are below.
    const auto mp = build_multipart(
        {{"file", "x.bin", "application/octet-stream", "x"}, {"name", std::nullopt, "", name}});
    EXPECT_TRUE(
        is_problem(alice().send("POST", "/files", {{"Content-Type", mp.content_type()}}, mp.body),
                   400, "invalid_name"));
    // tus Upload-Metadata.
    const response tus = alice().send("POST", "/tus/",
                                      {{"Tus-Resumable", "1.0.0"},
                                       {"Upload-Length", "1"},
                                       {"Upload-Metadata", "filename " + to_base64(name)}});
    EXPECT_TRUE(is_problem(tus, 400, "invalid_name"));
    // /v1/uploads/init: valid UTF-8 goes through JSON escapes; invalid UTF-8 is not JSON.
    const std::string init_body = "{\"filename\":\"" + name + "\",\"size\":1}";
    const response init = alice().post_json("/v1/uploads/init", init_body);
    if (name.find_first_of("\r\n\t"s + '\0') != std::string::npos) {
      EXPECT_TRUE(is_problem(init, 400, "invalid_json"));  // raw control characters
    } else if (name.size() > 255) {
      EXPECT_TRUE(is_problem(init, 400, "invalid_name"));
    } else {
      EXPECT_TRUE(is_problem(init, 400, "invalid_json"));
    }
    if (name.find_first_of("\r\n\t"s + '\0') != std::string::npos || name.size() > 255) {
      // Valid UTF-8, so JSON can carry it escaped: the name itself is refused.
      EXPECT_TRUE(is_problem(
          alice().post_json("/v1/uploads/init", json{{"filename", name}, {"size", 1}}.dump()), 400,
          "invalid_name"));
    }
  }
  // JSON escapes that decode to a NUL or to a lone surrogate.
  EXPECT_TRUE(
      is_problem(alice().post_json("/v1/uploads/init", R"({"filename":"a\u0000b","size":1})"), 400,
                 "invalid_name"));
  EXPECT_TRUE(
      is_problem(alice().post_json("/v1/uploads/init", R"({"filename":"a\ud800b","size":1})"), 400,
                 "invalid_json"));
  // Raw bytes in a multipart filename="...".
  for (const auto& raw_name : {"a\xff.txt"s, "a\0b.txt"s, "\xed\xa0\x80"s}) {
    SCOPED_TRACE(::testing::PrintToString(raw_name));
    const std::string body = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" +
                             raw_name + "\"\r\n\r\nx\r\n--b--\r\n";
    const response r =
        alice().send("POST", "/files", {{"Content-Type", "multipart/form-data; boundary=b"}}, body);
    EXPECT_EQ(r.status, 400u) << r.describe();
    EXPECT_TRUE(is_problem(r, 400)) << r.describe();
  }
  // filename*= (RFC 5987): a decoded NUL is refused; bytes that are not UTF-8 make the
  // parameter unusable, and without a plain filename there is no name at all.
  const std::vector<std::pair<std::string, std::string>> ext_values = {
      {"a%00b.txt", "invalid_name"},
      {"a%0d%0ab.txt", "invalid_name"},
      {"%ff%fe.txt", "missing_name"}};
  for (const auto& [ext, code] : ext_values) {
    SCOPED_TRACE(ext);
    const std::string body =
        "--b\r\nContent-Disposition: form-data; name=\"file\"; "
        "filename*=UTF-8''" +
        ext + "\r\n\r\nx\r\n--b--\r\n";
    EXPECT_TRUE(is_problem(
        alice().send("POST", "/files", {{"Content-Type", "multipart/form-data; boundary=b"}}, body),
        400, code));
  }
  // The listing stays valid JSON with the canary untouched.
  expect_serving();
  expect_nothing_stored();
}

// =============================================================================================
// JSON bodies

TEST_F(BadInput, HugeJsonBodiesAre413BeforeTheyAreRead) {
  // A declared length over the limit: refused from the header alone.
  raw_socket s(port());
  ASSERT_TRUE(s.send(head("POST", "/v1/uploads/init") +
                     "Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{\""));
  const auto o = finish(s);
  EXPECT_TRUE(refused(o, 413, "body_too_large"));

  // A chunked body with no declared length: cut off once it passes the limit. (Signing in
  // reads its body only without a key in the headers.)
  const std::vector<std::string> starts = {head("POST", "/v1/uploads/init"),
                                           head("POST", "/shares/" + canary_),
                                           "POST /auth/session HTTP/1.1\r\n" + host_line()};
  for (const auto& start : starts) {
    SCOPED_TRACE(start.substr(0, start.find('\r')));
    raw_socket c(port());
    ASSERT_TRUE(
        c.send(start + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
    const std::string piece = std::string("10000\r\n") + std::string(65536, '[') + "\r\n";
    std::uint64_t sent = 0;
    while (sent < 64 * mib && c.send(piece, 2s))
      sent += 65536;
    EXPECT_LT(sent, 32 * mib);
    EXPECT_TRUE(refused(finish(c), 413, "body_too_large"));
  }
  expect_serving();
  expect_nothing_stored();
}

// nlohmann's parser keeps its nesting on the heap, so depth is bounded by the body limit alone:
// tens of thousands of levels are a clean 400, never a stack overflow.
TEST_F(BadInput, DeeplyNestedJsonIsAClean400) {
  const std::size_t depth = 30000;  // 60 KB with the closing brackets: under the 64 KiB limit
  const std::string open(depth, '['), close(depth, ']');
  struct variant {
    std::string what;
    std::string body;
    std::string code;
  };
  const std::vector<variant> variants = {
      {"unbalanced", std::string(60000, '['), "invalid_json"},
      {"balanced array", open + close, "invalid_json"},  // valid JSON, not an object
      {"objects",
       [] {
         std::string s;
         for (int i = 0; i < 10000; ++i)
           s += "{\"a\":";
         return s + "1" + std::string(9999, '}');
       }(),
       "invalid_json"},  // 50 KB, one brace short
      {"nested filename", "{\"filename\":" + open + close + ",\"size\":1}", "invalid_parameter"},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.what);
    EXPECT_TRUE(is_problem(alice().post_json("/v1/uploads/init", v.body), 400, v.code));
    ASSERT_TRUE(server().running()) << "the server died parsing " << v.what;
  }
  EXPECT_TRUE(
      is_problem(alice().post_json("/shares/" + canary_, open + close), 400, "invalid_json"));
  EXPECT_TRUE(is_problem(anonymous().post_json("/auth/session", std::string(60000, '{')), 400,
                         "invalid_json"));
  // 100,000 levels do not fit under the limit at all.
  EXPECT_TRUE(is_problem(alice().post_json("/v1/uploads/init", std::string(100000, '[')), 413,
                         "body_too_large"));
  expect_serving();
  expect_nothing_stored();
}

// =============================================================================================
// WebSocket: invalid frames and oversized messages

// How a WebSocket ended.
struct ws_end {
  std::optional<std::uint16_t> code;  // of the server's close frame; nullopt: none came
  peer_end end = peer_end::open;
  std::vector<std::string> texts;  // text messages before it
};

class BadWebSocket : public BadInput {
 protected:
  // A WebSocket on `target` as alice; on /ws/intake, past the session message.
  std::unique_ptr<raw_socket> open_ws(const std::string& target) {
    auto s = std::make_unique<raw_socket>(port());
    const response r = ws_upgrade(*s, port(), target, {{"Authorization", "Bearer " + key_}});
    if (r.status != 101) throw std::runtime_error("no upgrade:\n" + r.describe());
    if (target == "/ws/intake") {
      const auto hello = next_text(*s);
      if (!hello || (*hello)["type"] != "session") throw std::runtime_error("no session message");
    }
    return s;
  }

  // The server's frames off the socket, as far as they have arrived.
  static std::vector<ws_frame_in> frames_of(raw_socket& s) {
    std::string buffer = s.received();
    auto frames = take_ws_frames(buffer);
    s.consume(s.received().size() - buffer.size());
    return frames;
  }

  // The next text message as JSON (pings and pongs skipped); nullopt on close or timeout.
  static std::optional<json> next_text(raw_socket& s, std::chrono::milliseconds timeout = prompt) {
    const auto deadline = steady::now() + timeout;
    for (;;) {
      for (auto& f : frames_of(s)) {
        if (f.opcode == ws_op::text) return json::parse(f.payload);
        if (f.opcode == ws_op::close) return std::nullopt;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left.count() <= 0 || s.end() != peer_end::open) return std::nullopt;
      s.read_some(left);
    }
  }

  // Reads until the server's close frame, answers it as a client should (a close frame and
  // FIN), and reads until the TCP connection ends.
  static ws_end await_close(raw_socket& s, std::chrono::milliseconds timeout = prompt) {
    ws_end out;
    const auto deadline = steady::now() + timeout;
    while (!out.code) {
      for (auto& f : frames_of(s)) {
        if (f.opcode == ws_op::text) out.texts.push_back(f.payload);
        if (f.opcode == ws_op::close) out.code = f.close_code().value_or(0);
      }
      if (out.code) break;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left.count() <= 0 || s.end() != peer_end::open) break;
      s.read_some(left);
    }
    if (out.code) {
      s.send(ws_frame(ws_op::close, ws_close_payload(1000)));
      s.shutdown_write();
    }
    out.end = s.read_until_close(
        std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()),
                 std::chrono::milliseconds(1000)));
    return out;
  }

  static ws_frame_spec frame(std::uint8_t opcode, std::string payload) {
    ws_frame_spec f;
    f.opcode = opcode;
    f.payload = std::move(payload);
    return f;
  }
};

::testing::AssertionResult closed_with(const ws_end& e, std::uint16_t code) {
  if (!e.code) {
    return ::testing::AssertionFailure()
           << "no close frame; the connection is " << to_string(e.end);
  }
  if (*e.code != code) {
    return ::testing::AssertionFailure() << "close code " << *e.code << ", not " << code;
  }
  if (e.end == peer_end::open) {
    return ::testing::AssertionFailure() << "close frame " << code << " but the TCP connection "
                                         << "is still open";
  }
  return ::testing::AssertionSuccess();
}

// RFC 6455 section 5: each of these fails the connection with 1002 (protocol error), or 1007
// (invalid UTF-8 in a text message), on both WebSocket routes.
TEST_F(BadWebSocket, InvalidFramesCloseWithTheRightCode) {
  struct variant {
    std::string what;
    std::vector<ws_frame_spec> frames;
    std::uint16_t code;
  };
  std::vector<variant> variants;
  const auto add = [&](std::string what, std::vector<ws_frame_spec> frames, std::uint16_t code) {
    variants.push_back({std::move(what), std::move(frames), code});
  };
  auto unmasked = frame(ws_op::text, "{\"type\":\"cancel\"}");
  unmasked.masked = false;
  add("unmasked client frame", {unmasked}, 1002);
  for (std::uint8_t rsv : {1, 2, 4}) {
    auto f = frame(ws_op::text, "{}");
    f.rsv = rsv;
    add("reserved bit " + std::to_string(rsv), {f}, 1002);
  }
  for (std::uint8_t op : {0x3, 0x7, 0xb, 0xf})
    add("reserved opcode " + std::to_string(op), {frame(op, "x")}, 1002);
  auto fragmented_ping = frame(ws_op::ping, "p");
  fragmented_ping.fin = false;
  add("fragmented control frame", {fragmented_ping}, 1002);
  add("control frame over 125 bytes", {frame(ws_op::ping, std::string(126, 'p'))}, 1002);
  add("continuation with nothing to continue", {frame(ws_op::continuation, "x")}, 1002);
  auto first_half = frame(ws_op::text, "{\"ty");
  first_half.fin = false;
  add("new message inside a fragmented one", {first_half, frame(ws_op::text, "{}")}, 1002);
  // (Beast takes codes from 5000 up, which RFC 6455 leaves undefined, for valid: not listed.)
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999}) {
    add("close with code " + std::to_string(code),
        {frame(ws_op::close, ws_close_payload(code, "bye"))}, 1002);
  }
  add("close with a one-byte payload", {frame(ws_op::close, "x")}, 1002);
  add("close reason not UTF-8", {frame(ws_op::close, ws_close_payload(1000, "\xff\xfe"))}, 1002);
  add("text not UTF-8", {frame(ws_op::text, "{\"type\":\"\xff\xfe\"}")}, 1007);
  add("text with a UTF-16 surrogate", {frame(ws_op::text, "\xed\xa0\x80")}, 1007);
  add("text with an overlong encoding", {frame(ws_op::text, "\xc0\xaf")}, 1007);
  auto split_a = frame(ws_op::text, "\xe2\x82");
  split_a.fin = false;
  add("text not UTF-8 across fragments", {split_a, frame(ws_op::continuation, "\x28\x29")}, 1007);

  for (const std::string target : {"/ws/intake", "/ws/events"}) {
    for (const auto& v : variants) {
      SCOPED_TRACE(target + ": " + v.what);
      auto s = open_ws(target);
      for (const auto& f : v.frames)
        s->send(ws_frame(f));
      EXPECT_TRUE(closed_with(await_close(*s), v.code));
    }
  }
  // A length in the 16-bit form for 2 bytes, or in the 64-bit form for 200: not minimal.
  for (const std::string target : {"/ws/intake", "/ws/events"}) {
    SCOPED_TRACE(target + ": non-minimal lengths");
    for (const auto& [len_byte, extra] :
         {std::pair<char, std::string>{126, "\x00\x02"s},
          std::pair<char, std::string>{127, "\x00\x00\x00\x00\x00\x00\x00\xc8"s}}) {
      auto s = open_ws(target);
      std::string raw;
      raw.push_back(static_cast<char>(0x81));
      raw.push_back(static_cast<char>(0x80 | len_byte));
      raw += extra + "\x01\x02\x03\x04"s;
      s->send(raw);
      EXPECT_TRUE(closed_with(await_close(*s), 1002));
    }
  }
  expect_serving();
  expect_nothing_stored();
}

// Messages over a route's limit close with 1009, as soon as the frame header says so; the
// intake's control messages have their own, smaller limit (16 KiB).
TEST_F(BadWebSocket, OversizedMessagesCloseWith1009) {
  struct variant {
    std::string target;
    std::string what;
    std::uint64_t declared;
    std::uint8_t opcode;
  };
  const std::vector<variant> variants = {
      {"/ws/events", "a 65 KiB message", 65 * kib, ws_op::text},
      {"/ws/events", "a 2^63-byte message", (1ULL << 63) + 5, ws_op::binary},
      {"/ws/intake", "a binary message over max_message_bytes", 2 * mib, ws_op::binary},
      {"/ws/intake", "a 2^63-byte message", (1ULL << 63) + 5, ws_op::binary},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.target + ": " + v.what);
    auto s = open_ws(v.target);
    ws_frame_spec f = frame(v.opcode, std::string(1000, 'a'));
    f.declared_length = v.declared;
    s->send(ws_frame(f));  // the header alone is enough to refuse it
    EXPECT_TRUE(closed_with(await_close(*s), 1009));
  }
  // A message over the limit in many fragments, each small.
  {
    auto s = open_ws("/ws/events");
    auto first = frame(ws_op::binary, std::string(16 * kib, 'a'));
    first.fin = false;
    s->send(ws_frame(first));
    auto more = frame(ws_op::continuation, std::string(16 * kib, 'a'));
    more.fin = false;
    for (int i = 0; i < 4; ++i)
      s->send(ws_frame(more));
    EXPECT_TRUE(closed_with(await_close(*s), 1009));
  }
  // Intake control messages: a 20 KiB JSON text (100,000 "[" would not fit either).
  for (const auto& text : {std::string(20 * kib, '['), std::string(100000, '[')}) {
    SCOPED_TRACE(text.size());
    auto s = open_ws("/ws/intake");
    auto f = frame(ws_op::text, text);
    s->send(ws_frame(f));
    EXPECT_TRUE(closed_with(await_close(*s), 1009));
  }
  // Under that limit, deep nesting is just a malformed message.
  {
    auto s = open_ws("/ws/intake");
    s->send(ws_frame(ws_op::text, std::string(15000, '[')));
    const auto answer = next_text(*s);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ((*answer)["type"], "error");
    EXPECT_EQ((*answer)["code"], "bad_message");
  }
  expect_serving();
  expect_nothing_stored();
}

// A session broken in the middle of a file (a protocol error, bytes nobody asked for, a reset)
// leaves no temp file and stores nothing.
TEST_F(BadWebSocket, BrokenIntakeSessionsLeaveNothingBehind) {
  const auto announce = [&](raw_socket& s, std::uint64_t size) {
    s.send(ws_frame(
        ws_op::text,
        json{{"type", "file"}, {"client_file_id", "f1"}, {"name", "cat.jpg"}, {"size", size}}
            .dump()));
    const auto ready = next_text(s);
    if (!ready || (*ready)["type"] != "ready") throw std::runtime_error("no ready");
  };
  const std::string half(20 * kib, '\xff');
  {
    SCOPED_TRACE("protocol error mid-file");
    auto s = open_ws("/ws/intake");
    announce(*s, 40 * kib);
    s->send(ws_frame(ws_op::binary, half));
    auto bad = frame(ws_op::binary, "x");
    bad.masked = false;
    s->send(ws_frame(bad));
    EXPECT_TRUE(closed_with(await_close(*s), 1002));
  }
  {
    SCOPED_TRACE("invalid UTF-8 in a message mid-file");
    auto s = open_ws("/ws/intake");
    announce(*s, 40 * kib);
    s->send(ws_frame(ws_op::binary, half));
    s->send(ws_frame(ws_op::text, "\xff"));
    EXPECT_TRUE(closed_with(await_close(*s), 1007));
  }
  {
    SCOPED_TRACE("reset mid-file");
    auto s = open_ws("/ws/intake");
    announce(*s, 40 * kib);
    s->send(ws_frame(ws_op::binary, half));
    s->reset();
  }
  {
    // docs/ws-intake.md: more than max_file_bytes + max_message_bytes (1 MiB) nobody asked
    // for is a policy violation.
    SCOPED_TRACE("bytes nobody asked for");
    auto s = open_ws("/ws/intake");
    for (int i = 0; i < 20; ++i)
      s->send(ws_frame(ws_op::binary, std::string(64 * kib, 'z')));
    EXPECT_TRUE(closed_with(await_close(*s), 1008));
  }
  {
    // More than the announced size: the file is cut off, the session goes on.
    SCOPED_TRACE("more bytes than announced");
    auto s = open_ws("/ws/intake");
    announce(*s, 100);
    s->send(ws_frame(ws_op::binary, std::string(200, 'm')));
    const auto verdict = next_text(*s);
    ASSERT_TRUE(verdict.has_value());
    EXPECT_EQ((*verdict)["type"], "verdict");
    EXPECT_EQ((*verdict)["accepted"], false);
    EXPECT_EQ((*verdict)["code"], "size_mismatch");
    // A name that is not valid: refused before any byte.
    s->send(ws_frame(ws_op::text,
                     "{\"type\":\"file\",\"client_file_id\":\"f2\","
                     "\"name\":\"a\\u0000b.jpg\",\"size\":10}"));
    const auto refusal = next_text(*s);
    ASSERT_TRUE(refusal.has_value());
    EXPECT_EQ((*refusal)["code"], "invalid_name") << refusal->dump();
  }
  expect_serving();
  expect_nothing_stored();
}

// =============================================================================================
// Uploads that lie about their size

// A body shorter than its Content-Length, then the client goes (FIN or RST): nothing stored, the
// replaced file untouched, no chunk recorded, no tus bytes beyond what arrived, no temp file.
TEST_F(BadInput, UploadsCutShortStoreNothing) {
  // An open chunked upload and an open tus upload to send pieces to.
  const response init = alice().post_json(
      "/v1/uploads/init", json{{"filename", "chunks.bin"}, {"size", 3 * chunk_size}}.dump());
  ASSERT_TRUE(has_status(init, 201));
  const std::string upload = json_body(init)["upload_id"];
  const response tus =
      alice().send("POST", "/tus/", {{"Tus-Resumable", "1.0.0"}, {"Upload-Length", "1000"}});
  ASSERT_EQ(tus.status, 201u) << tus.describe();
  const std::string tus_path = tus.header("Location");
  const stored before = snapshot();

  const auto mp = make_multipart_envelope("file", "cut.bin", "application/octet-stream");
  struct variant {
    std::string what;
    std::string head;
    std::string sent;  // the part of the body that is sent
  };
  const std::vector<variant> variants = {
      {"raw POST", head("POST", "/files?name=cut.bin") + "Content-Length: 100000\r\n\r\n",
       std::string(50000, 'r')},
      {"multipart POST",
       head("POST", "/files") + "Content-Type: " + mp.content_type + "\r\nContent-Length: " +
           std::to_string(mp.prefix.size() + 100000 + mp.suffix.size()) + "\r\n\r\n",
       mp.prefix + std::string(50000, 'm')},
      {"chunked POST", head("POST", "/files?name=cut.bin") + "Transfer-Encoding: chunked\r\n\r\n",
       "1000\r\n" + std::string(4096, 'c') + "\r\n1000\r\nabc"},
      {"PUT replace",
       head("PUT", "/files/" + canary_) + "If-Match: \"1\"\r\nContent-Length: 100000\r\n\r\n",
       "replaced"},
      {"chunk PUT",
       head("PUT", "/v1/uploads/" + upload + "/chunks/0") +
           "Content-Length: " + std::to_string(chunk_size) + "\r\n\r\n",
       std::string(chunk_size / 2, 'k')},
      {"JSON init",
       head("POST", "/v1/uploads/init") +
           "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
       "{\"filename\":\"x\",\"si"},
  };
  for (const bool reset : {false, true}) {
    for (const auto& v : variants) {
      SCOPED_TRACE(v.what + (reset ? ", then RST" : ", then FIN"));
      raw_socket s(port());
      ASSERT_TRUE(s.send(v.head + v.sent));
      std::this_thread::sleep_for(50ms);  // let the server take what was sent
      if (reset) {
        s.reset();
      } else {
        s.shutdown_write();
        const auto o = finish(s);
        EXPECT_TRUE(closed_cleanly(o));
        EXPECT_TRUE(o.split.responses.empty())
            << "answered a request it never got whole: " << o.describe();
      }
    }
  }
  expect_serving();
  expect_nothing_stored(before);
  EXPECT_EQ(json_body(alice().get("/v1/uploads/" + upload + "/missing-chunks"))["missing"],
            json::array({0, 1, 2}));

  // tus keeps the bytes of a broken PATCH that reached the disk (docs/uploads.md), never more
  // than arrived, and makes no file of them.
  {
    raw_socket s(port());
    ASSERT_TRUE(s.send(head("PATCH", tus_path) +
                       "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                       "Content-Type: application/offset+octet-stream\r\nContent-Length: 1000\r\n"
                       "\r\n" +
                       std::string(100, 't')));
    std::this_thread::sleep_for(50ms);
    s.shutdown_write();
    EXPECT_TRUE(closed_cleanly(finish(s)));
  }
  std::uint64_t offset = 0;
  ASSERT_TRUE(eventually(
      [&] {
        const response h = alice().send("HEAD", tus_path, {{"Tus-Resumable", "1.0.0"}});
        if (h.status != 200) return false;
        offset = std::stoull(h.header("Upload-Offset"));
        return h.header("Sharebox-File-Id").empty();
      },
      prompt));
  EXPECT_LE(offset, 100u);
  EXPECT_EQ(snapshot().listing, before.listing);
  EXPECT_TRUE(files_in(server().data_dir() / "tmp").empty());
}

// More bytes than the Content-Length: the extra bytes are the next request, parsed as one (and
// refused when they are not one), never part of the stored file. Chunk and tus bodies that do
// not match the declared lengths are refused whole.
TEST_F(BadInput, BodiesLongerThanDeclaredAreNotPartOfTheFile) {
  {
    SCOPED_TRACE("raw POST with garbage after the body");
    const auto o = exchange(head("POST", "/files?name=five.txt") +
                            "Content-Length: 5\r\n\r\nhelloGARBAGE / HTTP/9.9\r\n\r\n");
    ASSERT_TRUE(closed_cleanly(o));
    ASSERT_EQ(o.split.responses.size(), 2u) << o.describe();
    ASSERT_TRUE(has_status(o.split.responses[0], 201));
    const std::string id = created_id(o.split.responses[0]);
    EXPECT_TRUE(is_problem(o.split.responses[1], 400, "bad_request"));
    const response got = alice().get("/files/" + id);
    EXPECT_EQ(got.body, "hello");
  }
  const stored with_five = snapshot();
  {
    SCOPED_TRACE("multipart cut by its Content-Length");
    const auto mp = build_multipart({{"file", "mp.txt", "text/plain", "multipart content"}});
    const std::size_t cut = mp.body.size() - 10;  // inside the closing boundary
    const auto o = exchange(head("POST", "/files") + "Content-Type: " + mp.content_type() +
                            "\r\nContent-Length: " + std::to_string(cut) + "\r\n\r\n" + mp.body);
    ASSERT_TRUE(closed_cleanly(o));
    ASSERT_GE(o.split.responses.size(), 1u) << o.describe();
    EXPECT_TRUE(is_problem(o.split.responses[0], 400, "invalid_multipart"));
    for (std::size_t i = 1; i < o.split.responses.size(); ++i)
      EXPECT_TRUE(is_problem(o.split.responses[i], 400, "bad_request"));
  }
  expect_nothing_stored(with_five);

  const response init = alice().post_json(
      "/v1/uploads/init", json{{"filename", "chunks.bin"}, {"size", 2 * chunk_size + 10}}.dump());
  ASSERT_TRUE(has_status(init, 201));
  const std::string upload = json_body(init)["upload_id"];
  const stored with_upload = snapshot();
  const std::string chunk0 = "/v1/uploads/" + upload + "/chunks/0";
  const std::string last = "/v1/uploads/" + upload + "/chunks/2";
  const auto put = [&](const std::string& target) {
    return head("PUT", target) + "Connection: close\r\n";
  };
  struct variant {
    std::string what;
    std::string request;
  };
  const auto chunked_body = [](std::size_t n) {
    std::ostringstream size;
    size << std::hex << n;
    return size.str() + "\r\n" + std::string(n, 'c') + "\r\n0\r\n\r\n";
  };
  const std::vector<variant> variants = {
      {"Content-Length over the chunk", put(chunk0) +
                                            "Content-Length: " + std::to_string(chunk_size + 10) +
                                            "\r\n\r\n" + std::string(chunk_size + 10, 'c')},
      {"Content-Length under the chunk", put(chunk0) +
                                             "Content-Length: " + std::to_string(chunk_size - 10) +
                                             "\r\n\r\n" + std::string(chunk_size - 10, 'c')},
      {"last chunk too long", put(last) + "Content-Length: 11\r\n\r\n" + std::string(11, 'c')},
      {"chunked body over the chunk",
       put(chunk0) + "Transfer-Encoding: chunked\r\n\r\n" + chunked_body(chunk_size + 10)},
      {"chunked body under the chunk",
       put(chunk0) + "Transfer-Encoding: chunked\r\n\r\n" + chunked_body(chunk_size - 10)},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.what);
    const auto o = exchange(v.request);
    ASSERT_TRUE(closed_cleanly(o));
    ASSERT_GE(o.split.responses.size(), 1u) << o.describe();
    EXPECT_TRUE(is_problem(o.split.responses[0], 400, "chunk_size_mismatch"));
  }
  EXPECT_EQ(json_body(alice().get("/v1/uploads/" + upload + "/missing-chunks"))["missing"],
            json::array({0, 1, 2}));
  expect_nothing_stored(with_upload);

  // tus: a PATCH longer than the upload has room for, declared or not, moves no offset.
  const response tus =
      alice().send("POST", "/tus/", {{"Tus-Resumable", "1.0.0"}, {"Upload-Length", "100"}});
  ASSERT_EQ(tus.status, 201u) << tus.describe();
  const std::string tus_path = tus.header("Location");
  const std::string patch = head("PATCH", tus_path) +
                            "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nConnection: close\r\n"
                            "Content-Type: application/offset+octet-stream\r\n";
  {
    SCOPED_TRACE("PATCH Content-Length over Upload-Length");
    const auto o = exchange(patch + "Content-Length: 200\r\n\r\n" + std::string(200, 't'));
    ASSERT_TRUE(closed_cleanly(o));
    ASSERT_GE(o.split.responses.size(), 1u) << o.describe();
    EXPECT_TRUE(is_problem(o.split.responses[0], 413, "upload_length_exceeded"));
  }
  {
    SCOPED_TRACE("PATCH with a different Upload-Length");
    const auto o =
        exchange(patch + "Upload-Length: 200\r\nContent-Length: 10\r\n\r\n" + std::string(10, 't'));
    ASSERT_TRUE(closed_cleanly(o));
    ASSERT_GE(o.split.responses.size(), 1u) << o.describe();
    EXPECT_TRUE(is_problem(o.split.responses[0], 400, "invalid_parameter"));
  }
  {
    SCOPED_TRACE("chunked PATCH over Upload-Length");
    const auto o = exchange(patch + "Transfer-Encoding: chunked\r\n\r\n" + chunked_body(200));
    ASSERT_TRUE(closed_cleanly(o));
    ASSERT_GE(o.split.responses.size(), 1u) << o.describe();
    EXPECT_TRUE(is_problem(o.split.responses[0], 413, "upload_length_exceeded"));
  }
  {
    SCOPED_TRACE("creation-with-upload longer than Upload-Length");
    const auto o = exchange(head("POST", "/tus/") +
                            "Tus-Resumable: 1.0.0\r\nUpload-Length: 10\r\nConnection: close\r\n"
                            "Content-Type: application/offset+octet-stream\r\n"
                            "Content-Length: 20\r\n\r\n" +
                            std::string(20, 'u'));
    ASSERT_TRUE(closed_cleanly(o));
    ASSERT_GE(o.split.responses.size(), 1u) << o.describe();
    EXPECT_TRUE(is_problem(o.split.responses[0], 413, "upload_length_exceeded"));
  }
  {
    // A broken chunked encoding is not an interrupted PATCH: none of its bytes are kept.
    SCOPED_TRACE("malformed chunked PATCH");
    const auto o = exchange(patch + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n");
    EXPECT_TRUE(refused(o, 400, "bad_request"));
  }
  const response h = alice().send("HEAD", tus_path, {{"Tus-Resumable", "1.0.0"}});
  EXPECT_EQ(h.header("Upload-Offset"), "0") << h.describe();
  EXPECT_EQ(snapshot().listing, with_five.listing);
  EXPECT_TRUE(files_in(server().data_dir() / "tmp").empty());
  expect_serving();
}

// Multipart bodies that end before their closing boundary, whose part header never ends, or
// whose boundary never appears: 400 invalid_multipart, nothing stored.
TEST_F(BadInput, TruncatedMultipartIs400) {
  const std::string ct = "Content-Type: multipart/form-data; boundary=b\r\n";
  const std::vector<std::string> bodies = {
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.txt\"\r\n\r\ntrunc",
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.txt\"\r\n\r\nx\r\n--b",
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.txt\"\r\n",
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.txt\"",
      "no boundary anywhere",
      "--b\r\n\r\nno disposition\r\n--b--\r\n",
      "--b--\r\n",
  };
  for (const auto& body : bodies) {
    SCOPED_TRACE(::testing::PrintToString(body));
    const auto o = exchange(head("POST", "/files") + ct + "Connection: close\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body);
    ASSERT_TRUE(closed_cleanly(o));
    ASSERT_EQ(o.split.responses.size(), 1u) << o.describe();
    EXPECT_TRUE(is_problem(o.split.responses[0], 400, "invalid_multipart"));
  }
  expect_serving();
  expect_nothing_stored();
}

}  // namespace
}  // namespace sharebox::test
