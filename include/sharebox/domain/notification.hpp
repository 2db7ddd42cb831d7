#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "sharebox/domain/event.hpp"

namespace sharebox::domain {

struct notification {
  std::int64_t seq = 0;
  std::string id;
  std::string user_id;  // whose inbox
  std::string type;     // the event type that caused it
  std::string title;    // human-readable, e.g. `alice shared "a.txt" with you (read)`
  std::string file_id;
  std::string file_name;
  std::string actor;
  std::string event_id;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> read_at;
};

// The notification `recipient` gets for event `e`.
notification notification_for(const event& e, const std::string& recipient);

}  // namespace sharebox::domain
