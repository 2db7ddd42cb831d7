#include "sharebox/domain/upload_service.hpp"

#include <algorithm>
#include <cctype>

#include "sharebox/domain/errors.hpp"
#include "sharebox/util/encoding.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::domain {

namespace {

constexpr std::size_t hash_block = 1 << 20;
constexpr std::size_t max_missing_listed = 1000;

[[noreturn]] void invalid(std::string detail) {
  throw error(errc::invalid_parameter, std::move(detail));
}

bool is_hex_sha256(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string content_type_or_default(std::string ct) {
  if (ct.empty()) return "application/octet-stream";
  if (ct.size() > 255 || std::any_of(ct.begin(), ct.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
      })) {
    invalid("content_type must be at most 255 printable characters.");
  }
  return ct;
}

void check_size(std::uint64_t size, std::uint64_t max) {
  if (size > max) {
    throw error(errc::file_too_large, "Files are limited to " + std::to_string(max) + " bytes.");
  }
}

[[noreturn]] void offset_mismatch(std::uint64_t current) {
  throw error(errc::offset_mismatch,
              "Upload-Offset does not match the upload's offset (" + std::to_string(current) + ").",
              {{"offset", static_cast<std::int64_t>(current)}});
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// upload_writer

upload_writer::upload_writer(std::unique_ptr<staged_file> file, std::uint64_t offset,
                             std::uint64_t max_length)
    : file_(std::move(file)), offset_(offset), max_length_(max_length) {}

void upload_writer::expect_digest(util::hash_algorithm algorithm, std::string raw_digest) {
  check_.emplace(algorithm);
  expected_ = std::move(raw_digest);
}

void upload_writer::write(const void* data, std::size_t size) {
  if (size > max_length_ - written_) {
    throw error(errc::upload_length_exceeded,
                "The request carries more bytes than the upload has room for (" +
                    std::to_string(max_length_) + ").");
  }
  file_->write_at(offset_ + written_, data, size);
  if (check_) check_->update(data, size);
  if (running_) running_->update(data, size);
  written_ += size;
}

void upload_writer::finish() {
  file_->sync();
  if (check_ && !util::constant_time_equal(check_->finish(), expected_)) {
    check_.reset();
    running_.reset();  // these bytes are not part of the upload
    throw error(errc::digest_mismatch, "The bytes received do not match the declared digest.");
  }
  check_.reset();
}

// ---------------------------------------------------------------------------------------------
// upload_service

upload_service::upload_service(metadata_store& meta, upload_staging& staging, blob_store& blobs,
                               file_service& files, upload_options opts)
    : meta_(meta),
      staging_(staging),
      blobs_(blobs),
      files_(files),
      opts_(opts),
      gate_(opts.inflight) {}

std::int64_t upload_service::expiry_from(std::int64_t now) const {
  return now + opts_.ttl.count();
}

upload_record upload_service::owned(metadata_txn& tx, const user& caller,
                                    std::string_view id) const {
  auto u = util::is_valid_id(id) ? tx.find_upload(id) : std::nullopt;
  // Someone else's upload does not exist for the caller.
  if (!u || u->owner != caller.id) throw error(errc::upload_not_found, "No such upload.");
  if (u->state == upload_state::expired) {
    throw error(errc::upload_expired, "This upload expired; its bytes were discarded.");
  }
  return std::move(*u);
}

upload_record upload_service::find(const user& caller, std::string_view id) {
  upload_record u;
  meta_.read([&](metadata_txn& tx) { u = owned(tx, caller, id); });
  return u;
}

upload_record upload_service::init_chunked(const user& caller, chunked_init req) {
  if (!is_valid_file_name(req.filename)) {
    throw error(errc::invalid_name,
                "filename must be 1-255 bytes of UTF-8 without control characters.");
  }
  check_size(req.size, opts_.max_file_size);
  if (!req.sha256.empty() && !is_hex_sha256(req.sha256)) {
    invalid("sha256 must be 64 hexadecimal digits.");
  }
  upload_record u;
  u.id = util::new_id();
  u.owner = caller.id;
  u.protocol = upload_protocol::chunked;
  u.filename = std::move(req.filename);
  u.content_type = content_type_or_default(std::move(req.content_type));
  u.size = req.size;
  u.sha256 = lower(std::move(req.sha256));
  std::uint64_t chunk = req.chunk_size.value_or(opts_.default_chunk_size);
  chunk = std::clamp(chunk, opts_.min_chunk_size, opts_.max_chunk_size);
  // A bounded chunk count keeps the chunk table and the missing list small.
  chunk = std::max(chunk, (req.size + opts_.max_chunks - 1) / opts_.max_chunks);
  u.chunk_size = chunk;

  if (!req.file_id.empty()) {
    if (req.if_match.empty()) {
      throw error(errc::if_match_required,
                  "Replacing a file needs if_match: the file's current ETag.");
    }
    // The cheap checks now (404, 403, 412), so a doomed upload does not start; they are made
    // again when it completes.
    files_.check_replace(caller, req.file_id, [&](const file_record& f) {
      if (etag_of(f) != req.if_match) {
        throw error(errc::etag_mismatch, "The file does not match if_match.",
                    {{"current_etag", etag_of(f)}});
      }
    });
    u.replace_file_id = std::move(req.file_id);
    u.replace_etag = std::move(req.if_match);
  }
  store_new(u);
  return u;
}

void upload_service::store_new(upload_record& u) {
  const auto now = util::now_ms();
  u.created_at = u.updated_at = now;
  u.expires_at = expiry_from(now);
  // The file first: a crash before the commit leaves a file that recover() removes, never a
  // record without its file.
  staging_.create(u.id, u.size);
  try {
    meta_.write([&](metadata_txn& tx) {
      if (tx.count_open_uploads(u.owner) >= opts_.max_open_per_user) {
        throw error(errc::too_many_uploads,
                    "You have " + std::to_string(opts_.max_open_per_user) +
                        " unfinished uploads; complete or delete some first.");
      }
      tx.insert_upload(u);
    });
  } catch (...) {
    staging_.remove(u.id);
    throw;
  }
}

upload_status upload_service::status(const user& caller, std::string_view id) {
  upload_status s;
  meta_.read([&](metadata_txn& tx) {
    s.upload = owned(tx, caller, id);
    if (s.upload.protocol == upload_protocol::chunked && s.upload.state == upload_state::open) {
      const auto chunks = tx.chunks_of(id);
      s.received_chunks = chunks.size();
      for (const auto i : chunks)
        s.received_bytes += s.upload.chunk_length(i);
    } else if (s.upload.state == upload_state::completed) {
      s.received_chunks = s.upload.chunk_count();
      s.received_bytes = s.upload.size.value_or(0);
    } else {
      s.received_bytes = s.upload.offset;
    }
  });
  return s;
}

std::vector<std::uint64_t> upload_service::missing_chunks(const user& caller, std::string_view id) {
  std::vector<std::uint64_t> out;
  meta_.read([&](metadata_txn& tx) {
    const auto u = owned(tx, caller, id);
    if (u.protocol != upload_protocol::chunked)
      throw error(errc::upload_not_found, "No such upload.");
    if (u.state == upload_state::completed) return;
    out = domain::missing_chunks(tx.chunks_of(id), u.chunk_count());
  });
  return out;
}

chunk_slot upload_service::begin_chunk(const user& caller, std::string_view id, std::uint64_t index,
                                       std::optional<std::uint64_t> body_length) {
  chunk_slot slot;
  meta_.read([&](metadata_txn& tx) {
    slot.upload = owned(tx, caller, id);
    const auto& u = slot.upload;
    if (u.protocol != upload_protocol::chunked)
      throw error(errc::upload_not_found, "No such upload.");
    if (u.state == upload_state::completed) {
      throw error(errc::upload_completed, "This upload is already complete.",
                  {{"file_id", u.file_id}});
    }
    if (index >= u.chunk_count()) {
      throw error(errc::invalid_chunk_index,
                  "Chunk indices of this upload run from 0 to " +
                      std::to_string(u.chunk_count() == 0 ? 0 : u.chunk_count() - 1) + ".");
    }
    slot.offset = index * u.chunk_size;
    slot.length = u.chunk_length(index);
    if (body_length && *body_length != slot.length) {
      throw error(errc::chunk_size_mismatch,
                  "Chunk " + std::to_string(index) + " is " + std::to_string(slot.length) +
                      " bytes; the request carries " + std::to_string(*body_length) + ".",
                  {{"expected_size", static_cast<std::int64_t>(slot.length)}});
    }
    slot.duplicate = tx.has_chunk(id, index);
  });
  return slot;
}

upload_writer upload_service::chunk_writer(const chunk_slot& slot) {
  return upload_writer(staging_.open(slot.upload.id), slot.offset, slot.length);
}

void upload_service::forget_chunk(const user& caller, std::string_view id, std::uint64_t index) {
  std::uint64_t chunk_size = 0;
  meta_.write([&](metadata_txn& tx) {
    const auto u = owned(tx, caller, id);
    if (u.state != upload_state::open) {
      throw error(errc::upload_completed, "This upload is already complete.");
    }
    tx.delete_chunk(id, index);
    chunk_size = u.chunk_size;
  });
  // Before any new byte is written: the whole-file hash must not have seen the old ones.
  invalidate_prefix(std::string(id), index * chunk_size);
}

upload_status upload_service::record_chunk(const user& caller, std::string_view id,
                                           std::uint64_t index) {
  upload_status s;
  meta_.write([&](metadata_txn& tx) {
    auto u = owned(tx, caller, id);
    if (u.state != upload_state::open) {
      throw error(errc::upload_completed, "This upload is already complete.");
    }
    tx.insert_chunk(id, index);
    const auto now = util::now_ms();
    u.updated_at = now;
    u.expires_at = expiry_from(now);  // an upload in progress does not expire
    tx.update_upload(u);
    s.received_chunks = tx.count_chunks(id);
    s.upload = std::move(u);
  });
  return s;
}

bool upload_service::hash_staged(std::string_view id, util::sha256& h, std::uint64_t from,
                                 std::uint64_t to, const std::atomic<bool>* stop) {
  auto file = staging_.open(id);
  auto buf = std::make_unique<char[]>(hash_block);
  for (std::uint64_t at = from; at < to;) {
    if (stop && stop->load(std::memory_order_relaxed)) return false;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(hash_block, to - at));
    const std::size_t n = file->read_at(at, buf.get(), want);
    if (n != want) throw std::runtime_error("upload file shorter than its recorded size");
    h.update(buf.get(), n);
    at += n;
  }
  return true;
}

void upload_service::hash_received_chunks(const std::string& id) {
  std::shared_ptr<prefix_hash> p;
  {
    std::lock_guard lock(hashes_mutex_);
    auto& slot = prefixes_[id];
    if (!slot) slot = std::make_shared<prefix_hash>();
    p = slot;
    if (p->taken) return;
    if (p->busy) {
      p->again = true;  // the running task picks these chunks up
      return;
    }
    p->busy = true;
  }
  try {
    for (;;) {
      if (!extend_prefix(id, *p)) {
        retire_prefix(id, p);
        return;
      }
      std::lock_guard lock(hashes_mutex_);
      if (!std::exchange(p->again, false) || p->stale) {
        p->busy = false;
        break;
      }
    }
  } catch (...) {
    retire_prefix(id, p);  // e.g. the upload was deleted under us; completion hashes afresh
    throw;
  }
  prefix_idle_.notify_all();
}

bool upload_service::extend_prefix(const std::string& id, prefix_hash& p) {
  std::optional<upload_record> u;
  std::vector<std::uint64_t> chunks;
  meta_.read([&](metadata_txn& tx) {
    u = tx.find_upload(id);
    if (u && u->state == upload_state::open && u->protocol == upload_protocol::chunked) {
      chunks = tx.chunks_of(id);
    }
  });
  if (!u || u->state != upload_state::open || u->protocol != upload_protocol::chunked ||
      u->chunk_size == 0) {
    return false;
  }
  const std::uint64_t size = u->size.value_or(0);
  const std::uint64_t next = p.offset / u->chunk_size;
  std::uint64_t end = next;
  for (auto it = std::lower_bound(chunks.begin(), chunks.end(), next);
       it != chunks.end() && *it == end; ++it) {
    ++end;
  }
  const std::uint64_t to = std::min(end * u->chunk_size, size);
  if (to <= p.offset) return true;
  if (!hash_staged(id, p.hash, p.offset, to, &p.stale)) return true;  // stale: dropped later
  p.offset = to;
  return true;
}

void upload_service::retire_prefix(const std::string& id, const std::shared_ptr<prefix_hash>& p) {
  {
    std::lock_guard lock(hashes_mutex_);
    p->stale = true;
    p->busy = false;
    if (const auto it = prefixes_.find(id); it != prefixes_.end() && it->second == p) {
      prefixes_.erase(it);
    }
  }
  prefix_idle_.notify_all();
}

void upload_service::invalidate_prefix(const std::string& id, std::uint64_t chunk_offset) {
  std::lock_guard lock(hashes_mutex_);
  const auto it = prefixes_.find(id);
  if (it == prefixes_.end() || it->second->taken) return;
  auto& p = *it->second;
  // A running task may be reading this chunk right now; otherwise only a hashed chunk matters.
  if (!p.busy && chunk_offset >= p.offset) return;
  p.stale = true;
  prefixes_.erase(it);
}

std::pair<util::sha256, std::uint64_t> upload_service::take_prefix(const std::string& id) {
  std::pair<util::sha256, std::uint64_t> out{util::sha256{}, 0};
  std::unique_lock lock(hashes_mutex_);
  if (const auto it = prefixes_.find(id); it != prefixes_.end()) {
    const auto p = it->second;
    // No chunk can land now (completion holds the upload), so a running task ends soon.
    prefix_idle_.wait(lock, [&] { return !p->busy; });
    if (!p->stale && !p->taken) {
      out.first = std::move(p->hash);
      out.second = p->offset;
    }
  }
  auto tombstone = std::make_shared<prefix_hash>();
  tombstone->taken = true;
  prefixes_.insert_or_assign(id, std::move(tombstone));
  return out;
}

void upload_service::release_prefix(const std::string& id) {
  std::lock_guard lock(hashes_mutex_);
  if (const auto it = prefixes_.find(id); it != prefixes_.end() && it->second->taken) {
    prefixes_.erase(it);
  }
}

completion upload_service::finish(const user& caller, upload_record u, const std::string& sha256,
                                  const std::function<void(metadata_txn&, upload_record&)>& also) {
  const std::uint64_t size = u.size.value_or(0);
  const blob_info blob = staging_.promote(u.id, size, sha256);
  // Marking the upload completed commits with the file, so a retry after a crash finds either
  // an open upload (and completes it) or its file, never both.
  const txn_hook mark_completed = [&](metadata_txn& tx, const file_record& f) {
    auto cur = tx.find_upload(u.id);
    if (!cur || cur->state != upload_state::open) {
      throw error(errc::upload_not_found, "The upload was aborted while it completed.");
    }
    if (also) also(tx, *cur);
    cur->state = upload_state::completed;
    cur->file_id = f.id;
    const auto now = util::now_ms();
    cur->updated_at = now;
    cur->expires_at = expiry_from(now);  // its URL keeps answering for a while
    tx.update_upload(*cur);
    tx.delete_chunks(u.id);
  };
  std::string name = u.filename.empty() ? "upload-" + u.id : u.filename;
  completion c;
  if (u.replace_file_id.empty()) {
    c.file = files_.create(caller, std::move(name), u.content_type, blob, mark_completed);
    c.created = true;
  } else {
    const std::string etag = u.replace_etag;
    c.file = files_.replace(
        caller, u.replace_file_id,
        [&](const file_record& f) {
          if (etag_of(f) != etag) {
            throw error(
                errc::etag_mismatch,
                "The file changed since this upload began; its ETag is no longer " + etag + ".",
                {{"current_etag", etag_of(f)}});
          }
        },
        blob, std::move(name), u.content_type, mark_completed);
  }
  staging_.remove(u.id);
  forget_hash(u.id);
  return c;
}

completion upload_service::complete(const user& caller, std::string_view id, std::string declared) {
  if (!declared.empty() && !is_hex_sha256(declared))
    invalid("sha256 must be 64 hexadecimal digits.");
  declared = lower(std::move(declared));
  upload_record u;
  std::vector<std::uint64_t> missing;
  meta_.read([&](metadata_txn& tx) {
    u = owned(tx, caller, id);
    if (u.protocol != upload_protocol::chunked)
      throw error(errc::upload_not_found, "No such upload.");
    if (u.state == upload_state::open) {
      missing = domain::missing_chunks(tx.chunks_of(id), u.chunk_count());
    }
  });
  if (u.state == upload_state::completed) {
    // A repeated completion (the first response was lost) answers with the same file.
    return completion{files_.get(caller, u.file_id), false};
  }
  if (!missing.empty()) {
    const auto count = static_cast<std::int64_t>(missing.size());
    if (missing.size() > max_missing_listed) missing.resize(max_missing_listed);
    throw error(errc::chunks_missing,
                std::to_string(count) + " chunk(s) have not been received yet.",
                {{"missing", std::vector<std::int64_t>(missing.begin(), missing.end())},
                 {"missing_count", count}});
  }
  struct release {
    upload_service& self;
    std::string id;
    ~release() { self.release_prefix(id); }
  } released{*this, u.id};
  auto [h, from] = take_prefix(u.id);
  hash_staged(u.id, h, from, *u.size);
  const std::string sha256 = util::to_hex(h.finish());
  for (const std::string* want : {&u.sha256, &declared}) {
    if (!want->empty() && sha256 != *want) {
      throw error(errc::checksum_mismatch,
                  "The bytes received hash to " + sha256 + ", not the declared " + *want +
                      ". Re-send the chunks that are wrong, or delete the upload.",
                  {{"sha256", sha256}});
    }
  }
  return finish(caller, std::move(u), sha256);
}

void upload_service::abort(const user& caller, std::string_view id) {
  upload_record u;
  meta_.write([&](metadata_txn& tx) {
    u = owned(tx, caller, id);
    tx.delete_upload(id);
  });
  // A completed upload's file stays: only the upload record goes.
  if (u.state == upload_state::open) staging_.remove(u.id);
  forget_hash(u.id);
}

// ---------------------------------------------------------------------------------------------
// tus

patch_result upload_service::create_tus(const user& caller, tus_create req) {
  if (req.size) check_size(*req.size, opts_.max_file_size);
  if (!req.filename.empty() && !is_valid_file_name(req.filename)) {
    throw error(errc::invalid_name,
                "The filename must be 1-255 bytes of UTF-8 without control characters.");
  }
  upload_record u;
  u.id = util::new_id();
  u.owner = caller.id;
  u.protocol = upload_protocol::tus;
  u.kind = req.kind;
  u.filename = std::move(req.filename);
  u.content_type = content_type_or_default(std::move(req.content_type));
  u.size = req.size;
  u.metadata = std::move(req.metadata);
  store_new(u);
  patch_result r{u, std::nullopt};
  if (u.size == 0 && u.kind == upload_kind::single) {
    r.file = finish(caller, u, util::to_hex(util::sha256{}.finish())).file;
    r.upload = find(caller, u.id);
  }
  return r;
}

patch_result upload_service::concat_final(const user& caller,
                                          const std::vector<std::string>& part_ids,
                                          tus_create req) {
  if (part_ids.empty()) invalid("Upload-Concat: final needs at least one partial upload.");
  if (!req.filename.empty() && !is_valid_file_name(req.filename)) {
    throw error(errc::invalid_name,
                "The filename must be 1-255 bytes of UTF-8 without control characters.");
  }
  std::vector<upload_record> parts;
  std::uint64_t total = 0;
  meta_.read([&](metadata_txn& tx) {
    for (const auto& id : part_ids) {
      auto p = owned(tx, caller, id);
      if (p.protocol != upload_protocol::tus || p.kind != upload_kind::partial ||
          p.state != upload_state::open) {
        invalid("Upload " + id + " is not an unused partial upload.");
      }
      if (!p.size || p.offset != *p.size) {
        throw error(errc::partial_upload_unfinished,
                    "Partial upload " + id + " has not received all its bytes yet.");
      }
      total += *p.size;
      parts.push_back(std::move(p));
    }
  });
  check_size(total, opts_.max_file_size);

  // The parts were written separately, so their bytes are copied once into the new blob (hashed
  // on the way); the parts' space is freed as soon as the file exists.
  auto writer = blobs_.begin();
  {
    auto buf = std::make_unique<char[]>(hash_block);
    for (const auto& p : parts) {
      auto file = staging_.open(p.id);
      for (std::uint64_t at = 0; at < *p.size;) {
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(hash_block, *p.size - at));
        const std::size_t n = file->read_at(at, buf.get(), want);
        if (n != want) throw std::runtime_error("partial upload file shorter than recorded");
        writer->write(buf.get(), n);
        at += n;
      }
    }
  }
  const blob_info blob = writer->commit();
  writer.reset();

