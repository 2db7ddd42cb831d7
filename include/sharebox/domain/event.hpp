#pragma once
// A file event, as recorded in the outbox with the change it describes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharebox/domain/model.hpp"

namespace sharebox::domain {

namespace event_type {
inline constexpr std::string_view uploaded = "file.uploaded";
inline constexpr std::string_view updated = "file.updated";
inline constexpr std::string_view shared = "file.shared";
inline constexpr std::string_view unshared = "file.unshared";
inline constexpr std::string_view deleted = "file.deleted";
}  // namespace event_type

struct event {
  std::string id;
  std::string type;
  std::int64_t occurred_at = 0;  // unix ms
  std::string actor;
  file_record file;  // snapshot at the commit (blob and seq are not part of the event)
  std::optional<std::string> target_user_id;
  std::optional<permission> perm;
  // Users who may see it on the live streams (not part of the published body).
  std::vector<std::string> audience;
};

event make_event(std::string_view type, const std::string& actor, const file_record& file);

// An outbox row: the event and its position in commit order.
struct outbox_entry {
  std::int64_t seq = 0;
  event ev;
};

}  // namespace sharebox::domain
