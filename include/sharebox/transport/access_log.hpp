#pragma once
// The access log: one line per request, as text or as a JSON object.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace sharebox::transport {

enum class log_format { text, json };

struct access_record {
  std::string_view request_id;
  std::string_view user;    // empty: not authenticated
  std::string_view method;  // empty: no request header was read
  std::string_view target;  // as received; credentials in it are redacted when logged
  unsigned status = 0;
  std::uint64_t bytes_in = 0;  // request body bytes
  std::uint64_t bytes_out = 0;
  std::int64_t duration_us = 0;
};

// Where access lines go (a logger named "access" sharing the server's sinks, so that a JSON
// formatter can tell them apart) and in which form. Until called: the default logger, text.
void configure_access_log(std::shared_ptr<spdlog::logger> logger, log_format format);

void log_access(const access_record& r);

// The target with the values of credential-bearing query parameters (ticket, key, token, ...)
// replaced by REDACTED. `scratch` holds the result when anything was replaced.
std::string_view loggable_target(std::string_view target, std::string& scratch);

}  // namespace sharebox::transport
