#include "sharebox/domain/file_service.hpp"

#include <algorithm>
#include <stdexcept>

#include "sharebox/domain/errors.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::domain {

namespace {

[[noreturn]] void not_found() {
  throw error(errc::file_not_found, "No such file.");
}

// The file as `caller` may see it; a file they cannot see does not exist for them.
file_view visible(metadata_txn& tx, const user& caller, std::string_view file_id) {
  if (!util::is_valid_id(file_id)) not_found();
  auto f = tx.find_file(file_id);
  if (!f) not_found();
  if (f->owner == caller.id) return file_view{std::move(*f), std::nullopt, std::nullopt, {}};
  auto s = tx.find_share(file_id, caller.id);
  if (!s) not_found();
  return file_view{std::move(*f), s->perm, s->granted_by, {}};
}

file_view writable(metadata_txn& tx, const user& caller, std::string_view file_id,
                   const precondition& pre) {
  auto v = visible(tx, caller, file_id);
  if (!v.can_write()) throw error(errc::read_only_share, "This file is shared with you read-only.");
  if (pre) pre(v.file);
  return v;
}

// The owner and everyone the file is shared with, as of this transaction.
std::vector<std::string> audience_of(metadata_txn& tx, const file_record& f) {
  std::vector<std::string> users{f.owner};
  for (const auto& s : tx.shares_of(f.id))
    users.push_back(s.user_id);
  return users;
}

file_view owned(metadata_txn& tx, const user& caller, std::string_view file_id) {
  auto v = visible(tx, caller, file_id);
  if (!v.is_owner()) throw error(errc::not_owner, "Only the owner of a file may do this.");
  return v;
}

}  // namespace

file_service::file_service(metadata_store& meta, blob_store& blobs, options opts)
    : meta_(meta), blobs_(blobs), opts_(opts) {}

file_view file_service::create(const user& caller, std::string name, std::string content_type,
                               const blob_info& blob, const txn_hook& also,
                               std::optional<image_meta> image) {
  if (!is_valid_file_name(name)) {
    blobs_.remove(blob.id);
    throw error(errc::invalid_name,
                "File names must be 1-255 bytes of UTF-8 without control characters.");
  }
  file_record f;
  f.id = util::new_id();
  f.owner = caller.id;
  f.name = std::move(name);
  f.size = blob.size;
  f.content_type = std::move(content_type);
  f.sha256 = blob.sha256;
  f.blob = blob.id;
  f.version = 1;
  f.created_at = f.updated_at = util::now_ms();
  f.image = std::move(image);
  try {
    meta_.write([&](metadata_txn& tx) {
      tx.insert_file(f);
      f = *tx.find_file(f.id);
      auto e = make_event(event_type::uploaded, caller.id, f);
      e.audience = {f.owner};
      tx.append_event(e);
      if (also) also(tx, f);
    });
  } catch (...) {
    blobs_.remove(blob.id);
    throw;
  }
  return file_view{std::move(f), std::nullopt, std::nullopt, {}};
}

file_view file_service::get(const user& caller, std::string_view file_id) {
  file_view v;
  meta_.read([&](metadata_txn& tx) { v = visible(tx, caller, file_id); });
  return v;
}

std::pair<file_view, int> file_service::open_content(const user& caller, std::string_view file_id) {
  constexpr int attempts = 8;
  for (int i = 0; i < attempts; ++i) {
    auto v = get(caller, file_id);
    const int fd = blobs_.open(v.file.blob);
    if (fd >= 0) return {std::move(v), fd};
  }
  throw std::runtime_error("content of file " + std::string(file_id) + " is missing");
}

file_page file_service::list(const user& caller, std::optional<std::int64_t> before_seq,
                             std::size_t limit) {
  file_page page;
  meta_.read([&](metadata_txn& tx) {
    page.items = tx.visible_files(caller.id, before_seq, limit + 1);
    if (page.items.size() > limit) {
      page.items.resize(limit);
      page.next_before_seq = page.items.back().file.seq;
    }
    std::vector<std::string> owned;
    for (const auto& v : page.items) {
      if (v.is_owner()) owned.push_back(v.file.id);
    }
    const auto shares = tx.shares_of_files(owned);
    for (auto& v : page.items) {
      if (!v.is_owner()) continue;
      auto first =
          std::lower_bound(shares.begin(), shares.end(), v.file.id,
                           [](const share& s, const std::string& id) { return s.file_id < id; });
      for (; first != shares.end() && first->file_id == v.file.id; ++first)
        v.shared_with.push_back(*first);
    }
  });
  return page;
}

file_view file_service::check_replace(const user& caller, std::string_view file_id,
                                      const precondition& pre) {
  file_view v;
  meta_.read([&](metadata_txn& tx) { v = writable(tx, caller, file_id, pre); });
  return v;
}

