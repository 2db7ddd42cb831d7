#include "sharebox/storage/fs_upload_staging.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "fs_util.hpp"
#include "sharebox/util/crypto.hpp"

namespace sharebox::storage {

namespace fs = std::filesystem;

namespace {

// Written bytes are handed to the disk in batches of this size while a request is still
// arriving, so the fdatasync that ends the request waits for the last batch only, not for
// everything the request wrote (the page cache would otherwise hold it all until then).
constexpr std::uint64_t writeback_batch = std::uint64_t{1} << 20;

class fs_staged_file final : public domain::staged_file {
 public:
  explicit fs_staged_file(int fd) : fd_(fd) {}
  ~fs_staged_file() override { ::close(fd_); }

  void write_at(std::uint64_t offset, const void* data, std::size_t size) override {
    if (offset != dirty_end_) {
      start_writeback();
      dirty_begin_ = dirty_end_ = offset;
    }
    dirty_end_ = offset + size;
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        fsu::throw_io("pwrite", errno);
      }
      p += n;
      size -= static_cast<std::size_t>(n);
      offset += static_cast<std::uint64_t>(n);
    }
    if (dirty_end_ - dirty_begin_ >= writeback_batch) start_writeback();
  }

  std::size_t read_at(std::uint64_t offset, void* data, std::size_t size) override {
    char* p = static_cast<char*>(data);
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pread(fd_, p + done, size - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        fsu::throw_io("pread", errno);
      }
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

  void sync() override {
    // fdatasync: the file's size was made durable when it was created (preallocated), and for
    // a growing (deferred-length) file fdatasync still flushes the size it needs.
    if (::fdatasync(fd_) != 0) fsu::throw_io("fdatasync", errno);
  }

 private:
  // Asynchronous (SYNC_FILE_RANGE_WRITE does not wait for the disk) and only a hint: sync()
  // still flushes everything and is where write errors are reported.
  void start_writeback() {
    if (dirty_end_ > dirty_begin_) {
      ::sync_file_range(fd_, static_cast<off_t>(dirty_begin_),
                        static_cast<off_t>(dirty_end_ - dirty_begin_), SYNC_FILE_RANGE_WRITE);
    }
    dirty_begin_ = dirty_end_;
  }

  int fd_;
  std::uint64_t dirty_begin_ = 0;  // written since the last start_writeback()
  std::uint64_t dirty_end_ = 0;
};

}  // namespace

fs_upload_staging::fs_upload_staging(const fs::path& data_dir, fs_blob_store& blobs)
    : dir_(data_dir / "uploads"), blobs_(blobs) {
  fs::create_directories(data_dir);
  fsu::ensure_dir(dir_);
}

fs::path fs_upload_staging::path_of(std::string_view upload_id) const {
  if (!util::is_valid_id(upload_id)) throw std::invalid_argument("invalid upload id");
  return dir_ / std::string(upload_id);
}

void fs_upload_staging::create(std::string_view upload_id, std::optional<std::uint64_t> size) {
  const fs::path p = path_of(upload_id);
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) fsu::throw_io("create upload file", errno);
  const auto fail = [&](const char* what, int err) {
    ::close(fd);
    ::unlink(p.c_str());
    fsu::throw_io(what, err);
  };
  if (size && *size > 0) {
    // Reserve the blocks now: a full disk answers 507 at init, not after half the upload.
    const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(*size));
    if (rc != 0) fail("fallocate", rc);
  }
  if (::fsync(fd) != 0) fail("fsync", errno);
  ::close(fd);
  try {
    fsu::fsync_dir(dir_);
  } catch (...) {
    ::unlink(p.c_str());
    throw;
  }
}

std::unique_ptr<domain::staged_file> fs_upload_staging::open(std::string_view upload_id) {
  const int fd = ::open(path_of(upload_id).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) fsu::throw_io("open upload file", errno);
  return std::make_unique<fs_staged_file>(fd);
}

domain::blob_info fs_upload_staging::promote(std::string_view upload_id, std::uint64_t size,
                                             std::string sha256) {
  const fs::path p = path_of(upload_id);
  // A discarded request (failed checksum) on a deferred-length upload may have left bytes past
  // the final length: cut them off so the blob is exact.
  const int fd = ::open(p.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) fsu::throw_io("open upload file", errno);
  const bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0 && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) fsu::throw_io("finish upload file", err);
  return blobs_.adopt(p, size, std::move(sha256));
}

void fs_upload_staging::remove(std::string_view upload_id) noexcept {
  if (!util::is_valid_id(upload_id)) return;
  ::unlink((dir_ / std::string(upload_id)).c_str());
}

void fs_upload_staging::truncate(std::string_view upload_id, std::uint64_t size) noexcept {
  if (!util::is_valid_id(upload_id)) return;
  [[maybe_unused]] const int rc =
      ::truncate((dir_ / std::string(upload_id)).c_str(), static_cast<off_t>(size));
}

std::vector<std::string> fs_upload_staging::list() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir_)) {
    auto name = e.path().filename().string();
    if (util::is_valid_id(name)) out.push_back(std::move(name));
  }
  return out;
}

}  // namespace sharebox::storage
