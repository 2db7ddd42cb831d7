#pragma once
// --log-format json: one JSON object per line, for log shippers.
//   {"time":"2026-11-22T19:05:00.123Z","level":"info","msg":"..."}
//   {"time":...,"level":"info","type":"access","request_id":...,"status":200,...}
// Lines of the logger named "access" carry their members pre-rendered (see
// transport::log_access); every other line's message becomes "msg".
#include <spdlog/formatter.h>

#include <cstdint>
#include <string>

namespace sharebox::app {

class json_log_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  // "2026-11-22T19:05:00." for the second last formatted: one gmtime per second, not per line.
  std::int64_t cached_second_ = -1;
  std::string cached_prefix_;
};

}  // namespace sharebox::app
