#pragma once
// The log's way to stderr: lines are formatted into memory and written in batches.
#include <spdlog/sinks/base_sink.h>

#include <functional>
#include <mutex>

namespace sharebox::app {

// One write(2) per batch of lines instead of one per line: the access log has a line per
// request, and its write was 5 % of the server's CPU per request on small downloads (measured).
// When what is kept is written:
// - a warning or error at once, after everything before it (the logger flushes on warn);
// - other lines when the flush asked of `schedule` (see batch_with) runs; the server posts it to
//   its io_context, where it runs once the handlers that are ready now have run: after the
//   current batch of requests, within microseconds when the server is idle;
// - at once when 64 KiB are waiting, or when no scheduler is set (commands, start-up, shutdown);
// - on flush() and on destruction, so a clean shutdown writes every line.
// The trade-off: a crash (SIGKILL, abort) loses the lines of the batch in progress.
// Colours as spdlog's colour sink: for the level, when stderr is a colour terminal.
class log_output final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit log_output(int fd = 2);
  ~log_output() override;

  // `schedule` must see to it that flush() is called soon; it may be called from any thread, with
  // this sink's lock held, so it must not log or flush itself. nullptr: write every line at once.
  void batch_with(std::function<void()> schedule);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  void write_pending();

  int fd_;
  bool colors_;
  spdlog::memory_buf_t pending_;
  std::function<void()> schedule_;
  bool flush_scheduled_ = false;
};

}  // namespace sharebox::app
