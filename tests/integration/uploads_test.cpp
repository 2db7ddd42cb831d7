// The chunked upload API (/v1/uploads, docs/uploads.md) over real sockets: init, chunks out of
// order and in parallel, status and missing chunks, completion into a new or a replaced file
// (content, outbox event, staged file removed), duplicates, Content-Digest and length checks,
// chunk indices, the declared sha256, limits (413, 429 too_many_uploads, 429
// too_many_inflight_chunks with Retry-After per upload / user / server), visibility to other
// users, abort, expiry, and a crash in the middle of a chunk.
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <filesystem>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/fixture.hpp"
#include "support/upload_helpers.hpp"

namespace sharebox::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using index_list = std::vector<std::uint64_t>;

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = 1024 * kib;
constexpr std::uint64_t min_chunk = 64 * kib;  // the server's smallest chunk size

// An upload's content and the chunking the server will use for it.
struct payload {
  std::string bytes;
  std::uint64_t chunk_size = min_chunk;

  payload(std::uint64_t size, std::uint64_t seed, std::uint64_t chunk = min_chunk)
      : bytes(generate_bytes(size, seed)), chunk_size(chunk) {}
  std::uint64_t count() const { return (bytes.size() + chunk_size - 1) / chunk_size; }
  std::string chunk(std::uint64_t i) const { return bytes.substr(i * chunk_size, chunk_size); }
  index_list all() const {
    index_list v(count());
    std::iota(v.begin(), v.end(), 0);
    return v;
  }
};

// All of `from` except `without`, in order.
index_list except(const index_list& from, const index_list& without) {
  index_list out;
  for (const auto i : from) {
    if (std::find(without.begin(), without.end(), i) == without.end()) out.push_back(i);
  }
  return out;
}

// The JSON body of `r`, which must have status `status` (throws with the response otherwise, so
// helpers can be used in expressions).
json expect_json(const response& r, unsigned status) {
  if (r.status != status) {
    throw std::runtime_error("expected " + std::to_string(status) + ", got " + r.describe());
  }
  return json_body(r);
}

std::string chunk_target(const std::string& id, std::string_view index) {
  return "/v1/uploads/" + id + "/chunks/" + std::string(index);
}

std::string content_digest(std::string_view algorithm, std::string_view bytes) {
  const std::string name = algorithm == "sha256" ? "sha-256" : "sha-512";
  return name + "=:" + to_base64(raw_digest(algorithm, bytes)) + ":";
}

// Bit by bit, independent of the server's table and SSE4.2 code; 4 bytes big-endian (RFC 9530).
std::string crc32c_digest(std::string_view bytes) {
  std::uint32_t crc = 0xffffffffu;
  for (const char ch : bytes) {
    crc ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k)
      crc = (crc & 1u) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  crc = ~crc;
  const std::string raw{static_cast<char>(crc >> 24), static_cast<char>(crc >> 16),
                        static_cast<char>(crc >> 8), static_cast<char>(crc)};
  return "crc32c=:" + to_base64(raw) + ":";
}

response put_chunk(api_client& c, const std::string& id, std::string_view index,
                   std::string_view body, header_list extra = {}) {
  extra.emplace_back("Content-Type", "application/octet-stream");
  return c.send("PUT", chunk_target(id, index), std::move(extra), body);
}

response put_chunk(api_client& c, const std::string& id, std::uint64_t index, std::string_view body,
                   header_list extra = {}) {
  return put_chunk(c, id, std::to_string(index), body, std::move(extra));
}

// A chunk PUT sent with Transfer-Encoding: chunked (so the length is only known at the end).
response put_chunk_encoded(api_client& c, const std::string& id, std::uint64_t index,
                           std::string_view body) {
  header_list h = c.auth();
  h.emplace_back("Transfer-Encoding", "chunked");
  connection& conn = c.conn();
  conn.ensure_connected();
  std::ostringstream size_hex;
  size_hex << std::hex << body.size();
  conn.send_raw(raw_request_head("PUT", chunk_target(id, std::to_string(index)), conn.port(), h) +
                size_hex.str() + "\r\n" + std::string(body) + "\r\n0\r\n\r\n");
  conn.mark_request_sent();
  return conn.read_response();
}

// A chunk is acknowledged as newly stored.
::testing::AssertionResult stored(const response& r, std::uint64_t index, std::uint64_t size) {
  if (r.status != 200) return ::testing::AssertionFailure() << r.describe();
  const json j = json_body(r);
  if (j.value("index", ~0ull) != index || j.value("size", ~0ull) != size ||
      j.value("duplicate", true)) {
    return ::testing::AssertionFailure() << "unexpected chunk answer: " << j.dump();
  }
  return ::testing::AssertionSuccess();
}

// A 429 too_many_inflight_chunks with a usable Retry-After.
::testing::AssertionResult refused_in_flight(const response& r) {
  auto problem = is_problem(r, 429, "too_many_inflight_chunks");
  if (!problem) return problem;
  const std::string retry = r.header("Retry-After");
  if (retry.empty() || retry.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(retry) < 1) {
    return ::testing::AssertionFailure() << "429 without a Retry-After in seconds\n"
                                         << r.describe();
  }
  return ::testing::AssertionSuccess();
}

