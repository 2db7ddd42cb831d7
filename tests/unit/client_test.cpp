// Unit tests for the command-line client's pure helpers (URL parsing, formatting, rate parsing,
// Retry-After, backoff, error messages, resume state). Helpers that live in anonymous
// namespaces (next_page in manage.cpp, safe_file_name in get.cpp, content_digest in
// chunk_sender.cpp) are not reachable from here and are covered by the integration tests.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#include "sharebox/client/api.hpp"
#include "sharebox/client/chunk_sender.hpp"
#include "sharebox/client/error.hpp"
#include "sharebox/client/file_digest.hpp"
#include "sharebox/client/file_io.hpp"
#include "sharebox/client/format.hpp"
#include "sharebox/client/http.hpp"
#include "sharebox/client/mapped_range.hpp"
#include "sharebox/client/rate_limiter.hpp"
#include "sharebox/client/state.hpp"
#include "sharebox/client/url.hpp"
#include "support/test_certificate.hpp"
#include "temp_dir.hpp"

using namespace sharebox::client;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

// Sets (or unsets, with nullptr) an environment variable for the scope, then restores it.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = std::string(old);
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

response with_header(std::string name, std::string value) {
  response r;
  r.status = 429;
  r.headers.emplace_back(std::move(name), std::move(value));
  return r;
}

response with_body(unsigned status, std::string body) {
  response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

void expect_bad_url(std::string_view text) {
  EXPECT_THROW(parse_server_url(text), client_error) << "accepted: " << text;
}

}  // namespace

// ---- URL parsing ----------------------------------------------------------------------------

TEST(ClientUrl, ParsesHostPortAndPrefix) {
  const auto u = parse_server_url("http://127.0.0.1:8000");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 8000);
  EXPECT_EQ(u.prefix, "");
  EXPECT_EQ(u.text(), "http://127.0.0.1:8000");
  EXPECT_EQ(u.host_header(), "127.0.0.1:8000");
  EXPECT_EQ(u.target("/files"), "/files");

  const auto p = parse_server_url("http://files.example:9000/sharebox/");
  EXPECT_EQ(p.host, "files.example");
  EXPECT_EQ(p.port, 9000);
  EXPECT_EQ(p.prefix, "/sharebox");  // trailing slash dropped
  EXPECT_EQ(p.target("/files/abc?x=1"), "/sharebox/files/abc?x=1");
  EXPECT_EQ(p.text(), "http://files.example:9000/sharebox");

  EXPECT_EQ(parse_server_url("http://host/a/b//").prefix, "/a/b");
  EXPECT_EQ(parse_server_url("http://host/").prefix, "");
  EXPECT_EQ(parse_server_url("http://host//").prefix, "");
}

TEST(ClientUrl, DefaultsPortAndLowercasesScheme) {
  const auto u = parse_server_url("HTTP://example.org");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.host_header(), "example.org:80");
  EXPECT_EQ(u.text(), "http://example.org:80");
  EXPECT_EQ(parse_server_url("http://h:1").port, 1);
  EXPECT_EQ(parse_server_url("http://h:65535").port, 65535);
}

TEST(ClientUrl, Ipv6HostsAreBracketedInHostHeaderAndText) {
  const auto u = parse_server_url("http://[::1]:8080/x");
  EXPECT_EQ(u.host, "::1");  // without brackets
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.prefix, "/x");
  EXPECT_EQ(u.host_header(), "[::1]:8080");
  EXPECT_EQ(u.text(), "http://[::1]:8080/x");

  const auto d = parse_server_url("http://[fe80::1]");
  EXPECT_EQ(d.host, "fe80::1");
  EXPECT_EQ(d.port, 80);

  expect_bad_url("http://[::1");     // unterminated
  expect_bad_url("http://[::1]x");   // junk after the address
  expect_bad_url("http://[::1]:");   // empty port
  expect_bad_url("http://[]:8000");  // empty host
}

TEST(ClientUrl, ParsesHttpsWithItsDefaultPort) {
  const auto a = parse_server_url("https://example.org");
  EXPECT_EQ(a.scheme, "https");
  EXPECT_EQ(a.host, "example.org");
  EXPECT_EQ(a.port, 443);
  EXPECT_EQ(a.text(), "https://example.org:443");
  const auto b = parse_server_url("HTTPS://example.org:8443/x/");
  EXPECT_EQ(b.scheme, "https");
  EXPECT_EQ(b.port, 8443);
  EXPECT_EQ(b.prefix, "/x");
  EXPECT_NE(parse_server_url("http://h").text(), parse_server_url("https://h:80").text())
      << "the scheme is part of a server's identity (resume state)";
  try {
    parse_server_url("ftp://example.org");
    ADD_FAILURE() << "accepted ftp://";
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("http:// and https://"), std::string::npos) << e.what();
  }
}

