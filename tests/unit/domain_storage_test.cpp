// The domain services against the real SQLite store and blob store in a temp dir.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "sharebox/domain/auth_service.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/domain/file_service.hpp"
#include "sharebox/storage/fs_blob_store.hpp"
#include "sharebox/storage/sqlite_store.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"
#include "domain_errors.hpp"
#include "temp_dir.hpp"

using namespace sharebox;
using domain::errc;

namespace {

class services : public ::testing::Test {
 protected:
  temp_dir dir_;
  storage::sqlite_store meta_{dir_.path() / "sharebox.db"};
  storage::fs_blob_store blobs_{dir_.path()};
  domain::auth_service auth_{meta_};
  domain::file_service files_{meta_, blobs_, {}};
  domain::user alice_ = user("alice");
  domain::user bob_ = user("bob");
  domain::user carol_ = user("carol");

  domain::user user(const std::string& name) {
    auth_.create_user(name, false);
    return domain::user{name, false, 0};
  }

  domain::blob_info blob(std::string_view content) {
    auto w = blobs_.begin();
    w->write(content.data(), content.size());
    return w->commit();
  }

  std::string read_blob(const std::string& id) {
    const int fd = blobs_.open(id);
    if (fd < 0) return "<missing>";
    std::string out(1 << 16, '\0');
    const auto n = ::read(fd, out.data(), out.size());
    ::close(fd);
    out.resize(static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    return out;
  }
};

}  // namespace

TEST_F(services, BlobWriterHashesAndCommitsDurably) {
  auto info = blob("hello world\n");
  EXPECT_EQ(info.size, 12u);
  EXPECT_EQ(info.sha256, util::to_hex(util::sha256::of("hello world\n")));
  EXPECT_EQ(read_blob(info.id), "hello world\n");
  EXPECT_TRUE(std::filesystem::is_empty(blobs_.temp_dir()));
}

TEST_F(services, AbandonedWriterLeavesNoTempFile) {
  {
    auto w = blobs_.begin();
    w->write("partial", 7);
    EXPECT_FALSE(std::filesystem::is_empty(blobs_.temp_dir()));
  }
  EXPECT_TRUE(std::filesystem::is_empty(blobs_.temp_dir()));
}

TEST_F(services, StartupRecoveryRemovesTempAndUnreferencedBlobs) {
  auto kept = blob("kept");
  files_.create(alice_, "kept.txt", "text/plain", kept);
  auto orphan = blob("orphan");  // committed to disk, never to metadata
  const int fd = ::open((blobs_.temp_dir() / "stale.part").c_str(), O_CREAT | O_WRONLY, 0600);
  ::close(fd);
  EXPECT_EQ(blobs_.remove_temp_files(), 1u);
  // The next start: a new store, which takes no blob of its own for an orphan.
  storage::fs_blob_store restarted(dir_.path());
  EXPECT_EQ(restarted.remove_unreferenced(
                [&](std::string_view shard) { return meta_.blobs_with_prefix(shard); }),
            1u);
  EXPECT_EQ(read_blob(kept.id), "kept");
  EXPECT_EQ(read_blob(orphan.id), "<missing>");
}

// The sweep runs in the background while the server serves: a blob committed to disk whose
// metadata commit is still on its way must survive it.
TEST_F(services, OrphanSweepKeepsBlobsThisStoreMadeMeanwhile) {
  auto old_orphan = blob("left by a crash");
  storage::fs_blob_store restarted(dir_.path());
  auto w = restarted.begin();
  w->write("in flight", 9);
  const auto in_flight = w->commit();  // on disk, not yet in metadata
  std::size_t swept = 0;
  std::thread sweeper([&] {
    swept = restarted.remove_unreferenced(
        [&](std::string_view shard) { return meta_.blobs_with_prefix(shard); });
  });
  sweeper.join();
  EXPECT_EQ(swept, 1u);
  EXPECT_EQ(read_blob(old_orphan.id), "<missing>");
  EXPECT_EQ(read_blob(in_flight.id), "in flight");
  // Its metadata commit lands after the sweep: the file is whole.
  auto f = files_.create(alice_, "late.txt", "text/plain", in_flight);
  EXPECT_EQ(read_blob(f.file.blob), "in flight");
}

TEST_F(services, ListingMergesOwnedAndSharedFilesAcrossPages) {
  // Interleaved: alice's files shared with bob and bob's own, newest first over 3-item pages.
  std::vector<std::string> expected;  // newest last
  for (int i = 0; i < 10; ++i) {
    if (i % 3 == 0) {
      expected.push_back(
          files_.create(bob_, "b" + std::to_string(i), "text/plain", blob("b")).file.id);
    } else {
      auto f = files_.create(alice_, "a" + std::to_string(i), "text/plain", blob("a")).file;
      if (i % 3 == 1) {
        files_.share_file(alice_, f.id, "bob", domain::permission::read);
        expected.push_back(f.id);
      }
    }
  }
  std::reverse(expected.begin(), expected.end());
  std::vector<std::string> seen;
  std::optional<std::int64_t> cursor;
  do {
    auto page = files_.list(bob_, cursor, 3);
    ASSERT_LE(page.items.size(), 3u);
    for (const auto& v : page.items) {
      seen.push_back(v.file.id);
      EXPECT_EQ(v.is_owner(), v.file.owner == "bob");
    }
    cursor = page.next_before_seq;
  } while (cursor);
  EXPECT_EQ(seen, expected);
}

TEST_F(services, CreateGetAndListNewestFirstWithPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(files_.create(alice_, "f" + std::to_string(i), "text/plain", blob("x")).file.id);
  }
  auto page = files_.list(alice_, std::nullopt, 2);
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0].file.id, ids[4]);
  EXPECT_EQ(page.items[1].file.id, ids[3]);
  ASSERT_TRUE(page.next_before_seq);
  page = files_.list(alice_, page.next_before_seq, 2);
  EXPECT_EQ(page.items[0].file.id, ids[2]);
  page = files_.list(alice_, page.next_before_seq, 2);
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_FALSE(page.next_before_seq);
  EXPECT_TRUE(files_.list(bob_, std::nullopt, 10).items.empty());
}