  upload_record u;
  u.id = util::new_id();
  u.owner = caller.id;
  u.protocol = upload_protocol::tus;
  u.kind = upload_kind::final_concat;
  u.state = upload_state::completed;
  u.filename = req.filename.empty() ? "upload-" + u.id : std::move(req.filename);
  u.content_type = content_type_or_default(std::move(req.content_type));
  u.size = total;
  u.offset = total;
  u.metadata = std::move(req.metadata);
  u.parts = part_ids;
  const auto now = util::now_ms();
  u.created_at = u.updated_at = now;
  u.expires_at = expiry_from(now);

  patch_result r;
  r.file = files_.create(
      caller, u.filename, u.content_type, blob, [&](metadata_txn& tx, const file_record& f) {
        for (const auto& p : parts) {
          const auto cur = tx.find_upload(p.id);
          if (!cur || cur->state != upload_state::open) {
            throw error(errc::upload_not_found, "Partial upload " + p.id + " went away.");
          }
          tx.delete_upload(p.id);
        }
        u.file_id = f.id;
        tx.insert_upload(u);
      });
  for (const auto& p : parts) {
    staging_.remove(p.id);
    forget_hash(p.id);
  }
  r.upload = std::move(u);
  return r;
}

patch_slot upload_service::begin_patch(const user& caller, std::string_view id,
                                       std::uint64_t offset,
                                       std::optional<std::uint64_t> upload_length) {
  patch_slot slot;
  meta_.read([&](metadata_txn& tx) { slot.upload = owned(tx, caller, id); });
  auto& u = slot.upload;
  if (u.protocol != upload_protocol::tus) throw error(errc::upload_not_found, "No such upload.");
  if (u.kind == upload_kind::final_concat) {
    throw error(errc::upload_not_writable,
                "A final (concatenated) upload cannot be patched; patch its partial uploads.");
  }
  if (upload_length) {
    if (u.size && *u.size != *upload_length) {
      invalid("Upload-Length cannot change once it is set.");
    }
    if (!u.size) {
      check_size(*upload_length, opts_.max_file_size);
      if (*upload_length < u.offset) invalid("Upload-Length is less than the bytes received.");
      slot.declared_size = upload_length;
    }
  }
  if (u.state == upload_state::completed) {
    if (offset != u.size.value_or(u.offset)) offset_mismatch(u.size.value_or(u.offset));
    slot.already_complete = true;
    return slot;
  }
  if (offset != u.offset) offset_mismatch(u.offset);
  const std::uint64_t limit = slot.declared_size ? *slot.declared_size
                              : u.size           ? *u.size
                                                 : opts_.max_file_size;
  slot.max_length = limit - u.offset;
  return slot;
}