TEST(ClientUrl, RefusesMalformedInputs) {
  expect_bad_url("");
  expect_bad_url("127.0.0.1:8000");  // no scheme
  expect_bad_url("ftp://host");
  expect_bad_url(" http://host");  // leading space is part of the scheme
  expect_bad_url("http://");
  expect_bad_url("http:///path");
  expect_bad_url("http://:8000");
  expect_bad_url("http://host:");
  expect_bad_url("http://host:0");
  expect_bad_url("http://host:65536");
  expect_bad_url("http://host:99999999999");
  expect_bad_url("http://host:-1");
  expect_bad_url("http://host:+80");
  expect_bad_url("http://host:80abc");
  expect_bad_url("http://user:pw@host");
  expect_bad_url("http://user@host:8000/x");
  expect_bad_url("http://host/x?y=1");
  expect_bad_url("http://host/x#frag");

  // The message names the input and the expected form.
  try {
    parse_server_url("http://host:0");
    ADD_FAILURE();
  } catch (const client_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'http://host:0'"), std::string::npos) << what;
    EXPECT_NE(what.find("port"), std::string::npos) << what;
    EXPECT_NE(what.find("http[s]://HOST[:PORT][/PREFIX]"), std::string::npos) << what;
  }
}

TEST(ClientUrl, JunkInTheAuthorityIsRefused) {
  // Regression (a fixed bug): the "no query or fragment" check only looks at the part after the
  // first '/', so "http://host?x=1" yields host "host?x=1" and "http://host#f" host "host#f" (and
  // "http://host:8000:9000" yields host "host:8000", port 9000) instead of client_error.
  expect_bad_url("http://host?x=1");
  expect_bad_url("http://host#frag");
  expect_bad_url("http://host:8000?x=1");
  expect_bad_url("http://host:8000:9000");
}

// ---- make_endpoint ----------------------------------------------------------------------------

TEST(ClientEndpoint, TrimsKeyAndRefusesControlCharacters) {
  const auto ep = make_endpoint("http://h:1/p", "  secret-key\r\n");
  EXPECT_EQ(ep.key, "secret-key");
  EXPECT_EQ(ep.url.host, "h");
  EXPECT_EQ(ep.url.prefix, "/p");
  EXPECT_EQ(make_endpoint("http://h", " \t\n").key, "");
  EXPECT_EQ(make_endpoint("http://h", "").key, "");
  EXPECT_EQ(make_endpoint("http://h", "a b").key, "a b");  // inner space is legal in a header

  EXPECT_THROW(make_endpoint("http://h", "abc\ndef"), client_error);
  EXPECT_THROW(make_endpoint("http://h", std::string("ab\0c", 4)), client_error);
  EXPECT_THROW(make_endpoint("http://h", "ab\x7f"), client_error);
  EXPECT_EQ(make_endpoint("https://h", "key", "/ca.pem").tls.ca_file, "/ca.pem");
}

TEST(ClientEndpoint, SessionAddsBearerOnlyWithAKey) {
  api_session with_key(make_endpoint("http://127.0.0.1:1", "k1"));
  const auto r = with_key.make("GET", "/files");
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/files");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Authorization");
  EXPECT_EQ(r.headers[0].second, "Bearer k1");

  api_session without(make_endpoint("http://127.0.0.1:1", ""));
  EXPECT_TRUE(without.make("DELETE", "/files/x").headers.empty());
}

// ---- format.hpp -------------------------------------------------------------------------------

TEST(ClientFormat, HumanSize) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(512), "512 B");
  EXPECT_EQ(human_size(1023), "1023 B");
  EXPECT_EQ(human_size(1024), "1.0 KiB");
  EXPECT_EQ(human_size(1536), "1.5 KiB");
  EXPECT_EQ(human_size(200ull << 20), "200.0 MiB");
  EXPECT_EQ(human_size(3ull << 30), "3.0 GiB");
  EXPECT_EQ(human_size(5ull << 40), "5.0 TiB");
  EXPECT_EQ(human_size(1ull << 50), "1.0 PiB");
  // PiB is the largest unit: 16 EiB stays in PiB.
  EXPECT_EQ(human_size(std::numeric_limits<std::uint64_t>::max()), "16384.0 PiB");
}

TEST(ClientFormat, HumanSizeJustBelowAUnitBoundary) {
  // Regression (a fixed bug, cosmetic): the unit is chosen before rounding, so 1048575 bytes
  // (1023.999 KiB) prints as "1024.0 KiB" rather than "1.0 MiB" (same at every boundary).
  EXPECT_EQ(human_size((1ull << 20) - 1), "1.0 MiB");
}

TEST(ClientFormat, HumanDuration) {
  EXPECT_EQ(human_duration(std::nullopt), "--:--");
  EXPECT_EQ(human_duration(0s), "0:00");
  EXPECT_EQ(human_duration(7s), "0:07");
  EXPECT_EQ(human_duration(62s), "1:02");
  EXPECT_EQ(human_duration(3599s), "59:59");
  EXPECT_EQ(human_duration(3600s), "1:00:00");
  EXPECT_EQ(human_duration(3723s), "1:02:03");
  EXPECT_EQ(human_duration(std::chrono::seconds(99 * 3600)), "99:00:00");
  // Negative or absurd estimates are shown as unknown.
  EXPECT_EQ(human_duration(-1s), "--:--");
  EXPECT_EQ(human_duration(std::chrono::seconds(99 * 3600 + 1)), "--:--");
}

