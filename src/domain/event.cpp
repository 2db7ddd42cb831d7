#include "sharebox/domain/event.hpp"

#include "sharebox/util/crypto.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::domain {

event make_event(std::string_view type, const std::string& actor, const file_record& file) {
  return event{util::new_id(), std::string(type), util::now_ms(), actor,
               file,           std::nullopt,      std::nullopt};
}

}  // namespace sharebox::domain
