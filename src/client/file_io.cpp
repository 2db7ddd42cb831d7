#include "sharebox/client/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "sharebox/client/error.hpp"
#include "sharebox/client/progress.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::client {

namespace {

constexpr std::size_t hash_buffer = std::size_t{1} << 20;

[[noreturn]] void fail(const std::filesystem::path& p, std::string_view what) {
  throw client_error(p.string() + ": " + std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

unique_fd::~unique_fd() {
  if (fd_ >= 0) ::close(fd_);
}

unique_fd& unique_fd::operator=(unique_fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

unique_fd open_for_reading(const std::filesystem::path& p) {
  unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail(p, "cannot open");
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && !S_ISREG(st.st_mode)) {
    throw client_error(p.string() + ": not a regular file");
  }
  return fd;
}

file_identity identity_of(int fd, const std::filesystem::path& p) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(p, "cannot stat");
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

void read_at(int fd, const std::filesystem::path& p, std::uint64_t offset, char* out,
             std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(p, "read error");
    if (n == 0) throw client_error(p.string() + ": the file shrank while being read");
    done += static_cast<std::size_t>(n);
  }
}

void write_all(int fd, const std::filesystem::path& p, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(p, "write error");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

std::string sha256_of(int fd, const std::filesystem::path& p, progress* meter) {
  util::sha256 h;
  std::vector<char> buf(hash_buffer);
  for (std::uint64_t offset = 0;;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(p, "read error");
    if (n == 0) break;
    h.update(buf.data(), static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
    if (meter != nullptr) meter->add(n);
  }
  return util::to_hex(h.finish());
}

}  // namespace sharebox::client