// Helpers for one upload at a time.
class upload_api_test : public upload_fixture {
 protected:
  response init(api_client& c, std::string_view filename, std::uint64_t size,
                json extra = json::object()) {
    extra["filename"] = filename;
    extra["size"] = size;
    return c.post_json("/v1/uploads/init", extra.dump());
  }
  // Starts an upload of `p` for `c` (alice by default); returns its id.
  std::string start(const payload& p, json extra = json::object(), api_client* c = nullptr) {
    extra["chunk_size"] = p.chunk_size;
    const json j = expect_json(init(c ? *c : a(), "upload.bin", p.bytes.size(), extra), 201);
    if (j.value("chunk_size", 0ull) != p.chunk_size) {
      throw std::runtime_error("server chose another chunk size: " + j.dump());
    }
    return j.at("upload_id").get<std::string>();
  }
  void send_chunks(const std::string& id, const payload& p, const index_list& indices,
                   api_client* c = nullptr) {
    for (const auto i : indices) {
      EXPECT_TRUE(stored(put_chunk(c ? *c : a(), id, i, p.chunk(i)), i, p.chunk(i).size()))
          << "chunk " << i;
    }
  }
  json status_of(const std::string& id) { return expect_json(a().get("/v1/uploads/" + id), 200); }
  index_list missing(const std::string& id) {
    return expect_json(a().get("/v1/uploads/" + id + "/missing-chunks"), 200)
        .at("missing")
        .get<index_list>();
  }
  response complete(const std::string& id) {
    return a().send("POST", "/v1/uploads/" + id + "/complete");
  }
  std::string content_of(const std::string& file_id) {
    const response r = a().get("/files/" + file_id);
    return r.status == 200 ? r.body : "<" + r.describe() + ">";
  }
  // Sends every chunk of `p`, completes, and checks the new file holds exactly `p`.
  json finish_and_verify(const std::string& id, const payload& p, const index_list& to_send) {
    send_chunks(id, p, to_send);
    const json file = expect_json(complete(id), 201);
    EXPECT_EQ(file.value("sha256", ""), sha256_hex(p.bytes));
    EXPECT_EQ(content_of(file.at("id").get<std::string>()), p.bytes);
    return file;
  }
};

class Uploads : public upload_api_test {};

TEST_F(Uploads, HappyPathOutOfOrderAndParallel) {
  const payload p(10 * min_chunk + 1234, 1);  // 11 chunks, the last one short
  const std::string sha = sha256_hex(p.bytes);
  const response init_resp =
      init(a(), "movie.bin", p.bytes.size(),
           {{"content_type", "video/x-test"}, {"chunk_size", min_chunk}, {"sha256", sha}});
  ASSERT_TRUE(has_status(init_resp, 201));
  const json created = json_body(init_resp);
  const std::string id = created.value("upload_id", "");
  ASSERT_EQ(id.size(), 26u) << created.dump();
  EXPECT_EQ(created["filename"], "movie.bin");
  EXPECT_EQ(created["size"], p.bytes.size());
  EXPECT_EQ(created["chunk_size"], min_chunk);
  EXPECT_EQ(created["chunk_count"], 11);
  EXPECT_TRUE(created["expires_at"].is_string()) << created.dump();
  EXPECT_EQ(init_resp.header("Location"), "/v1/uploads/" + id);
  // One preallocated file per upload.
  ASSERT_TRUE(fs::exists(staged(id)));
  EXPECT_EQ(fs::file_size(staged(id)), p.bytes.size());

  json st = status_of(id);
  EXPECT_EQ(st["state"], "open");
  EXPECT_EQ(st["received_chunks"], 0);
  EXPECT_EQ(st["received_bytes"], 0);
  EXPECT_EQ(st["chunk_count"], 11);
  EXPECT_EQ(st["content_type"], "video/x-test");
  EXPECT_EQ(missing(id), p.all());

  // Out of order, one at a time: the short last chunk first.
  const index_list first = {10, 3, 7};
  for (std::size_t n = 0; n < first.size(); ++n) {
    const response r = put_chunk(a(), id, first[n], p.chunk(first[n]));
    ASSERT_TRUE(stored(r, first[n], p.chunk(first[n]).size()));
    EXPECT_EQ(json_body(r)["received_chunks"], n + 1);
    EXPECT_EQ(json_body(r)["chunk_count"], 11);
  }
  st = status_of(id);
  EXPECT_EQ(st["received_chunks"], 3);
  EXPECT_EQ(st["received_bytes"], 2 * min_chunk + 1234);
  EXPECT_EQ(missing(id), except(p.all(), first));

  // The rest in parallel: 4 threads, one connection each, started together.
  const index_list rest = except(p.all(), first);
  constexpr std::size_t threads_n = 4;
  std::vector<api_client> clients;
  for (std::size_t t = 0; t < threads_n; ++t)
    clients.push_back(alice());
  std::vector<response> results(rest.size());
  std::barrier go(threads_n);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < threads_n; ++t) {
    threads.emplace_back([&, t] {
      go.arrive_and_wait();
      for (std::size_t n = t; n < rest.size(); n += threads_n)
        results[n] = put_chunk(clients[t], id, rest[n], p.chunk(rest[n]));
    });
  }
  for (auto& t : threads)
    t.join();
  for (std::size_t n = 0; n < rest.size(); ++n)
    EXPECT_TRUE(stored(results[n], rest[n], min_chunk)) << "chunk " << rest[n];

  st = status_of(id);
  EXPECT_EQ(st["received_chunks"], 11);
  EXPECT_EQ(st["received_bytes"], p.bytes.size());
  EXPECT_EQ(missing(id), index_list{});

  const response done = complete(id);
  ASSERT_TRUE(has_status(done, 201));
  const json file = json_body(done);
  ASSERT_TRUE(is_file_object(file));
  const std::string file_id = file["id"];
  EXPECT_EQ(file["name"], "movie.bin");
  EXPECT_EQ(file["size"], p.bytes.size());
  EXPECT_EQ(file["sha256"], sha);
  EXPECT_EQ(file["content_type"], "video/x-test");
  EXPECT_EQ(file["version"], 1);
  EXPECT_EQ(done.header("Location"), "/files/" + file_id);
  EXPECT_EQ(content_of(file_id), p.bytes);
  EXPECT_EQ(outbox_types(file_id), std::vector<std::string>{"file.uploaded"});
  EXPECT_FALSE(fs::exists(staged(id))) << "staged file left after completion";

  st = status_of(id);
  EXPECT_EQ(st["state"], "completed");
  EXPECT_EQ(st["file_id"], file_id);

  // A retried completion answers the same file; nothing new is created.
  const response again = complete(id);
  ASSERT_TRUE(has_status(again, 200));
  EXPECT_EQ(json_body(again)["id"], file_id);
  EXPECT_EQ(json_body(again)["version"], 1);
  EXPECT_EQ(json_body(again)["sha256"], sha);
  EXPECT_TRUE(is_problem(put_chunk(a(), id, 0, p.chunk(0)), 409, "upload_completed"));
  EXPECT_EQ(file_count(), 1u);
  EXPECT_EQ(outbox_types(file_id).size(), 1u);
}