TEST(ClientFormat, ParseRateAcceptsDocumentedForms) {
  EXPECT_EQ(parse_rate("50M"), 50ull << 20);
  EXPECT_EQ(parse_rate("500k"), 500ull << 10);
  EXPECT_EQ(parse_rate("1.5G"), 3ull << 29);
  EXPECT_EQ(parse_rate("1048576"), 1048576u);
  EXPECT_EQ(parse_rate("20MiB"), 20ull << 20);
  EXPECT_EQ(parse_rate("10M/s"), 10ull << 20);
  // Case-insensitive, with optional B / iB and /s.
  EXPECT_EQ(parse_rate("5KB"), 5120u);
  EXPECT_EQ(parse_rate("5kib/S"), 5120u);
  EXPECT_EQ(parse_rate("100b"), 100u);
  EXPECT_EQ(parse_rate("100B/s"), 100u);
  EXPECT_EQ(parse_rate("1"), 1u);
  EXPECT_EQ(parse_rate(".5k"), 512u);
  EXPECT_EQ(parse_rate("1.5"), 1u);  // fractional bytes are dropped
}

TEST(ClientFormat, ParseRateRejectsMalformedAndZero) {
  for (const char* text :
       {"",    "0",   "0k",  "0.5", "M",   "/s",    "ib", "abc",  "-5",           "-5M", "+5",
        "5 M", " 5M", "5MM", "5T",  "1e3", "1.2.3", "5x", "0x10", "99999999999G", "nan", "inf"}) {
    EXPECT_EQ(parse_rate(text), std::nullopt) << text;
  }
}

TEST(ClientFormat, GuessContentType) {
  EXPECT_EQ(guess_content_type("notes.txt"), "text/plain");
  EXPECT_EQ(guess_content_type("PHOTO.JPG"), "image/jpeg");
  EXPECT_EQ(guess_content_type("a.jpeg"), "image/jpeg");
  EXPECT_EQ(guess_content_type("movie.mkv"), "video/x-matroska");
  EXPECT_EQ(guess_content_type("data.Json"), "application/json");
  EXPECT_EQ(guess_content_type("backup.tar.gz"), "application/gzip");  // last extension
  EXPECT_EQ(guess_content_type("README"), "application/octet-stream");
  EXPECT_EQ(guess_content_type("trailing."), "application/octet-stream");
  EXPECT_EQ(guess_content_type("file.unknownext"), "application/octet-stream");
  EXPECT_EQ(guess_content_type(""), "application/octet-stream");
  EXPECT_EQ(guess_content_type("txt"), "application/octet-stream");  // no dot: no extension
}

TEST(ClientFormat, PrintableReplacesC0ControlsAndDel) {
  EXPECT_EQ(printable("plain name.txt"), "plain name.txt");
  EXPECT_EQ(printable("\x1b[31mred\x1b[0m"), "?[31mred?[0m");
  EXPECT_EQ(printable("a\tb\r\nc\x7f"), "a?b??c?");
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a?b");
  EXPECT_EQ(printable("r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5"), "r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5");
  EXPECT_EQ(printable(""), "");
}

TEST(ClientFormat, PrintableReplacesC1Controls) {
  // Regression (a fixed bug): printable() only replaces bytes < 0x20 and 0x7f. The C1 controls
  // U+0080..U+009F (e.g. U+009B, 8-bit CSI, encoded "\xc2\x9b") pass through, and terminals that
  // honour C1 controls treat "\xc2\x9b" "2J" as an escape sequence, although the header promises
  // that control characters (terminal escapes) from the server are replaced.
  const std::string out = printable(
      "a\xc2\x9b"
      "2Jb");
  EXPECT_EQ(out.find('\x9b'), std::string::npos) << out;
  EXPECT_EQ(out.substr(0, 1), "a");
}

TEST(ClientFormat, Sha256Hex) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// ---- Retry-After, transient statuses, backoff -----------------------------------------------

TEST(ClientRetry, TransientStatuses) {
  for (unsigned s : {408u, 429u, 500u, 502u, 503u, 504u}) {
    EXPECT_TRUE(is_transient(s)) << s;
  }
  for (unsigned s : {0u, 200u, 204u, 301u, 400u, 401u, 403u, 404u, 409u, 410u, 413u, 501u, 505u}) {
    EXPECT_FALSE(is_transient(s)) << s;
  }
}