TEST_F(services, InvisibleFilesAreNotFoundForEveryone) {
  auto f = files_.create(alice_, "a.txt", "text/plain", blob("a")).file;
  EXPECT_EQ(code_of([&] { files_.get(bob_, f.id); }), errc::file_not_found);
  EXPECT_EQ(code_of([&] { files_.get(bob_, "not-an-id"); }), errc::file_not_found);
  EXPECT_EQ(code_of([&] { files_.remove(bob_, f.id, {}); }), errc::file_not_found);
  EXPECT_EQ(code_of([&] { files_.shares(bob_, f.id); }), errc::file_not_found);
}

TEST_F(services, SharesGrantReadOrWrite) {
  auto f = files_.create(alice_, "a.txt", "text/plain", blob("a")).file;
  EXPECT_EQ(files_.share_file(alice_, f.id, "bob", domain::permission::read).second,
            domain::share_outcome::created);
  EXPECT_EQ(files_.share_file(alice_, f.id, "bob", domain::permission::read).second,
            domain::share_outcome::unchanged);
  auto seen = files_.get(bob_, f.id);
  EXPECT_EQ(seen.shared_permission, domain::permission::read);
  EXPECT_EQ(seen.shared_by, "alice");
  auto listed = files_.list(bob_, std::nullopt, 10);
  ASSERT_EQ(listed.items.size(), 1u);

  auto b2 = blob("b");
  EXPECT_EQ(code_of([&] { files_.replace(bob_, f.id, {}, b2, std::nullopt, std::nullopt); }),
            errc::read_only_share);
  EXPECT_EQ(read_blob(b2.id), "<missing>");  // a refused replace frees its blob
  EXPECT_EQ(code_of([&] { files_.remove(bob_, f.id, {}); }), errc::not_owner);
  EXPECT_EQ(code_of([&] { files_.share_file(bob_, f.id, "carol", domain::permission::read); }),
            errc::not_owner);

  EXPECT_EQ(files_.share_file(alice_, f.id, "bob", domain::permission::write).second,
            domain::share_outcome::updated);
  auto v2 = files_.replace(bob_, f.id, {}, blob("by bob"), std::nullopt, std::nullopt);
  EXPECT_EQ(v2.file.version, 2);
  EXPECT_EQ(read_blob(v2.file.blob), "by bob");
  EXPECT_EQ(read_blob(f.blob), "<missing>");  // the old content is gone

  files_.unshare(alice_, f.id, "bob");
  EXPECT_EQ(code_of([&] { files_.get(bob_, f.id); }), errc::file_not_found);
  EXPECT_EQ(code_of([&] { files_.unshare(alice_, f.id, "bob"); }), errc::share_not_found);
}

