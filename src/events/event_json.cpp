#include "sharebox/events/event_json.hpp"

#include "sharebox/util/time.hpp"

namespace sharebox::events {

nlohmann::json event_json(const domain::event& e) {
  nlohmann::json j{
      {"id", e.id},
      {"type", e.type},
      {"occurred_at", util::format_rfc3339(e.occurred_at)},
      {"actor", e.actor},
      {"file",
       {{"id", e.file.id},
        {"name", e.file.name},
        {"size", e.file.size},
        {"content_type", e.file.content_type},
        {"sha256", e.file.sha256},
        {"version", e.file.version},
        {"owner", e.file.owner}}},
  };
  if (e.target_user_id) j["target_user_id"] = *e.target_user_id;
  if (e.perm) j["permission"] = domain::to_string(*e.perm);
  return j;
}

}  // namespace sharebox::events
