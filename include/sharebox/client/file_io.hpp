#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

namespace sharebox::client {

class progress;

// An owned file descriptor.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  ~unique_fd();
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// Size and modification time: how a resume recognises an unchanged file.
struct file_identity {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const file_identity&) const = default;
};

// Throw client_error with the path and strerror on failure.
unique_fd open_for_reading(const std::filesystem::path& p);
file_identity identity_of(int fd, const std::filesystem::path& p);
// Reads exactly `size` bytes at `offset` (pread, thread-safe on a shared descriptor).
void read_at(int fd, const std::filesystem::path& p, std::uint64_t offset, char* out,
             std::size_t size);
// Appends all of `data` at the descriptor's position.
void write_all(int fd, const std::filesystem::path& p, const char* data, std::size_t size);
// Lowercase hex SHA-256 of the descriptor's content from offset 0, in bounded memory;
// `meter` (optional) counts the bytes hashed.
std::string sha256_of(int fd, const std::filesystem::path& p, progress* meter = nullptr);

}  // namespace sharebox::client