TEST_F(services, ShareRules) {
  auto f = files_.create(alice_, "a.txt", "text/plain", blob("a")).file;
  EXPECT_EQ(code_of([&] { files_.share_file(alice_, f.id, "alice", domain::permission::read); }),
            errc::share_with_self);
  EXPECT_EQ(code_of([&] { files_.share_file(alice_, f.id, "nobody", domain::permission::read); }),
            errc::user_not_found);
  domain::file_service trusting(meta_, blobs_, {true});
  EXPECT_EQ(trusting.share_file(alice_, f.id, "newcomer", domain::permission::read).second,
            domain::share_outcome::created);
}

TEST_F(services, ReplacePreconditionRunsInsideTheTransaction) {
  auto f = files_.create(alice_, "a.txt", "text/plain", blob("a")).file;
  const auto expect_v1 = [](const domain::file_record& r) {
    if (r.version != 1) throw domain::error(errc::etag_mismatch, "stale");
  };
  files_.replace(alice_, f.id, expect_v1, blob("second"), "b.txt", "text/x");
  auto loser = blob("third");
  EXPECT_EQ(
      code_of([&] { files_.replace(alice_, f.id, expect_v1, loser, std::nullopt, std::nullopt); }),
      errc::etag_mismatch);
  auto now = files_.get(alice_, f.id).file;
  EXPECT_EQ(now.version, 2);
  EXPECT_EQ(now.name, "b.txt");
  EXPECT_EQ(read_blob(now.blob), "second");
  EXPECT_EQ(read_blob(loser.id), "<missing>");
}

TEST_F(services, DeleteRemovesMetadataSharesAndBlob) {
  auto f = files_.create(alice_, "a.txt", "text/plain", blob("a")).file;
  files_.share_file(alice_, f.id, "bob", domain::permission::read);
  files_.remove(alice_, f.id, {});
  EXPECT_EQ(code_of([&] { files_.get(alice_, f.id); }), errc::file_not_found);
  EXPECT_TRUE(files_.list(bob_, std::nullopt, 10).items.empty());
  EXPECT_EQ(read_blob(f.blob), "<missing>");
}

TEST_F(services, InvalidNamesAreRefusedAndFreeTheBlob) {
  auto b = blob("x");
  EXPECT_EQ(code_of([&] { files_.create(alice_, std::string("a\0b", 3), "text/plain", b); }),
            errc::invalid_name);
  EXPECT_EQ(read_blob(b.id), "<missing>");
  EXPECT_EQ(code_of([&] { files_.create(alice_, "\xff", "text/plain", blob("x")); }),
            errc::invalid_name);
  EXPECT_EQ(code_of([&] { files_.create(alice_, "", "text/plain", blob("x")); }),
            errc::invalid_name);
}

