// TLS on the listen port (--tls-cert / --tls-key): HTTPS and WSS on one port, checked with curl,
// a WSS client and the sharebox CLI against a self-signed certificate made at test time; plain
// HTTP sent there gets a clean 400; slow or silent handshakes are dropped; bad TLS files stop the
// start with a message naming the file.
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "support/api_client.hpp"
#include "support/fixture.hpp"
#include "support/tls_support.hpp"

namespace sharebox::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

fs::path make_temp_dir(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Runs curl (from PATH: scripts/bootstrap --test installs it) trusting only `ca`.
cli_result curl(const fs::path& ca, std::vector<std::string> args) {
  static const std::string program = find_on_path("curl");
  if (program.empty()) throw std::runtime_error("curl is not on PATH (scripts/bootstrap --test)");
  std::vector<std::string> cmd = {program, "-sS", "--max-time", "60", "--cacert", ca.string()};
  cmd.insert(cmd.end(), args.begin(), args.end());
  return run_program(cmd, 90s);
}

class Tls : public server_test {
 protected:
  static void SetUpTestSuite() {
    dir_ = make_temp_dir("sharebox-tls");
    cert_ = make_test_certificate(dir_ / "server");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::vector<std::string> server_args() const override {
    return {"--tls-cert", cert_.cert.string(), "--tls-key", cert_.key.string(), "--header-timeout",
            "2",          "--idle-timeout",    "2"};
  }
  void SetUp() override {
    server_test::SetUp();
    key_ = server().add_user("alice");
  }

  std::string url(std::string_view target) const {
    return "https://127.0.0.1:" + std::to_string(port()) + std::string(target);
  }
  std::string bearer() const { return "Authorization: Bearer " + key_; }
  cli_result curl(std::vector<std::string> args) const { return test::curl(cert_.cert, args); }
  // POST /files?name=NAME with the file's bytes; returns the new id.
  std::string upload(const fs::path& file, const std::string& name) {
    const auto r = curl({"-H", bearer(), "--data-binary", "@" + file.string(), "-H",
                         "Content-Type: application/octet-stream", url("/files?name=" + name)});
    EXPECT_TRUE(r.exit.clean()) << r.exit.describe() << "\n" << r.err;
    const auto j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("id")) << r.out;
    return j.is_object() && j.contains("id") ? j["id"].get<std::string>() : std::string();
  }

  static inline fs::path dir_;
  static inline test_certificate cert_;
  std::string key_;
};

TEST_F(Tls, CurlGetsHealthOverHttpsOnAKeptAliveConnection) {
  EXPECT_NE(server().stdout_text().find("listening on https://127.0.0.1:"), std::string::npos);
  EXPECT_NE(server().stderr_text().find("TLS on (HTTPS and WSS on the listen port): certificate "
                                        "subject CN=sharebox test, expires "),
            std::string::npos)
      << server().stderr_text();

  const auto r = curl({"-v", url("/health"), url("/health")});
  ASSERT_TRUE(r.exit.clean()) << r.exit.describe() << "\n" << r.err;
  // Two bodies, one per line.
  std::istringstream lines(r.out);
  int ok = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto j = json::parse(line, nullptr, false);
    ok += j.is_object() && j.value("status", "") == "ok" ? 1 : 0;
  }
  EXPECT_EQ(ok, 2) << r.out;
  EXPECT_NE(r.err.find("Re-using existing connection"), std::string::npos)
      << "the second request should reuse the TLS connection:\n"
      << r.err;
  EXPECT_NE(r.err.find("ALPN: server accepted http/1.1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("TLSv1.3"), std::string::npos) << r.err;
}

TEST_F(Tls, UploadAndDownloadRoundTripWithCurl) {
  const fs::path work = make_temp_dir("sharebox-tls-files");
  // Larger than one TLS file slice (256 KiB) and the 64 KiB small-response path, and not a
  // multiple of either.
  const std::string big = generate_bytes((3 << 20) + 12345, 7);
  write_file(work / "big.bin", big);
  const std::string id = upload(work / "big.bin", "big.bin");
  ASSERT_FALSE(id.empty());

  auto r = curl({"-H", bearer(), "-o", (work / "got.bin").string(), "-w", "%{http_code}",
                 url("/files/" + id)});
  ASSERT_TRUE(r.exit.clean()) << r.err;
  EXPECT_EQ(r.out, "200");
  EXPECT_TRUE(read_file(work / "got.bin") == big) << "the download differs from the upload";

  r = curl({"-H", bearer(), "-r", "1000000-2999999", "-o", (work / "range.bin").string(), "-w",
            "%{http_code}", url("/files/" + id)});
  ASSERT_TRUE(r.exit.clean()) << r.err;
  EXPECT_EQ(r.out, "206");
  EXPECT_TRUE(read_file(work / "range.bin") == big.substr(1000000, 2000000));

  // Two ranges: a multipart/byteranges body (text parts between the file ranges).
  r = curl({"-H", bearer(), "-r", "0-9,3000000-3000009", "-i", url("/files/" + id)});
  ASSERT_TRUE(r.exit.clean()) << r.err;
  EXPECT_NE(r.out.find("multipart/byteranges"), std::string::npos) << r.out.substr(0, 400);
  EXPECT_NE(r.out.find(big.substr(0, 10)), std::string::npos);
  EXPECT_NE(r.out.find(big.substr(3000000, 10)), std::string::npos);

  // A small file goes out with its header in one write.
  write_file(work / "small.txt", "hello over TLS");
  const std::string small = upload(work / "small.txt", "small.txt");
  r = curl({"-H", bearer(), url("/files/" + small)});
  ASSERT_TRUE(r.exit.clean()) << r.err;
  EXPECT_EQ(r.out, "hello over TLS");

  // Multipart upload as browsers and `curl -F` send it.
  r = curl({"-H", bearer(), "-F", "file=@" + (work / "big.bin").string(), url("/files")});
  ASSERT_TRUE(r.exit.clean()) << r.err;
  const auto made = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(made.is_object()) << r.out;
  EXPECT_EQ(made["size"], big.size());
  EXPECT_EQ(made["sha256"], sha256_hex(big));
  std::error_code ec;
  fs::remove_all(work, ec);
}

TEST_F(Tls, ServerSentEventsStreamOverHttps) {
  // curl ends the stream at --max-time (exit 28) with what arrived so far.
  const auto r = curl({"-N", "--max-time", "2", "-H", bearer(), url("/events")});
  EXPECT_EQ(r.exit.code, 28) << r.exit.describe() << "\n" << r.err;
  EXPECT_EQ(r.out.rfind(": stream open", 0), 0u) << r.out;
}

TEST_F(Tls, WssClientReceivesTheEventOfAnUpload) {
  wss_client ws(port(), cert_.cert, "/ws/events", {{"Authorization", "Bearer " + key_}});
  const fs::path work = make_temp_dir("sharebox-tls-wss");
  write_file(work / "a.txt", "an event, please");
  const std::string id = upload(work / "a.txt", "a.txt");
  std::optional<json> got;
  const auto deadline = steady::now() + 10s;
  while (!got && steady::now() < deadline) {
    auto m = ws.next(std::chrono::duration_cast<milliseconds>(deadline - steady::now()));
    if (!m) break;
    if ((*m)["kind"] == "event" && (*m)["event"]["type"] == "file.uploaded") got = m;
  }
  ASSERT_TRUE(got) << "no file.uploaded event over wss://";
  EXPECT_EQ((*got)["event"]["file"]["id"], id);
  std::error_code ec;
  fs::remove_all(work, ec);
}

TEST_F(Tls, WssIntakeOpensASession) {
  // The two-way WebSocket (image intake) over TLS: the server speaks first.
  wss_client ws(port(), cert_.cert, "/ws/intake", {{"Authorization", "Bearer " + key_}});
  const auto hello = ws.next(10s);
  ASSERT_TRUE(hello) << "no session message over wss://";
  EXPECT_EQ((*hello)["type"], "session") << hello->dump();
}

TEST_F(Tls, PlainHttpOnTheTlsPortGetsA400NotAHang) {
  const auto out =
      raw_exchange(port(), "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", milliseconds(10'000));
  EXPECT_TRUE(out.closed) << "the server should close after its answer";
  EXPECT_FALSE(out.timed_out);
  const auto r = parse_response(out.data);
  ASSERT_TRUE(r) << out.data;
  EXPECT_TRUE(is_problem(*r, 400, "tls_required")) << r->describe();
  EXPECT_NE(r->body.find("https://"), std::string::npos) << r->body;
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_FALSE(r->header("X-Request-Id").empty());

  // The same with a body the server never reads: the answer still arrives whole.
  const auto post = raw_exchange(
      port(),
      "POST /files?name=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n" +
          std::string(100000, 'x'),
      milliseconds(10'000));
  const auto pr = parse_response(post.data);
  ASSERT_TRUE(pr) << post.data.substr(0, 200);
  EXPECT_TRUE(is_problem(*pr, 400, "tls_required"));
}

TEST_F(Tls, SilentOrStalledHandshakesAreDroppedAfterTheHeaderTimeout) {
  // Connects and says nothing.
  auto silent = raw_exchange(port(), "", milliseconds(10'000));
  EXPECT_TRUE(silent.closed);
  EXPECT_LT(silent.elapsed, 6s) << "--header-timeout 2 bounds the wait for a client hello";
  EXPECT_TRUE(silent.data.empty());
  // Starts a TLS record and stalls.
  auto stalled =
      raw_exchange(port(), std::string("\x16\x03\x01\x02\x00\x01", 6), milliseconds(10'000));
  EXPECT_TRUE(stalled.closed);
  EXPECT_LT(stalled.elapsed, 6s);
  // The server still serves.
  tls_connection c(port(), cert_.cert);
  EXPECT_TRUE(has_status(c.request("GET", "/health"), 200));
}

TEST_F(Tls, IdleConnectionEndsWithCloseNotifyAndAlpnIsHttp11) {
  tls_connection c(port(), cert_.cert);
  EXPECT_EQ(c.alpn(), "http/1.1");
  EXPECT_TRUE(has_status(c.request("GET", "/health"), 200));
  EXPECT_TRUE(has_status(c.request("GET", "/health"), 200));  // kept alive
  const auto end = c.read_until_close(milliseconds(10'000));
  EXPECT_TRUE(end.closed) << "--idle-timeout 2 should close it";
  EXPECT_FALSE(end.error) << "expected a TLS close_notify, got " << end.error.message();
  EXPECT_LT(end.elapsed, 6s);
}

TEST_F(Tls, SignInCookieIsSecure) {
  tls_connection c(port(), cert_.cert);
  const auto r = c.request("POST", "/auth/session",
                           {{"Content-Type", "application/json"},
                            {"Origin", "https://127.0.0.1:" + std::to_string(port())}},
                           json{{"api_key", key_}}.dump());
  ASSERT_TRUE(has_status(r, 201));
  const std::string set = r.header("Set-Cookie");
  EXPECT_NE(set.find("; Secure"), std::string::npos) << set;
  EXPECT_NE(set.find("; HttpOnly"), std::string::npos) << set;
}

TEST_F(Tls, GracefulShutdownClosesTlsAndWssConnections) {
  wss_client ws(port(), cert_.cert, "/ws/events", {{"Authorization", "Bearer " + key_}});
  tls_connection c(port(), cert_.cert);
  EXPECT_TRUE(has_status(c.request("GET", "/health"), 200));
  const auto started = steady::now();
  const auto exit = server().terminate(15s);
  EXPECT_TRUE(exit.clean()) << exit.describe();
  EXPECT_LT(steady::now() - started, 8s);
  EXPECT_FALSE(ws.next(2s));
  EXPECT_TRUE(ws.closed());
}

// ---- the sharebox CLI over https:// -------------------------------------------------------------

class TlsCli : public Tls {
 protected:
  void SetUp() override {
    Tls::SetUp();
    work_ = make_temp_dir("sharebox-tls-cli");
  }
  void TearDown() override {
    Tls::TearDown();
    std::error_code ec;
    fs::remove_all(work_, ec);
  }
  // The CLI with a private HOME/XDG_STATE_HOME and `extra` environment variables.
  cli_result sharebox(std::vector<std::string> args, std::vector<std::string> extra = {}) const {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      const std::string_view var(*e);
      if (var.rfind("SHAREBOX_", 0) == 0 || var.rfind("HOME=", 0) == 0 ||
          var.rfind("XDG_STATE_HOME=", 0) == 0 || var.rfind("SSL_CERT_", 0) == 0) {
        continue;
      }
      env.emplace_back(var);
    }
    env.push_back("HOME=" + (work_ / "home").string());
    env.push_back("XDG_STATE_HOME=" + (work_ / "state").string());
    env.push_back("SHAREBOX_API_KEY=" + key_);
    env.insert(env.end(), extra.begin(), extra.end());
    args.insert(args.begin(), sharebox_binary());
    return run_program(args, 60s, env);
  }
  std::string base() const { return "https://127.0.0.1:" + std::to_string(port()); }
  fs::path work_;
};

::testing::AssertionResult fails_with(const cli_result& r, const std::string& needle) {
  if (r.exit.clean() || r.exit.timed_out) {
    return ::testing::AssertionFailure()
           << "expected a failure, got " << r.exit.describe() << "\nstderr: " << r.err;
  }
  if (r.err.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "stderr lacks '" << needle << "': " << r.err;
  }
  return ::testing::AssertionSuccess();
}

TEST_F(TlsCli, PutAndGetOverHttpsVerifyAgainstTheGivenCa) {
  const std::string data = generate_bytes((5 << 20) + 7, 21);  // several 1 MiB slices
  write_file(work_ / "up.bin", data);
  const auto put = sharebox({"put", (work_ / "up.bin").string(), "--url", base(), "--cacert",
                             cert_.cert.string(), "--no-progress", "--chunk-size", "1M"});
  ASSERT_TRUE(put.exit.clean()) << put.exit.describe() << "\n" << put.err;
  const std::string id = trim(put.out);
  ASSERT_EQ(id.size(), 26u) << put.out;

  // The CA file from the environment this time.
  const auto get =
      sharebox({"get", id, "-o", (work_ / "down.bin").string(), "--url", base(), "--no-progress"},
               {"SHAREBOX_CACERT=" + cert_.cert.string()});
  ASSERT_TRUE(get.exit.clean()) << get.exit.describe() << "\n" << get.err;
  EXPECT_NE(get.out.find("OK"), std::string::npos) << get.out;
  EXPECT_TRUE(read_file(work_ / "down.bin") == data);

  // OpenSSL's SSL_CERT_FILE works too (instead of the system's CA bundle).
  const auto ls = sharebox({"ls", "--url", base()}, {"SSL_CERT_FILE=" + cert_.cert.string()});
  ASSERT_TRUE(ls.exit.clean()) << ls.err;
  EXPECT_NE(ls.out.find("up.bin"), std::string::npos) << ls.out;
}

TEST_F(TlsCli, UntrustedCertificateFailsAtOnceWithAHint) {
  const auto started = steady::now();
  const auto r = sharebox({"ls", "--url", base()});
  EXPECT_TRUE(fails_with(r, "the server's certificate is not trusted (self-signed certificate)"));
  EXPECT_TRUE(fails_with(r, "--cacert"));
  EXPECT_LT(steady::now() - started, 10s) << "a refused certificate is not retried";

  // Another self-signed certificate does not vouch for this server.
  const auto other = make_test_certificate(work_ / "other", "other");
  EXPECT_TRUE(fails_with(sharebox({"ls", "--url", base(), "--cacert", other.cert.string()}),
                         "not trusted"));
  EXPECT_TRUE(
      fails_with(sharebox({"ls", "--url", base(), "--cacert", (work_ / "missing.pem").string()}),
                 "cannot read the CA certificate file " + (work_ / "missing.pem").string()));
  write_file(work_ / "junk.pem", "not a certificate\n");
  EXPECT_TRUE(
      fails_with(sharebox({"ls", "--url", base(), "--cacert", (work_ / "junk.pem").string()}),
                 "holds no usable PEM certificate"));
}

TEST_F(TlsCli, WrongSchemeEitherWayIsExplained) {
  const std::string plain_url = "http://127.0.0.1:" + std::to_string(port());
  EXPECT_TRUE(fails_with(sharebox({"ls", "--url", plain_url}), "tls_required, HTTP 400"));

  server_process plain;  // a plain HTTP server, asked for https://
  const std::string wrong = "https://127.0.0.1:" + std::to_string(plain.port());
  EXPECT_TRUE(fails_with(sharebox({"ls", "--url", wrong, "--cacert", cert_.cert.string()}),
                         "cannot connect to " + wrong + ": TLS handshake failed ("));
}

// ---- start-up checks --------------------------------------------------------------------------

class TlsStartup : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = make_temp_dir("sharebox-tls-start");
    cert_ = make_test_certificate(dir_ / "a");
    other_ = make_test_certificate(dir_ / "b");
    write_file(dir_ / "junk.pem",
               "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
               "-----END CERTIFICATE-----\n");
    // The key, encrypted with a passphrase the server cannot know.
    FILE* in = std::fopen(cert_.key.c_str(), "r");
    EVP_PKEY* key = PEM_read_PrivateKey(in, nullptr, nullptr, nullptr);
    std::fclose(in);
    FILE* out = std::fopen((dir_ / "encrypted.pem").c_str(), "w");
    static char pass[] = "secret";
    PEM_write_PrivateKey(out, key, EVP_aes_128_cbc(), nullptr, 0, nullptr, pass);
    std::fclose(out);
    EVP_PKEY_free(key);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // `sharebox serve` on port 0 with `args`, expected to stop at once.
  static cli_result serve(std::vector<std::string> args, std::vector<std::string> env_extra = {}) {
    std::vector<std::string> cmd = {sharebox_binary(), "serve",      "--listen",
                                    "127.0.0.1:0",     "--data-dir", (dir_ / "data").string(),
                                    "--events",        "off"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (std::string_view(*e).rfind("SHAREBOX_", 0) != 0) env.emplace_back(*e);
    }
    env.insert(env.end(), env_extra.begin(), env_extra.end());
    return run_program(cmd, 20s, env);
  }
  static ::testing::AssertionResult refused(const cli_result& r, const std::string& needle) {
    if (!r.exit.exited || r.exit.code != 1) {
      return ::testing::AssertionFailure()
             << "expected exit status 1, got " << r.exit.describe() << "\n"
             << r.out << r.err;
    }
    if (r.err.find("sharebox: " + needle) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "stderr lacks 'sharebox: " << needle << "': " << r.err;
    }
    if (r.out.find("listening") != std::string::npos) {
      return ::testing::AssertionFailure() << "it started listening: " << r.out;
    }
    return ::testing::AssertionSuccess();
  }

  static inline fs::path dir_;
  static inline test_certificate cert_;
  static inline test_certificate other_;
};

TEST_F(TlsStartup, CertAndKeyGoTogether) {
  const std::string msg =
      "--tls-cert and --tls-key (SHAREBOX_TLS_CERT, SHAREBOX_TLS_KEY) go "
      "together";
  EXPECT_TRUE(refused(serve({"--tls-cert", cert_.cert.string()}), msg));
  EXPECT_TRUE(refused(serve({"--tls-key", cert_.key.string()}), msg));
  EXPECT_TRUE(refused(serve({}, {"SHAREBOX_TLS_CERT=" + cert_.cert.string()}), msg));
  EXPECT_TRUE(refused(serve({}, {"SHAREBOX_TLS_KEY=" + cert_.key.string()}), msg));
}

TEST_F(TlsStartup, UnusableFilesAreNamed) {
  const std::string missing = (dir_ / "missing.pem").string();
  EXPECT_TRUE(refused(serve({"--tls-cert", missing, "--tls-key", cert_.key.string()}),
                      "cannot read the TLS certificate " + missing + ": No such file"));
  EXPECT_TRUE(refused(serve({"--tls-cert", cert_.cert.string(), "--tls-key", missing}),
                      "cannot read the TLS key " + missing + ": No such file"));
  const std::string junk = (dir_ / "junk.pem").string();
  EXPECT_TRUE(refused(serve({"--tls-cert", junk, "--tls-key", cert_.key.string()}),
                      "the TLS certificate " + junk + " is not a usable PEM certificate chain"));
  // A certificate where the key belongs.
  EXPECT_TRUE(refused(
      serve({"--tls-cert", cert_.cert.string(), "--tls-key", cert_.cert.string()}),
      "the TLS key " + cert_.cert.string() + " is not a usable unencrypted PEM private key"));
  const std::string encrypted = (dir_ / "encrypted.pem").string();
  EXPECT_TRUE(refused(serve({"--tls-cert", cert_.cert.string(), "--tls-key", encrypted}),
                      "the TLS key " + encrypted + " is not a usable unencrypted PEM private key"));
  EXPECT_TRUE(refused(serve({"--tls-cert", cert_.cert.string(), "--tls-key", other_.key.string()}),
                      "the TLS key " + other_.key.string() +
                          " does not belong to the certificate in " + cert_.cert.string()));
}

TEST_F(TlsStartup, ExpiredCertificateIsWarnedAbout) {
  const auto expired = make_test_certificate(dir_ / "expired", "sharebox test", true);
  server_process s({"--tls-cert", expired.cert.string(), "--tls-key", expired.key.string()});
  EXPECT_NE(s.stderr_text().find("the TLS certificate " + expired.cert.string() + " has expired"),
            std::string::npos)
      << s.stderr_text();
}

}  // namespace
}  // namespace sharebox::test