upload_writer upload_service::patch_writer(const patch_slot& slot) {
  upload_writer w(staging_.open(slot.upload.id), slot.upload.offset, slot.max_length);
  std::lock_guard lock(hashes_mutex_);
  if (slot.upload.offset == 0) {
    w.continue_hash(util::hasher(util::hash_algorithm::sha256));
  } else if (const auto it = hashes_.find(slot.upload.id);
             it != hashes_.end() && it->second.offset == slot.upload.offset) {
    w.continue_hash(it->second.hash);
  }
  return w;
}

patch_result upload_service::commit_patch(const user& caller, const patch_slot& slot,
                                          upload_writer& w) {
  upload_record u = slot.upload;
  const std::uint64_t from = u.offset;
  u.offset = from + w.written();
  if (slot.declared_size) u.size = slot.declared_size;
  auto running = w.take_hash();
  const bool done = u.size && u.offset == *u.size;

  const auto advance = [&](metadata_txn&, upload_record& cur) {
    if (cur.state != upload_state::open || cur.offset != from) offset_mismatch(cur.offset);
    const auto now = util::now_ms();
    cur.offset = u.offset;
    cur.size = u.size;
    cur.updated_at = now;
    cur.expires_at = expiry_from(now);
  };

  if (done && u.kind == upload_kind::single) {
    std::string sha256;
    if (running) {
      sha256 = util::to_hex(running->finish());
    } else {
      util::sha256 h;
      hash_staged(u.id, h, 0, *u.size);
      sha256 = util::to_hex(h.finish());
    }
    patch_result r;
    r.file = finish(caller, u, sha256, advance).file;
    r.upload = find(caller, u.id);
    return r;
  }
  meta_.write([&](metadata_txn& tx) {
    auto cur = owned(tx, caller, u.id);
    advance(tx, cur);
    tx.update_upload(cur);
    u = cur;
  });
  if (running) {
    std::lock_guard lock(hashes_mutex_);
    hashes_.insert_or_assign(u.id, running_hash{u.offset, std::move(*running)});
  }
  return patch_result{u, std::nullopt};
}

