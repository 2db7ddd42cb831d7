#pragma once
// Resumable uploads, for both the chunked API and tus: who may touch an upload, where a
// request's bytes go, when they count as received, and how a finished upload becomes a file
// (through file_service, so it gets the same events as any other upload). Synchronous; callers
// run it on the worker pool and receive request bodies through an upload_writer.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sharebox/domain/file_service.hpp"
#include "sharebox/domain/ports.hpp"
#include "sharebox/domain/upload.hpp"
#include "sharebox/domain/upload_gate.hpp"
#include "sharebox/util/crypto.hpp"

namespace sharebox::domain {

struct upload_options {
  std::uint64_t max_file_size = 10ull << 30;
  std::uint64_t default_chunk_size = 8ull << 20;
  std::uint64_t min_chunk_size = 64ull << 10;
  std::uint64_t max_chunk_size = 64ull << 20;
  std::uint64_t max_chunks = 10'000;
  std::chrono::milliseconds ttl = std::chrono::hours(24);
  std::int64_t max_open_per_user = 100;
  upload_gate::limits inflight;
};

struct chunked_init {
  std::string filename;
  std::uint64_t size = 0;
  std::string content_type;
  std::string sha256;  // hex, optional
  std::optional<std::uint64_t> chunk_size;
  std::string file_id;   // replace this file on completion...
  std::string if_match;  // ...if it still has this ETag
};

struct tus_create {
  std::optional<std::uint64_t> size;  // nullopt: Upload-Defer-Length
  upload_kind kind = upload_kind::single;
  std::string filename;
  std::string content_type;
  std::string metadata;  // Upload-Metadata as received
};

struct upload_status {
  upload_record upload;
  std::uint64_t received_chunks = 0;  // chunked
  std::uint64_t received_bytes = 0;
};

struct completion {
  file_view file;
  bool created = false;  // a new file, rather than a replaced one or a repeated completion
};

// Receives one request's bytes into an upload's file at a fixed position, hashing them as asked.
// Every call may block (disk): run it on the pool.
class upload_writer {
 public:
  upload_writer(std::unique_ptr<staged_file> file, std::uint64_t offset, std::uint64_t max_length);
  // Checked by finish(): the digest the client declared for this request's bytes.
  void expect_digest(util::hash_algorithm algorithm, std::string raw_digest);
  // The upload's whole-content hash so far; it goes on with this request's bytes.
  void continue_hash(util::hasher running) { running_.emplace(std::move(running)); }
  // Throws upload_length_exceeded past max_length (nothing of that piece is written).
  void write(const void* data, std::size_t size);
  std::uint64_t written() const noexcept { return written_; }
  // Makes the bytes durable, then verifies the declared digest (digest_mismatch).
  void finish();
  // After finish(), the whole-content hash including this request's bytes, if it was continued.
  std::optional<util::hasher> take_hash() { return std::move(running_); }

 private:
  std::unique_ptr<staged_file> file_;
  std::uint64_t offset_;
  std::uint64_t max_length_;
  std::uint64_t written_ = 0;
  std::optional<util::hasher> check_;
  std::string expected_;
  std::optional<util::hasher> running_;
};

// Where a chunk goes, decided before its body is read.
struct chunk_slot {
  upload_record upload;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool duplicate = false;  // already stored: the new bytes replace it
};

// Where a tus PATCH goes.
struct patch_slot {
  upload_record upload;
  std::uint64_t max_length = 0;                // bytes this PATCH may carry
  std::optional<std::uint64_t> declared_size;  // Upload-Length sent now for a deferred upload
  bool already_complete = false;               // nothing to write: the upload is finished
};

struct patch_result {
  upload_record upload;
  std::optional<file_view> file;  // set when this PATCH finished the upload
};

class upload_service {
 public:
  upload_service(metadata_store& meta, upload_staging& staging, blob_store& blobs,
                 file_service& files, upload_options opts);

  upload_gate& gate() noexcept { return gate_; }
  const upload_options& options() const noexcept { return opts_; }

  // --- the chunked API ---
  upload_record init_chunked(const user& caller, chunked_init req);
  upload_status status(const user& caller, std::string_view id);
  std::vector<std::uint64_t> missing_chunks(const user& caller, std::string_view id);
  chunk_slot begin_chunk(const user& caller, std::string_view id, std::uint64_t index,
                         std::optional<std::uint64_t> body_length);
  upload_writer chunk_writer(const chunk_slot& slot);
  // Before a stored chunk is written again: it stops counting as received.
  void forget_chunk(const user& caller, std::string_view id, std::uint64_t index);
  // After the writer finished: the chunk counts as received.
  upload_status record_chunk(const user& caller, std::string_view id, std::uint64_t index);
  // After record_chunk, off the request's path: extends the upload's SHA-256 over the chunks
  // received so far in order from the start, so that completion hashes only what is left.
  void hash_received_chunks(const std::string& id);
  // `sha256` (hex, optional): the digest the client computed while it sent the chunks; checked
  // like the one declared at init.
  completion complete(const user& caller, std::string_view id, std::string sha256 = {});

