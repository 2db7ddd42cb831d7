#pragma once
// A user's notifications inbox. Every operation is scoped to the caller: another user's
// notification does not exist for them (404), like a file they cannot see.
#include <string_view>
#include <vector>

#include "sharebox/domain/model.hpp"
#include "sharebox/domain/notification.hpp"
#include "sharebox/domain/ports.hpp"

namespace sharebox::domain {

class notification_service {
 public:
  explicit notification_service(metadata_store& meta) : meta_(meta) {}

  std::vector<notification> list(const user& caller, bool unread_only, std::size_t limit);
  std::int64_t unread_count(const user& caller);
  notification mark_read(const user& caller, std::string_view id);
  std::int64_t mark_all_read(const user& caller);
  void remove(const user& caller, std::string_view id);

 private:
  metadata_store& meta_;
};

}  // namespace sharebox::domain
