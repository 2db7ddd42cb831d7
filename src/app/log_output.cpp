#include "sharebox/app/log_output.hpp"

#include <spdlog/details/os.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string_view>

namespace sharebox::app {

namespace {

constexpr std::size_t max_pending = 64 * 1024;

// spdlog's colour sink's choices, per level.
std::string_view level_color(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "\033[37m";
    case spdlog::level::debug:
      return "\033[36m";
    case spdlog::level::info:
      return "\033[32m";
    case spdlog::level::warn:
      return "\033[33m\033[1m";
    case spdlog::level::err:
      return "\033[31m\033[1m";
    case spdlog::level::critical:
      return "\033[1m\033[41m";
    default:
      return "\033[m";
  }
}

}  // namespace

log_output::log_output(int fd)
    : fd_(fd),
      colors_(spdlog::details::os::in_terminal(fd == 1 ? stdout : stderr) &&
              spdlog::details::os::is_color_terminal()) {}

log_output::~log_output() {
  std::lock_guard lock(mutex_);
  write_pending();
}

void log_output::batch_with(std::function<void()> schedule) {
  std::lock_guard lock(mutex_);
  schedule_ = std::move(schedule);
  if (!schedule_) write_pending();
}

void log_output::sink_it_(const spdlog::details::log_msg& msg) {
  if (!colors_) {
    formatter_->format(msg, pending_);  // appends
  } else {
    msg.color_range_start = 0;
    msg.color_range_end = 0;
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    const auto append = [&](std::string_view s) { pending_.append(s.data(), s.data() + s.size()); };
    const std::string_view line(formatted.data(), formatted.size());
    if (msg.color_range_end > msg.color_range_start) {
      append(line.substr(0, msg.color_range_start));
      append(level_color(msg.level));
      append(line.substr(msg.color_range_start, msg.color_range_end - msg.color_range_start));
      append("\033[m");
      append(line.substr(msg.color_range_end));
    } else {
      append(line);
    }
  }
  if (!schedule_ || pending_.size() >= max_pending) {
    write_pending();
  } else if (!flush_scheduled_) {
    flush_scheduled_ = true;
    schedule_();
  }
}

void log_output::flush_() {
  write_pending();
}

void log_output::write_pending() {
  flush_scheduled_ = false;
  std::size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // nowhere to log to: drop rather than spin
    done += static_cast<std::size_t>(n);
  }
  pending_.clear();
}

}  // namespace sharebox::app
