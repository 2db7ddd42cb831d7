#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace sharebox::client {

// A read-only view of [offset, offset + size) of a file, mapped from the page cache: checksumming
// and hashing a chunk through it copies nothing, where pread copied every byte and looked up
// every page (0.4 s of the client's core per GiB, a quarter of what `put` spent).
//
// Touching a mapping past the end of a file that shrank raises SIGBUS. The view checks the
// file's size first and faults every page in up front with MADV_POPULATE_READ, which reports a
// failure as an error instead; for a file cut between that and the read, the process ends with
// the message given to set_sigbus_message() rather than "Bus error".
class mapped_range {
 public:
  // Throws client_error (naming `p`) if the file is shorter or cannot be read.
  mapped_range(int fd, const std::filesystem::path& p, std::uint64_t offset, std::size_t size);
  ~mapped_range();
  mapped_range(const mapped_range&) = delete;
  mapped_range& operator=(const mapped_range&) = delete;

  std::string_view bytes() const { return {data_, size_}; }

 private:
  void* base_ = nullptr;
  std::size_t mapped_ = 0;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// What the process prints, before it exits with status 1, if a mapped file is cut under it.
// Installs the SIGBUS handler on first use; not for concurrent calls.
void set_sigbus_message(const std::filesystem::path& p);

}  // namespace sharebox::client
