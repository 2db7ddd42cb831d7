// Log lines: JSON string escaping, the JSON formatter, and credential redaction in targets.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/details/log_msg.h>

#include <string>

#include "sharebox/app/json_log_formatter.hpp"
#include "sharebox/transport/access_log.hpp"
#include "sharebox/util/json_text.hpp"

namespace sharebox {
namespace {

std::string as_json(std::string_view s) {
  std::string out;
  util::append_json_string(out, s);
  return out;
}

TEST(JsonText, EscapesWhatJsonRequires) {
  EXPECT_EQ(as_json(""), R"("")");
  EXPECT_EQ(as_json("plain /files?x=1"), R"("plain /files?x=1")");
  EXPECT_EQ(as_json("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(as_json("l1\nl2\r\t\x01\x7f"), R"("l1\nl2\r\t\u0001\u007f")");
  // Valid UTF-8 is kept as it is; anything else is escaped byte by byte, never dropped.
  EXPECT_EQ(as_json("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(as_json("caf\xe9 \xff"), R"("caf\u00e9 \u00ff")");
  for (const std::string s : {"\xc3", "x\"\xfe\n", "\xed\xa0\x80", "ok"}) {
    const auto parsed = nlohmann::json::parse(as_json(s));
    EXPECT_TRUE(parsed.is_string()) << s;
  }
  EXPECT_EQ(nlohmann::json::parse(as_json("a\"b\\c\n")).get<std::string>(), "a\"b\\c\n");
}

std::string formatted(std::string_view logger, spdlog::level::level_enum level,
                      std::string_view payload) {
  app::json_log_formatter f;
  spdlog::details::log_msg msg(spdlog::string_view_t(logger.data(), logger.size()), level,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t out;
  f.format(msg, out);
  return {out.data(), out.size()};
}

TEST(JsonLogFormatter, OneObjectPerLine) {
  const auto line = formatted("sharebox", spdlog::level::warn, "disk \"full\"\nretrying");
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(line.find('\n'), line.size() - 1);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["msg"], "disk \"full\"\nretrying");
  const std::string time = j["time"];
  ASSERT_EQ(time.size(), 24u) << time;
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time[19], '.');
  EXPECT_EQ(time.back(), 'Z');
}

TEST(JsonLogFormatter, AccessLinesCarryTheirFields) {
  const auto line = formatted("access", spdlog::level::info, R"("request_id":"r1","status":200)");
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["type"], "access");
  EXPECT_EQ(j["request_id"], "r1");
  EXPECT_EQ(j["status"], 200);
  EXPECT_FALSE(j.contains("msg"));
}

std::string logged(std::string_view target) {
  std::string scratch;
  return std::string(transport::loggable_target(target, scratch));
}

TEST(AccessLog, CredentialsInTheQueryAreRedacted) {
  EXPECT_EQ(logged("/files/abc"), "/files/abc");
  EXPECT_EQ(logged("/files?limit=5&after=x"), "/files?limit=5&after=x");
  EXPECT_EQ(logged("/ws/events?ticket=T0ps3cret"), "/ws/events?ticket=REDACTED");
  EXPECT_EQ(logged("/files?limit=5&api_key=sbk_x&after=y"),
            "/files?limit=5&api_key=REDACTED&after=y");
  EXPECT_EQ(logged("/f?Token=a&KEY=b&access_token=c&apikey=d&password=e&session=f"),
            "/f?Token=REDACTED&KEY=REDACTED&access_token=REDACTED&apikey=REDACTED&"
            "password=REDACTED&session=REDACTED");
  // Only whole parameter names: "monkey" is not "key", and a name alone has nothing to hide.
  EXPECT_EQ(logged("/f?monkey=1&ticketing=2&ticket"), "/f?monkey=1&ticketing=2&ticket");
  // Empty pairs keep their place.
  EXPECT_EQ(logged("/f?&&ticket=x&"), "/f?&&ticket=REDACTED&");
  EXPECT_EQ(logged("/f?ticket=a&ticket=b"), "/f?ticket=REDACTED&ticket=REDACTED");
  // Names as the server decodes them (found by tests/fuzz/access_log_fuzz.cpp): the server
  // reads `tick%65t` as `ticket`.
  EXPECT_EQ(logged("/ws/events?tick%65t=T0ps3cret&a=%41"), "/ws/events?tick%65t=REDACTED&a=%41");
  EXPECT_EQ(logged("/f?%74oken=x&api%5Fkey=y&bad%zz=z"),
            "/f?%74oken=REDACTED&api%5Fkey=REDACTED&bad%zz=z");
}

}  // namespace
}  // namespace sharebox
