// The metrics primitives and their Prometheus text exposition (version 0.0.4).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>

#include "sharebox/http/request_metrics.hpp"
#include "sharebox/util/metrics.hpp"

using namespace sharebox;
using namespace sharebox::util::metrics;

namespace {

bool contains_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

}  // namespace

TEST(Metrics, CountersGaugesAndHolds) {
  counter c;
  c.inc();
  c.inc(41);
  EXPECT_EQ(c.value(), 42u);

  gauge g;
  g.set(5);
  g.dec(7);
  EXPECT_EQ(g.value(), -2);
  g.set(0);
  {
    gauge_hold a(g);
    EXPECT_EQ(g.value(), 1);
    gauge_hold b = std::move(a);  // moved, not counted twice
    EXPECT_EQ(g.value(), 1);
    gauge_hold c2(g);
    EXPECT_EQ(g.value(), 2);
    c2 = std::move(b);  // c2's own hold ends, b's goes on in c2
    EXPECT_EQ(g.value(), 1);
    c2.release();
    EXPECT_EQ(g.value(), 0);
  }
  EXPECT_EQ(g.value(), 0);
}

TEST(Metrics, BucketBoundsAreInclusive) {
  const auto& d = duration_buckets();
  ASSERT_EQ(d.bounds().front(), 0.0001);
  ASSERT_EQ(d.bounds().back(), 60.0);
  EXPECT_EQ(d.index_of(0), 0u);
  EXPECT_EQ(d.index_of(100'000), 0u);  // 0.1 ms exactly: le="0.0001"
  EXPECT_EQ(d.index_of(100'001), 1u);
  EXPECT_EQ(d.index_of(60'000'000'000), d.bounds().size() - 1);
  EXPECT_EQ(d.index_of(60'000'000'001), d.bounds().size());  // +Inf
  EXPECT_THROW(bucket_layout({1, 1}, 1), std::invalid_argument);
  EXPECT_THROW(bucket_layout({2, 1}, 1), std::invalid_argument);
  EXPECT_THROW(bucket_layout({1}, 0), std::invalid_argument);
}

TEST(Metrics, HistogramExpositionIsCumulativeWithInfSumAndCount) {
  const bucket_layout ms({0.5, 1, 2.5}, 1e-3);  // observations in milliseconds
  registry r;
  auto& h = r.add_histogram("x_duration_seconds", "How long.", ms, {{"op", "a"}});
  h.observe(500);   // 0.5 s: in le="0.5"
  h.observe(700);   // le="1"
  h.observe(3000);  // only +Inf
  EXPECT_EQ(r.render(),
            "# HELP x_duration_seconds How long.\n"
            "# TYPE x_duration_seconds histogram\n"
            "x_duration_seconds_bucket{op=\"a\",le=\"0.5\"} 1\n"
            "x_duration_seconds_bucket{op=\"a\",le=\"1\"} 2\n"
            "x_duration_seconds_bucket{op=\"a\",le=\"2.5\"} 2\n"
            "x_duration_seconds_bucket{op=\"a\",le=\"+Inf\"} 3\n"
            "x_duration_seconds_sum{op=\"a\"} 4.2\n"
            "x_duration_seconds_count{op=\"a\"} 3\n");
  const auto s = h.read();
  EXPECT_EQ(s.count(), 3u);
  EXPECT_DOUBLE_EQ(s.sum, 4.2);

  // Nanoseconds to seconds without a tail of rounding noise.
  histogram d(duration_buckets());
  d.observe(20'595'427);
  EXPECT_EQ(format_value(d.read().sum), "0.020595427");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escape_help("back\\slash \"quoted\"\nnext"), "back\\\\slash \"quoted\"\\nnext");
  registry r;
  r.add_counter("odd_total", "Line one\nline two \\ end.", {{"path", "/a\"b"}}).inc(3);
  EXPECT_EQ(r.render(),
            "# HELP odd_total Line one\\nline two \\\\ end.\n"
            "# TYPE odd_total counter\n"
            "odd_total{path=\"/a\\\"b\"} 3\n");
}

TEST(Metrics, ValuesAreFormattedAsPrometheusReadsThem) {
  EXPECT_EQ(format_value(0.0001), "0.0001");
  EXPECT_EQ(format_value(0.00025), "0.00025");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(60), "60");
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(1.7e9), "1700000000");
  EXPECT_EQ(format_value(1.5e-5), "1.5e-05");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(std::stod(format_value(1.0 / 3)), 1.0 / 3);  // reads back exactly
}

TEST(Metrics, FamiliesAreGroupedWithOneHelpAndType) {
  registry r;
  r.add_counter("a_total", "A.", {{"k", "1"}}).inc();
  r.add_gauge("b", "B.").set(-4);
  r.add_counter("a_total", "A.", {{"k", "2"}}).inc(2);
  r.add_collector([](text_writer& w) {
    w.family("c_total", "counter", "C.");
    w.sample("c_total", {}, std::uint64_t{7});
    w.family("empty", "gauge", "Never sampled: leaves nothing.");
  });
  EXPECT_EQ(r.render(),
            "# HELP a_total A.\n"
            "# TYPE a_total counter\n"
            "a_total{k=\"1\"} 1\n"
            "a_total{k=\"2\"} 2\n"
            "# HELP b B.\n"
            "# TYPE b gauge\n"
            "b -4\n"
            "# HELP c_total C.\n"
            "# TYPE c_total counter\n"
            "c_total 7\n");
}

TEST(Metrics, RegistrationMistakesAreRefused) {
  registry r;
  r.add_counter("a_total", "A.", {{"k", "1"}});
  EXPECT_THROW(r.add_counter("a_total", "A.", {{"k", "1"}}), std::logic_error);  // same labels
  EXPECT_THROW(r.add_gauge("a_total", "A.", {{"k", "2"}}), std::logic_error);    // other type
  EXPECT_THROW(r.add_counter("a_total", "Other.", {{"k", "2"}}), std::logic_error);
  EXPECT_THROW(r.add_counter("9lives_total", "N."), std::logic_error);
  EXPECT_THROW(r.add_counter("with-dash_total", "N."), std::logic_error);
  EXPECT_THROW(r.add_counter("ok_total", "N.", {{"bad-label", "x"}}), std::logic_error);
  EXPECT_THROW(r.add_counter("ok_total", "N.", {{"__reserved", "x"}}), std::logic_error);
  EXPECT_THROW(r.add_histogram("h_seconds", "H.", duration_buckets(), {{"le", "1"}}),
               std::logic_error);
  EXPECT_TRUE(valid_metric_name("sharebox:rule_total"));
  EXPECT_FALSE(valid_label_name("a:b"));
}

TEST(Metrics, ProcessFamiliesReadProc) {
  registry r;
  add_process_metrics(r);
  const auto text = r.render();
  for (const char* name :
       {"process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_start_time_seconds", "process_open_fds"}) {
    EXPECT_NE(text.find("# TYPE " + std::string(name) + " "), std::string::npos) << name;
  }
  const auto at = text.find("\nprocess_resident_memory_bytes ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::stod(text.substr(at + 31)), 1e6);  // a test binary holds more than 1 MB
}

TEST(RequestMetrics, EveryKnownStatusHasItsOwnSlot) {
  std::set<std::size_t> slots;
  for (const auto code : http::detail::known_statuses) {
    const auto slot = http::status_slot(code);
    EXPECT_NE(slot, 0u) << code;
    EXPECT_EQ(http::status_of_slot(slot), code);
    slots.insert(slot);
  }
  EXPECT_EQ(slots.size(), http::detail::known_statuses.size());
  EXPECT_EQ(http::status_slot(299), 0u);
  EXPECT_EQ(http::status_slot(1000), 0u);
  EXPECT_EQ(http::status_of_slot(0), 0u);
}

TEST(RequestMetrics, RoutesStatusesBytesAndStreams) {
  registry r;
  http::request_metrics m(r);
  auto& download = m.add_route("GET", "/files/{id}");
  auto& events = m.add_route("GET", "/ws/events");
  m.add_route("DELETE", "/files/{id}");  // never used: no series
  download.record(200, std::chrono::microseconds(50), 100, 1124);
  download.record(200, std::chrono::milliseconds(2), 100, 1124);
  download.record(404, std::chrono::microseconds(80), 90, 200);
  download.record(299, std::nullopt, 0, 0);  // unknown to Beast: status="other"
  m.unmatched(bhttp::verb::patch).record(404, std::chrono::microseconds(30), 60, 150);
  m.unmatched(bhttp::verb::propfind).record(405, std::chrono::microseconds(30), 60, 150);
  auto open = events.open_stream(http::route_metrics::stream_kind::websocket);
  events.add_bytes_out(42);
  events.record(101, std::nullopt, 300, 0);

  auto text = r.render();
  const std::string dl = "route=\"/files/{id}\",method=\"GET\"";
  EXPECT_TRUE(contains_line(text, "sharebox_http_requests_total{" + dl + ",status=\"200\"} 2"))
      << text;
  EXPECT_TRUE(contains_line(text, "sharebox_http_requests_total{" + dl + ",status=\"404\"} 1"));
  EXPECT_TRUE(contains_line(text, "sharebox_http_requests_total{" + dl + ",status=\"other\"} 1"));
  EXPECT_TRUE(contains_line(
      text, "sharebox_http_requests_total{route=\"unmatched\",method=\"PATCH\",status=\"404\"} 1"));
  EXPECT_TRUE(contains_line(
      text, "sharebox_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"405\"} 1"));
  EXPECT_TRUE(contains_line(
      text, "sharebox_http_request_duration_seconds_bucket{" + dl + ",le=\"0.0001\"} 2"));
  EXPECT_TRUE(contains_line(
      text, "sharebox_http_request_duration_seconds_bucket{" + dl + ",le=\"0.0025\"} 3"));
  EXPECT_TRUE(contains_line(text, "sharebox_http_request_duration_seconds_count{" + dl + "} 3"));
  EXPECT_TRUE(contains_line(text, "sharebox_http_request_bytes_total{" + dl + "} 290"));
  EXPECT_TRUE(contains_line(text, "sharebox_http_response_bytes_total{" + dl + "} 2448"));
  EXPECT_TRUE(contains_line(
      text, "sharebox_http_request_bytes_total{route=\"/ws/events\",method=\"GET\"} 300"));
  EXPECT_TRUE(contains_line(
      text, "sharebox_http_response_bytes_total{route=\"/ws/events\",method=\"GET\"} 42"));
  // Streams are counted but not timed.
  EXPECT_EQ(text.find("sharebox_http_request_duration_seconds_count{route=\"/ws/events\""),
            std::string::npos);
  EXPECT_TRUE(contains_line(text, "sharebox_open_websockets{route=\"/ws/events\"} 1"));
  EXPECT_EQ(text.find("method=\"DELETE\""), std::string::npos);
  EXPECT_EQ(text.find("sharebox_open_sse_streams"), std::string::npos);  // none yet
  EXPECT_EQ(count_of(text, "# TYPE sharebox_http_requests_total counter"), 1u);

  open.release();
  text = r.render();
  EXPECT_TRUE(contains_line(text, "sharebox_open_websockets{route=\"/ws/events\"} 0")) << text;
}
