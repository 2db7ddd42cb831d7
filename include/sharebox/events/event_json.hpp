#pragma once
#include <nlohmann/json.hpp>

#include "sharebox/domain/event.hpp"

namespace sharebox::events {

// The published body (docs/events.md):
// {"id","type","occurred_at","actor","file":{"id","name","size","content_type","sha256",
//  "version","owner"},"target_user_id"?,"permission"?}
nlohmann::json event_json(const domain::event& e);

}  // namespace sharebox::events