TEST_F(services, ApiKeysAuthenticateUntilRevoked) {
  auto k = auth_.add_key("alice", "laptop");
  EXPECT_EQ(k.secret.rfind("sbx_", 0), 0u);
  auto u = auth_.authenticate(k.secret);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->id, "alice");
  EXPECT_FALSE(auth_.authenticate(k.secret + "x"));
  EXPECT_FALSE(auth_.authenticate(""));
  EXPECT_TRUE(auth_.revoke(k.record.id));
  EXPECT_FALSE(auth_.authenticate(k.secret));
  EXPECT_FALSE(auth_.revoke(k.record.id));
  auto k2 = auth_.add_key("alice", "phone");
  EXPECT_TRUE(auth_.revoke(k2.secret));  // by the key itself
  EXPECT_FALSE(auth_.authenticate(k2.secret));
  EXPECT_EQ(code_of([&] { auth_.create_user("alice", false); }), errc::user_exists);
  EXPECT_EQ(code_of([&] { auth_.create_user("Bad Name", false); }), errc::invalid_user_name);
}

TEST_F(services, BootstrapAdminOnlyOnEmptyDatabase) {
  EXPECT_FALSE(auth_.bootstrap_admin());  // users exist already
  temp_dir other;
  storage::sqlite_store meta(other.path() / "db");
  domain::auth_service auth(meta);
  auto admin = auth.bootstrap_admin();
  ASSERT_TRUE(admin);
  auto u = auth.authenticate(admin->secret);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->id, "admin");
  EXPECT_TRUE(u->is_admin);
  EXPECT_FALSE(auth.bootstrap_admin());
}

TEST_F(services, ApiKeyMappingsProvisionUsersAndKeys) {
  auth_.provision("dev-key:dave, other-key:alice");
  EXPECT_EQ(auth_.authenticate("dev-key")->id, "dave");
  EXPECT_EQ(auth_.authenticate("other-key")->id, "alice");
  auth_.provision("dev-key:dave");  // again: nothing changes
  EXPECT_THROW(auth_.provision("dev-key:alice"), std::invalid_argument);
  EXPECT_THROW(auth_.provision("nocolon"), std::invalid_argument);
}

namespace {

// Runs `between` (a concurrent writer) the first time a blob is opened: exactly between a
// reader's metadata read and its open.
class racing_blobs final : public domain::blob_store {
 public:
  racing_blobs(domain::blob_store& real, std::function<void()> between)
      : real_(real), between_(std::move(between)) {}
  std::unique_ptr<domain::blob_writer> begin() override { return real_.begin(); }
  int open(std::string_view id) const override {
    if (between_) std::exchange(between_, nullptr)();
    return real_.open(id);
  }
  void remove(std::string_view id) noexcept override { real_.remove(id); }
  int open_thumbnail(std::string_view id) const override { return real_.open_thumbnail(id); }
  void put_thumbnail(std::string_view id, const std::filesystem::path& file) override {
    real_.put_thumbnail(id, file);
  }
  std::filesystem::path scratch_path() const override { return real_.scratch_path(); }

 private:
  domain::blob_store& real_;
  mutable std::function<void()> between_;
};

}  // namespace

TEST_F(services, ReaderRacingAReplaceGetsTheNewVersion) {
  auto f = files_.create(alice_, "a.txt", "text/plain", blob("old")).file;
  racing_blobs racing(
      blobs_, [&] { files_.replace(alice_, f.id, {}, blob("new"), std::nullopt, std::nullopt); });
  domain::file_service reader(meta_, racing, {});
  auto [view, fd] = reader.open_content(alice_, f.id);
  EXPECT_EQ(view.file.version, 2);
  char buf[8] = {};
  EXPECT_EQ(::read(fd, buf, sizeof buf), 3);
  ::close(fd);
  EXPECT_EQ(std::string(buf), "new");
}

