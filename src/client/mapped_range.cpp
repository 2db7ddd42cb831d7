#include "sharebox/client/mapped_range.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "sharebox/client/error.hpp"

namespace sharebox::client {

namespace {

// Written by set_sigbus_message before any mapping is read, read by the handler only.
char sigbus_message[1024];
std::size_t sigbus_message_size = 0;

void on_sigbus(int) {
  // Only async-signal-safe calls here.
  (void)!::write(STDERR_FILENO, sigbus_message, sigbus_message_size);
  ::_exit(1);
}

[[noreturn]] void shrank(const std::filesystem::path& p) {
  throw client_error(p.string() + ": the file shrank while being read");
}

}  // namespace

void set_sigbus_message(const std::filesystem::path& p) {
  const std::string text = "sharebox: " + p.string() +
                           ": the file was cut while being read; run the same command again "
                           "to resume once it is complete\n";
  sigbus_message_size = std::min(text.size(), sizeof sigbus_message);
  std::memcpy(sigbus_message, text.data(), sigbus_message_size);
  static const bool installed = [] {
    struct sigaction sa {};
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    return ::sigaction(SIGBUS, &sa, nullptr) == 0;
  }();
  (void)installed;
}

mapped_range::mapped_range(int fd, const std::filesystem::path& p, std::uint64_t offset,
                           std::size_t size)
    : size_(size) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw client_error(p.string() + ": cannot stat: " + std::strerror(errno));
  }
  if (offset + size > static_cast<std::uint64_t>(st.st_size)) shrank(p);
  if (size == 0) {
    data_ = "";
    return;
  }
  static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t start = offset / page * page;
  mapped_ = static_cast<std::size_t>(offset + size - start);
  base_ = ::mmap(nullptr, mapped_, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(start));
  if (base_ == MAP_FAILED) {
    base_ = nullptr;
    throw client_error(p.string() + ": cannot map for reading: " + std::strerror(errno));
  }
  data_ = static_cast<const char*>(base_) + (offset - start);
  // EINVAL: a kernel before 5.14; the pages then fault in as they are read.
  if (::madvise(base_, mapped_, MADV_POPULATE_READ) != 0 && errno != EINVAL) {
    const int err = errno;
    ::munmap(base_, mapped_);
    if (err == EFAULT) shrank(p);
    throw client_error(p.string() + ": read error: " + std::strerror(err));
  }
}

mapped_range::~mapped_range() {
  if (base_ != nullptr) ::munmap(base_, mapped_);
}

}  // namespace sharebox::client