TEST_F(Uploads, ResentChunkIsHarmless) {
  const payload p(3 * min_chunk, 2);
  const std::string id = start(p);
  ASSERT_TRUE(stored(put_chunk(a(), id, 1, p.chunk(1)), 1, min_chunk));
  // A retry after a lost response: acknowledged as a duplicate, still one chunk received.
  const response dup = put_chunk(a(), id, 1, p.chunk(1));
  ASSERT_TRUE(has_status(dup, 200));
  EXPECT_EQ(json_body(dup)["duplicate"], true);
  EXPECT_EQ(json_body(dup)["received_chunks"], 1);
  EXPECT_EQ(status_of(id)["received_chunks"], 1);
  finish_and_verify(id, p, {0, 2});
}

TEST_F(Uploads, ContentDigestIsVerified) {
  const payload p(2 * min_chunk, 3);
  const std::string id = start(p);
  const std::string garbage = generate_bytes(min_chunk, 1234);

  // Bytes that do not match their digest are not kept.
  const response bad =
      put_chunk(a(), id, 0, garbage, {{"Content-Digest", content_digest("sha256", p.chunk(0))}});
  EXPECT_TRUE(is_problem(bad, 400, "digest_mismatch"));
  EXPECT_EQ(missing(id), (index_list{0, 1}));

  for (const char* malformed : {"sha-256=abc", "sha-256=:not base64!:", "sha-256", "sha-256=::x"}) {
    SCOPED_TRACE(malformed);
    EXPECT_TRUE(is_problem(put_chunk(a(), id, 0, p.chunk(0), {{"Content-Digest", malformed}}), 400,
                           "invalid_digest"));
  }
  EXPECT_EQ(missing(id), (index_list{0, 1}));
  EXPECT_EQ(status_of(id)["received_chunks"], 0);

  EXPECT_TRUE(stored(
      put_chunk(a(), id, 0, p.chunk(0), {{"Content-Digest", content_digest("sha256", p.chunk(0))}}),
      0, min_chunk));
  EXPECT_TRUE(stored(
      put_chunk(a(), id, 1, p.chunk(1), {{"Content-Digest", content_digest("sha512", p.chunk(1))}}),
      1, min_chunk));
  finish_and_verify(id, p, {});
}

// docs/uploads.md: crc32c is accepted per chunk (what `sharebox put` sends); with several
// algorithms the strongest is checked.
TEST_F(Uploads, Crc32cContentDigestIsVerifiedAndTheStrongestAlgorithmWins) {
  const payload p(2 * min_chunk, 31);
  const std::string id = start(p);
  const std::string garbage = generate_bytes(min_chunk, 32);
  EXPECT_TRUE(
      is_problem(put_chunk(a(), id, 0, garbage, {{"Content-Digest", crc32c_digest(p.chunk(0))}}),
                 400, "digest_mismatch"));
  // The crc32c matches the body, the sha-256 does not: sha-256 decides.
  const std::string both = crc32c_digest(garbage) + ", " + content_digest("sha256", p.chunk(0));
  EXPECT_TRUE(is_problem(put_chunk(a(), id, 0, garbage, {{"Content-Digest", both}}), 400,
                         "digest_mismatch"));
  EXPECT_EQ(missing(id), (index_list{0, 1}));
  for (const std::uint64_t i : {0, 1}) {
    EXPECT_TRUE(
        stored(put_chunk(a(), id, i, p.chunk(i), {{"Content-Digest", crc32c_digest(p.chunk(i))}}),
               i, min_chunk));
  }
  finish_and_verify(id, p, {});
}

