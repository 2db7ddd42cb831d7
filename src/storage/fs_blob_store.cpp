#include "sharebox/storage/fs_blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "sharebox/domain/errors.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::storage {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void throw_io(const char* what, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    throw domain::error(domain::errc::storage_full, "The server has no space left for this file.");
  }
  throw std::system_error(err, std::generic_category(), what);
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_io("open directory", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw_io("fsync directory", err);
}

// Creates `dir` (one level) durably: the new entry in its parent is fsynced too.
void ensure_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0750) == 0) {
    fsync_dir(dir.parent_path());
  } else if (errno != EEXIST) {
    throw_io("mkdir", errno);
  }
}

class fs_blob_writer final : public domain::blob_writer {
 public:
  fs_blob_writer(fs::path tmp_dir, fs::path blobs_dir)
      : blobs_(std::move(blobs_dir)), id_(util::new_id()) {
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

  domain::blob_info commit() override {
    if (::fsync(fd_) != 0) throw_io("fsync", errno);
    ::close(fd_);
    fd_ = -1;
    const fs::path shard = blobs_ / id_.substr(0, 2);
    ensure_dir(shard);
    const fs::path final_path = shard / id_;
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
  std::string id_;
  fs::path tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
  std::uint64_t size_ = 0;
  std::uint64_t flushed_ = 0;
  util::sha256 hash_;
};

}  // namespace

fs_blob_store::fs_blob_store(fs::path data_dir)
    : blobs_(data_dir / "blobs"), tmp_(data_dir / "tmp") {
  fs::create_directories(data_dir);
  ensure_dir(blobs_);
  ensure_dir(tmp_);
}

fs::path fs_blob_store::blob_path(std::string_view blob_id) const {
  return blobs_ / std::string(blob_id.substr(0, 2)) / std::string(blob_id);
}

std::unique_ptr<domain::blob_writer> fs_blob_store::begin() {
  return std::make_unique<fs_blob_writer>(tmp_, blobs_);
}

int fs_blob_store::open(std::string_view blob_id) const {
  if (!util::is_valid_id(blob_id)) return -1;
  return ::open(blob_path(blob_id).c_str(), O_RDONLY | O_CLOEXEC);
}

void fs_blob_store::remove(std::string_view blob_id) noexcept {
  if (!util::is_valid_id(blob_id)) return;
  ::unlink(blob_path(blob_id).c_str());
}

std::size_t fs_blob_store::remove_temp_files() {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(tmp_)) {
    std::error_code ec;
    if (fs::remove_all(e.path(), ec) > 0) ++n;
  }
  return n;
}

std::size_t fs_blob_store::remove_unreferenced(
    const std::function<bool(std::string_view)>& referenced) {
  std::size_t n = 0;
  for (const auto& shard : fs::directory_iterator(blobs_)) {
    if (!shard.is_directory()) continue;
    for (const auto& e : fs::directory_iterator(shard.path())) {
      const std::string name = e.path().filename().string();
      if (util::is_valid_id(name) && !referenced(name)) {
        std::error_code ec;
        if (fs::remove(e.path(), ec)) ++n;
      }
    }
  }
  return n;
}

}  // namespace sharebox::storage
