// The download cache and the commit probe it trusts: a change committed by this process or by
// another connection to the database shows at the very next lookup.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sharebox/api/download_cache.hpp"
#include "sharebox/domain/auth_service.hpp"
#include "sharebox/domain/file_service.hpp"
#include "sharebox/storage/fs_blob_store.hpp"
#include "sharebox/storage/sqlite_commit_probe.hpp"
#include "sharebox/storage/sqlite_store.hpp"
#include "sharebox/util/crypto.hpp"
#include "temp_dir.hpp"

using namespace sharebox;

namespace {

using entry_ptr = std::shared_ptr<const api::download_cache::file_entry>;

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

int open_null() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

domain::file_view view_of(std::string id, std::string owner) {
  domain::file_view v;
  v.file.id = std::move(id);
  v.file.owner = std::move(owner);
  v.file.name = "a.txt";
  v.file.version = 3;
  v.file.updated_at = 784111777000;  // Sun, 06 Nov 1994 08:49:37 GMT
  return v;
}

// A probe whose stamp the test moves, as commits would.
class fake_probe final : public domain::commit_probe {
 public:
  std::optional<stamp> now() const noexcept override { return current; }
  void commit() { ++current->bytes[8]; }
  std::optional<stamp> current = stamp{};
};

class download_cache_test : public ::testing::Test {
 protected:
  fake_probe probe_;
  api::download_cache cache_{probe_, {4, 3}};
  domain::user alice_{"alice", false, 1};
  const std::string key_ = api::download_cache::key_hash("sbx_alice");