TEST_F(services, ReaderRacingADeleteGetsNotFound) {
  auto f = files_.create(alice_, "a.txt", "text/plain", blob("old")).file;
  racing_blobs racing(blobs_, [&] { files_.remove(alice_, f.id, {}); });
  domain::file_service reader(meta_, racing, {});
  EXPECT_EQ(code_of([&] { reader.open_content(alice_, f.id); }), errc::file_not_found);
}

TEST_F(services, EventsAreWrittenWithTheirChangeOrNotAtAll) {
  auto f = files_.create(alice_, "a.txt", "text/plain", blob("a")).file;
  files_.share_file(alice_, f.id, "bob", domain::permission::write);
  const auto refuse = [](const domain::file_record&) {
    throw domain::error(errc::etag_mismatch, "stale");
  };
  EXPECT_EQ(
      code_of([&] { files_.replace(alice_, f.id, refuse, blob("b"), std::nullopt, std::nullopt); }),
      errc::etag_mismatch);
  files_.replace(bob_, f.id, {}, blob("c"), std::nullopt, std::nullopt);
  files_.unshare(alice_, f.id, "bob");
  files_.remove(alice_, f.id, {});

  const auto pending = meta_.unpublished(100);
  std::vector<std::string> types;
  for (const auto& e : pending)
    types.push_back(e.ev.type);
  EXPECT_EQ(types, (std::vector<std::string>{"file.uploaded", "file.shared", "file.updated",
                                             "file.unshared", "file.deleted"}));
  for (std::size_t i = 1; i < pending.size(); ++i)
    EXPECT_GT(pending[i].seq, pending[i - 1].seq);
  EXPECT_EQ(pending[1].ev.target_user_id, "bob");
  EXPECT_EQ(pending[1].ev.perm, domain::permission::write);
  EXPECT_EQ(pending[2].ev.actor, "bob");
  EXPECT_EQ(pending[2].ev.file.version, 2);
  EXPECT_EQ(meta_.backlog(), 5);

  meta_.mark_published(pending[0].seq, pending[2].seq, 1000);
  EXPECT_EQ(meta_.backlog(), 2);
  EXPECT_EQ(meta_.unpublished(100).front().ev.type, "file.unshared");
  EXPECT_EQ(meta_.prune_published(999), 0);  // published at 1000: not older than the cutoff
  EXPECT_EQ(meta_.prune_published(1001), 3);
  EXPECT_EQ(meta_.backlog(), 2);  // unpublished events are never pruned
}

TEST_F(services, CommitHookFiresOnlyForCommitsWithEvents) {
  int fired = 0;
  meta_.on_events_committed([&] { ++fired; });
  files_.create(alice_, "a.txt", "text/plain", blob("a"));
  EXPECT_EQ(fired, 1);
  auth_.add_key("alice", "no events here");
  EXPECT_EQ(fired, 1);
  const auto refuse = [](const domain::file_record&) {
    throw domain::error(errc::etag_mismatch, "stale");
  };
  const auto id = files_.list(alice_, std::nullopt, 1).items.front().file.id;
  EXPECT_THROW(files_.remove(alice_, id, refuse), domain::error);
  EXPECT_EQ(fired, 1);  // rolled back
}