TEST(ClientRetry, ResponseHeaderLookupIsCaseInsensitiveAndFirstWins) {
  response r;
  r.headers = {{"Content-Type", "a"}, {"retry-AFTER", "7"}, {"Retry-After", "9"}};
  EXPECT_EQ(r.header("content-type"), "a");
  EXPECT_EQ(r.header("Retry-After"), "7");
  EXPECT_EQ(r.header("Retry-Afte"), "");
  EXPECT_EQ(r.header("Link"), "");
}

TEST(ClientRetry, RetryAfterDeltaSeconds) {
  EXPECT_EQ(retry_after(with_header("Retry-After", "5")), milliseconds(5000));
  EXPECT_EQ(retry_after(with_header("retry-after", "0")), milliseconds(0));
  // retry_after() reports what the server asked for, uncapped: the cap
  // (retry_policy::max_retry_after, 120 s by default) is applied by api_session::send.
  EXPECT_EQ(retry_after(with_header("Retry-After", "3600")), milliseconds(3'600'000));
  EXPECT_EQ(retry_policy{}.max_retry_after, 120s);

  EXPECT_EQ(retry_after(response{}), std::nullopt);
  for (const char* bad : {"", "-1", "5.5", "5s", "abc", "+5", "0x10"}) {
    EXPECT_EQ(retry_after(with_header("Retry-After", bad)), std::nullopt) << bad;
  }
}

