#include "sharebox/domain/notification.hpp"

#include "sharebox/util/crypto.hpp"

namespace sharebox::domain {

namespace {

std::string title_for(const event& e) {
  const std::string name = "\"" + e.file.name + "\"";
  if (e.type == event_type::shared) {
    return e.actor + " shared " + name + " with you (" +
           std::string(to_string(e.perm.value_or(permission::read))) + ")";
  }
  if (e.type == event_type::unshared) return e.actor + " stopped sharing " + name + " with you";
  if (e.type == event_type::updated) {
    return e.actor + " updated " + name + " (version " + std::to_string(e.file.version) + ")";
  }
  return e.actor + ": " + e.type + " " + name;
}

}  // namespace

notification notification_for(const event& e, const std::string& recipient) {
  notification n;
  n.id = util::new_id();
  n.user_id = recipient;
  n.type = e.type;
  n.title = title_for(e);
  n.file_id = e.file.id;
  n.file_name = e.file.name;
  n.actor = e.actor;
  n.event_id = e.id;
  n.created_at = e.occurred_at;
  return n;
}

}  // namespace sharebox::domain