TEST_F(services, SessionsOpenForValidKeysAndEndOnSignOut) {
  const auto key = auth_.add_key("alice", "web").secret;
  EXPECT_FALSE(auth_.open_session("sbx_not_a_key", 60'000));
  const auto s = auth_.open_session(key, 60'000);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->owner.id, "alice");
  EXPECT_EQ(s->token.rfind("sbs_", 0), 0u);
  EXPECT_NE(s->record.token_hash, s->token) << "only the hash is stored";
  const auto who = auth_.session_user(s->token);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->first.id, "alice");
  EXPECT_FALSE(auth_.session_user(s->token + "x"));
  EXPECT_TRUE(auth_.close_session(s->token));
  EXPECT_FALSE(auth_.session_user(s->token));
  EXPECT_FALSE(auth_.close_session(s->token));
}

TEST_F(services, SessionsExpireAndArePurged) {
  const auto key = auth_.add_key("alice", "web").secret;
  const auto s = auth_.open_session(key, 1);
  ASSERT_TRUE(s);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(auth_.session_user(s->token)) << "expired";
  EXPECT_EQ(auth_.purge_sessions(), 1);
  EXPECT_EQ(auth_.purge_sessions(), 0);
}

TEST_F(services, RevokingAKeyEndsItsSessionsOnly) {
  const auto k1 = auth_.add_key("alice", "one").secret;
  const auto k2 = auth_.add_key("alice", "two").secret;
  const auto s1 = auth_.open_session(k1, 60'000);
  const auto s2 = auth_.open_session(k2, 60'000);
  ASSERT_TRUE(s1 && s2);
  ASSERT_TRUE(auth_.revoke(k1));
  EXPECT_FALSE(auth_.session_user(s1->token));
  EXPECT_TRUE(auth_.session_user(s2->token));
}

TEST_F(services, ImageMetadataIsKeptAndClearedByAReplace) {
  const auto f = files_
                     .create(alice_, "p.jpg", "image/jpeg", blob("jpeg"), {},
                             domain::image_meta{640, 480, "jpeg"})
                     .file;
  auto got = files_.get(alice_, f.id).file;
  ASSERT_TRUE(got.image);
  EXPECT_EQ(got.image->width, 640);
  EXPECT_EQ(got.image->height, 480);
  EXPECT_EQ(got.image->format, "jpeg");
  ASSERT_TRUE(files_.list(alice_, std::nullopt, 10).items.at(0).file.image);
  files_.replace(alice_, f.id, {}, blob("text now"), std::nullopt, std::string("text/plain"));
  EXPECT_FALSE(files_.get(alice_, f.id).file.image) << "the new content is not known to be one";
}

TEST_F(services, ListingShowsTheOwnerItsShares) {
  const auto f = files_.create(alice_, "a.txt", "text/plain", blob("a")).file;
  files_.share_file(alice_, f.id, "bob", domain::permission::read);
  files_.share_file(alice_, f.id, "carol", domain::permission::write);
  const auto mine = files_.list(alice_, std::nullopt, 10).items.at(0);
  ASSERT_EQ(mine.shared_with.size(), 2u);
  EXPECT_EQ(mine.shared_with[0].user_id, "bob");
  EXPECT_EQ(mine.shared_with[1].perm, domain::permission::write);
  EXPECT_TRUE(files_.list(bob_, std::nullopt, 10).items.at(0).shared_with.empty());
}

TEST_F(services, ThumbnailsGoWithTheirBlob) {
  const auto b = blob("picture");
  const auto scratch = blobs_.scratch_path();
  { std::ofstream(scratch) << "thumb"; }
  blobs_.put_thumbnail(b.id, scratch);
  const int fd = blobs_.open_thumbnail(b.id);
  ASSERT_GE(fd, 0);
  ::close(fd);
  blobs_.remove(b.id);
  EXPECT_LT(blobs_.open_thumbnail(b.id), 0) << "removed with the blob";

  // A thumbnail put after its blob is gone (a delete raced it) does not stay.
  const auto gone = blob("gone");
  blobs_.remove(gone.id);
  const auto late = blobs_.scratch_path();
  { std::ofstream(late) << "thumb"; }
  blobs_.put_thumbnail(gone.id, late);
  EXPECT_LT(blobs_.open_thumbnail(gone.id), 0);
}

TEST_F(services, BlobWriterShowsItsFileAndRunningDigestBeforeCommit) {
  auto w = blobs_.begin();
  w->write("abc", 3);
  EXPECT_TRUE(std::filesystem::exists(w->path()));
  EXPECT_EQ(w->sha256_so_far(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  w->write("d", 1);
  const auto info = w->commit();
  EXPECT_EQ(info.sha256, "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
}
