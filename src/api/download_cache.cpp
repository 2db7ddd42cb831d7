#include "sharebox/api/download_cache.hpp"

#include <unistd.h>

#include <algorithm>

#include "sharebox/domain/auth_service.hpp"
#include "sharebox/http/conditional.hpp"
#include "sharebox/util/crypto.hpp"

namespace sharebox::api {

download_cache::file_entry::file_entry(domain::file_view v, int content_fd)
    : view(std::move(v)), fd(content_fd) {
  try {
    etag = domain::etag_of(view.file);
    modified =
        std::chrono::floor<std::chrono::seconds>(std::chrono::sys_time<std::chrono::milliseconds>(
            std::chrono::milliseconds(view.file.updated_at)));
    last_modified = http::format_http_date(modified);
    disposition = http::content_disposition("attachment", view.file.name);
  } catch (...) {
    ::close(fd);  // the destructor does not run for an object that never was
    throw;
  }
}

download_cache::file_entry::~file_entry() {
  if (fd >= 0) ::close(fd);
}

download_cache::download_cache(const domain::commit_probe& probe, limits lim)
    : probe_(probe), limits_(lim) {}

std::string download_cache::key_hash(std::string_view key) {
  return domain::hash_key(key);
}

void download_cache::adopt(const stamp& at) {
  if (valid_for_ == at) return;
  users_.clear();
  files_.clear();
  file_entries_ = 0;
  valid_for_ = at;
}

std::optional<domain::user> download_cache::user(const stamp& at, std::string_view key_hash) {
  std::lock_guard lock(mutex_);
  adopt(at);
  const auto it = users_.find(key_hash);
  // As in auth_service::authenticate: found by an index on the hash, confirmed in constant time.
  if (it == users_.end() || !util::constant_time_equal(it->first, key_hash)) return std::nullopt;
  return it->second;
}

std::shared_ptr<const download_cache::file_entry> download_cache::file(const stamp& at,
                                                                       std::string_view user_id,
                                                                       std::string_view file_id) {
  std::lock_guard lock(mutex_);
  adopt(at);
  const auto it = files_.find(file_id);
  if (it == files_.end()) return nullptr;
  for (const auto& [viewer, entry] : it->second) {
    if (viewer == user_id) return entry;
  }
  return nullptr;
}

void download_cache::remember_user(const stamp& at, std::string key_hash, domain::user u) {
  if (probe_.now() != at) return;  // committed meanwhile: what was read may be out of date
  std::lock_guard lock(mutex_);
  adopt(at);
  if (users_.size() >= limits_.max_users) users_.clear();
  users_.insert_or_assign(std::move(key_hash), std::move(u));
}

void download_cache::remember_file(const stamp& at, std::string user_id,
                                   std::shared_ptr<const file_entry> e) {
  if (probe_.now() != at) return;
  std::string file_id = e->view.file.id;
  std::lock_guard lock(mutex_);
  adopt(at);
  if (file_entries_ >= limits_.max_files) {
    // Simpler than keeping an LRU order and cheap to refill; closing read-only descriptors
    // (under the lock, on this thread) does not block.
    files_.clear();
    file_entries_ = 0;
  }
  auto& viewers = files_[std::move(file_id)];
  for (auto& [viewer, entry] : viewers) {
    if (viewer == user_id) {
      entry = std::move(e);
      return;
    }
  }
  viewers.emplace_back(std::move(user_id), std::move(e));
  ++file_entries_;
}

void download_cache::clear() {
  std::lock_guard lock(mutex_);
  users_.clear();
  files_.clear();
  file_entries_ = 0;
  valid_for_.reset();
}

std::size_t download_cache::size() const {
  std::lock_guard lock(mutex_);
  return users_.size() + file_entries_;
}

}  // namespace sharebox::api