// docs/uploads.md: /complete may carry {"sha256": ...}, the digest a client computed while it
// sent the chunks; it is checked like the one declared at init.
TEST_F(Uploads, Sha256SentWithCompleteIsChecked) {
  const payload p(3 * min_chunk + 5, 33);
  const std::string id = start(p);
  send_chunks(id, p, {2, 0, 3, 1});
  const auto complete_with = [&](const std::string& body) {
    return a().send("POST", "/v1/uploads/" + id + "/complete",
                    {{"Content-Type", "application/json"}}, body);
  };
  EXPECT_TRUE(is_problem(complete_with("{\"sha256\": 5}"), 400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(complete_with("{\"sha256\": \"abc\"}"), 400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(complete_with("[1,"), 400, "invalid_json"));
  const response wrong = complete_with(json{{"sha256", sha256_hex("other")}}.dump());
  ASSERT_TRUE(is_problem(wrong, 422, "checksum_mismatch"));
  EXPECT_EQ(json_body(wrong).value("sha256", ""), sha256_hex(p.bytes));
  EXPECT_EQ(status_of(id)["state"], "open");
  EXPECT_EQ(file_count(), 0u);
  const json file = expect_json(complete_with(json{{"sha256", sha256_hex(p.bytes)}}.dump()), 201);
  EXPECT_EQ(file.value("sha256", ""), sha256_hex(p.bytes));
  EXPECT_EQ(content_of(file.at("id").get<std::string>()), p.bytes);
}

// RFC 9530 fields are RFC 8941 dictionaries, whose keys start with a lowercase letter or '*':
// "=:AAAA:" has no key, so the header is malformed (docs: 400 invalid_digest), not an unknown
// algorithm to ignore.
TEST_F(Uploads, ContentDigestWithoutAlgorithmIsMalformed) {
  const payload p(min_chunk, 17);
  const std::string id = start(p);
  const std::string garbage = generate_bytes(min_chunk, 18);
  EXPECT_TRUE(is_problem(put_chunk(a(), id, 0, garbage, {{"Content-Digest", "=:AAAA:"}}), 400,
                         "invalid_digest"));
  EXPECT_EQ(missing(id), index_list{0}) << "bytes under a malformed digest were kept";
}

TEST_F(Uploads, WrongLengthIsRejectedAndNothingKept) {
  const payload p(2 * min_chunk + 1000, 4);  // chunks of 64 KiB, 64 KiB, 1000 bytes
  const std::string id = start(p);
  const auto expect_mismatch = [&](const response& r, std::uint64_t expected) {
    EXPECT_TRUE(is_problem(r, 400, "chunk_size_mismatch"));
    if (r.status == 400) {
      EXPECT_EQ(json_body(r).value("expected_size", 0ull), expected);
    }
  };
  const std::string full = generate_bytes(min_chunk + 1, 55);
  expect_mismatch(put_chunk(a(), id, 0, std::string_view(full).substr(0, min_chunk - 1)),
                  min_chunk);
  expect_mismatch(put_chunk(a(), id, 0, full), min_chunk);
  for (const std::uint64_t n : {min_chunk, std::uint64_t{999}, std::uint64_t{1001}}) {
    SCOPED_TRACE(n);
    expect_mismatch(put_chunk(a(), id, 2, std::string_view(full).substr(0, n)), 1000);
  }
  // The same with a chunked-encoded body, whose length is only known at its end.
  expect_mismatch(put_chunk_encoded(a(), id, 1, std::string_view(full).substr(0, min_chunk - 1)),
                  min_chunk);
  expect_mismatch(put_chunk_encoded(a(), id, 1, full), min_chunk);
  EXPECT_EQ(missing(id), p.all());
  EXPECT_EQ(status_of(id)["received_bytes"], 0);

  EXPECT_TRUE(stored(put_chunk_encoded(a(), id, 1, p.chunk(1)), 1, min_chunk));
  finish_and_verify(id, p, {0, 2});
}

TEST_F(Uploads, InvalidChunkIndexIs400) {
  const payload p(3 * min_chunk, 5);
  const std::string id = start(p);
  for (const char* index : {"3", "4", "abc", "01", "00", "-1", "+1", "1.0", "1e2",
                            "99999999999999999999999", "18446744073709551616"}) {
    SCOPED_TRACE(index);
    EXPECT_TRUE(is_problem(put_chunk(a(), id, index, p.chunk(0)), 400, "invalid_chunk_index"));
  }
  EXPECT_EQ(missing(id), p.all());
  finish_and_verify(id, p, p.all());
}

TEST_F(Uploads, CompleteWithMissingChunksListsThem) {
  const payload p(5 * min_chunk - 7, 6);
  const std::string id = start(p);
  send_chunks(id, p, {4, 0, 2});
  const response r = complete(id);
  ASSERT_TRUE(is_problem(r, 409, "chunks_missing"));
  EXPECT_EQ(json_body(r)["missing"], json::array({1, 3}));
  EXPECT_EQ(json_body(r).value("missing_count", 0), 2);
  EXPECT_EQ(status_of(id)["state"], "open");
  EXPECT_EQ(file_count(), 0u);
  finish_and_verify(id, p, {3, 1});
}

TEST_F(Uploads, DeclaredChecksumMismatchKeepsUploadOpen) {
  const payload p(2 * min_chunk, 7);
  const std::string id = start(p, {{"sha256", sha256_hex("something else")}});
  send_chunks(id, p, p.all());
  const response r = complete(id);
  ASSERT_TRUE(is_problem(r, 422, "checksum_mismatch"));
  EXPECT_EQ(json_body(r).value("sha256", ""), sha256_hex(p.bytes));
  const json st = status_of(id);
  EXPECT_EQ(st["state"], "open");
  EXPECT_EQ(st["received_chunks"], 2);
  EXPECT_TRUE(fs::exists(staged(id)));
  EXPECT_EQ(file_count(), 0u);
  EXPECT_EQ(query_column(db(), "SELECT type FROM outbox"), std::vector<std::string>{});
  // Still the same answer: nothing was turned into a file.
  EXPECT_TRUE(is_problem(complete(id), 422, "checksum_mismatch"));
}

// docs/uploads.md: after a 422 "the upload stays open so a client can re-send chunks" (and the
// problem says "Re-send the chunks that are wrong"). A chunk that arrived corrupted (no
// Content-Digest) must therefore be replaceable by re-sending it.
TEST_F(Uploads, ChecksumMismatchCanBeRepairedByResendingTheWrongChunk) {
  const payload p(3 * min_chunk, 8);
  const std::string id = start(p, {{"sha256", sha256_hex(p.bytes)}});
  send_chunks(id, p, {0, 2});
  ASSERT_TRUE(stored(put_chunk(a(), id, 1, generate_bytes(min_chunk, 4321)), 1, min_chunk));
  ASSERT_TRUE(is_problem(complete(id), 422, "checksum_mismatch"));

  const response resend = put_chunk(a(), id, 1, p.chunk(1));
  EXPECT_TRUE(has_status(resend, 200));
  const response done = complete(id);
  ASSERT_TRUE(has_status(done, 201)) << "a re-sent chunk cannot repair the upload";
  EXPECT_EQ(content_of(json_body(done)["id"].get<std::string>()), p.bytes);
}

TEST_F(Uploads, DownloadServesTheCompletedUpload) {
  const payload p(2 * min_chunk + 10, 21);
  const std::string id = start(p);
  const std::string download = "/v1/uploads/" + id + "/download";
  EXPECT_TRUE(is_problem(a().get(download), 409, "upload_incomplete"));
  finish_and_verify(id, p, p.all());
  const response r = a().get(download);
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(r.body, p.bytes);
  const response part = a().get(download, {{"Range", "bytes=0-9"}});
  ASSERT_TRUE(has_status(part, 206));
  EXPECT_EQ(part.body, p.bytes.substr(0, 10));
  EXPECT_TRUE(is_problem(make_user("bob").get(download), 404, "upload_not_found"));
}

TEST_F(Uploads, EmptyFile) {
  const response r = init(a(), "empty.txt", 0);
  ASSERT_TRUE(has_status(r, 201));
  const std::string id = json_body(r)["upload_id"];
  EXPECT_EQ(json_body(r)["chunk_count"], 0);
  EXPECT_EQ(missing(id), index_list{});
  const response done = complete(id);
  ASSERT_TRUE(has_status(done, 201));
  EXPECT_EQ(json_body(done)["size"], 0);
  EXPECT_EQ(json_body(done)["sha256"], sha256_hex(""));
  EXPECT_EQ(content_of(json_body(done)["id"].get<std::string>()), "");
  EXPECT_FALSE(fs::exists(staged(id)));
}

TEST_F(Uploads, InitValidation) {
  EXPECT_TRUE(is_problem(a().post_json("/v1/uploads/init", "{"), 400, "invalid_json"));
  EXPECT_TRUE(
      is_problem(a().post_json("/v1/uploads/init", R"({"size": 1})"), 400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(a().post_json("/v1/uploads/init", R"({"filename": "a"})"), 400,
                         "invalid_parameter"));
  for (const char* body : {R"({"filename": "a", "size": -1})", R"({"filename": "a", "size": "12"})",
                           R"({"filename": 5, "size": 1})", R"({"filename": "a", "size": 1.5})"}) {
    SCOPED_TRACE(body);
    EXPECT_TRUE(is_problem(a().post_json("/v1/uploads/init", body), 400, "invalid_parameter"));
  }
  EXPECT_TRUE(is_problem(init(a(), "a", 1, {{"sha256", "xyz"}}), 400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(init(a(), "", 1), 400, "invalid_name"));
  EXPECT_TRUE(is_problem(init(a(), "a\nb", 1), 400, "invalid_name"));
  EXPECT_TRUE(is_problem(anonymous().post_json("/v1/uploads/init", R"({"filename":"a","size":1})"),
                         401, "unauthenticated"));
  EXPECT_EQ(files_in(uploads_dir()), std::vector<std::string>{});

  // The chunk size is clamped to [64 KiB, 64 MiB]; the default is --chunk-size (8 MiB).
  EXPECT_EQ(expect_json(init(a(), "a", 10 * mib, {{"chunk_size", 1000}}), 201)["chunk_size"],
            min_chunk);
  EXPECT_EQ(expect_json(init(a(), "a", 10, {{"chunk_size", 1ull << 30}}), 201)["chunk_size"],
            64 * mib);
  const json dflt = expect_json(init(a(), "a", 20 * mib), 201);
  EXPECT_EQ(dflt["chunk_size"], 8 * mib);
  EXPECT_EQ(dflt["chunk_count"], 3);
}

TEST_F(Uploads, ReplaceExistingFile) {
  const std::string file_id = created_id(a().upload_raw("doc.txt", "old content"));
  const payload p(3 * min_chunk + 5, 9);
  const std::string id = start(p, {{"file_id", file_id}, {"if_match", etag_for(1)}});
  send_chunks(id, p, {2, 0, 3, 1});
  const response done = complete(id);
  ASSERT_TRUE(has_status(done, 200));
  const json file = json_body(done);
  EXPECT_EQ(file["id"], file_id);
  EXPECT_EQ(file["version"], 2);
  EXPECT_EQ(file["etag"], etag_for(2));
  EXPECT_EQ(done.header("ETag"), etag_for(2));
  EXPECT_EQ(file["sha256"], sha256_hex(p.bytes));
  EXPECT_EQ(file["size"], p.bytes.size());
  EXPECT_EQ(content_of(file_id), p.bytes);
  EXPECT_EQ(file_count(), 1u);
  EXPECT_EQ(outbox_types(file_id), (std::vector<std::string>{"file.uploaded", "file.updated"}));
  EXPECT_FALSE(fs::exists(staged(id)));
  EXPECT_EQ(count_files_under(blobs_dir()), 1u) << "old blob not removed";
}

TEST_F(Uploads, ReplacePreconditionsAtInit) {
  const std::string file_id = created_id(a().upload_raw("doc.txt", "old content"));
  const response stale = init(a(), "x", 10, {{"file_id", file_id}, {"if_match", etag_for(7)}});
  ASSERT_TRUE(is_problem(stale, 412, "etag_mismatch"));
  EXPECT_EQ(json_body(stale).value("current_etag", ""), etag_for(1));
  EXPECT_TRUE(is_problem(init(a(), "x", 10, {{"file_id", file_id}}), 428, "if_match_required"));
  EXPECT_TRUE(
      is_problem(init(a(), "x", 10, {{"if_match", etag_for(1)}}), 400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(
      init(a(), "x", 10, {{"file_id", "aaaaaaaaaaaaaaaaaaaaaaaaaa"}, {"if_match", etag_for(1)}}),
      404, "file_not_found"));
  EXPECT_EQ(files_in(uploads_dir()), std::vector<std::string>{}) << "a refused init left a file";
  EXPECT_EQ(content_of(file_id), "old content");
}

TEST_F(Uploads, ReplaceFailsIfFileChangedMeanwhile) {
  const std::string file_id = created_id(a().upload_raw("doc.txt", "old content"));
  const payload p(2 * min_chunk, 10);
  const std::string id = start(p, {{"file_id", file_id}, {"if_match", etag_for(1)}});
  send_chunks(id, p, p.all());
  ASSERT_TRUE(has_status(a().put_raw(file_id, "changed meanwhile", etag_for(1)), 200));

  const response r = complete(id);
  ASSERT_TRUE(is_problem(r, 412, "etag_mismatch"));
  EXPECT_EQ(json_body(r).value("current_etag", ""), etag_for(2));
  EXPECT_EQ(content_of(file_id), "changed meanwhile");
  EXPECT_EQ(json_body(a().get("/files/" + file_id + "/meta"))["version"], 2);
  EXPECT_EQ(count_files_under(blobs_dir()), 1u) << "orphan blob left";
  EXPECT_EQ(outbox_types(file_id), (std::vector<std::string>{"file.uploaded", "file.updated"}));
}

TEST_F(Uploads, OtherUsersCannotSeeTheUpload) {
  const payload p(2 * min_chunk, 11);
  const std::string id = start(p);
  send_chunks(id, p, {0});
  api_client bob = make_user("bob");
  api_client anon = anonymous();
  const std::string base = "/v1/uploads/" + id;
  for (api_client* c : {&bob, &anon}) {
    const unsigned status = c == &bob ? 404 : 401;
    const std::string code = c == &bob ? "upload_not_found" : "unauthenticated";
    SCOPED_TRACE(code);
    EXPECT_TRUE(is_problem(c->get(base), status, code));
    EXPECT_TRUE(is_problem(c->get(base + "/missing-chunks"), status, code));
    EXPECT_TRUE(is_problem(put_chunk(*c, id, 1, p.chunk(1)), status, code));
    EXPECT_TRUE(is_problem(c->send("POST", base + "/complete"), status, code));
    EXPECT_TRUE(is_problem(c->del(base), status, code));
  }
  const json st = status_of(id);
  EXPECT_EQ(st["state"], "open");
  EXPECT_EQ(st["received_chunks"], 1);
  EXPECT_EQ(missing(id), index_list{1});
  EXPECT_EQ(expect_json(bob.list(), 200), json::array());
  finish_and_verify(id, p, {1});
}

TEST_F(Uploads, DeleteAbortsAndFreesSpace) {
  const payload p(2 * min_chunk, 12);
  const std::string id = start(p);
  send_chunks(id, p, {1});
  ASSERT_TRUE(fs::exists(staged(id)));
  const response r = a().del("/v1/uploads/" + id);
  ASSERT_TRUE(has_status(r, 204));
  EXPECT_EQ(r.body, "");
  EXPECT_FALSE(fs::exists(staged(id)));
  EXPECT_TRUE(is_problem(a().get("/v1/uploads/" + id), 404, "upload_not_found"));
  EXPECT_TRUE(is_problem(put_chunk(a(), id, 0, p.chunk(0)), 404, "upload_not_found"));
  EXPECT_TRUE(is_problem(complete(id), 404, "upload_not_found"));
  EXPECT_TRUE(is_problem(a().del("/v1/uploads/" + id), 404, "upload_not_found"));
  EXPECT_EQ(files_in(uploads_dir()), std::vector<std::string>{});
  EXPECT_EQ(file_count(), 0u);
}

// A second PUT of a chunk that is still being received, and a completion meanwhile.
TEST_F(Uploads, SameChunkTwiceAtOnceIs429) {
  const payload p(2 * min_chunk, 13);
  const std::string id = start(p);
  send_chunks(id, p, {1});
  held_request first(port(), "PUT", chunk_target(id, "0"), auth(), min_chunk);
  ASSERT_TRUE(has_status(first.start(), 100));
  first.send(p.chunk(0).substr(0, min_chunk / 2));

  EXPECT_TRUE(refused_in_flight(put_chunk(a(), id, 0, p.chunk(0))));
  EXPECT_TRUE(is_problem(complete(id), 409, "upload_busy"));

  EXPECT_TRUE(stored(first.finish(p.chunk(0).substr(min_chunk / 2)), 0, min_chunk));
  const response dup = put_chunk(a(), id, 0, p.chunk(0));
  ASSERT_TRUE(has_status(dup, 200));
  EXPECT_EQ(json_body(dup)["duplicate"], true);
  const json file = expect_json(complete(id), 201);
  EXPECT_EQ(content_of(file["id"].get<std::string>()), p.bytes);
}

// The chunk is lost mid-body when the server dies; acknowledged chunks are not.
TEST_F(Uploads, CrashInTheMiddleOfAChunk) {
  const payload p(8 * mib - 100, 14, mib);  // 8 chunks of 1 MiB, the last one short
  const std::string id = start(p);
  const index_list acked = {0, 2, 3, 5, 7};
  send_chunks(id, p, acked);

  held_request half(port(), "PUT", chunk_target(id, "6"), auth(), mib);
  ASSERT_TRUE(has_status(half.start(), 100));
  half.send(p.chunk(6).substr(0, 600 * kib));
  std::this_thread::sleep_for(200ms);  // let the server write what it has into the upload file
  server().kill9();
  server().restart();
  reconnect();

  EXPECT_EQ(missing(id), (index_list{1, 4, 6}));
  EXPECT_EQ(status_of(id)["received_chunks"], acked.size());
  const response dup = put_chunk(a(), id, 0, p.chunk(0));
  ASSERT_TRUE(has_status(dup, 200));
  EXPECT_EQ(json_body(dup)["duplicate"], true) << "an acknowledged chunk was lost";
  finish_and_verify(id, p, {6, 1, 4});
}

// --- limits -----------------------------------------------------------------------------------

class UploadsLimits : public upload_api_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--max-file-size", "1M", "--max-open-uploads-per-user", "2"};
  }
};

TEST_F(UploadsLimits, InitOverMaxFileSizeIs413) {
  EXPECT_TRUE(is_problem(init(a(), "big.bin", mib + 1), 413, "file_too_large"));
  EXPECT_EQ(files_in(uploads_dir()), std::vector<std::string>{});
  EXPECT_TRUE(has_status(init(a(), "limit.bin", mib), 201));
}

TEST_F(UploadsLimits, OpenUploadsPerUserAreLimited) {
  const std::string first = expect_json(init(a(), "1", 10), 201)["upload_id"];
  ASSERT_TRUE(has_status(init(a(), "2", 10), 201));
  const response third = init(a(), "3", 10);
  EXPECT_TRUE(is_problem(third, 429, "too_many_uploads"));
  EXPECT_FALSE(third.header("Retry-After").empty()) << third.describe();
  EXPECT_EQ(files_in(uploads_dir()).size(), 2u) << "the refused upload left a file";

  api_client bob = make_user("bob");
  EXPECT_TRUE(has_status(init(bob, "b", 10), 201)) << "the limit is per user";
  ASSERT_TRUE(has_status(a().del("/v1/uploads/" + first), 204));
  EXPECT_TRUE(has_status(init(a(), "3", 10), 201));
}

// One chunk held open (headers and half its body sent) fills a limit set to 1; a second chunk
// that falls under the same limit is refused before its body is read, one that does not passes.
enum class who { none, same_upload, other_upload, other_user };

struct inflight_case {
  std::string name;
  std::string flag;
  who contender;  // refused while the first chunk is in flight
  who bystander;  // not concerned by this limit
};

class UploadsInflightLimit : public upload_api_test,
                             public ::testing::WithParamInterface<inflight_case> {
 protected:
  std::vector<std::string> server_args() const override { return {GetParam().flag, "1"}; }
};

TEST_P(UploadsInflightLimit, SecondChunkIs429WithRetryAfter) {
  const payload p(2 * min_chunk, 15);
  const std::string held_id = start(p);
  const std::string other_id = start(p);
  api_client bob = make_user("bob");
  const std::string bobs_id = start(p, json::object(), &bob);

  struct target {
    api_client* client;
    std::string id;
    std::uint64_t index;
  };
  const auto target_of = [&](who w) {
    switch (w) {
      case who::same_upload:
        return target{&a(), held_id, 1};
      case who::other_upload:
        return target{&a(), other_id, 0};
      case who::other_user:
        return target{&bob, bobs_id, 0};
      case who::none:
        break;
    }
    return target{nullptr, "", 0};
  };

  held_request held(port(), "PUT", chunk_target(held_id, "0"), auth(), min_chunk);
  ASSERT_TRUE(has_status(held.start(), 100));
  held.send(p.chunk(0).substr(0, 1000));

  const target c = target_of(GetParam().contender);
  EXPECT_TRUE(refused_in_flight(put_chunk(*c.client, c.id, c.index, p.chunk(c.index))));
  const target b = target_of(GetParam().bystander);
  if (b.client) {
    EXPECT_TRUE(stored(put_chunk(*b.client, b.id, b.index, p.chunk(b.index)), b.index, min_chunk));
  }

  EXPECT_TRUE(stored(held.finish(p.chunk(0).substr(1000)), 0, min_chunk));
  // The refused chunk was not stored; once the slot is free it is accepted.
  const json before = expect_json(c.client->get("/v1/uploads/" + c.id + "/missing-chunks"), 200);
  EXPECT_NE(std::find(before["missing"].begin(), before["missing"].end(), c.index),
            before["missing"].end())
      << before.dump();
  EXPECT_TRUE(stored(put_chunk(*c.client, c.id, c.index, p.chunk(c.index)), c.index, min_chunk));
}

INSTANTIATE_TEST_SUITE_P(
    Uploads, UploadsInflightLimit,
    ::testing::Values(inflight_case{"per_upload", "--max-inflight-chunks-per-upload",
                                    who::same_upload, who::other_upload},
                      inflight_case{"per_user", "--max-inflight-chunks-per-user", who::other_upload,
                                    who::other_user},
                      inflight_case{"global", "--max-global-inflight-chunks", who::other_user,
                                    who::none}),
    [](const ::testing::TestParamInfo<inflight_case>& param) { return param.param.name; });

// --- expiry -------------------------------------------------------------------------------------

class UploadsExpiry : public upload_api_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--upload-ttl", "1", "--upload-sweep-interval", "0.1"};
  }
};

TEST_F(UploadsExpiry, IdleUploadExpiresAndIsReclaimed) {
  const payload p(6 * min_chunk, 16);
  const std::string id = start(p);
  // Activity keeps it alive: chunks 400 ms apart for longer than the TTL.
  for (std::uint64_t i = 0; i < 4; ++i) {
    if (i > 0) std::this_thread::sleep_for(400ms);
    ASSERT_TRUE(stored(put_chunk(a(), id, i, p.chunk(i)), i, min_chunk)) << "chunk " << i;
  }
  // Then idle. It answers 410 for one more TTL after the sweep, then 404.
  response st;
  ASSERT_TRUE(eventually([&] { return (st = a().get("/v1/uploads/" + id)).status != 200; }, 5s));
  ASSERT_TRUE(is_problem(st, 410, "upload_expired"));
  // While the sweeper reclaims the upload it holds it, and a chunk arriving then is told to
  // retry (429 with Retry-After); the retry gets the 410.
  response late;
  ASSERT_TRUE(
      eventually([&] { return (late = put_chunk(a(), id, 4, p.chunk(4))).status != 429; }, 5s));
  EXPECT_TRUE(is_problem(late, 410, "upload_expired"));
  EXPECT_TRUE(eventually([&] { return !fs::exists(staged(id)); }, 2s)) << "staged file kept";
  EXPECT_TRUE(eventually([&] { return a().get("/v1/uploads/" + id).status == 404; }, 5s));
  EXPECT_EQ(file_count(), 0u);
}

}  // namespace
}  // namespace sharebox::test