  entry_ptr entry(const std::string& id, const std::string& owner = "alice") {
    return std::make_shared<const api::download_cache::file_entry>(view_of(id, owner), open_null());
  }
};

TEST_F(download_cache_test, KeyHashIsTheStoredHash) {
  EXPECT_EQ(api::download_cache::key_hash("sbx_alice"), domain::hash_key("sbx_alice"));
  EXPECT_EQ(api::download_cache::key_hash(""), domain::hash_key(""));
}

TEST_F(download_cache_test, EntryCarriesTheDownloadHeaders) {
  const auto e = entry("f1");
  EXPECT_EQ(e->etag, "\"3\"");
  EXPECT_EQ(e->last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(e->disposition, "attachment; filename=\"a.txt\"");
}

TEST_F(download_cache_test, ServesWhatWasRememberedWhileNothingIsCommitted) {
  const auto at = *cache_.now();
  EXPECT_FALSE(cache_.user(at, key_));
  EXPECT_FALSE(cache_.file(at, "alice", "f1"));
  cache_.remember_user(at, key_, alice_);
  const auto e = entry("f1");
  cache_.remember_file(at, "alice", e);
  ASSERT_TRUE(cache_.user(at, key_));
  EXPECT_EQ(cache_.user(at, key_)->id, "alice");
  EXPECT_EQ(cache_.file(at, "alice", "f1"), e);
  // Per viewer: bob's view of the same file (a share) is not alice's.
  EXPECT_FALSE(cache_.file(at, "bob", "f1"));
  EXPECT_FALSE(cache_.user(at, api::download_cache::key_hash("sbx_other")));
}

TEST_F(download_cache_test, AnyCommitEmptiesItForTheNextLookup) {
  auto at = *cache_.now();
  cache_.remember_user(at, key_, alice_);
  cache_.remember_file(at, "alice", entry("f1"));
  probe_.commit();
  at = *cache_.now();
  EXPECT_FALSE(cache_.user(at, key_));
  EXPECT_FALSE(cache_.file(at, "alice", "f1"));
  EXPECT_EQ(cache_.size(), 0u);
}

TEST_F(download_cache_test, WhatWasReadBeforeACommitIsNotKept) {
  // The stamp is taken before the database read; a commit lands while the read runs.
  const auto before = *cache_.now();
  probe_.commit();
  cache_.remember_user(before, key_, alice_);
  cache_.remember_file(before, "alice", entry("f1"));
  const auto after = *cache_.now();
  EXPECT_FALSE(cache_.user(after, key_));
  EXPECT_FALSE(cache_.file(after, "alice", "f1"));
  // Nor is it served to a lookup that still holds the old stamp.
  EXPECT_FALSE(cache_.user(before, key_));
}

TEST_F(download_cache_test, UnknownStateMeansNoCache) {
  probe_.current.reset();
  EXPECT_FALSE(cache_.now());
}

TEST_F(download_cache_test, DescriptorsCloseWhenNoRequestHoldsThem) {
  const auto at = *cache_.now();
  auto e = entry("f1");
  const int fd = e->fd;
  cache_.remember_file(at, "alice", e);
  probe_.commit();
  EXPECT_FALSE(cache_.file(*cache_.now(), "alice", "f1"));
  EXPECT_TRUE(is_open(fd)) << "a request in flight still sends from it";
  e.reset();
  EXPECT_FALSE(is_open(fd));
}

TEST_F(download_cache_test, ClearDropsEverythingAtOnce) {
  const auto at = *cache_.now();
  auto e = entry("f1");
  const int fd = e->fd;
  cache_.remember_file(at, "alice", std::move(e));
  cache_.remember_user(at, key_, alice_);
  cache_.clear();
  EXPECT_FALSE(is_open(fd));
  EXPECT_FALSE(cache_.user(at, key_));
}

TEST_F(download_cache_test, StaysWithinItsLimits) {
  const auto at = *cache_.now();
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) {
    auto e = entry("f" + std::to_string(i));
    fds.push_back(e->fd);
    cache_.remember_file(at, "alice", std::move(e));
    EXPECT_LE(cache_.size(), 3u);
  }
  int open = 0;
  for (const int fd : fds)
    open += is_open(fd) ? 1 : 0;
  EXPECT_LE(open, 3);
  for (int i = 0; i < 10; ++i)
    cache_.remember_user(at, api::download_cache::key_hash(std::to_string(i)), alice_);
  EXPECT_LE(cache_.size(), 4u + 3u);
}

// The real probe on a real database.
class commit_probe_test : public ::testing::Test {
 protected:
  temp_dir dir_;
  std::filesystem::path db_ = dir_.path() / "sharebox.db";
  storage::sqlite_store meta_{db_};
  storage::fs_blob_store blobs_{dir_.path()};
  domain::auth_service auth_{meta_};
  domain::file_service files_{meta_, blobs_, {}};
  storage::sqlite_commit_probe probe_{db_};
};

TEST_F(commit_probe_test, SeesCommitsOfThisProcess) {
  ASSERT_TRUE(probe_.unavailable().empty()) << probe_.unavailable();
  const auto before = probe_.now();
  ASSERT_TRUE(before);
  EXPECT_EQ(probe_.now(), before);
  const auto k = auth_.create_user("alice", false);
  const auto after_create = probe_.now();
  ASSERT_TRUE(after_create);
  EXPECT_NE(after_create, before);
  // Reads change nothing.
  EXPECT_TRUE(auth_.authenticate(k.secret));
  EXPECT_EQ(probe_.now(), after_create);
  ASSERT_TRUE(auth_.revoke(k.secret));
  EXPECT_NE(probe_.now(), after_create);
}

TEST_F(commit_probe_test, SeesCommitsOfOtherConnections) {
  const auto before = probe_.now();
  {
    // Its own connections, as `sharebox key revoke` opens in its process.
    storage::sqlite_store other(db_);
    domain::auth_service(other).create_user("bob", false);
  }
  EXPECT_NE(probe_.now(), before);
}

// SQLite's connections hold a POSIX lock on "-shm" for as long as they are open; a process that
// opens the database and finds none takes itself for the first and truncates "-shm" (a running
// server then dies of SIGBUS reading its mapping). POSIX drops all of a process's locks on a file
// when it closes any descriptor of it: the probe must not close its own while in use.
TEST_F(commit_probe_test, LeavesSqlitesLocksOnTheWalIndexInPlace) {
  ASSERT_TRUE(probe_.unavailable().empty()) << probe_.unavailable();
  auth_.create_user("alice", false);
  const std::string shm = db_.string() + "-shm";
  // Only another process sees this one's locks (F_GETLK ignores the caller's own).
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = ::open(shm.c_str(), O_RDWR | O_CLOEXEC);
    struct flock l {};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;  // the whole file
    const bool locked =
        fd >= 0 && ::fcntl(fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK && l.l_pid == ::getppid();
    ::_exit(locked ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "this process holds no lock on " << shm << " any more";
}

TEST_F(commit_probe_test, UnavailableWithoutAWalIndex) {
  storage::sqlite_commit_probe none(dir_.path() / "missing.db");
  EXPECT_FALSE(none.unavailable().empty());
  EXPECT_FALSE(none.now());
}

// The chain the server relies on: a revocation in this process empties the cache for the very
// next lookup, however warm it was.
TEST_F(commit_probe_test, RevocationReachesTheCache) {
  api::download_cache c(probe_);
  const auto k = auth_.create_user("alice", false);
  const auto hash = api::download_cache::key_hash(k.secret);
  auto at = *c.now();
  c.remember_user(at, hash, *auth_.authenticate(k.secret));
  ASSERT_TRUE(c.user(*c.now(), hash));
  ASSERT_TRUE(auth_.revoke(k.secret));
  at = *c.now();
  EXPECT_FALSE(c.user(at, hash));
  EXPECT_FALSE(auth_.authenticate(k.secret));
}

TEST_F(commit_probe_test, DeletionReachesTheCache) {
  api::download_cache c(probe_);
  auth_.create_user("alice", false);
  const domain::user alice{"alice", false, 0};
  auto w = blobs_.begin();
  w->write("hello", 5);
  const auto created = files_.create(alice, "a.txt", "text/plain", w->commit());
  const auto at = *c.now();
  auto [view, fd] = files_.open_content(alice, created.file.id);
  c.remember_file(at, "alice",
                  std::make_shared<const api::download_cache::file_entry>(std::move(view), fd));
  ASSERT_TRUE(c.file(*c.now(), "alice", created.file.id));
  files_.remove(alice, created.file.id, {});
  EXPECT_FALSE(c.file(*c.now(), "alice", created.file.id));
}

}  // namespace
