// GET /metrics against a real server: what the series say after real requests, uploads,
// WebSockets and intake verdicts, and that gauges come back down when clients leave.
#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "support/api_client.hpp"
#include "support/fixture.hpp"
#include "support/test_images.hpp"
#include "support/ws_client.hpp"

namespace sharebox::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The value of the sample written exactly as `series` (name and labels), if there is one.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

std::string requests(const std::string& route, const std::string& method, unsigned status) {
  return "sharebox_http_requests_total{route=\"" + route + "\",method=\"" + method +
         "\",status=\"" + std::to_string(status) + "\"}";
}

class Metrics : public alice_test {
 protected:
  // Scrapes on one keep-alive connection of its own, so that the scraper's connection is
  // always exactly one of those counted.
  std::string scrape() {
    if (!scraper_) scraper_ = std::make_unique<connection>(port());
    const auto r = scraper_->request("GET", "/metrics");
    EXPECT_TRUE(has_status(r, 200));
    return r.body;
  }
  double value(const std::string& series) {
    const auto text = scrape();
    const auto v = sample(text, series);
    EXPECT_TRUE(v.has_value()) << series << " missing from:\n" << text;
    return v.value_or(-1);
  }
  // Scrapes until `series` has `want`. Gauges follow disconnections a moment later, and a
  // request is counted just after its response is sent: a client may scrape before that.
  ::testing::AssertionResult eventually(const std::string& series, double want) {
    std::string text;
    for (int i = 0; i < 100; ++i) {
      text = scrape();
      if (sample(text, series) == want) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(50ms);
    }
    return ::testing::AssertionFailure() << series << " never became " << want << ":\n" << text;
  }

  std::unique_ptr<connection> scraper_;
};

