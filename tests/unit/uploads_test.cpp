// Resumable uploads below HTTP: the admission gate, the writer, and the upload service against
// the real SQLite store, blob store and staging area in a temp dir.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <thread>

#include "sharebox/api/handlers.hpp"
#include "sharebox/domain/auth_service.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/domain/upload_gate.hpp"
#include "sharebox/domain/upload_service.hpp"
#include "sharebox/http/router.hpp"
#include "sharebox/storage/fs_blob_store.hpp"
#include "sharebox/storage/fs_upload_staging.hpp"
#include "sharebox/storage/sqlite_store.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"
#include "sharebox/util/time.hpp"
#include "domain_errors.hpp"
#include "temp_dir.hpp"

using namespace sharebox;
using domain::errc;

namespace {

std::string sha256_hex(std::string_view s) {
  return util::to_hex(util::sha256::of(s));
}

std::string pattern(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>(seed + i * 7 % 251);
  return s;
}

// --- gate ------------------------------------------------------------------------------------

TEST(UploadGate, PerUploadPerUserAndGlobalLimits) {
  domain::upload_gate gate({2, 3, 4});
  auto a0 = gate.enter_chunk("u1", "alice", 0);
  auto a1 = gate.enter_chunk("u1", "alice", 1);
  EXPECT_EQ(code_of([&] { gate.enter_chunk("u1", "alice", 2); }), errc::too_many_inflight_chunks);
  auto b0 = gate.enter_chunk("u2", "alice", 0);
  EXPECT_EQ(code_of([&] { gate.enter_chunk("u3", "alice", 0); }), errc::too_many_inflight_chunks)
      << "per-user limit";
  auto c0 = gate.enter_chunk("u4", "bob", 0);
  EXPECT_EQ(code_of([&] { gate.enter_chunk("u5", "carol", 0); }), errc::too_many_inflight_chunks)
      << "global limit";
  EXPECT_EQ(gate.in_flight(), 4u);
  a0 = {};
  EXPECT_EQ(gate.in_flight(), 3u);
  EXPECT_NO_THROW(gate.enter_chunk("u5", "carol", 0));  // released at once again
  EXPECT_EQ(gate.in_flight(), 3u);
}

TEST(UploadGate, RetryHintOnRefusal) {
  domain::upload_gate gate({1, 1, 1});
  auto p = gate.enter_chunk("u1", "alice", 0);
  try {
    gate.enter_chunk("u1", "alice", 1);
    FAIL();
  } catch (const domain::error& e) {
    ASSERT_EQ(e.extra().size(), 1u);
    EXPECT_EQ(e.extra()[0].name, "retry_after");
    EXPECT_EQ(std::get<std::int64_t>(e.extra()[0].value), 1);
  }
}

TEST(UploadGate, SameChunkTwiceIsRefused) {
  domain::upload_gate gate({8, 8, 8});
  auto p = gate.enter_chunk("u1", "alice", 3);
  EXPECT_EQ(code_of([&] { gate.enter_chunk("u1", "alice", 3); }), errc::too_many_inflight_chunks);
  EXPECT_NO_THROW(gate.enter_chunk("u2", "alice", 3));
}

TEST(UploadGate, ExclusiveExcludesChunksAndOtherHolders) {
  domain::upload_gate gate({8, 8, 8});
  {
    auto chunk = gate.enter_chunk("u1", "alice", 0);
    EXPECT_EQ(code_of([&] { gate.enter_exclusive("u1", "alice", false, errc::upload_busy); }),
              errc::upload_busy);
    EXPECT_FALSE(gate.try_enter_exclusive("u1").has_value());
  }
  auto ex = gate.enter_exclusive("u1", "alice", true, errc::upload_locked);
  EXPECT_EQ(gate.in_flight(), 1u);
  EXPECT_EQ(code_of([&] { gate.enter_exclusive("u1", "alice", true, errc::upload_locked); }),
            errc::upload_locked);
  EXPECT_EQ(code_of([&] { gate.enter_chunk("u1", "alice", 0); }), errc::too_many_inflight_chunks);
  auto moved = std::move(ex);
  ex = {};
  EXPECT_EQ(gate.in_flight(), 1u) << "a moved-from pass releases nothing";
  moved = {};
  EXPECT_EQ(gate.in_flight(), 0u);
  EXPECT_TRUE(gate.try_enter_exclusive("u1").has_value());
}

TEST(UploadGate, ConcurrentUseKeepsCountsExact) {
  domain::upload_gate gate({1000, 1000, 1000});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < 2000; ++i) {
        auto p = gate.enter_chunk("u" + std::to_string(t % 2), "alice", i * 4 + t);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(gate.in_flight(), 0u);
}

// --- chunk bookkeeping ------------------------------------------------------------------------

TEST(UploadRecord, ChunkGeometry) {
  domain::upload_record u;
  u.size = 300'000;
  u.chunk_size = 65'536;
  EXPECT_EQ(u.chunk_count(), 5u);
  EXPECT_EQ(u.chunk_length(0), 65'536u);
  EXPECT_EQ(u.chunk_length(4), 300'000u - 4 * 65'536u);
  EXPECT_EQ(u.chunk_length(5), 0u);
  u.size = 0;
  EXPECT_EQ(u.chunk_count(), 0u);
  u.size = 65'536;
  EXPECT_EQ(u.chunk_count(), 1u);
  EXPECT_EQ(domain::missing_chunks({0, 2, 3}, 6), (std::vector<std::uint64_t>{1, 4, 5}));
  EXPECT_TRUE(domain::missing_chunks({}, 0).empty());
}

// --- the service against real storage ---------------------------------------------------------

class upload_service_test : public ::testing::Test {
 protected:
  temp_dir dir_;
  storage::sqlite_store meta_{dir_.path() / "sharebox.db"};
  storage::fs_blob_store blobs_{dir_.path()};
  storage::fs_upload_staging staging_{dir_.path(), blobs_};
  domain::auth_service auth_{meta_};
  domain::file_service files_{meta_, blobs_, {}};
  domain::upload_service uploads_{meta_, staging_, blobs_, files_, options()};
  domain::user alice_ = make_user("alice");
  domain::user bob_ = make_user("bob");

  static domain::upload_options options() {
    domain::upload_options o;
    o.max_file_size = 10 << 20;
    o.max_open_per_user = 4;
    return o;
  }

  domain::user make_user(const std::string& name) {
    auth_.create_user(name, false);
    return domain::user{name, false, 0};
  }

  std::filesystem::path staged(const std::string& id) const { return dir_.path() / "uploads" / id; }

  std::string read_file(const domain::file_view& v) {
    auto [view, fd] = files_.open_content(alice_, v.file.id);
    std::string out(view.file.size, '\0');
    EXPECT_EQ(::pread(fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
    ::close(fd);
    return out;
  }

  void put_chunk(const domain::upload_record& u, std::uint64_t index, std::string_view content) {
    auto slot = uploads_.begin_chunk(alice_, u.id, index, std::nullopt);
    ASSERT_FALSE(slot.duplicate);
    auto w = uploads_.chunk_writer(slot);
    w.write(content.data() + slot.offset, slot.length);
    w.finish();
    uploads_.record_chunk(alice_, u.id, index);
  }

  domain::upload_record init(std::string_view content, std::string sha = {}) {
    domain::chunked_init req;
    req.filename = "data.bin";
    req.size = content.size();
    req.chunk_size = 64 * 1024;
    req.sha256 = std::move(sha);
    return uploads_.init_chunked(alice_, req);
  }
};

TEST_F(upload_service_test, ChunksInAnyOrderBecomeOneFileInPlace) {
  const std::string content = pattern(300'000, 'a');
  auto u = init(content, sha256_hex(content));
  ASSERT_EQ(u.chunk_count(), 5u);
  ASSERT_TRUE(std::filesystem::exists(staged(u.id)));
  EXPECT_EQ(std::filesystem::file_size(staged(u.id)), content.size()) << "preallocated";
  for (std::uint64_t i : {4, 1, 3, 0})
    put_chunk(u, i, content);
  EXPECT_EQ(uploads_.missing_chunks(alice_, u.id), std::vector<std::uint64_t>{2});
  EXPECT_EQ(code_of([&] { uploads_.complete(alice_, u.id); }), errc::chunks_missing);
  put_chunk(u, 2, content);
  const auto done = uploads_.complete(alice_, u.id);
  EXPECT_TRUE(done.created);
  EXPECT_EQ(done.file.file.sha256, sha256_hex(content));
  EXPECT_EQ(read_file(done.file), content);
  EXPECT_FALSE(std::filesystem::exists(staged(u.id))) << "the staged name goes after the commit";
  const auto again = uploads_.complete(alice_, u.id);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.file.file.id, done.file.file.id);
  EXPECT_EQ(uploads_.status(alice_, u.id).upload.state, domain::upload_state::completed);
}

// Overwrites a staged chunk behind the service's back: completion that re-read the file would
// see these bytes, so a test can tell whether it used the hash computed as chunks landed.
void scribble(domain::upload_staging& staging, const std::string& id, std::uint64_t at) {
  staging.open(id)->write_at(at, "!!!!", 4);
}

TEST_F(upload_service_test, ReceivedChunksAreHashedInOrderSoCompletionDoesNotRereadThem) {
  const std::string content = pattern(300'000, 'h');
  auto u = init(content);
  for (std::uint64_t i : {1, 0, 4}) {
    put_chunk(u, i, content);
    uploads_.hash_received_chunks(u.id);
  }
  // Chunks 0 and 1 are hashed (a run from the start); 4 waits for 2 and 3.
  scribble(staging_, u.id, 10);  // inside chunk 0: already hashed
  put_chunk(u, 2, content);      // completion hashes 2..4 itself, no task ran
  put_chunk(u, 3, content);
  const auto done = uploads_.complete(alice_, u.id, sha256_hex(content));
  EXPECT_EQ(done.file.file.sha256, sha256_hex(content))
      << "chunk 0 was not read again at completion";
}

TEST_F(upload_service_test, RewritingAHashedChunkStartsTheHashOver) {
  const std::string content = pattern(200'000, 'r');
  std::string fixed = content;
  fixed[70'000] = 'X';  // in chunk 1
  auto u = init(fixed);
  for (std::uint64_t i = 0; i < u.chunk_count(); ++i) {
    put_chunk(u, i, content);
    uploads_.hash_received_chunks(u.id);
  }
  // The repair: chunk 1 again, with the right bytes.
  auto slot = uploads_.begin_chunk(alice_, u.id, 1, std::nullopt);
  ASSERT_TRUE(slot.duplicate);
  uploads_.forget_chunk(alice_, u.id, 1);
  auto w = uploads_.chunk_writer(slot);
  w.write(fixed.data() + slot.offset, slot.length);
  w.finish();
  uploads_.record_chunk(alice_, u.id, 1);
  uploads_.hash_received_chunks(u.id);
  const auto done = uploads_.complete(alice_, u.id);
  EXPECT_EQ(done.file.file.sha256, sha256_hex(fixed));
  EXPECT_EQ(read_file(done.file), fixed);
}

TEST_F(upload_service_test, Sha256DeclaredAtCompletionIsChecked) {
  const std::string content = pattern(100'000, 's');
  auto u = init(content);
  put_chunk(u, 0, content);
  put_chunk(u, 1, content);
  uploads_.hash_received_chunks(u.id);
  EXPECT_EQ(code_of([&] { uploads_.complete(alice_, u.id, "not hex"); }), errc::invalid_parameter);
  EXPECT_EQ(code_of([&] { uploads_.complete(alice_, u.id, std::string(64, 'a')); }),
            errc::checksum_mismatch);
  EXPECT_EQ(uploads_.status(alice_, u.id).upload.state, domain::upload_state::open);
  // The failed completion used up the running hash; the next one still gets it right.
  std::string upper = sha256_hex(content);
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto done = uploads_.complete(alice_, u.id, upper);
  EXPECT_EQ(done.file.file.sha256, sha256_hex(content));
}

TEST_F(upload_service_test, ConcurrentChunksAndHashTasksAgreeWithTheFile) {
  const std::string content = pattern(64 * 1024 * 40 + 123, 'p');
  auto u = init(content);
  std::atomic<std::uint64_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      // Chunks from the back and the front alternately, so the run from the start grows late.
      for (std::uint64_t k; (k = next.fetch_add(1)) < u.chunk_count();) {
        const std::uint64_t i = (k % 2) ? u.chunk_count() - 1 - k / 2 : k / 2;
        put_chunk(u, i, content);
        uploads_.hash_received_chunks(u.id);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  const auto done = uploads_.complete(alice_, u.id, sha256_hex(content));
  EXPECT_EQ(done.file.file.sha256, sha256_hex(content));
  EXPECT_NO_THROW(uploads_.hash_received_chunks(u.id)) << "a late task on a completed upload";
}

TEST_F(upload_service_test, DuplicateChunkIsRecognisedBeforeItsBodyIsRead) {
  const std::string content = pattern(100'000, 'b');
  auto u = init(content);
  put_chunk(u, 0, content);
  EXPECT_TRUE(uploads_.begin_chunk(alice_, u.id, 0, 65'536).duplicate);
  EXPECT_EQ(code_of([&] { uploads_.begin_chunk(alice_, u.id, 1, 65'536); }),
            errc::chunk_size_mismatch);
  EXPECT_EQ(code_of([&] { uploads_.begin_chunk(alice_, u.id, 2, std::nullopt); }),
            errc::invalid_chunk_index);
}

TEST_F(upload_service_test, DeclaredDigestMismatchKeepsNothing) {
  const std::string content = pattern(70'000, 'c');
  auto u = init(content);
  auto slot = uploads_.begin_chunk(alice_, u.id, 0, std::nullopt);
  auto w = uploads_.chunk_writer(slot);
  w.expect_digest(util::hash_algorithm::sha256, std::string(32, 'x'));
  w.write(content.data(), slot.length);
  EXPECT_EQ(code_of([&] { w.finish(); }), errc::digest_mismatch);
  EXPECT_EQ(uploads_.missing_chunks(alice_, u.id), (std::vector<std::uint64_t>{0, 1}));
}

TEST_F(upload_service_test, WriterRefusesBytesPastItsSlot) {
  const std::string content = pattern(70'000, 'd');
  auto u = init(content);
  auto slot = uploads_.begin_chunk(alice_, u.id, 1, std::nullopt);
  auto w = uploads_.chunk_writer(slot);
  EXPECT_EQ(code_of([&] { w.write(content.data(), slot.length + 1); }),
            errc::upload_length_exceeded);
  EXPECT_EQ(w.written(), 0u);
}

TEST_F(upload_service_test, DeclaredSha256MismatchLeavesTheUploadOpen) {
  const std::string content = pattern(10'000, 'e');
  auto u = init(content, std::string(64, '0'));
  put_chunk(u, 0, content);
  EXPECT_EQ(code_of([&] { uploads_.complete(alice_, u.id); }), errc::checksum_mismatch);
  EXPECT_EQ(uploads_.status(alice_, u.id).upload.state, domain::upload_state::open);
}

TEST_F(upload_service_test, OthersCannotSeeAnUploadAndLimitsApply) {
  auto u = init("x");
  EXPECT_EQ(code_of([&] { uploads_.status(bob_, u.id); }), errc::upload_not_found);
  EXPECT_EQ(code_of([&] { uploads_.abort(bob_, u.id); }), errc::upload_not_found);
  EXPECT_EQ(code_of([&] { uploads_.status(alice_, "not-an-id"); }), errc::upload_not_found);
  init("x");
  init("y");
  init("z");
  EXPECT_EQ(code_of([&] { init("w"); }), errc::too_many_uploads);
  uploads_.abort(alice_, u.id);
  EXPECT_FALSE(std::filesystem::exists(staged(u.id)));
  EXPECT_NO_THROW(init("w"));
  domain::chunked_init big;
  big.filename = "big";
  big.size = 11 << 20;
  EXPECT_EQ(code_of([&] { uploads_.init_chunked(alice_, big); }), errc::file_too_large);
}

TEST_F(upload_service_test, ChunkCountIsBounded) {
  domain::chunked_init req;
  req.filename = "many";
  req.size = 10 << 20;
  req.chunk_size = 1;  // clamped to the minimum, then raised to keep at most 10,000 chunks
  const auto u = uploads_.init_chunked(alice_, req);
  EXPECT_EQ(u.chunk_size, 64u * 1024);
  EXPECT_LE(u.chunk_count(), 10'000u);
}

TEST_F(upload_service_test, ReplaceChecksTheETagAgainAtCompletion) {
  const auto original = files_.create(alice_, "f", "text/plain", [&] {
    auto w = blobs_.begin();
    w->write("old", 3);
    return w->commit();
  }());
  domain::chunked_init req;
  req.filename = "f2";
  req.size = 3;
  req.file_id = original.file.id;
  EXPECT_EQ(code_of([&] { uploads_.init_chunked(alice_, req); }), errc::if_match_required);
  req.if_match = "\"7\"";
  EXPECT_EQ(code_of([&] { uploads_.init_chunked(alice_, req); }), errc::etag_mismatch);
  req.if_match = domain::etag_of(original.file);
  auto u = uploads_.init_chunked(alice_, req);
  put_chunk(u, 0, "new");
  auto ok = uploads_.complete(alice_, u.id);
  EXPECT_FALSE(ok.created);
  EXPECT_EQ(ok.file.file.version, 2);
  EXPECT_EQ(ok.file.file.name, "f2");
  EXPECT_EQ(read_file(ok.file), "new");

  auto stale = uploads_.init_chunked(alice_, [&] {
    auto r = req;
    r.if_match = domain::etag_of(ok.file.file);
    return r;
  }());
  put_chunk(stale, 0, "abc");
  auto w = blobs_.begin();
  w->write("zzz", 3);
  files_.replace(alice_, original.file.id, {}, w->commit(), std::nullopt, std::nullopt);
  EXPECT_EQ(code_of([&] { uploads_.complete(alice_, stale.id); }), errc::etag_mismatch);
  EXPECT_EQ(uploads_.status(alice_, stale.id).upload.state, domain::upload_state::open);
}

TEST_F(upload_service_test, SweepExpiresIdleUploadsAndFreesTheirSpace) {
  auto u = init(pattern(1000, 'f'));
  const auto later = util::now_ms() + std::chrono::milliseconds(options().ttl).count() + 1;
  {
    // An upload receiving bytes is not swept, whatever its timestamps say.
    auto busy = uploads_.gate().enter_chunk(u.id, "alice", 0);
    EXPECT_EQ(uploads_.sweep(later).expired, 0u);
  }
  EXPECT_EQ(uploads_.sweep(later).expired, 1u);
  EXPECT_FALSE(std::filesystem::exists(staged(u.id)));
  EXPECT_EQ(code_of([&] { uploads_.status(alice_, u.id); }), errc::upload_expired);
  // The record is forgotten one TTL later: then the upload is simply unknown.
  const auto much_later = later + 2 * std::chrono::milliseconds(options().ttl).count();
  EXPECT_GE(uploads_.sweep(much_later).purged, 1);
  EXPECT_EQ(code_of([&] { uploads_.status(alice_, u.id); }), errc::upload_not_found);
}

TEST_F(upload_service_test, RecoverRemovesStagedFilesWithoutAnOpenUpload) {
  auto u = init("keep");
  const std::string stray = util::new_id();
  staging_.create(stray, 10);
  EXPECT_EQ(uploads_.recover(), 1u);
  EXPECT_FALSE(std::filesystem::exists(staged(stray)));
  EXPECT_TRUE(std::filesystem::exists(staged(u.id)));
}

// Writes start the disk's writeback in batches as they go (8 MiB): across batch boundaries, in
// pieces of odd sizes, out of order and rewritten, the staged bytes are exactly what was written.
TEST_F(upload_service_test, StagedWritesAcrossWritebackBatchesKeepEveryByte) {
  const std::size_t size = (20u << 20) + 12345;
  const std::string content = pattern(size, 'w');
  const std::string id = util::new_id();
  staging_.create(id, size);
  {
    auto f = staging_.open(id);
    const std::size_t half = size / 2 + 777;
    // The second half first, in 1 MiB + 3 pieces, then the first half in one call.
    for (std::size_t at = half; at < size;) {
      const std::size_t n = std::min<std::size_t>((1u << 20) + 3, size - at);
      f->write_at(at, content.data() + at, n);
      at += n;
    }
    f->write_at(0, content.data(), half);
    // A rewrite of bytes already handed to writeback.
    f->write_at(4096, content.data() + 4096, 65536);
    f->sync();
  }
  auto f = staging_.open(id);
  std::string back(size, '\0');
  ASSERT_EQ(f->read_at(0, back.data(), size), size);
  EXPECT_TRUE(back == content) << "staged bytes differ from what was written";
  staging_.remove(id);
}

// --- tus ---------------------------------------------------------------------------------------

domain::tus_create tus_of(std::optional<std::uint64_t> size,
                          domain::upload_kind kind = domain::upload_kind::single) {
  domain::tus_create req;
  req.size = size;
  req.kind = kind;
  req.filename = "t.bin";
  return req;
}

TEST_F(upload_service_test, TusPatchesCompleteWithARunningHash) {
  const std::string content = pattern(200'000, 'g');
  auto created = uploads_.create_tus(alice_, tus_of(content.size()));
  const auto id = created.upload.id;
  std::uint64_t at = 0;
  std::optional<domain::file_view> file;
  for (const std::size_t piece : {70'000, 0, 100'000, 30'000}) {
    auto slot = uploads_.begin_patch(alice_, id, at, std::nullopt);
    auto w = uploads_.patch_writer(slot);
    w.write(content.data() + at, piece);
    w.finish();
    auto r = uploads_.commit_patch(alice_, slot, w);
    at += piece;
    EXPECT_EQ(r.upload.offset, at);
    file = r.file;
  }
  ASSERT_TRUE(file);
  EXPECT_EQ(file->file.sha256, sha256_hex(content));
  EXPECT_EQ(read_file(*file), content);
  EXPECT_EQ(code_of([&] { uploads_.begin_patch(alice_, id, 5, std::nullopt); }),
            errc::offset_mismatch);
  EXPECT_TRUE(uploads_.begin_patch(alice_, id, content.size(), std::nullopt).already_complete);
}

TEST_F(upload_service_test, TusOffsetMismatchAndDeferredLength) {
  auto created = uploads_.create_tus(alice_, tus_of(std::nullopt));
  const auto id = created.upload.id;
  EXPECT_EQ(code_of([&] { uploads_.begin_patch(alice_, id, 1, std::nullopt); }),
            errc::offset_mismatch);
  auto slot = uploads_.begin_patch(alice_, id, 0, std::nullopt);
  auto w = uploads_.patch_writer(slot);
  w.write("hello ", 6);
  w.finish();
  EXPECT_FALSE(uploads_.commit_patch(alice_, slot, w).file);
  auto last = uploads_.begin_patch(alice_, id, 6, 11);
  auto w2 = uploads_.patch_writer(last);
  EXPECT_EQ(code_of([&] { w2.write("world!", 6); }), errc::upload_length_exceeded);
  w2.write("world", 5);
  w2.finish();
  const auto r = uploads_.commit_patch(alice_, last, w2);
  ASSERT_TRUE(r.file);
  EXPECT_EQ(read_file(*r.file), "hello world");
}

TEST_F(upload_service_test, TusFinalConcatenatesFinishedPartials) {
  std::vector<std::string> ids;
  for (const char* piece : {"abc", "defg", "h"}) {
    auto p = uploads_.create_tus(alice_, tus_of(std::strlen(piece), domain::upload_kind::partial));
    EXPECT_FALSE(p.file) << "a partial upload never becomes a file";
    auto slot = uploads_.begin_patch(alice_, p.upload.id, 0, std::nullopt);
    auto w = uploads_.patch_writer(slot);
    w.write(piece, std::strlen(piece));
    w.finish();
    EXPECT_FALSE(uploads_.commit_patch(alice_, slot, w).file);
    ids.push_back(p.upload.id);
  }
  auto unfinished = uploads_.create_tus(alice_, tus_of(5, domain::upload_kind::partial));
  EXPECT_EQ(code_of([&] {
              uploads_.concat_final(alice_, {ids[0], unfinished.upload.id}, {});
            }),
            errc::partial_upload_unfinished);
  EXPECT_EQ(code_of([&] { uploads_.concat_final(bob_, ids, {}); }), errc::upload_not_found);

  auto r = uploads_.concat_final(alice_, ids, tus_of(std::nullopt));
  ASSERT_TRUE(r.file);
  EXPECT_EQ(read_file(*r.file), "abcdefgh");
  EXPECT_EQ(r.file->file.sha256, sha256_hex("abcdefgh"));
  EXPECT_EQ(r.upload.kind, domain::upload_kind::final_concat);
  EXPECT_EQ(r.upload.parts, ids);
  for (const auto& id : ids) {
    EXPECT_FALSE(std::filesystem::exists(staged(id)));
    EXPECT_EQ(code_of([&] { uploads_.find(alice_, id); }), errc::upload_not_found);
  }
  EXPECT_EQ(code_of([&] { uploads_.begin_patch(alice_, r.upload.id, 8, std::nullopt); }),
            errc::upload_not_writable);
}

TEST_F(upload_service_test, EmptyTusUploadIsAFileAtOnce) {
  auto r = uploads_.create_tus(alice_, tus_of(0));
  ASSERT_TRUE(r.file);
  EXPECT_EQ(r.file->file.size, 0u);
  EXPECT_EQ(r.upload.state, domain::upload_state::completed);
}

// --- parsers ---------------------------------------------------------------------------------

TEST(ContentDigest, PicksSha256AndRejectsMalformed) {
  http::request_header h;
  EXPECT_FALSE(api::content_digest(h));
  const auto digest = util::sha256::of("x");
  const std::string raw(reinterpret_cast<const char*>(digest.data()), digest.size());
  h.set("Content-Digest", "unixsum=:AAA=:, sha-256=:" + util::base64_encode(raw) + ":");
  const auto d = api::content_digest(h);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->algorithm, util::hash_algorithm::sha256);
  EXPECT_EQ(d->raw, raw);
  h.set("Content-Digest", "md5=:AAAAAAAAAAAAAAAAAAAAAA==:");
  EXPECT_FALSE(api::content_digest(h)) << "only sha-256 and sha-512 are checked";
  for (const char* bad : {"sha-256", "sha-256=abc", "sha-256=:not base64!:"}) {
    h.set("Content-Digest", bad);
    EXPECT_THROW(api::content_digest(h), http::api_error) << bad;
  }
}

TEST(Router, TrailingSlashPatternIsDistinct) {
  http::router<int> r;
  r.add(bhttp::verb::post, "/tus", 1);
  r.add(bhttp::verb::post, "/tus/", 2);
  r.add(bhttp::verb::patch, "/tus/{id}", 3);
  const auto with_slash = http::parse_target("/tus/");
  const auto without = http::parse_target("/tus");
  const auto one = http::parse_target("/tus/abc");
  ASSERT_TRUE(with_slash && without && one);
  EXPECT_EQ(r.find(bhttp::verb::post, with_slash->path).found->handler, 2);
  EXPECT_EQ(r.find(bhttp::verb::post, without->path).found->handler, 1);
  EXPECT_EQ(r.find(bhttp::verb::patch, one->path).found->handler, 3);
}

}  // namespace
