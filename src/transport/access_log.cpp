#include "sharebox/transport/access_log.hpp"

#include <fmt/compile.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include "sharebox/util/encoding.hpp"
#include "sharebox/util/json_text.hpp"

namespace sharebox::transport {

namespace {

struct access_log_state {
  std::shared_ptr<spdlog::logger> logger;  // null: the default logger
  log_format format = log_format::text;
};

access_log_state& state() {
  static access_log_state s;
  return s;
}

// Query parameters that carry a credential. sharebox reads only `ticket` from a query, but a
// client that puts its key in the URL (a common habit elsewhere) must not have it logged either.
constexpr std::array<std::string_view, 8> secret_params = {
    "ticket", "key", "api_key", "apikey", "token", "access_token", "session", "password"};

bool is_secret_param(std::string_view name) {
  // Compared as the server reads the name: parse_target percent-decodes query names, so
  // `tick%65t=` is a ticket too (found by tests/fuzz/access_log_fuzz.cpp).
  std::optional<std::string> decoded;
  if (name.find_first_of("%+") != std::string_view::npos) {
    decoded = util::url_decode(name, true);
    if (decoded) name = *decoded;
  }
  return std::any_of(secret_params.begin(), secret_params.end(), [name](std::string_view s) {
    return name.size() == s.size() &&
           std::equal(name.begin(), name.end(), s.begin(), [](char a, char b) {
             return (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b;
           });
  });
}

}  // namespace

void configure_access_log(std::shared_ptr<spdlog::logger> logger, log_format format) {
  state() = {std::move(logger), format};
}

// Calls fn(name, pair) for each name=value pair of the query; stops when fn returns true.
template <typename Fn>
bool any_query_pair(std::string_view query, Fn fn) {
  while (true) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (fn(pair.substr(0, pair.find('=')), pair)) return true;
    if (amp == std::string_view::npos) return false;
    query.remove_prefix(amp + 1);
  }
}

std::string_view loggable_target(std::string_view target, std::string& scratch) {
  const auto mark = target.find('?');
  if (mark == std::string_view::npos) return target;
  const std::string_view query = target.substr(mark + 1);
  const auto secret = [](std::string_view name, std::string_view pair) {
    return name.size() < pair.size() && is_secret_param(name);
  };
  if (!any_query_pair(query, secret)) return target;
  scratch.assign(target.substr(0, mark + 1));
  bool first = true;
  any_query_pair(query, [&](std::string_view name, std::string_view pair) {
    if (!std::exchange(first, false)) scratch.push_back('&');
    if (secret(name, pair)) {
      scratch.append(name).append("=REDACTED");
    } else {
      scratch.append(pair);
    }
    return false;
  });
  return scratch;
}

void log_access(const access_record& r) {
  const auto& s = state();
  auto* logger = s.logger ? s.logger.get() : spdlog::default_logger_raw();
  if (!logger->should_log(spdlog::level::info)) return;
  std::string scratch;
  const std::string_view target = r.method.empty() ? "-" : loggable_target(r.target, scratch);
  const std::string_view method = r.method.empty() ? "-" : r.method;
  // Formatted here with formats compiled at build time, then logged as they are: spdlog's own
  // formatting parses the format string at run time, and was a sixth of a small download's
  // user-space instructions. The duration is printed in tenths of a millisecond from integer
  // microseconds (what "{:.1f}" of the milliseconds printed, without floating-point formatting).
  const auto tenths = (r.duration_us + 50) / 100;
  fmt::memory_buffer line;
  if (s.format == log_format::text) {
    const std::string_view user = r.user.empty() ? std::string_view("-") : r.user;
    fmt::format_to(std::back_inserter(line), FMT_COMPILE("{} {} {} {} {} in={} out={} {}.{}ms"),
                   r.request_id, user, method, target, r.status, r.bytes_in, r.bytes_out,
                   tenths / 10, tenths % 10);
  } else {
    // The members of one JSON object; the JSON formatter writes the braces, time and level.
    line.append(std::string_view("\"request_id\":"));
    util::append_json_string(line, r.request_id);
    line.append(std::string_view(",\"user\":"));
    if (r.user.empty()) {
      line.append(std::string_view("null"));
    } else {
      util::append_json_string(line, r.user);
    }
    line.append(std::string_view(",\"method\":"));
    util::append_json_string(line, method);
    line.append(std::string_view(",\"target\":"));
    util::append_json_string(line, target);
    fmt::format_to(std::back_inserter(line),
                   FMT_COMPILE(",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},"
                               "\"duration_ms\":{}.{}"),
                   r.status, r.bytes_in, r.bytes_out, tenths / 10, tenths % 10);
  }
  logger->log(spdlog::level::info, std::string_view(line.data(), line.size()));
}

}  // namespace sharebox::transport