TEST_F(Metrics, ServedPublicInTheTextFormat) {
  const auto r = request(port(), "GET", "/metrics");
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  EXPECT_NE(r.body.find("# TYPE sharebox_build_info gauge\nsharebox_build_info{version=\""),
            std::string::npos)
      << r.body;
  for (const char* family :
       {"process_start_time_seconds gauge", "process_resident_memory_bytes gauge",
        "sharebox_open_connections gauge", "sharebox_outbox_backlog gauge",
        "sharebox_outbox_publish_failures_total counter", "sharebox_uploads_in_progress gauge",
        "sharebox_resumable_uploads_open gauge", "sharebox_image_verdicts_total counter",
        "sharebox_sqlite_commit_duration_seconds histogram"}) {
    EXPECT_NE(r.body.find(std::string("\n# TYPE ") + family + "\n"), std::string::npos) << family;
  }
  // Served with the rest: a scrape is counted once it is answered, so a later one sees it.
  std::optional<double> scrapes;
  for (int i = 0; i < 100 && !scrapes; ++i) {
    scrapes = sample(scrape(), requests("/metrics", "GET", 200));
    if (!scrapes) std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(scrapes.value_or(0), 1);
}

TEST_F(Metrics, RequestsAreCountedByRoutePatternAndExactStatus) {
  auto a = alice();
  const std::string content(1000, 'x');
  const auto id = created_id(a.upload_raw("a.bin", content));
  ASSERT_TRUE(has_status(a.get("/files/" + id), 200));
  ASSERT_TRUE(has_status(a.get("/files/" + id), 200));
  ASSERT_TRUE(has_status(a.head("/files/" + id), 200));  // HEAD counts as GET
  ASSERT_TRUE(is_problem(a.get("/files/aaaaaaaaaaaaaaaaaaaaaaaaaa"), 404, "file_not_found"));
  ASSERT_TRUE(is_problem(a.get("/no/such/route"), 404, "route_not_found"));
  ASSERT_TRUE(is_problem(a.send("PATCH", "/files"), 405, "method_not_allowed"));
  ASSERT_TRUE(is_problem(anonymous().get("/files"), 401, "unauthenticated"));
  // The last request of each connection (one connection counts its requests in order).
  ASSERT_TRUE(eventually(requests("unmatched", "PATCH", 405), 1));
  ASSERT_TRUE(eventually(requests("/files", "GET", 401), 1));

  const auto text = scrape();
  EXPECT_EQ(sample(text, requests("/files", "POST", 201)), 1) << text;
  EXPECT_EQ(sample(text, requests("/files/{id}", "GET", 200)), 3);
  EXPECT_EQ(sample(text, requests("/files/{id}", "GET", 404)), 1);
  EXPECT_EQ(sample(text, requests("/files", "GET", 401)), 1);
  EXPECT_EQ(sample(text, requests("unmatched", "GET", 404)), 1);
  EXPECT_EQ(sample(text, requests("unmatched", "PATCH", 405)), 1);
  // Never the raw path: ids would make the series unbounded.
  EXPECT_EQ(text.find(id), std::string::npos);
  EXPECT_EQ(text.find("/no/such/route"), std::string::npos);

  const std::string dl = "{route=\"/files/{id}\",method=\"GET\"}";
  EXPECT_EQ(sample(text, "sharebox_http_request_duration_seconds_count" + dl), 4);
  EXPECT_EQ(sample(text,
                   "sharebox_http_request_duration_seconds_bucket{route=\"/files/{id}\","
                   "method=\"GET\",le=\"+Inf\"}"),
            4);
  EXPECT_GT(sample(text, "sharebox_http_request_duration_seconds_sum" + dl).value_or(0), 0);
  // Two bodies of 1000 bytes, and every response's header block.
  EXPECT_GT(sample(text, "sharebox_http_response_bytes_total" + dl).value_or(0), 2000 + 4 * 100);
  EXPECT_GT(sample(text, "sharebox_http_request_bytes_total{route=\"/files\",method=\"POST\"}")
                .value_or(0),
            1000);
  // The upload committed (and so did its user's creation).
  EXPECT_GE(sample(text, "sharebox_sqlite_commit_duration_seconds_count").value_or(0), 1);
  // Events stay in the outbox: the test server runs with --events off.
  EXPECT_GE(sample(text, "sharebox_outbox_backlog").value_or(0), 1);
  EXPECT_EQ(sample(text, "sharebox_outbox_published_total"), 0);
}

TEST_F(Metrics, ConnectionAndWebSocketGaugesComeBackDown) {
  // Only the scraper's own connection is open.
  ASSERT_TRUE(eventually("sharebox_open_connections", 1));
  {
    auto a = alice();
    auto b = alice();
    ASSERT_TRUE(has_status(a.get("/files"), 200));
    ASSERT_TRUE(has_status(b.get("/files"), 200));
    ws_client events(port(), "/ws/events", {{"Authorization", "Bearer " + key_}});
    ws_client events2(port(), "/ws/events", {{"Authorization", "Bearer " + key_}});
    EXPECT_TRUE(eventually("sharebox_open_websockets{route=\"/ws/events\"}", 2));
    EXPECT_EQ(value("sharebox_open_connections"), 5);
    events2.vanish();  // gone without a closing handshake: counted down all the same
    EXPECT_TRUE(eventually("sharebox_open_websockets{route=\"/ws/events\"}", 1));
  }
  EXPECT_TRUE(eventually("sharebox_open_websockets{route=\"/ws/events\"}", 0));
  EXPECT_TRUE(eventually("sharebox_open_connections", 1));
  const auto text = scrape();
  EXPECT_EQ(sample(text, requests("/ws/events", "GET", 101)), 2) << text;
}

TEST_F(Metrics, UploadInProgressWhileItsBodyArrives) {
  const std::string raw = "sharebox_uploads_in_progress{protocol=\"raw\"}";
  EXPECT_EQ(value(raw), 0);
  connection conn(port());
  stream_upload_options o;
  o.target = "/files?name=slow.bin";
  o.headers = auth();
  o.size = 4 << 20;
  o.on_progress = [](std::uint64_t sent) { return sent < (1u << 20); };  // stop part way
  const auto r = upload_stream(conn, o);
  ASSERT_TRUE(r.aborted) << r.describe();
  EXPECT_TRUE(eventually(raw, 1));
  conn.close();  // the client gives up: the upload is over
  EXPECT_TRUE(eventually(raw, 0));
  EXPECT_EQ(value("sharebox_uploads_in_progress{protocol=\"multipart\"}"), 0);
}

TEST_F(Metrics, ResumableUploadsOpenAreReadFromTheDatabase) {
  auto a = alice();
  EXPECT_EQ(value("sharebox_resumable_uploads_open{protocol=\"chunked\"}"), 0);
  const auto init = a.post_json("/v1/uploads/init", R"({"filename":"c.bin","size":10})");
  ASSERT_TRUE(has_status(init, 201));
  const auto tus = a.send("POST", "/tus/", {{"Tus-Resumable", "1.0.0"}, {"Upload-Length", "5"}});
  ASSERT_TRUE(has_status(tus, 201));
  EXPECT_EQ(value("sharebox_resumable_uploads_open{protocol=\"chunked\"}"), 1);
  EXPECT_EQ(value("sharebox_resumable_uploads_open{protocol=\"tus\"}"), 1);
  const auto upload = "/v1/uploads/" + json_body(init)["upload_id"].get<std::string>();
  ASSERT_TRUE(has_status(a.send("PUT", upload + "/chunks/0", {}, "0123456789"), 200));
  ASSERT_TRUE(has_status(a.send("POST", upload + "/complete"), 201));
  EXPECT_EQ(value("sharebox_resumable_uploads_open{protocol=\"chunked\"}"), 0);
  const auto text = scrape();
  EXPECT_EQ(sample(text, requests("/v1/uploads/{id}/chunks/{index}", "PUT", 200)), 1) << text;
  EXPECT_EQ(sample(text, requests("/tus/", "POST", 201)), 1);
}

TEST_F(Metrics, IntakeVerdictsAreCountedByCode) {
  const auto verdicts = [&](const std::string& code) {
    return value("sharebox_image_verdicts_total{code=\"" + code + "\"}");
  };
  EXPECT_EQ(verdicts("accepted"), 0);
  {
    ws_client ws(port(), "/ws/intake", {{"Authorization", "Bearer " + key_}});
    ASSERT_TRUE(ws.next(5s).has_value());  // the session message
    ws.text(
        json{{"type", "file"}, {"client_file_id", "big"}, {"name", "big.jpg"}, {"size", 1ull << 30}}
            .dump());
    auto v = ws.next(5s);
    ASSERT_TRUE(v && (*v)["code"] == "too_large") << (v ? v->dump() : "nothing");

    const auto jpeg = make_picture(1, 320, 240, "jpeg");
    ws.text(
        json{{"type", "file"}, {"client_file_id", "ok"}, {"name", "ok.jpg"}, {"size", jpeg.size()}}
            .dump());
    v = ws.next(5s);
    ASSERT_TRUE(v && (*v)["type"] == "ready") << (v ? v->dump() : "nothing");
    EXPECT_EQ(value("sharebox_uploads_in_progress{protocol=\"intake\"}"), 1);
    ws.binary(jpeg);
    v = ws.next_matching([](const json& m) { return m["type"] == "verdict"; }, 15s);
    ASSERT_TRUE(v && (*v)["accepted"] == true) << (v ? v->dump() : "nothing");
    EXPECT_TRUE(eventually("sharebox_uploads_in_progress{protocol=\"intake\"}", 0));
    EXPECT_EQ(value("sharebox_open_websockets{route=\"/ws/intake\"}"), 1);
  }
  EXPECT_EQ(verdicts("accepted"), 1);
  EXPECT_EQ(verdicts("too_large"), 1);
  EXPECT_EQ(verdicts("duplicate"), 0);
  EXPECT_TRUE(eventually("sharebox_open_websockets{route=\"/ws/intake\"}", 0));
  // The pictures' bytes came in as WebSocket messages on the intake route.
  EXPECT_GT(value("sharebox_http_request_bytes_total{route=\"/ws/intake\",method=\"GET\"}"), 1000);
}

class MetricsKey : public server_test {
 protected:
  std::vector<std::string> server_args() const override { return {"--metrics-key", "s3cret"}; }
};

TEST_F(MetricsKey, WantsTheKeyWhenOneIsSet) {
  EXPECT_TRUE(is_problem(request(port(), "GET", "/metrics"), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(request(port(), "GET", "/metrics", {{"Authorization", "Bearer nope"}}),
                         401, "unauthenticated"));
  // A user's API key is not the metrics key.
  EXPECT_TRUE(is_problem(
      request(port(), "GET", "/metrics", {{"Authorization", "Bearer " + server().admin_key()}}),
      401, "unauthenticated"));
  // Counted just after the answers: a scrape may come first.
  std::string text;
  for (int i = 0; i < 100; ++i) {
    const auto r = request(port(), "GET", "/metrics", {{"Authorization", "Bearer s3cret"}});
    ASSERT_TRUE(has_status(r, 200));
    text = r.body;
    if (sample(text, requests("/metrics", "GET", 401)) == 3) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(sample(text, requests("/metrics", "GET", 401)), 3) << text;
  EXPECT_TRUE(has_status(request(port(), "GET", "/health"), 200));  // still public
}

}  // namespace
}  // namespace sharebox::test
