#include "fs_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "sharebox/domain/errors.hpp"

namespace sharebox::storage::fsu {

void throw_io(const char* what, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    throw domain::error(domain::errc::storage_full, "The server has no space left for this file.");
  }
  throw std::system_error(err, std::generic_category(), what);
}

void fsync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_io("open directory", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw_io("fsync directory", err);
}

void ensure_dir(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0750) == 0) {
    fsync_dir(dir.parent_path());
  } else if (errno != EEXIST) {
    throw_io("mkdir", errno);
  }
}

}  // namespace sharebox::storage::fsu