  // --- tus ---
  // A new upload; `file` is set if it is already complete (an empty upload).
  patch_result create_tus(const user& caller, tus_create req);
  // Concatenates finished partial uploads into a new final upload and its file.
  patch_result concat_final(const user& caller, const std::vector<std::string>& part_ids,
                            tus_create req);
  patch_slot begin_patch(const user& caller, std::string_view id, std::uint64_t offset,
                         std::optional<std::uint64_t> upload_length);
  upload_writer patch_writer(const patch_slot& slot);
  // After the writer finished (or the client went away part-way, with no digest to check):
  // the bytes count as received, and the upload completes if they were the last.
  patch_result commit_patch(const user& caller, const patch_slot& slot, upload_writer& w);
  // After a PATCH failed without commit_patch: its bytes past the upload's offset are garbage.
  // With no space reserved (a deferred length) they are cut off, so that they do not hold disk
  // space, perhaps the last of it, until the upload resumes or expires.
  void discard_patch(const patch_slot& slot);

  // Either protocol.
  upload_record find(const user& caller, std::string_view id);
  void abort(const user& caller, std::string_view id);

  // Expires unfinished uploads past their TTL (freeing their space) and forgets old records.
  struct sweep_result {
    std::size_t expired = 0;
    std::int64_t purged = 0;
  };
  sweep_result sweep(std::int64_t now_ms);
  // At start: staged files with no open upload (a crash between commit and cleanup).
  std::size_t recover();

 private:
  upload_record owned(metadata_txn& tx, const user& caller, std::string_view id) const;
  std::int64_t expiry_from(std::int64_t now) const;
  // Stamps, stages and records a new upload (too_many_uploads past the per-user limit).
  void store_new(upload_record& u);
  // Goes on hashing the staged file from `from` to `to`; stops early (false) once `stop` is set.
  bool hash_staged(std::string_view id, util::sha256& h, std::uint64_t from, std::uint64_t to,
                   const std::atomic<bool>* stop = nullptr);
  completion finish(const user& caller, upload_record u, const std::string& sha256,
                    const std::function<void(metadata_txn&, upload_record&)>& also = {});
  void forget_hash(const std::string& id);

  metadata_store& meta_;
  upload_staging& staging_;
  blob_store& blobs_;
  file_service& files_;
  upload_options opts_;
  upload_gate gate_;

  // tus bytes arrive in order, so the whole-content hash can run along with them; kept here
  // between PATCHes (lost on restart, when completion hashes the file instead).
  struct running_hash {
    std::uint64_t offset = 0;
    util::hasher hash{util::hash_algorithm::sha256};
  };
  std::mutex hashes_mutex_;
  std::unordered_map<std::string, running_hash> hashes_;

  // Chunks land in any order, so the chunked API's whole-file hash follows the longest run of
  // received chunks from the start, read back from the page cache by one task per upload at a
  // time. Lost on restart (the next chunk starts it over). Guarded by hashes_mutex_, except
  // `hash` and `offset`, which only the task that set `busy` touches.
  struct prefix_hash {
    util::sha256 hash;
    std::uint64_t offset = 0;        // bytes hashed: whole chunks from the start
    bool busy = false;               // a task is extending it
    bool again = false;              // chunks landed while it ran
    bool taken = false;              // completion has it: tasks leave the upload alone
    std::atomic<bool> stale{false};  // a hashed chunk is rewritten, or the upload ended
  };
  bool extend_prefix(const std::string& id, prefix_hash& p);
  void retire_prefix(const std::string& id, const std::shared_ptr<prefix_hash>& p);
  // Completion's start: the prefix hashed so far (or a fresh hash at 0), and a tombstone that
  // keeps late tasks away until `release_prefix`.
  std::pair<util::sha256, std::uint64_t> take_prefix(const std::string& id);
  void release_prefix(const std::string& id);
  void invalidate_prefix(const std::string& id, std::uint64_t chunk_offset);
  std::condition_variable prefix_idle_;
  std::unordered_map<std::string, std::shared_ptr<prefix_hash>> prefixes_;
};

}  // namespace sharebox::domain
