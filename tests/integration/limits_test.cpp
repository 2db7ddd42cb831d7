// Size limits (413, 431), malformed requests, timeouts, and memory use of a 1 GiB transfer.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "support/fixture.hpp"
#include "support/upload_helpers.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr std::uint64_t max_file_size = 1024 * 1024;

long ms_since(steady::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count());
}

class Limits : public server_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--max-file-size", std::to_string(max_file_size)};
  }
  void SetUp() override {
    server_test::SetUp();
    alice_.emplace(make_user("alice"));
  }
  api_client& alice() { return *alice_; }
  header_list auth_and(header_list extra) {
    header_list h = alice().auth();
    h.insert(h.end(), extra.begin(), extra.end());
    return h;
  }
  std::optional<api_client> alice_;
};

// The 413 must arrive while the client has sent only the header block.
TEST_F(Limits, OversizedContentLengthIs413BeforeBody) {
  struct variant {
    std::string what;
    std::string method;
    std::string target;
    header_list headers;
  };
  const std::string id = created_id(alice().upload_raw("small.txt", "small"));
  const std::vector<variant> variants = {
      {"raw", "POST", "/files?name=big.bin", {{"Content-Type", "application/octet-stream"}}},
      {"multipart", "POST", "/files", {{"Content-Type", "multipart/form-data; boundary=xyz"}}},
      {"just over the limit", "POST", "/files?name=big.bin", {{"Content-Type", "text/plain"}}},
      {"PUT", "PUT", "/files/" + id, {{"If-Match", "\"1\""}}},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.what);
    const std::string length =
        v.what == "just over the limit" ? std::to_string(max_file_size + 1) : "10737418240";
    header_list h = auth_and(v.headers);
    h.emplace_back("Content-Length", length);
    connection conn(port(), 5s);
    conn.send_raw(raw_request_head(v.method, v.target, port(), h));
    const auto start = steady::now();
    const response r = conn.read_response();  // throws on timeout: the server waited for a body
    EXPECT_LT(ms_since(start), 3000);
    EXPECT_TRUE(is_problem(r, 413, "file_too_large"));
  }
  EXPECT_EQ(json_body(alice().list()).size(), 1u);
  EXPECT_EQ(alice().get("/files/" + id).body, "small");
}

TEST_F(Limits, ExpectContinueWithOversizedLengthGets413Not100) {
  connection conn(port(), 5s);
  conn.send_raw(raw_request_head("POST", "/files?name=big.bin", port(),
                                 auth_and({{"Content-Length", "10737418240"},
                                           {"Content-Type", "application/octet-stream"},
                                           {"Expect", "100-continue"}})));
  const response r = conn.read_response();
  EXPECT_NE(r.status, 100u) << "server sent 100 Continue for a body it will reject";
  EXPECT_TRUE(is_problem(r, 413, "file_too_large"));
}

TEST_F(Limits, UploadExactlyAtLimitSucceeds) {
  const std::string content = generate_bytes(max_file_size, 5);
  const response r = alice().upload_raw("exact.bin", content);
  ASSERT_TRUE(has_status(r, 201));
  EXPECT_EQ(json_body(r)["size"], max_file_size);
  EXPECT_EQ(json_body(r)["sha256"], sha256_hex(content));
}

TEST_F(Limits, ChunkedUploadOverLimitIs413AndLeavesNothing) {
  for (const bool multipart : {false, true}) {
    SCOPED_TRACE(multipart ? "multipart" : "raw");
    stream_upload_options o;
    o.target = multipart ? "/files" : "/files?name=too-big.bin";
    o.headers = alice().auth();
    if (!multipart) o.headers.emplace_back("Content-Type", "application/octet-stream");
    o.size = 4 * max_file_size;
    o.chunked = true;
    o.chunk_size = 64 * 1024;
    connection conn(port(), 10s);
    const auto up =
        multipart ? upload_stream_multipart(conn, o, "too-big.bin") : upload_stream(conn, o);
    ASSERT_TRUE(up.resp.has_value()) << up.describe();
    EXPECT_TRUE(is_problem(*up.resp, 413, "file_too_large")) << up.describe();
  }
  EXPECT_EQ(json_body(alice().list()), json::array());
  // The server is fine afterwards.
  EXPECT_TRUE(has_status(alice().upload_raw("ok.txt", "ok"), 201));
}

