#include "sharebox/storage/fs_blob_store.hpp"

#include "fs_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "sharebox/domain/errors.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::storage {

namespace fs = std::filesystem;

namespace {

using fsu::ensure_dir;
using fsu::fsync_dir;
using fsu::throw_io;

class fs_blob_writer final : public domain::blob_writer {
 public:
  fs_blob_writer(fs::path tmp_dir, fs::path blobs_dir,
                 std::function<void(const std::string&)> note_made)
      : blobs_(std::move(blobs_dir)), note_made_(std::move(note_made)), id_(util::new_id()) {
    tmp_path_ = tmp_dir / (id_ + ".part");
    fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd_ < 0) throw_io("create temp file", errno);
  }

  ~fs_blob_writer() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_path_.c_str());
  }

  void write(const void* data, std::size_t size) override {
    hash_.update(data, size);
    const char* p = static_cast<const char*>(data);
    std::size_t left = size;
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_io("write", errno);
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    size_ += size;
    // Start writeback as we go, so dirty pages stay bounded and the final fsync is short.
    if (size_ - flushed_ >= flush_step) {
      ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(size_ - flushed_),
                        SYNC_FILE_RANGE_WRITE);
      flushed_ = size_;
    }
  }

  std::uint64_t size() const noexcept override { return size_; }
  const fs::path& path() const noexcept override { return tmp_path_; }
  std::string sha256_so_far() const override {
    util::hasher fork(hash_);
    return util::to_hex(fork.finish());
  }

  domain::blob_info commit() override {
    if (::fsync(fd_) != 0) throw_io("fsync", errno);
    ::close(fd_);
    fd_ = -1;
    const fs::path shard = blobs_ / id_.substr(0, 2);
    ensure_dir(shard);
    const fs::path final_path = shard / id_;
    note_made_(id_);
    if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0) throw_io("rename", errno);
    committed_ = true;
    try {
      fsync_dir(shard);
    } catch (...) {
      ::unlink(final_path.c_str());
      throw;
    }
    return domain::blob_info{id_, size_, util::to_hex(hash_.finish())};
  }

 private:
  static constexpr std::uint64_t flush_step = 8 << 20;
  fs::path blobs_;
  std::function<void(const std::string&)> note_made_;
  std::string id_;
  fs::path tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
  std::uint64_t size_ = 0;
  std::uint64_t flushed_ = 0;
  util::hasher hash_{util::hash_algorithm::sha256};
};

}  // namespace

fs_blob_store::fs_blob_store(fs::path data_dir)
    : blobs_(data_dir / "blobs"), tmp_(data_dir / "tmp"), thumbs_(data_dir / "thumbs") {
  fs::create_directories(data_dir);
  ensure_dir(blobs_);
  ensure_dir(tmp_);
  ensure_dir(thumbs_);
}

fs::path fs_blob_store::thumbnail_path(std::string_view blob_id) const {
  return thumbs_ / (std::string(blob_id) + ".webp");
}

int fs_blob_store::open_thumbnail(std::string_view blob_id) const {
  if (!util::is_valid_id(blob_id)) return -1;
  return ::open(thumbnail_path(blob_id).c_str(), O_RDONLY | O_CLOEXEC);
}

void fs_blob_store::put_thumbnail(std::string_view blob_id, const fs::path& file) {
  if (!util::is_valid_id(blob_id)) throw std::invalid_argument("bad blob id");
  if (::rename(file.c_str(), thumbnail_path(blob_id).c_str()) != 0) throw_io("rename", errno);
  // The blob may have been removed meanwhile (a replace or delete): then so goes the thumbnail.
  if (::access(blob_path(blob_id).c_str(), F_OK) != 0) ::unlink(thumbnail_path(blob_id).c_str());
}

fs::path fs_blob_store::scratch_path() const {
  return tmp_ / (util::new_id() + ".scratch");
}

fs::path fs_blob_store::blob_path(std::string_view blob_id) const {
  return blobs_ / std::string(blob_id.substr(0, 2)) / std::string(blob_id);
}

std::unique_ptr<domain::blob_writer> fs_blob_store::begin() {
  return std::make_unique<fs_blob_writer>(tmp_, blobs_,
                                          [this](const std::string& id) { note_made(id); });
}

int fs_blob_store::open(std::string_view blob_id) const {
  if (!util::is_valid_id(blob_id)) return -1;
  return ::open(blob_path(blob_id).c_str(), O_RDONLY | O_CLOEXEC);
}

void fs_blob_store::remove(std::string_view blob_id) noexcept {
  if (!util::is_valid_id(blob_id)) return;
  ::unlink(blob_path(blob_id).c_str());
  ::unlink(thumbnail_path(blob_id).c_str());
}

domain::blob_info fs_blob_store::adopt(const fs::path& file, std::uint64_t size,
                                       std::string sha256) {
  const std::string id = util::new_id();
  const fs::path shard = blobs_ / id.substr(0, 2);
  ensure_dir(shard);
  const fs::path final_path = shard / id;
  note_made(id);
  if (::link(file.c_str(), final_path.c_str()) != 0) throw_io("link", errno);
  try {
    fsync_dir(shard);
  } catch (...) {
    ::unlink(final_path.c_str());
    throw;
  }
  return domain::blob_info{id, size, std::move(sha256)};
}

std::size_t fs_blob_store::remove_temp_files() {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(tmp_)) {
    std::error_code ec;
    if (fs::remove_all(e.path(), ec) > 0) ++n;
  }
  return n;
}

void fs_blob_store::note_made(const std::string& blob_id) {
  std::lock_guard lock(made_mutex_);
  if (tracking_made_) made_.insert(blob_id);
}

std::size_t fs_blob_store::remove_unreferenced(
    const std::function<std::vector<std::string>(std::string_view shard)>& referenced) {
  std::size_t n = 0;
  for (const auto& shard : fs::directory_iterator(blobs_)) {
    if (!shard.is_directory()) continue;
    const std::string prefix = shard.path().filename().string();
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(shard.path())) {
      std::string name = e.path().filename().string();
      if (util::is_valid_id(name)) names.push_back(std::move(name));
    }
    if (names.empty()) continue;
    // Listed before the query: a blob committed in between is seen as referenced, and one made
    // by this process is in made_ (noted before its name appeared).
    std::vector<std::string> used = referenced(prefix);
    std::sort(used.begin(), used.end());
    for (const auto& name : names) {
      if (std::binary_search(used.begin(), used.end(), name)) continue;
      std::lock_guard lock(made_mutex_);
      if (made_.contains(name)) continue;
      std::error_code ec;
      if (fs::remove(shard.path() / name, ec)) ++n;
    }
  }
  {
    std::lock_guard lock(made_mutex_);
    tracking_made_ = false;
    made_.clear();
  }
  // Thumbnails whose blob is gone (removed while a thumbnail was being made, or by a crash).
  // Blob ids are never reused, so a thumbnail without its blob is garbage whenever it is seen.
  for (const auto& e : fs::directory_iterator(thumbs_)) {
    const std::string blob_id = e.path().stem().string();
    std::error_code ec;
    if (!util::is_valid_id(blob_id) || !fs::exists(blob_path(blob_id), ec))
      fs::remove(e.path(), ec);
  }
  return n;
}

}  // namespace sharebox::storage