void upload_service::discard_patch(const patch_slot& slot) {
  if (slot.upload.size) return;  // preallocated: the space stays the upload's
  std::optional<upload_record> u;
  meta_.read([&](metadata_txn& tx) { u = tx.find_upload(slot.upload.id); });
  // Only while nothing moved on: a completed upload's file may be a blob by now.
  if (u && u->state == upload_state::open && u->offset == slot.upload.offset) {
    staging_.truncate(u->id, u->offset);
  }
}

void upload_service::forget_hash(const std::string& id) {
  std::lock_guard lock(hashes_mutex_);
  hashes_.erase(id);
  if (const auto it = prefixes_.find(id); it != prefixes_.end()) {
    it->second->stale = true;  // a running task stops reading
    prefixes_.erase(it);
  }
}

// ---------------------------------------------------------------------------------------------
// housekeeping

upload_service::sweep_result upload_service::sweep(std::int64_t now_ms) {
  sweep_result r;
  std::vector<upload_record> due;
  meta_.read([&](metadata_txn& tx) { due = tx.uploads_expired_by(now_ms, 256); });
  for (auto& u : due) {
    // An upload receiving bytes right now is not idle, whatever its timestamp says.
    auto held = gate_.try_enter_exclusive(u.id);
    if (!held) continue;
    bool expired = false;
    meta_.write([&](metadata_txn& tx) {
      auto cur = tx.find_upload(u.id);
      if (!cur || cur->state != upload_state::open || cur->expires_at > now_ms) return;
      cur->state = upload_state::expired;
      cur->updated_at = now_ms;
      cur->expires_at = expiry_from(now_ms);  // answers 410 for one more TTL, then 404
      tx.update_upload(*cur);
      tx.delete_chunks(cur->id);
      expired = true;
    });
    if (!expired) continue;
    staging_.remove(u.id);
    forget_hash(u.id);
    ++r.expired;
  }
  meta_.write([&](metadata_txn& tx) { r.purged = tx.purge_uploads(now_ms); });
  return r;
}

std::size_t upload_service::recover() {
  std::vector<std::string> open;
  meta_.read([&](metadata_txn& tx) { open = tx.open_upload_ids(); });
  std::sort(open.begin(), open.end());
  std::size_t removed = 0;
  for (const auto& id : staging_.list()) {
    if (!std::binary_search(open.begin(), open.end(), id)) {
      staging_.remove(id);
      ++removed;
    }
  }
  return removed;
}

}  // namespace sharebox::domain
