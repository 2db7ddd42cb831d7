#pragma once
// The interfaces the domain needs from the outside world. Implementations live in storage/;
// every call may block (disk, SQLite) and is made from the worker pool, never a network thread.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sharebox/domain/event.hpp"
#include "sharebox/domain/model.hpp"
#include "sharebox/domain/notification.hpp"
#include "sharebox/domain/upload.hpp"

namespace sharebox::domain {

// Operations inside one metadata transaction.
class metadata_txn {
 public:
  virtual ~metadata_txn() = default;

  virtual std::optional<user> find_user(std::string_view id) = 0;
  virtual void insert_user(const user& u) = 0;
  virtual std::int64_t count_users() = 0;
  // Users in id order, those after `after` when given (keyset paging on the primary key).
  virtual std::vector<user> list_users(std::optional<std::string_view> after,
                                       std::size_t limit) = 0;
  // Writes is_admin and disabled.
  virtual void update_user(const user& u) = 0;
  virtual std::int64_t count_enabled_admins() = 0;
  virtual std::vector<std::string> disabled_user_ids() = 0;

  virtual void insert_key(const api_key& k) = 0;
  virtual std::optional<api_key> find_key_by_hash(std::string_view key_hash) = 0;
  virtual std::optional<api_key> find_key(std::string_view key_id) = 0;
  virtual std::vector<api_key> keys_of(std::string_view user_id) = 0;
  // Revokes by key id; false if no such active key.
  virtual bool revoke_key(std::string_view key_id, std::int64_t at) = 0;

  virtual void insert_session(const web_session& s) = 0;
  // The session with this token hash, unless the key that opened it has been revoked (expiry is
  // the caller's to check).
  virtual std::optional<web_session> find_session(std::string_view token_hash) = 0;
  virtual bool delete_session(std::string_view token_hash) = 0;
  // Deletes sessions that expired before `now`; returns how many.
  virtual std::int64_t purge_sessions(std::int64_t now) = 0;

  virtual std::optional<file_record> find_file(std::string_view id) = 0;
  virtual void insert_file(const file_record& f) = 0;  // assigns nothing: seq is read back
  virtual void update_file(const file_record& f) = 0;
  virtual void delete_file(std::string_view id) = 0;
  // Owned and shared-with files, newest first, with seq < before_seq when given.
  virtual std::vector<file_view> visible_files(std::string_view user_id,
                                               std::optional<std::int64_t> before_seq,
                                               std::size_t limit) = 0;

  virtual std::optional<share> find_share(std::string_view file_id, std::string_view user_id) = 0;
  virtual void upsert_share(const share& s) = 0;
  virtual bool delete_share(std::string_view file_id, std::string_view user_id) = 0;
  virtual std::vector<share> shares_of(std::string_view file_id) = 0;
  // The shares of several files at once (a listing page), ordered by file, then as shares_of.
  virtual std::vector<share> shares_of_files(const std::vector<std::string>& file_ids) = 0;

  // Records an event in the outbox; it is published only if this transaction commits.
  virtual void append_event(const event& e) = 0;

  virtual void insert_notification(const notification& n) = 0;
  // The user's notifications, newest first.
  virtual std::vector<notification> notifications_of(std::string_view user_id, bool unread_only,
                                                     std::size_t limit) = 0;
  virtual std::int64_t unread_count(std::string_view user_id) = 0;
  // The user's notification, or nullopt if there is none with that id *for this user*.
  virtual std::optional<notification> find_notification(std::string_view user_id,
                                                        std::string_view id) = 0;
  virtual void mark_read(std::string_view user_id, std::string_view id, std::int64_t at) = 0;
  virtual std::int64_t mark_all_read(std::string_view user_id, std::int64_t at) = 0;
  virtual void delete_notification(std::string_view user_id, std::string_view id) = 0;

