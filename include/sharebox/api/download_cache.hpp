#pragma once
// GET /files/{id} served from memory on the network thread: who an API key belongs to, the file
// as that caller may see it, and an open descriptor of its content. A download that finds all
// three needs neither the worker pool nor SQLite; one that does not reads them on the pool, as
// before, and leaves them here for the next.
//
// Nothing here is ever stale: every lookup and every insertion is made under a stamp of the
// commit probe, and a stamp that differs from the one the cache holds (anything committed since,
// by this process or another, e.g. `sharebox key revoke`) empties it first. Entries are only
// added if nothing was committed between taking the stamp (before the database read that
// produced them) and adding them. The price: any commit at all, related or not, empties the
// cache; what follows is read again from the database.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sharebox/domain/commit_probe.hpp"
#include "sharebox/domain/model.hpp"

namespace sharebox::api {

class download_cache {
 public:
  using stamp = domain::commit_probe::stamp;

  // A file as one caller sees it, with its content open and the header values derived from it.
  struct file_entry {
    file_entry(domain::file_view v, int content_fd);
    ~file_entry();
    file_entry(const file_entry&) = delete;
    file_entry& operator=(const file_entry&) = delete;

    domain::file_view view;
    int fd;  // read-only, closed with the entry (requests in flight hold the entry)
    std::string etag;
    std::chrono::sys_seconds modified;
    std::string last_modified;  // HTTP-date of `modified`
    std::string disposition;    // Content-Disposition
  };

  struct limits {
    std::size_t max_users = 1024;
    // Each holds a descriptor: few enough not to crowd out connections under a default
    // RLIMIT_NOFILE of 1024.
    std::size_t max_files = 256;
  };

  explicit download_cache(const domain::commit_probe& probe) : download_cache(probe, limits{}) {}
  download_cache(const domain::commit_probe& probe, limits lim);

  // The stamp to look up and remember under; nullopt: do not use the cache for this request.
  std::optional<stamp> now() const noexcept { return probe_.now(); }

  // domain::hash_key: the cache is keyed by it, never by the key itself.
  static std::string key_hash(std::string_view key);
  // Keys auth_service::authenticate would look up at all (it refuses the others unread).
  static bool cacheable_key(std::string_view key) noexcept {
    return !key.empty() && key.size() <= 512;
  }

  std::optional<domain::user> user(const stamp& at, std::string_view key_hash);
  std::shared_ptr<const file_entry> file(const stamp& at, std::string_view user_id,
                                         std::string_view file_id);

  // What the database said after `at` was taken; dropped if anything was committed since.
  void remember_user(const stamp& at, std::string key_hash, domain::user u);
  void remember_file(const stamp& at, std::string user_id, std::shared_ptr<const file_entry> e);

  // Empties the cache now rather than at the next lookup (so that descriptors of deleted blobs
  // close at once); called after this process's own commits.
  void clear();

  std::size_t size() const;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using file_users = std::vector<std::pair<std::string, std::shared_ptr<const file_entry>>>;

  // Under mutex_: empties the cache unless it holds exactly `at`'s state.
  void adopt(const stamp& at);

  const domain::commit_probe& probe_;
  const limits limits_;
  mutable std::mutex mutex_;
  std::optional<stamp> valid_for_;
  std::unordered_map<std::string, domain::user, string_hash, std::equal_to<>> users_;
  std::unordered_map<std::string, file_users, string_hash, std::equal_to<>> files_;
  std::size_t file_entries_ = 0;
};

}  // namespace sharebox::api
