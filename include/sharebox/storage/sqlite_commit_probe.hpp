#pragma once
// domain::commit_probe for a SQLite database in WAL mode, read from the WAL index ("-shm" file)
// without a system call, a lock or a SQLite call.
#include <cstddef>
#include <filesystem>
#include <string>

#include "sharebox/domain/commit_probe.hpp"

namespace sharebox::storage {

// Every commit, from any connection of any process, rewrites the WAL-index header in the shared
// "-shm" file (iChange counts commits, mxFrame and the checksums change with them) before it
// becomes visible to readers: that is how SQLite's own readers find new transactions. This maps
// the header read-only and compares it, as SQLite does, via its two copies (a writer updates the
// second, then the first: copies that differ mean a commit is being published). Format:
// https://www.sqlite.org/walformat.html ("The WAL-Index Header").
//
// The database must be open in WAL mode, by a connection of this process (the server's
// sqlite_store): SQLite truncates or deletes "-shm" only when the last connection of all processes
// closes, or when a process opens it that finds no lock on it. SQLite's locks on "-shm" are POSIX
// advisory locks, which a process loses on closing any of its descriptors of the file: the probe
// keeps its own open until it is destroyed, so it must be destroyed after the store's connections
// are closed. (Closing it early let any other process, such as `sharebox user add`, truncate
// "-shm" under the running server, whose next read of the mapping was a SIGBUS.)
class sqlite_commit_probe final : public domain::commit_probe {
 public:
  explicit sqlite_commit_probe(const std::filesystem::path& db_path);
  ~sqlite_commit_probe() override;
  sqlite_commit_probe(const sqlite_commit_probe&) = delete;
  sqlite_commit_probe& operator=(const sqlite_commit_probe&) = delete;

  std::optional<stamp> now() const noexcept override;

  // Why now() always answers nullopt, if it does (for the log at start); empty otherwise.
  const std::string& unavailable() const noexcept { return unavailable_; }

 private:
  int fd_ = -1;                            // "-shm", open for as long as it is mapped
  const unsigned char* header_ = nullptr;  // the mapped start of "-shm"
  std::size_t mapped_ = 0;
  std::string unavailable_;
};

}  // namespace sharebox::storage
