#include "sharebox/client/state.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sharebox/client/error.hpp"
#include "sharebox/client/file_io.hpp"
#include "sharebox/client/format.hpp"

namespace sharebox::client {

namespace fs = std::filesystem;

namespace {

fs::path home_dir() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return pw->pw_dir;
  }
  throw client_error("cannot find a directory for resume state: set HOME or XDG_STATE_HOME");
}

void fsync_path(const fs::path& p, int flags) {
  unique_fd fd(::open(p.c_str(), flags | O_CLOEXEC));
  if (fd.get() >= 0) ::fsync(fd.get());
}

}  // namespace

fs::path state_root() {
  // The XDG spec says to ignore relative values.
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && xdg[0] == '/') {
    return fs::path(xdg) / "sharebox";
  }
  return home_dir() / ".local" / "state" / "sharebox";
}

state_file::state_file(std::string_view kind, std::string_view key)
    : path_(state_root() / kind / (sha256_hex(key) + ".json")) {}

std::optional<nlohmann::json> state_file::load() const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_object()) return std::nullopt;
  return j;
}

void state_file::save(const nlohmann::json& j) const {
  std::error_code ec;
  fs::create_directories(path_.parent_path(), ec);
  if (ec) {
    throw client_error("cannot create " + path_.parent_path().string() + ": " + ec.message());
  }
  const fs::path tmp = path_.string() + ".tmp";
  {
    unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
      throw client_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
    }
    const std::string text = j.dump(2) + "\n";
    write_all(fd.get(), tmp, text.data(), text.size());
    if (::fsync(fd.get()) != 0) {
      throw client_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
    }
  }
  fs::rename(tmp, path_, ec);
  if (ec) throw client_error("cannot write " + path_.string() + ": " + ec.message());
  fsync_path(path_.parent_path(), O_RDONLY | O_DIRECTORY);
}

void state_file::remove() const {
  std::error_code ec;
  fs::remove(path_, ec);
}

}  // namespace sharebox::client