TEST_F(Limits, OversizedHeaderBlockIs431) {
  const std::string pad(17 * 1024, 'a');
  connection conn(port(), 5s);
  conn.send_raw(raw_request_head("GET", "/health", port(), {{"X-Pad", pad}}));
  EXPECT_TRUE(is_problem(conn.read_response(), 431, "headers_too_large"));

  // Many small headers add up as well.
  header_list many;
  for (int i = 0; i < 400; ++i)
    many.emplace_back("X-Pad-" + std::to_string(i), std::string(50, 'b'));
  connection conn2(port(), 5s);
  conn2.send_raw(raw_request_head("GET", "/files", port(), many));
  EXPECT_TRUE(is_problem(conn2.read_response(), 431, "headers_too_large"));

  // A large but acceptable header block is fine.
  const response ok = request(port(), "GET", "/health", {{"X-Pad", std::string(12 * 1024, 'c')}});
  EXPECT_TRUE(has_status(ok, 200));
}

TEST_F(Limits, MalformedRequestLineIs400) {
  for (const std::string& raw : {std::string("THIS IS NOT HTTP\r\n\r\n"),
                                 std::string("GET /health HTTP/1.1 trailing\r\n\r\n"),
                                 std::string("GET\r\n\r\n"), std::string("\x01\x02\x03\r\n\r\n")}) {
    SCOPED_TRACE(raw);
    const auto result = raw_exchange(port(), raw, 5s);
    EXPECT_TRUE(result.closed) << "connection not closed after a malformed request";
    const auto r = parse_response(result.data);
    ASSERT_TRUE(r.has_value()) << "no HTTP response, got: " << result.data;
    EXPECT_TRUE(is_problem(*r, 400));
  }
  EXPECT_TRUE(has_status(request(port(), "GET", "/health"), 200));
}

TEST_F(Limits, InvalidContentLengthIs400) {
  const auto result = raw_exchange(
      port(),
      raw_request_head("POST", "/files?name=x", port(), auth_and({{"Content-Length", "abc"}})), 5s);
  const auto r = parse_response(result.data);
  ASSERT_TRUE(r.has_value()) << result.data;
  EXPECT_TRUE(is_problem(*r, 400));
  EXPECT_EQ(json_body(alice().list()), json::array());
}

// ------------------------------------------------------------------------------------------

class Timeouts : public server_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--idle-timeout", "1", "--read-timeout", "1"};
  }
};

TEST_F(Timeouts, IdleKeepAliveConnectionIsClosed) {
  connection conn(port(), 10s);
  ASSERT_TRUE(has_status(conn.request("GET", "/health"), 200));
  // Keep-alive works while the connection is busy.
  ASSERT_TRUE(has_status(conn.request("GET", "/health"), 200));
  const auto result = conn.read_until_close(6s);
  EXPECT_TRUE(result.closed) << "idle connection still open after 6 s";
  EXPECT_GE(result.elapsed.count(), 500) << "closed long before the idle timeout";
  EXPECT_LE(result.elapsed.count(), 4000);
  EXPECT_EQ(result.data, "") << "unexpected bytes on an idle connection";
  EXPECT_TRUE(has_status(request(port(), "GET", "/health"), 200));
}

TEST_F(Timeouts, ConnectionThatNeverSendsARequestIsClosed) {
  connection silent(port(), 10s);
  silent.ensure_connected();
  const auto result = silent.read_until_close(6s);
  EXPECT_TRUE(result.closed) << "a silent connection is still open after 6 s";
  EXPECT_GE(result.elapsed.count(), 500) << "closed long before the idle timeout";
  EXPECT_LE(result.elapsed.count(), 4000);
  EXPECT_EQ(result.data, "");
  EXPECT_TRUE(has_status(request(port(), "GET", "/health"), 200));
}

