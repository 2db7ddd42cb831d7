#include "sharebox/storage/sqlite_commit_probe.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace sharebox::storage {

namespace {

// The WAL-index header (WalIndexHdr in SQLite's wal.c): 48 bytes, in native byte order, twice.
constexpr std::size_t header_size = 48;
constexpr std::size_t map_size = 4096;  // SQLite grows "-shm" in 32 KiB regions
constexpr std::uint32_t wal_index_version = 3007000;
constexpr std::size_t version_at = 0;
constexpr std::size_t is_init_at = 12;

}  // namespace

sqlite_commit_probe::sqlite_commit_probe(const std::filesystem::path& db_path) {
  const std::string shm = db_path.string() + "-shm";
  // Closed in the destructor only, whatever happens here: closing any descriptor of a file drops
  // every POSIX lock the process holds on it, SQLite's own on "-shm" included (see the header).
  fd_ = ::open(shm.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    unavailable_ = "cannot open " + shm + ": " + std::strerror(errno);
    return;
  }
  struct stat st {};
  // Mapping past the end of the file would turn a read into SIGBUS.
  if (::fstat(fd_, &st) != 0 || st.st_size < static_cast<off_t>(map_size)) {
    unavailable_ = shm + " is not an initialised WAL index";
    return;
  }
  void* p = ::mmap(nullptr, map_size, PROT_READ, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    unavailable_ = "cannot map " + shm + ": " + std::strerror(errno);
    return;
  }
  header_ = static_cast<const unsigned char*>(p);
  mapped_ = map_size;
  if (!now()) {
    unavailable_ = shm + " does not hold a WAL index this probe understands";
    ::munmap(const_cast<unsigned char*>(header_), mapped_);
    header_ = nullptr;
  }
}

sqlite_commit_probe::~sqlite_commit_probe() {
  if (header_) ::munmap(const_cast<unsigned char*>(header_), mapped_);
  if (fd_ >= 0) ::close(fd_);
}

std::optional<domain::commit_probe::stamp> sqlite_commit_probe::now() const noexcept {
  if (!header_) return std::nullopt;
  // The same reads as SQLite's walIndexTryHdr: the first copy, a full barrier, the second.
  // Another process writes this memory, so the fences (not the language's data-race rules) are
  // what orders these reads.
  stamp first;
  std::array<unsigned char, header_size> second;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::memcpy(first.bytes.data(), header_, header_size);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::memcpy(second.data(), header_ + header_size, header_size);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (first.bytes != second) return std::nullopt;
  std::uint32_t version = 0;
  std::memcpy(&version, first.bytes.data() + version_at, sizeof version);
  if (version != wal_index_version || first.bytes[is_init_at] != 1) return std::nullopt;
  return first;
}

}  // namespace sharebox::storage
