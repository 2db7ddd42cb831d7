#include "sharebox/domain/notification_service.hpp"

#include "sharebox/domain/errors.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::domain {

namespace {

notification own(metadata_txn& tx, const user& caller, std::string_view id) {
  auto n = tx.find_notification(caller.id, id);
  if (!n) throw error(errc::notification_not_found, "No such notification.");
  return *n;
}

}  // namespace

std::vector<notification> notification_service::list(const user& caller, bool unread_only,
                                                     std::size_t limit) {
  std::vector<notification> out;
  meta_.read([&](metadata_txn& tx) { out = tx.notifications_of(caller.id, unread_only, limit); });
  return out;
}

std::int64_t notification_service::unread_count(const user& caller) {
  std::int64_t n = 0;
  meta_.read([&](metadata_txn& tx) { n = tx.unread_count(caller.id); });
  return n;
}

notification notification_service::mark_read(const user& caller, std::string_view id) {
  notification n;
  meta_.write([&](metadata_txn& tx) {
    n = own(tx, caller, id);
    if (!n.read_at) {
      n.read_at = util::now_ms();
      tx.mark_read(caller.id, id, *n.read_at);
    }
  });
  return n;
}

std::int64_t notification_service::mark_all_read(const user& caller) {
  std::int64_t n = 0;
  meta_.write([&](metadata_txn& tx) { n = tx.mark_all_read(caller.id, util::now_ms()); });
  return n;
}

void notification_service::remove(const user& caller, std::string_view id) {
  meta_.write([&](metadata_txn& tx) {
    own(tx, caller, id);
    tx.delete_notification(caller.id, id);
  });
}

}  // namespace sharebox::domain
