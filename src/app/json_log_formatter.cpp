#include "sharebox/app/json_log_formatter.hpp"

#include <fmt/compile.h>
#include <spdlog/details/log_msg.h>

#include <chrono>
#include <ctime>
#include <iterator>

#include "sharebox/util/json_text.hpp"

namespace sharebox::app {

namespace {

void put(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

}  // namespace

void json_log_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
  const std::int64_t second = ms / 1000;
  if (second != cached_second_) {
    const std::time_t t = second;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.", &tm);
    cached_prefix_.assign(buf, n);
    cached_second_ = second;
  }
  put(dest, "{\"time\":\"");
  put(dest, cached_prefix_);
  fmt::format_to(std::back_inserter(dest), FMT_COMPILE("{:03}Z\",\"level\":\""), ms % 1000);
  const auto level = spdlog::level::to_string_view(msg.level);
  put(dest, std::string_view(level.data(), level.size()));
  const std::string_view payload(msg.payload.data(), msg.payload.size());
  if (msg.logger_name == "access") {
    put(dest, "\",\"type\":\"access\",");
    put(dest, payload);
  } else {
    put(dest, "\",\"msg\":");
    util::append_json_string(dest, payload);
  }
  put(dest, "}\n");
}

std::unique_ptr<spdlog::formatter> json_log_formatter::clone() const {
  return std::make_unique<json_log_formatter>();
}

}  // namespace sharebox::app
