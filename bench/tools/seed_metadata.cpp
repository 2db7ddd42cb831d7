// Fills a fresh sharebox data dir with many files and shares, for the metadata-scale benchmark
// (issue 6, scenario 9), through the server's own storage layer: the schema is the one the
// migrations make, rows go in through sqlite_store's write transactions and every file has a real
// blob under <data>/blobs/<shard>/<id>, so the server's start-up checks see a consistent data dir.
//
// Users: `alice` owns most files; `bob` owns a few and sees the shared ones; `carol`.. own the
// rest. Shares go from alice to bob, spread over her whole history, so bob's listing merges both
// halves of the visible-files query on every page. Prints "USER KEY" lines on stdout.
//
// Blobs are written without one fsync each (one syncfs at the end): what the server does per
// upload is not what this measures.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sharebox/domain/auth_service.hpp"
#include "sharebox/storage/sqlite_store.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"
#include "sharebox/util/time.hpp"

namespace fs = std::filesystem;
using namespace sharebox;

namespace {

void write_blob(const fs::path& blobs, const std::string& id, const std::string& content) {
  const fs::path shard = blobs / id.substr(0, 2);
  fs::create_directories(shard);
  const fs::path p = shard / id;
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) throw std::runtime_error("create " + p.string());
  const auto n = ::write(fd, content.data(), content.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(content.size())) throw std::runtime_error("write " + p.string());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: seed_metadata DATA_DIR FILES SHARES [OTHER_USERS]\n";
    return 2;
  }
  const fs::path data = argv[1];
  const long files = std::atol(argv[2]);
  const long shares = std::atol(argv[3]);
  const long others = argc > 4 ? std::atol(argv[4]) : 8;
  if (files < 1 || shares < 0 || shares > files || others < 0) {
    std::cerr << "seed_metadata: bad counts\n";
    return 2;
  }
  try {
    fs::create_directories(data / "blobs");
    storage::sqlite_store meta(data / "sharebox.db");
    domain::auth_service auth(meta);
    std::vector<std::string> users{"alice", "bob"};
    for (long i = 0; i < others; ++i)
      users.push_back("user" + std::to_string(i));
    for (const auto& u : users) {
      std::cout << u << ' ' << auth.create_user(u, u == "alice").secret << '\n';
    }

    // Who owns file i: alice ~90 %, bob and the others the rest, interleaved so every user's
    // files are spread over the whole seq range (as they would be in a shared deployment).
    const auto owner_of = [&](long i) -> const std::string& {
      const long slot = i % 10;
      if (slot != 9) return users[0];
      return users[1 + (i / 10) % (users.size() - 1)];
    };
    long alice_files = 0;
    for (long i = 0; i < files; ++i)
      if (owner_of(i) == users[0]) ++alice_files;
    const long share_step = shares ? std::max(1L, alice_files / shares) : 0;

    const std::int64_t t0 = util::now_ms() - files * 1000;
    constexpr long batch = 5000;
    long shared = 0, alice_seen = 0;
    for (long start = 0; start < files; start += batch) {
      std::vector<domain::file_record> recs;
      for (long i = start; i < std::min(files, start + batch); ++i) {
        domain::file_record f;
        f.id = util::new_id();
        f.owner = owner_of(i);
        f.name = "file-" + std::to_string(i) + ".txt";
        const std::string content = "sharebox seeded file " + std::to_string(i) + "\n";
        f.size = content.size();
        f.content_type = "text/plain";
        f.sha256 = util::to_hex(util::sha256::of(content));
        f.blob = util::new_id();
        f.version = 1;
        f.created_at = f.updated_at = t0 + i * 1000;
        write_blob(data / "blobs", f.blob, content);
        recs.push_back(std::move(f));
      }
      meta.write([&](domain::metadata_txn& tx) {
        for (const auto& f : recs) {
          tx.insert_file(f);
          if (f.owner != users[0]) continue;
          if (shared < shares && alice_seen++ % share_step == 0) {
            tx.upsert_share(domain::share{
                f.id, users[1],
                shared % 4 == 0 ? domain::permission::write : domain::permission::read, users[0],
                f.created_at});
            ++shared;
          }
        }
      });
    }
    const int dfd = ::open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::syncfs(dfd);
      ::close(dfd);
    }
    std::cerr << "seed_metadata: " << files << " files (" << alice_files << " alice's), " << shared
              << " shares to bob, " << users.size() << " users in " << data << "\n";
  } catch (const std::exception& e) {
    std::cerr << "seed_metadata: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