TEST_F(Timeouts, StalledBodyIsDisconnected) {
  const std::string key = add_user("alice");
  connection stalled(port(), 10s);
  stalled.send_raw(raw_request_head("POST", "/files?name=stall.bin", port(),
                                    {{"Authorization", "Bearer " + key},
                                     {"Content-Type", "application/octet-stream"},
                                     {"Content-Length", "100000"}}));
  stalled.send_raw(std::string(1000, 'x'));

  // Others are served while that connection hangs.
  EXPECT_TRUE(has_status(request(port(), "GET", "/health"), 200));

  const auto result = stalled.read_until_close(8s);
  EXPECT_TRUE(result.closed) << "stalled upload still connected after 8 s";
  EXPECT_LE(result.elapsed.count(), 5000);
  if (!result.data.empty()) {
    // A 408 (or similar) before closing is fine; a success is not.
    const auto r = parse_response(result.data);
    ASSERT_TRUE(r.has_value()) << result.data;
    EXPECT_GE(r->status, 400u) << r->describe();
  }
  EXPECT_TRUE(has_status(request(port(), "GET", "/health"), 200));
  const response list = api_client(port(), key).list();
  EXPECT_EQ(json_body(list), json::array()) << "a partial upload was stored";
}

TEST_F(Timeouts, SlowButSteadyClientIsNotCutOff) {
  const std::string key = add_user("alice");
  const std::string body = generate_bytes(6 * 1024, 11);
  connection conn(port(), 10s);
  conn.send_raw(raw_request_head("POST", "/files?name=slow.bin", port(),
                                 {{"Authorization", "Bearer " + key},
                                  {"Content-Type", "application/octet-stream"},
                                  {"Content-Length", std::to_string(body.size())}}));
  // 6 pieces, 400 ms apart: 2.4 s in total, but never 1 s without progress.
  for (std::size_t i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(400ms);
    conn.send_raw(std::string_view(body).substr(i * 1024, 1024));
  }
  const response r = conn.read_response();
  ASSERT_TRUE(has_status(r, 201));
  EXPECT_EQ(json_body(r)["sha256"], sha256_hex(body));
}

// ------------------------------------------------------------------------------------------

class LargeFile : public server_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--max-file-size", std::to_string(4ULL << 30)};
  }
};

TEST_F(LargeFile, OneGibStreamedUploadAndDownloadKeepMemoryBounded) {
  constexpr std::uint64_t size = 1ULL << 30;
  constexpr long rss_limit_kib = 96 * 1024;
  const std::string key = add_user("alice");
  const header_list auth = {{"Authorization", "Bearer " + key}};

  connection conn(port(), 60s);
  stream_upload_options o;
  o.target = "/files?name=huge.bin";
  o.headers = auth;
  o.headers.emplace_back("Content-Type", "application/octet-stream");
  o.size = size;
  o.seed = 2024;
  o.chunk_size = 256 * 1024;
  long peak_during_upload = 0;
  o.on_progress = [&](std::uint64_t sent) {
    if (sent % (64ULL << 20) == 0)
      peak_during_upload = std::max(peak_during_upload, server().rss_kib());
    return true;
  };
  const auto up = upload_stream(conn, o);
  ASSERT_TRUE(up.resp.has_value()) << up.describe();
  ASSERT_TRUE(has_status(*up.resp, 201));
  const json f = json_body(*up.resp);
  EXPECT_EQ(f["size"], size);
  EXPECT_EQ(f["sha256"], up.sha256);
  EXPECT_EQ(up.bytes_sent, size);

  const long peak_after_upload = server().peak_rss_kib();
  ASSERT_GT(peak_after_upload, 0) << "cannot read VmHWM";
  if (!sanitized_server()) {
    EXPECT_LT(peak_after_upload, rss_limit_kib)
        << "server peak RSS " << peak_after_upload << " KiB after a 1 GiB upload (RSS sampled "
        << peak_during_upload << " KiB during it)";
  }

  const auto down = download_stream(conn, "/files/" + f["id"].get<std::string>(), auth);
  EXPECT_EQ(down.status, 200u);
  EXPECT_EQ(down.size, size);
  EXPECT_EQ(down.sha256, up.sha256);
  EXPECT_EQ(down.header("Content-Length"), std::to_string(size));

  const long peak_after_download = server().peak_rss_kib();
  if (!sanitized_server()) {
    EXPECT_LT(peak_after_download, rss_limit_kib)
        << "server peak RSS " << peak_after_download << " KiB after a 1 GiB download";
  }
}

}  // namespace
}  // namespace sharebox::test
