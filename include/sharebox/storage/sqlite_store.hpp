#pragma once
// Metadata in SQLite: WAL, synchronous=FULL, one writer connection (writes are serialised by
// SQLite anyway; BEGIN IMMEDIATE makes the lock explicit) and a pool of reader connections.
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sharebox/domain/ports.hpp"

namespace SQLite {
class Database;
}

namespace sharebox::util::metrics {
class histogram;
}

namespace sharebox::storage {

class sqlite_connection;

class sqlite_store final : public domain::metadata_store,
                           public domain::event_outbox,
                           public domain::live_source {
 public:
  // Opens (creating if needed) and migrates the database.
  explicit sqlite_store(const std::filesystem::path& db_path);
  ~sqlite_store() override;

  void read(const std::function<void(domain::metadata_txn&)>& fn) override;
  void write(const std::function<void(domain::metadata_txn&)>& fn) override;

  int migrations_applied() const noexcept { return migrations_applied_; }
  // The schema version the database is at, read from it now, and the one this build's
  // migrations lead to (readiness: the two are equal once migrations ran).
  int schema_version();
  static int latest_schema_version();

  // Blob ids that files refer to, among those starting with `prefix` (the blob store's orphan
  // sweep asks shard by shard).
  std::vector<std::string> blobs_with_prefix(std::string_view prefix);

  // Called after every commit that appended events (the relay wakes up at once instead of
  // polling). Set before serving; called on the committing thread.
  void on_events_committed(std::function<void()> hook);
  // Every write transaction's COMMIT (with synchronous=FULL: the WAL fsync) is timed into `h`,
  // in nanoseconds. Set before serving.
  void observe_commits(util::metrics::histogram* h) noexcept { commit_time_ = h; }

  // Open (unfinished) resumable uploads by protocol: {"chunked", n}, {"tus", n}.
  std::vector<std::pair<std::string, std::int64_t>> open_uploads_by_protocol();

  std::vector<domain::outbox_entry> unpublished(std::size_t limit) override;
  void mark_published(std::int64_t first_seq, std::int64_t last_seq, std::int64_t at) override;
  std::int64_t backlog() override;
  std::int64_t prune_published(std::int64_t cutoff) override;

  domain::live_changes changes_after(std::int64_t event_seq, std::int64_t notification_seq,
                                     std::size_t limit) override;
  std::pair<std::int64_t, std::int64_t> latest_seqs() override;

 private:
  std::unique_ptr<sqlite_connection> open_connection() const;
  std::unique_ptr<sqlite_connection> acquire_reader();
  void release_reader(std::unique_ptr<sqlite_connection> db);
  void read_only(const std::function<void(SQLite::Database&)>& fn);

  std::filesystem::path path_;
  std::mutex write_mutex_;
  std::unique_ptr<sqlite_connection> writer_;
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<sqlite_connection>> readers_;
  int migrations_applied_ = 0;
  std::function<void()> on_events_committed_;
  util::metrics::histogram* commit_time_ = nullptr;
};

}  // namespace sharebox::storage
