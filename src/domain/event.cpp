#include "sharebox/domain/event.hpp"

#include "sharebox/util/crypto.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::domain {

event make_event(std::string_view type, const std::string& actor, const file_record& file) {
  event e;
  e.id = util::new_id();
  e.type = std::string(type);
  e.occurred_at = util::now_ms();
  e.actor = actor;
  e.file = file;
  return e;
}

}  // namespace sharebox::domain