file_view file_service::replace(const user& caller, std::string_view file_id,
                                const precondition& pre, const blob_info& blob,
                                std::optional<std::string> name,
                                std::optional<std::string> content_type, const txn_hook& also) {
  if (name && !is_valid_file_name(*name)) {
    blobs_.remove(blob.id);
    throw error(errc::invalid_name,
                "File names must be 1-255 bytes of UTF-8 without control characters.");
  }
  file_view v;
  std::string old_blob;
  try {
    meta_.write([&](metadata_txn& tx) {
      v = writable(tx, caller, file_id, pre);
      auto& f = v.file;
      old_blob = f.blob;
      f.blob = blob.id;
      f.size = blob.size;
      f.sha256 = blob.sha256;
      if (name) f.name = std::move(*name);
      if (content_type) f.content_type = std::move(*content_type);
      f.image.reset();  // known for the old content only
      f.version += 1;
      f.updated_at = util::now_ms();
      tx.update_file(f);
      auto e = make_event(event_type::updated, caller.id, f);
      e.audience = audience_of(tx, f);
      tx.append_event(e);
      // Everyone the file is shared with hears of the new version, except whoever made it.
      for (const auto& s : tx.shares_of(file_id)) {
        if (s.user_id != caller.id) tx.insert_notification(notification_for(e, s.user_id));
      }
      if (also) also(tx, f);
    });
  } catch (...) {
    blobs_.remove(blob.id);
    throw;
  }
  // Readers that opened the old blob keep their descriptor; the name goes now.
  blobs_.remove(old_blob);
  return v;
}

void file_service::remove(const user& caller, std::string_view file_id, const precondition& pre) {
  std::string blob;
  meta_.write([&](metadata_txn& tx) {
    auto v = owned(tx, caller, file_id);
    if (pre) pre(v.file);
    blob = v.file.blob;
    auto e = make_event(event_type::deleted, caller.id, v.file);
    e.audience = audience_of(tx, v.file);  // before the delete cascades to the shares
    tx.delete_file(file_id);
    tx.append_event(e);
  });
  blobs_.remove(blob);
}

std::pair<share, share_outcome> file_service::share_file(const user& caller,
                                                         std::string_view file_id,
                                                         std::string_view target_user,
                                                         permission perm) {
  std::pair<share, share_outcome> result;
  meta_.write([&](metadata_txn& tx) {
    const auto v = owned(tx, caller, file_id);
    if (target_user == caller.id) {
      throw error(errc::share_with_self, "You cannot share a file with yourself.");
    }
    if (!tx.find_user(target_user)) {
      if (!opts_.auto_create_users || !is_valid_user_name(target_user)) {
        throw error(errc::user_not_found, "No such user.");
      }
      tx.insert_user(user{std::string(target_user), false, util::now_ms(), false});
    }
    auto existing = tx.find_share(file_id, target_user);
    if (existing && existing->perm == perm) {
      result = {*existing, share_outcome::unchanged};
      return;
    }
    share s{std::string(file_id), std::string(target_user), perm, caller.id,
            existing ? existing->created_at : util::now_ms()};
    tx.upsert_share(s);
    result = {s, existing ? share_outcome::updated : share_outcome::created};
    auto e = make_event(event_type::shared, caller.id, v.file);
    e.target_user_id = s.user_id;
    e.perm = s.perm;
    e.audience = audience_of(tx, v.file);  // includes the new share's target
    tx.append_event(e);
    tx.insert_notification(notification_for(e, s.user_id));
  });
  return result;
}

std::vector<share> file_service::shares(const user& caller, std::string_view file_id) {
  std::vector<share> out;
  meta_.read([&](metadata_txn& tx) {
    owned(tx, caller, file_id);
    out = tx.shares_of(file_id);
  });
  return out;
}

void file_service::unshare(const user& caller, std::string_view file_id,
                           std::string_view target_user) {
  meta_.write([&](metadata_txn& tx) {
    const auto v = owned(tx, caller, file_id);
    const auto existing = tx.find_share(file_id, target_user);
    if (!existing || !tx.delete_share(file_id, target_user)) {
      throw error(errc::share_not_found, "This file is not shared with that user.");
    }
    auto e = make_event(event_type::unshared, caller.id, v.file);
    e.target_user_id = existing->user_id;
    e.perm = existing->perm;
    e.audience = audience_of(tx, v.file);
    e.audience.push_back(existing->user_id);  // no longer a sharee, but told of the revocation
    tx.append_event(e);
    tx.insert_notification(notification_for(e, existing->user_id));
  });
}

}  // namespace sharebox::domain