  virtual void insert_upload(const upload_record& u) = 0;
  virtual std::optional<upload_record> find_upload(std::string_view id) = 0;
  // Writes every mutable field (state, size, offset, file_id, expiry, ...).
  virtual void update_upload(const upload_record& u) = 0;
  // Deletes the upload and its chunk records; false if there was none.
  virtual bool delete_upload(std::string_view id) = 0;
  virtual std::int64_t count_open_uploads(std::string_view owner) = 0;
  // Records chunk `index` as received; false if it already was.
  virtual bool insert_chunk(std::string_view upload_id, std::uint64_t index) = 0;
  virtual bool has_chunk(std::string_view upload_id, std::uint64_t index) = 0;
  virtual void delete_chunk(std::string_view upload_id, std::uint64_t index) = 0;
  virtual std::uint64_t count_chunks(std::string_view upload_id) = 0;
  virtual std::vector<std::uint64_t> chunks_of(std::string_view upload_id) = 0;
  virtual void delete_chunks(std::string_view upload_id) = 0;
  // Open uploads whose expiry has passed, oldest first.
  virtual std::vector<upload_record> uploads_expired_by(std::int64_t now, std::size_t limit) = 0;
  // Deletes the records of completed and expired uploads whose retention ended; returns how many.
  virtual std::int64_t purge_uploads(std::int64_t now) = 0;
  virtual std::vector<std::string> open_upload_ids() = 0;
};

class metadata_store {
 public:
  virtual ~metadata_store() = default;
  // A consistent read snapshot.
  virtual void read(const std::function<void(metadata_txn&)>& fn) = 0;
  // One serialised write transaction: committed (durably) when fn returns, rolled back if it
  // throws.
  virtual void write(const std::function<void(metadata_txn&)>& fn) = 0;
};

// The relay's view of the outbox.
class event_outbox {
 public:
  virtual ~event_outbox() = default;
  // Unpublished events in commit order.
  virtual std::vector<outbox_entry> unpublished(std::size_t limit) = 0;
  virtual void mark_published(std::int64_t first_seq, std::int64_t last_seq, std::int64_t at) = 0;
  virtual std::int64_t backlog() = 0;
  // Deletes events published before `cutoff`; returns how many.
  virtual std::int64_t prune_published(std::int64_t cutoff) = 0;
};

// What the live streams read: everything committed after a cursor, published or not.
struct live_changes {
  std::vector<outbox_entry> events;
  std::vector<notification> notifications;
};

class live_source {
 public:
  virtual ~live_source() = default;
  // Events and notifications after the two cursors, read in one snapshot: what one commit wrote
  // is either all there or not at all, so an event never trails its own notification.
  virtual live_changes changes_after(std::int64_t event_seq, std::int64_t notification_seq,
                                     std::size_t limit) = 0;
  // The newest seqs now: {events, notifications}. Streams start here, they do not replay.
  virtual std::pair<std::int64_t, std::int64_t> latest_seqs() = 0;
};

struct blob_info {
  std::string id;
  std::uint64_t size = 0;
  std::string sha256;  // hex
};

// Receives one blob's bytes into a temporary file while hashing them. Destroying a writer that
// was not committed removes the temporary file.
class blob_writer {
 public:
  virtual ~blob_writer() = default;
  virtual void write(const void* data, std::size_t size) = 0;
  virtual std::uint64_t size() const noexcept = 0;
  // The temporary file, readable before commit (image intake validates it there first).
  virtual const std::filesystem::path& path() const noexcept = 0;
  // Hex SHA-256 of the bytes written so far (the writer goes on hashing).
  virtual std::string sha256_so_far() const = 0;
  // fsync, rename into place, fsync the directory: after this the blob survives power loss.
  virtual blob_info commit() = 0;
};

class blob_store {
 public:
  virtual ~blob_store() = default;
  virtual std::unique_ptr<blob_writer> begin() = 0;
  // An open read-only descriptor (caller closes), or -1 if missing.
  virtual int open(std::string_view blob_id) const = 0;
  // Removes the blob and anything derived from it (its thumbnail).
  virtual void remove(std::string_view blob_id) noexcept = 0;

  // A blob's thumbnail: derived data, made again when missing, so not fsynced. -1 if none.
  virtual int open_thumbnail(std::string_view blob_id) const = 0;
  // Moves `file` (made at a scratch_path()) into place as the blob's thumbnail.
  virtual void put_thumbnail(std::string_view blob_id, const std::filesystem::path& file) = 0;
  // A fresh path on the store's filesystem for a file about to be put (removed at start if left).
  virtual std::filesystem::path scratch_path() const = 0;
};

// One resumable upload's file, written at any offset over many requests.
class staged_file {
 public:
  virtual ~staged_file() = default;
  virtual void write_at(std::uint64_t offset, const void* data, std::size_t size) = 0;
  // Reads up to `size` bytes; fewer only at the end of the file.
  virtual std::size_t read_at(std::uint64_t offset, void* data, std::size_t size) = 0;
  // Everything written so far survives power loss.
  virtual void sync() = 0;
};

// Where resumable uploads accumulate until they become blobs.
class upload_staging {
 public:
  virtual ~upload_staging() = default;
  // Creates the upload's file with `size` bytes reserved when known (so a full disk shows at
  // once, not half-way); durable on return.
  virtual void create(std::string_view upload_id, std::optional<std::uint64_t> size) = 0;
  // Throws if the upload has no file.
  virtual std::unique_ptr<staged_file> open(std::string_view upload_id) = 0;
  // The upload's bytes become a committed blob without being copied; durable on return. The
  // staged file remains until remove(), so a metadata commit that fails loses nothing.
  virtual blob_info promote(std::string_view upload_id, std::uint64_t size, std::string sha256) = 0;
  virtual void remove(std::string_view upload_id) noexcept = 0;
  // Cuts the upload's file back to `size` bytes, freeing what lay beyond (best effort).
  virtual void truncate(std::string_view upload_id, std::uint64_t size) noexcept = 0;
  // Ids of every staged file.
  virtual std::vector<std::string> list() = 0;
};

}  // namespace sharebox::domain