TEST(ClientRetry, RetryAfterHttpDate) {
  const std::time_t now = std::time(nullptr);
  const auto future = retry_after(with_header("Retry-After", http_date(now + 100)));
  ASSERT_TRUE(future);
  // Whole seconds, and the clock may tick between the two time() calls.
  EXPECT_GE(*future, milliseconds(98'000));
  EXPECT_LE(*future, milliseconds(100'000));

  // A date in the past means "now".
  EXPECT_EQ(retry_after(with_header("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT")),
            milliseconds(0));
  // Not GMT, trailing junk, or not a date at all.
  EXPECT_EQ(retry_after(with_header("Retry-After", "Sun, 06 Nov 1994 08:49:37 PST")), std::nullopt);
  EXPECT_EQ(retry_after(with_header("Retry-After", http_date(now + 100) + "x")), std::nullopt);
  EXPECT_EQ(retry_after(with_header("Retry-After", "Sun, 06 Nov 1994")), std::nullopt);
}

TEST(ClientRetry, RetryAfterHugeDeltaDoesNotOverflow) {
  // Regression (a fixed bug): retry_after() computes `seconds * 1000` in a long without a bound, so
  // a delta-seconds value above ~9.2e15 (e.g. "9223372036854775807") overflows (undefined
  // behaviour; in practice a negative delay). api_session::send then takes
  // min(negative, max_retry_after) and retries at once instead of waiting the capped 120 s.
  const auto d = retry_after(with_header("Retry-After", "9223372036854775807"));
  ASSERT_TRUE(d);
  EXPECT_GE(*d, retry_policy{}.max_retry_after);
}

TEST(ClientRetry, BackoffDoublesWithinHalfToFullAndIsCapped) {
  const retry_policy p;  // base 250 ms, max 20 s
  const auto in_range = [&](int attempt, milliseconds full) {
    for (int i = 0; i < 200; ++i) {
      const auto d = backoff(attempt, p);
      ASSERT_GE(d, full / 2) << "attempt " << attempt;
      ASSERT_LE(d, full) << "attempt " << attempt;
    }
  };
  in_range(1, 250ms);
  in_range(2, 500ms);
  in_range(4, 2000ms);
  in_range(7, 16000ms);
  in_range(8, 20000ms);  // 32 s capped at max_delay
  in_range(1000, 20000ms);
  in_range(0, 250ms);  // out-of-range attempts behave like the first
  in_range(-5, 250ms);

  retry_policy small;
  small.base_delay = 10ms;
  small.max_delay = 50ms;
  for (int i = 0; i < 100; ++i) {
    const auto d = backoff(30, small);
    EXPECT_GE(d, 25ms);
    EXPECT_LE(d, 50ms);
  }

  // The random half actually spreads the delays.
  bool varied = false;
  const auto first = backoff(8, p);
  for (int i = 0; i < 100 && !varied; ++i)
    varied = backoff(8, p) != first;
  EXPECT_TRUE(varied);
}

// ---- response bodies and error messages -------------------------------------------------------

TEST(ClientApi, JsonBodyAndProblem) {
  EXPECT_EQ(json_body(with_body(200, R"({"id":"x","size":3})"))["size"], 3);
  EXPECT_TRUE(json_body(with_body(200, "[]")).is_array());
  try {
    json_body(with_body(201, "<html>"));
    ADD_FAILURE() << "non-JSON accepted";
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 201"), std::string::npos) << e.what();
  }
  EXPECT_THROW(json_body(with_body(200, "")), client_error);

  const auto r = with_body(409, R"({"code":"conflict","detail":"busy"})");
  EXPECT_EQ(problem_of(r)["detail"], "busy");
  EXPECT_EQ(problem_code(r), "conflict");
  EXPECT_EQ(problem_of(with_body(500, "oops")), nlohmann::json::object());
  EXPECT_EQ(problem_of(with_body(500, "[1]")), nlohmann::json::object());
  EXPECT_EQ(problem_code(with_body(500, R"({"code":42})")), "");
  EXPECT_EQ(problem_code(with_body(500, "")), "");
}

TEST(ClientApi, DescribeFailure) {
  EXPECT_EQ(describe_failure(with_body(409, R"({"code":"conflict","detail":"in use"})"), "file abc",
                             true),
            "file abc: in use (conflict, HTTP 409)");
  EXPECT_EQ(describe_failure(with_body(404, ""), "file abc", false),
            "file abc: not found (or not visible to you) (HTTP 404)");
  EXPECT_EQ(describe_failure(with_body(413, "{}"), "upload x", false),
            "upload x: too large for the server (HTTP 413)");
  EXPECT_EQ(describe_failure(with_body(429, R"({"detail":"slow down"})"), "ls", false),
            "ls: the server is busy: slow down (HTTP 429)");
  EXPECT_EQ(describe_failure(with_body(429, ""), "ls", false), "ls: the server is busy (HTTP 429)");
  EXPECT_EQ(describe_failure(with_body(502, "bad gateway"), "ls", false),
            "ls: the server answered HTTP 502 (HTTP 502)");

  const auto no_key = describe_failure(with_body(401, ""), "ls", false);
  EXPECT_NE(no_key.find("requires an API key"), std::string::npos) << no_key;
  EXPECT_NE(no_key.find("--key"), std::string::npos) << no_key;
  const auto bad_key = describe_failure(with_body(401, R"({"code":"bad_key"})"), "ls", true);
  EXPECT_NE(bad_key.find("rejected the API key"), std::string::npos) << bad_key;
  EXPECT_NE(bad_key.find("HTTP 401 bad_key"), std::string::npos) << bad_key;

  // Server-supplied text is made printable.
  const auto escaped = describe_failure(
      with_body(400, R"({"code":"x\u001b]0;","detail":"a\u001b[2Jb"})"), "ls", false);
  EXPECT_EQ(escaped, "ls: a?[2Jb (x?]0;, HTTP 400)");
}

TEST(ClientApi, DescribeFailure401CodeIsPrintable) {
  // Regression (a fixed bug): the 401 branch of describe_failure() appends the server's problem
  // `code` raw, without printable(), so a server can put terminal escapes into the one-line error.
  const auto text = describe_failure(with_body(401, R"({"code":"\u001b[2J"})"), "ls", true);
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
}

// ---- upload plan ------------------------------------------------------------------------------

TEST(ClientUploadPlan, ChunkOffsetsAndLengths) {
  upload_plan p;
  p.size = 10;
  p.chunk_size = 4;
  p.chunk_count = 3;
  EXPECT_EQ(p.offset(0), 0u);
  EXPECT_EQ(p.offset(2), 8u);
  EXPECT_EQ(p.length(0), 4u);
  EXPECT_EQ(p.length(1), 4u);
  EXPECT_EQ(p.length(2), 2u);  // the short last chunk
  EXPECT_EQ(p.length(3), 0u);  // past the end
  EXPECT_EQ(p.length(1000), 0u);

  upload_plan exact{"u", 8, 4, 2};
  EXPECT_EQ(exact.length(1), 4u);
  EXPECT_EQ(exact.length(2), 0u);

  upload_plan empty{"u", 0, 4, 0};
  EXPECT_EQ(empty.length(0), 0u);
}

// ---- rate limiter -----------------------------------------------------------------------------

TEST(ClientRateLimiter, PacesAfterTheFirstSliceWithoutBurstCredit) {
  using clock = std::chrono::steady_clock;
  rate_limiter limiter(1 << 20);  // 1 MiB/s; each 100 KiB slice costs ~98 ms

  auto t0 = clock::now();
  limiter.acquire(100 << 10);
  EXPECT_LT(clock::now() - t0, 50ms) << "the first slice goes at once";
  limiter.acquire(100 << 10);
  limiter.acquire(100 << 10);
  limiter.acquire(100 << 10);
  const auto paced = clock::now() - t0;
  EXPECT_GE(paced, 280ms);  // three slices waited for
  EXPECT_LT(paced, 2s);

  // Being idle earns no credit: after a pause the second slice still waits one slice time.
  std::this_thread::sleep_for(400ms);
  t0 = clock::now();
  limiter.acquire(100 << 10);
  limiter.acquire(100 << 10);
  const auto after_idle = clock::now() - t0;
  EXPECT_GE(after_idle, 90ms);
  EXPECT_LT(after_idle, 1s);
}

// ---- local files ------------------------------------------------------------------------------

TEST(ClientFileIo, ReadHashAndIdentity) {
  temp_dir dir;
  const auto p = dir.path() / "data.bin";
  {
    auto fd = unique_fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    ASSERT_GE(fd.get(), 0);
    write_all(fd.get(), p, "abcdef", 6);
  }
  const auto fd = open_for_reading(p);
  EXPECT_EQ(identity_of(fd.get(), p).size, 6u);
  char buf[3];
  read_at(fd.get(), p, 2, buf, 3);
  EXPECT_EQ(std::string(buf, 3), "cde");
  EXPECT_THROW(read_at(fd.get(), p, 4, buf, 3), client_error);  // only 2 bytes left
  EXPECT_EQ(sha256_of(fd.get(), p), sha256_hex("abcdef"));

  EXPECT_THROW(open_for_reading(dir.path() / "missing"), client_error);
  EXPECT_THROW(open_for_reading(dir.path()), client_error);  // not a regular file
}

// ---- request bodies sent from a file --------------------------------------------------------

namespace {

// A one-request HTTP server on loopback: it keeps the body it receives (by Content-Length) and
// answers 200 once it has all of it. With a certificate it speaks HTTPS.
class one_shot_server {
 public:
  explicit one_shot_server(const sharebox::test::test_certificate* tls = nullptr) {
    if (tls != nullptr) {
      // OpenSSL writes with write(2): a client that is gone must not kill the test with SIGPIPE.
      std::signal(SIGPIPE, SIG_IGN);
      ctx_ = SSL_CTX_new(TLS_server_method());
      if (SSL_CTX_use_certificate_file(ctx_, tls->cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx_, tls->key.c_str(), SSL_FILETYPE_PEM) != 1) {
        throw std::runtime_error("cannot load the test certificate");
      }
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("cannot listen");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~one_shot_server() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  std::string url() const {
    return (ctx_ != nullptr ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
  }
  // Valid once the client's send() has returned or thrown.
  std::string body() {
    if (thread_.joinable()) thread_.join();
    return body_;
  }

 private:
  void serve() {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    SSL* ssl = nullptr;
    if (ctx_ != nullptr) {
      ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        ::close(c);
        return;
      }
    }
    const auto receive = [&](char* into, std::size_t n) -> long {
      return ssl != nullptr ? SSL_read(ssl, into, static_cast<int>(n)) : ::recv(c, into, n, 0);
    };
    std::string in;
    char buf[65536];
    std::size_t header_end = std::string::npos;
    std::size_t length = 0;
    for (;;) {
      const long n = receive(buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<std::size_t>(n));
      if (header_end == std::string::npos &&
          (header_end = in.find("\r\n\r\n")) != std::string::npos) {
        header_end += 4;
        const auto at = in.find("Content-Length: ");
        length = at == std::string::npos ? 0 : std::stoul(in.substr(at + 16));
      }
      if (header_end != std::string::npos && in.size() - header_end >= length) {
        const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        if (ssl != nullptr) {
          (void)SSL_write(ssl, ok.data(), static_cast<int>(ok.size()));
        } else {
          (void)::send(c, ok.data(), ok.size(), MSG_NOSIGNAL);
        }
        break;
      }
    }
    if (header_end != std::string::npos) body_ = in.substr(header_end);
    if (ssl != nullptr) SSL_free(ssl);
    ::close(c);
  }

  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  unsigned short port_ = 0;
  std::thread thread_;
  std::string body_;
};

std::string patterned_bytes(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>((i * 2654435761u) >> 13);
  return s;
}

}  // namespace

// A file holding `content` and a PUT whose body is [offset, offset + size) of it.
struct file_body_case {
  temp_dir dir;
  unique_fd fd;
  request req;

  file_body_case(const std::string& content, std::uint64_t offset, std::uint64_t size) {
    const auto p = dir.path() / "data.bin";
    std::ofstream(p, std::ios::binary) << content;
    fd = open_for_reading(p);
    req.method = "PUT";
    req.path = "/chunk";
    req.body_file = file_body{fd.get(), offset, size};
  }
};

TEST(ClientConnection, FileBodyIsSentFromTheGivenRange) {
  const std::string content = patterned_bytes((3 << 20) + 777);  // several 1 MiB slices
  const std::uint64_t offset = 12345;
  file_body_case c(content, offset, content.size() - offset - 100);
  one_shot_server server;
  connection conn(parse_server_url(server.url()));
  auto& req = c.req;
  std::int64_t reported = 0;
  transfer_hooks hooks;
  hooks.on_body_sent = [&](std::int64_t n) { reported += n; };
  EXPECT_EQ(conn.send(req, hooks).status, 200u);
  EXPECT_TRUE(server.body() == content.substr(offset, content.size() - offset - 100));
  EXPECT_EQ(reported, static_cast<std::int64_t>(content.size() - offset - 100));
}

TEST(ClientConnection, FileBodyPastTheEndOfTheFileFailsClearly) {
  file_body_case c(patterned_bytes(1000), 500, 1000);  // the file has 500 bytes from there
  one_shot_server server;
  connection conn(parse_server_url(server.url()));
  try {
    conn.send(c.req);
    ADD_FAILURE() << "a body past the end of the file was sent";
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("shrank"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.body().size(), 500u);  // what the file had, then the connection closed
}

// Over TLS a file body cannot go out with sendfile(2): it is read and encrypted in slices.
TEST(ClientConnection, FileBodyIsSentOverTlsFromTheGivenRange) {
  temp_dir certs;
  const auto cert = sharebox::test::make_test_certificate(certs.path());
  const std::string content = patterned_bytes((3 << 20) + 777);
  const std::uint64_t offset = 12345;
  file_body_case c(content, offset, content.size() - offset - 100);
  one_shot_server server(&cert);
  connection conn(parse_server_url(server.url()), tls_options{cert.cert.string()});
  std::int64_t reported = 0;
  transfer_hooks hooks;
  hooks.on_body_sent = [&](std::int64_t n) { reported += n; };
  EXPECT_EQ(conn.send(c.req, hooks).status, 200u);
  EXPECT_TRUE(server.body() == content.substr(offset, content.size() - offset - 100));
  EXPECT_EQ(reported, static_cast<std::int64_t>(content.size() - offset - 100));
}

TEST(ClientConnection, FileBodyPastTheEndOfTheFileFailsClearlyOverTls) {
  temp_dir certs;
  const auto cert = sharebox::test::make_test_certificate(certs.path());
  file_body_case c(patterned_bytes(1000), 500, 1000);
  one_shot_server server(&cert);
  connection conn(parse_server_url(server.url()), tls_options{cert.cert.string()});
  try {
    conn.send(c.req);
    ADD_FAILURE() << "a body past the end of the file was sent";
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("the file being sent shrank (read past its end)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(server.body().size(), 0u) << "nothing of a slice that cannot be read whole is sent";
}

// ---- chunks read through a mapping ----------------------------------------------------------

TEST(ClientMappedRange, ViewsTheGivenRangeAndRefusesOnePastTheEnd) {
  temp_dir dir;
  const auto p = dir.path() / "data.bin";
  const std::string content = patterned_bytes(3 * 4096 + 100);
  std::ofstream(p, std::ios::binary) << content;
  const auto fd = open_for_reading(p);

  const mapped_range middle(fd.get(), p, 4097, 8000);  // not page-aligned
  EXPECT_TRUE(middle.bytes() == std::string_view(content).substr(4097, 8000));
  const mapped_range tail(fd.get(), p, content.size() - 1, 1);
  EXPECT_EQ(tail.bytes(), std::string_view(content).substr(content.size() - 1));
  EXPECT_TRUE(mapped_range(fd.get(), p, content.size(), 0).bytes().empty());
  try {
    mapped_range past(fd.get(), p, content.size() - 10, 11);
    ADD_FAILURE() << "a range past the end was mapped";
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("shrank"), std::string::npos) << e.what();
  }
}

// A file cut under a mapping that was already checked: the process ends with the message (and
// status 1), not with "Bus error".
TEST(ClientMappedRangeDeathTest, FileCutUnderTheMappingEndsWithAClearMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  temp_dir dir;
  const auto p = dir.path() / "cut.bin";
  std::ofstream(p, std::ios::binary) << patterned_bytes(4 * 4096);
  EXPECT_EXIT(
      {
        set_sigbus_message(p);
        const auto fd = open_for_reading(p);
        const mapped_range view(fd.get(), p, 0, 4 * 4096);
        if (::truncate(p.c_str(), 0) != 0) std::_Exit(3);
        volatile char c = view.bytes()[3 * 4096];
        (void)c;
        std::_Exit(2);  // not reached: the read raises SIGBUS
      },
      ::testing::ExitedWithCode(1), "cut.bin: the file was cut while being read");
}

// ---- file digest fed by the sender's chunks -------------------------------------------------

TEST(FileDigest, ChunksInAnyOrderHashInIndexOrderAndGapsAreReadFromTheFile) {
  temp_dir dir;
  const auto p = dir.path() / "data.bin";
  std::string content(10'000, '\0');
  for (std::size_t i = 0; i < content.size(); ++i)
    content[i] = static_cast<char>(i * 31 + 5);
  {
    auto fd = unique_fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    write_all(fd.get(), p, content.data(), content.size());
  }
  const auto fd = open_for_reading(p);
  upload_plan plan{"u", content.size(), 1000, 10};
  const auto chunk = [&](std::uint64_t i) {
    return std::string_view(content).substr(plan.offset(i), plan.length(i));
  };

  // A resumed put: chunks 0, 4 and 9 are already on the server and are never added.
  file_digest d({fd.get(), p}, plan);
  d.expect({1, 2, 3, 5, 6, 7, 8});
  std::vector<std::thread> workers;
  for (const std::uint64_t i : {8, 7, 6, 5, 3, 2, 1})  // the latest first: each must wait
    workers.emplace_back([&, i] { EXPECT_TRUE(d.add(i, chunk(i))); });
  for (auto& w : workers)
    w.join();
  EXPECT_TRUE(d.add(2, "ignored: already hashed"));
  EXPECT_EQ(d.finish(), sha256_hex(content));
}

TEST(FileDigest, CancelReleasesAWorkerWaitingForItsTurn) {
  temp_dir dir;
  const auto p = dir.path() / "data.bin";
  {
    auto fd = unique_fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    write_all(fd.get(), p, "aabb", 4);
  }
  const auto fd = open_for_reading(p);
  file_digest d({fd.get(), p}, upload_plan{"u", 4, 2, 2});
  d.expect({0, 1});
  std::thread waiting([&] { EXPECT_FALSE(d.add(1, "bb")); });  // chunk 0 never comes
  std::this_thread::sleep_for(50ms);
  d.cancel();
  waiting.join();
  EXPECT_THROW(d.finish(), client_error);
}

// ---- resume state -----------------------------------------------------------------------------

TEST(ClientState, RootFollowsXdgStateHomeAndIgnoresRelativeValues) {
  temp_dir dir;
  const auto home = dir.path() / "home";
  scoped_env h("HOME", home.c_str());
  {
    scoped_env x("XDG_STATE_HOME", (dir.path() / "xdg").c_str());
    EXPECT_EQ(state_root(), dir.path() / "xdg" / "sharebox");
  }
  {
    scoped_env x("XDG_STATE_HOME", "relative/dir");
    EXPECT_EQ(state_root(), home / ".local" / "state" / "sharebox");
  }
  {
    scoped_env x("XDG_STATE_HOME", "");
    EXPECT_EQ(state_root(), home / ".local" / "state" / "sharebox");
  }
  {
    scoped_env x("XDG_STATE_HOME", nullptr);
    EXPECT_EQ(state_root(), home / ".local" / "state" / "sharebox");
  }
}

TEST(ClientState, FileIsNamedBySha256OfKey) {
  temp_dir dir;
  scoped_env x("XDG_STATE_HOME", dir.path().c_str());
  const std::string key = "http://127.0.0.1:8000\n/home/me/movie.mkv";
  const state_file f("uploads", key);
  EXPECT_EQ(f.path(), dir.path() / "sharebox" / "uploads" / (sha256_hex(key) + ".json"));
  EXPECT_EQ(state_file("downloads", key).path().parent_path().filename(), "downloads");
  EXPECT_NE(state_file("uploads", key + "x").path(), f.path());
  // Keys full of path syntax still map to one safe file name.
  const state_file evil("uploads", "../../etc/passwd");
  EXPECT_EQ(evil.path().parent_path(), dir.path() / "sharebox" / "uploads");
  EXPECT_EQ(evil.path().filename().string().size(), 64u + 5u);
}

TEST(ClientState, SaveLoadRoundTripAndRemove) {
  temp_dir dir;
  scoped_env x("XDG_STATE_HOME", dir.path().c_str());
  const state_file f("uploads", "some key");
  EXPECT_EQ(f.load(), std::nullopt);  // absent
  f.remove();                         // removing an absent record is fine

  const nlohmann::json record = {{"upload_id", "01ABC"},
                                 {"size", 12345678901234ull},
                                 {"mtime_ns", -5},
                                 {"name", "r\xc3\xa9sum\xc3\xa9.pdf"},
                                 {"chunks", {0, 1, 2}}};
  f.save(record);  // creates the directories
  auto loaded = f.load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, record);
  EXPECT_FALSE(std::filesystem::exists(f.path().string() + ".tmp"));

  f.save({{"upload_id", "02DEF"}});  // replaces, not merges
  loaded = f.load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, (nlohmann::json{{"upload_id", "02DEF"}}));

  // Another key's record is untouched.
  const state_file other("uploads", "other key");
  other.save({{"a", 1}});
  f.remove();
  EXPECT_FALSE(std::filesystem::exists(f.path()));
  EXPECT_EQ(f.load(), std::nullopt);
  EXPECT_TRUE(other.load());
}

TEST(ClientState, CorruptOrNonObjectRecordsLoadAsAbsent) {
  temp_dir dir;
  scoped_env x("XDG_STATE_HOME", dir.path().c_str());
  const state_file f("downloads", "k");
  std::filesystem::create_directories(f.path().parent_path());
  for (const char* text : {"{\"upload_id\": ", "[1, 2]", "\"str\"", "42", "", "null"}) {
    std::ofstream(f.path(), std::ios::binary | std::ios::trunc) << text;
    EXPECT_EQ(f.load(), std::nullopt) << text;
  }
}

TEST(ClientState, SaveFailureIsAClientError) {
  temp_dir dir;
  scoped_env x("XDG_STATE_HOME", dir.path().c_str());
  // A regular file where the kind's directory should be.
  std::filesystem::create_directories(dir.path() / "sharebox");
  std::ofstream(dir.path() / "sharebox" / "uploads") << "not a dir";
  const state_file f("uploads", "k");
  EXPECT_THROW(f.save({{"a", 1}}), client_error);
  EXPECT_EQ(f.load(), std::nullopt);
}
