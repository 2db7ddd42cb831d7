#pragma once
#include <cstddef>
#include <string>

namespace sharebox::app {

struct events_command_options {
  std::string url;   // RABBITMQ_URL
  std::string host;  // RABBITMQ_HOST
  std::string queue = "file_alerts";
  std::string exchange = "sharebox.events";
  std::string bind;  // a pattern: consume a private queue bound to it instead of `queue`
  bool json = false;
  std::size_t count = 0;  // exit after this many events (0: until Ctrl-C)
};

// `sharebox events`: prints one line per event and acks it after printing. Returns the exit
// code (0 on Ctrl-C or after --count events).
int run_events_command(const events_command_options& opts);

}  // namespace sharebox::app
