// The tus 1.0.0 server at /tus/ (docs/uploads.md, https://tus.io/protocols/resumable-upload)
// over raw HTTP: OPTIONS discovery, creation (+ with upload, + deferred length), PATCH / HEAD
// with the exact headers the protocol requires (Tus-Resumable on every response), the finished
// upload as a regular file (GET, Sharebox-File-Id, metadata), the error statuses 400 / 403 /
// 404 / 409 / 410 / 412 / 413 / 415 / 423 / 460, checksums, termination, concatenation, an
// interrupted PATCH, and CORS for browser clients.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
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

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = 1024 * kib;
constexpr const char* offset_stream = "application/offset+octet-stream";
constexpr const char* unknown_id = "aaaaaaaaaaaaaaaaaaaaaaaaaa";

// `status`, and the Tus-Resumable: 1.0.0 every tus response must carry.
::testing::AssertionResult is_tus(const response& r, unsigned status) {
  if (r.status != status) return ::testing::AssertionFailure() << "wrong status\n" << r.describe();
  if (r.header("Tus-Resumable") != "1.0.0") {
    return ::testing::AssertionFailure() << "no Tus-Resumable: 1.0.0\n" << r.describe();
  }
  return ::testing::AssertionSuccess();
}

// A tus error: the status, Tus-Resumable, and (unless it answers a HEAD) a problem body.
::testing::AssertionResult is_tus_error(const response& r, unsigned status,
                                        std::string_view code = {}) {
  auto tus = is_tus(r, status);
  if (!tus || code.empty()) return tus;
  return is_problem(r, status, code);
}

// Comma-separated tokens of a header value, trimmed.
std::set<std::string> tokens(std::string_view v) {
  std::set<std::string> out;
  std::stringstream ss{std::string(v)};
  for (std::string item; std::getline(ss, item, ',');)
    out.insert(trim(item));
  return out;
}

std::uint64_t offset_of(const response& r) {
  const std::string v = r.header("Upload-Offset");
  if (v.empty()) throw std::runtime_error("no Upload-Offset\n" + r.describe());
  return std::stoull(v);
}

std::string metadata_pair(std::string_view key, std::string_view value) {
  return std::string(key) + " " + to_base64(value);
}

class tus_test : public upload_fixture {
 protected:
  static header_list tus_headers(header_list extra = {}) {
    extra.emplace_back("Tus-Resumable", "1.0.0");
    return extra;
  }
  // POST /tus/ with Upload-Length `length` (none if nullopt) and an optional body.
  response create(std::optional<std::uint64_t> length, header_list extra = {},
                  std::string_view body = {}, api_client* c = nullptr) {
    if (length) extra.emplace_back("Upload-Length", std::to_string(*length));
    if (!body.empty()) extra.emplace_back("Content-Type", offset_stream);
    return (c ? *c : a()).send("POST", "/tus/", tus_headers(std::move(extra)), body);
  }
  // Creates an upload of `length` bytes; returns its URL (/tus/<id>).
  std::string create_url(std::uint64_t length, header_list extra = {}, api_client* c = nullptr) {
    const response r = create(length, std::move(extra), {}, c);
    if (!is_tus(r, 201)) throw std::runtime_error("creation failed\n" + r.describe());
    return r.header("Location");
  }
  response patch(const std::string& url, std::uint64_t offset, std::string_view body,
                 header_list extra = {}, api_client* c = nullptr) {
    extra.emplace_back("Upload-Offset", std::to_string(offset));
    extra.emplace_back("Content-Type", offset_stream);
    return (c ? *c : a()).send("PATCH", url, tus_headers(std::move(extra)), body);
  }
  response head(const std::string& url, api_client* c = nullptr) {
    return (c ? *c : a()).head(url, tus_headers());
  }
  std::uint64_t current_offset(const std::string& url) {
    const response r = head(url);
    if (r.status != 200) throw std::runtime_error("HEAD failed\n" + r.describe());
    return offset_of(r);
  }
  // PATCHes `content` from `offset` on in `piece`-sized requests; returns the last response.
  response patch_all(const std::string& url, std::string_view content, std::uint64_t offset,
                     std::uint64_t piece) {
    response last;
    while (offset < content.size()) {
      const auto part = content.substr(offset, piece);
      last = patch(url, offset, part);
      if (!is_tus(last, 204)) return last;
      offset += part.size();
      EXPECT_EQ(offset_of(last), offset);
    }
    return last;
  }
  // GET on the upload URL serves the finished file.
  std::string served(const std::string& url) {
    const response r = a().get(url);
    return r.status == 200 ? r.body : "<" + r.describe() + ">";
  }
  json file_meta(const std::string& file_id) {
    return json_body(a().get("/files/" + file_id + "/meta"));
  }

  // A PATCH from `offset` with a body of `length` bytes, sent by hand on its own connection.
  held_request held_patch(const std::string& url, std::uint64_t offset, std::uint64_t length) {
    return held_request(port(), "PATCH", url,
                        tus_headers({{"Authorization", "Bearer " + key_},
                                     {"Upload-Offset", std::to_string(offset)},
                                     {"Content-Type", offset_stream}}),
                        length);
  }

  // The staged file of the upload at `url`.
  fs::path staged_at(const std::string& url) const {
    return staged(url.substr(url.rfind('/') + 1));
  }
  std::vector<std::string> staged_files() const { return files_in(uploads_dir()); }
};

class Tus : public tus_test {};

TEST_F(Tus, OptionsAdvertisesCapabilitiesWithoutAuth) {
  api_client anon = anonymous();
  for (const char* target : {"/tus/", "/tus", "/tus/aaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    SCOPED_TRACE(target);
    const response r = anon.send("OPTIONS", target);
    ASSERT_EQ(r.status, 204u) << r.describe();
    EXPECT_EQ(tokens(r.header("Tus-Version")), std::set<std::string>{"1.0.0"});
    EXPECT_EQ(tokens(r.header("Tus-Extension")),
              (std::set<std::string>{"creation", "creation-with-upload", "creation-defer-length",
                                     "termination", "checksum", "expiration", "concatenation"}));
    EXPECT_EQ(r.header("Tus-Max-Size"), std::to_string(10ull << 30));
    EXPECT_EQ(tokens(r.header("Tus-Checksum-Algorithm")),
              (std::set<std::string>{"sha1", "md5", "sha256"}));
    EXPECT_EQ(r.body, "");
  }
}

TEST_F(Tus, CreatePatchHeadAndServe) {
  const std::string content = generate_bytes(300 * kib + 7, 1);
  const std::string metadata = metadata_pair("filename", "report.pdf") + "," +
                               metadata_pair("filetype", "application/pdf") + ",flag";
  const response created = create(content.size(), {{"Upload-Metadata", metadata}});
  ASSERT_TRUE(is_tus(created, 201));
  const std::string url = created.header("Location");
  ASSERT_TRUE(std::regex_match(url, std::regex("/tus/[a-z2-7]{26}"))) << created.describe();
  EXPECT_TRUE(std::regex_match(
      created.header("Upload-Expires"),
      std::regex(R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT)")))
      << created.describe();
  EXPECT_TRUE(fs::exists(staged_at(url)));

  response h = head(url);
  ASSERT_TRUE(is_tus(h, 200));
  EXPECT_EQ(h.header("Upload-Offset"), "0");
  EXPECT_EQ(h.header("Upload-Length"), std::to_string(content.size()));
  EXPECT_EQ(h.header("Upload-Metadata"), metadata);
  EXPECT_EQ(h.header("Cache-Control"), "no-store");
  EXPECT_FALSE(h.has_header("Sharebox-File-Id"));
  EXPECT_FALSE(h.header("Upload-Expires").empty());

  std::uint64_t offset = 0;
  for (const std::uint64_t piece : {100 * kib, 100 * kib}) {
    const response r = patch(url, offset, std::string_view(content).substr(offset, piece));
    ASSERT_TRUE(is_tus(r, 204));
    offset += piece;
    EXPECT_EQ(offset_of(r), offset);
    EXPECT_FALSE(r.has_header("Sharebox-File-Id")) << r.describe();
    EXPECT_EQ(current_offset(url), offset);
  }
  const response last = patch(url, offset, std::string_view(content).substr(offset));
  ASSERT_TRUE(is_tus(last, 204));
  EXPECT_EQ(offset_of(last), content.size());
  const std::string file_id = last.header("Sharebox-File-Id");
  ASSERT_FALSE(file_id.empty()) << last.describe();

  h = head(url);
  ASSERT_TRUE(is_tus(h, 200));
  EXPECT_EQ(offset_of(h), content.size());
  EXPECT_EQ(h.header("Sharebox-File-Id"), file_id);
  EXPECT_EQ(served(url), content);

  const json meta = file_meta(file_id);
  EXPECT_EQ(meta["name"], "report.pdf");
  EXPECT_EQ(meta["content_type"], "application/pdf");
  EXPECT_EQ(meta["size"], content.size());
  EXPECT_EQ(meta["sha256"], sha256_hex(content));
  EXPECT_EQ(file_count(), 1u);
  EXPECT_FALSE(fs::exists(staged_at(url)));
  EXPECT_EQ(outbox_types(file_id), std::vector<std::string>{"file.uploaded"});
}

TEST_F(Tus, ZeroLengthUploadCompletesAtCreation) {
  const response r = create(0);
  ASSERT_TRUE(is_tus(r, 201));
  EXPECT_EQ(r.header("Upload-Offset"), "0");
  const std::string file_id = r.header("Sharebox-File-Id");
  ASSERT_FALSE(file_id.empty()) << r.describe();
  EXPECT_EQ(served(r.header("Location")), "");
  EXPECT_EQ(file_meta(file_id)["size"], 0);
}

TEST_F(Tus, OffsetMismatchIs409) {
  const std::string content = generate_bytes(1000, 2);
  const std::string url = create_url(content.size());
  EXPECT_TRUE(is_tus_error(patch(url, 10, content.substr(10)), 409, "offset_mismatch"));
  EXPECT_EQ(current_offset(url), 0u);
  ASSERT_TRUE(is_tus(patch(url, 0, content.substr(0, 500)), 204));
  EXPECT_TRUE(is_tus_error(patch(url, 0, content.substr(0, 500)), 409, "offset_mismatch"));
  EXPECT_TRUE(is_tus_error(patch(url, 400, content.substr(400)), 409, "offset_mismatch"));
  EXPECT_EQ(current_offset(url), 500u);
  ASSERT_TRUE(is_tus(patch(url, 500, content.substr(500)), 204));
  EXPECT_EQ(served(url), content);
}

TEST_F(Tus, TusResumableIsRequired) {
  const header_list length = {{"Upload-Length", "10"}};
  const std::vector<std::optional<std::string>> versions = {std::nullopt, "0.2.2"};
  for (const auto& version : versions) {
    SCOPED_TRACE(version.value_or("(none)"));
    header_list h = length;
    if (version) h.emplace_back("Tus-Resumable", *version);
    const response r = a().send("POST", "/tus/", h);
    EXPECT_TRUE(is_tus_error(r, 412, "unsupported_tus_version"));
    EXPECT_EQ(r.header("Tus-Version"), "1.0.0");
  }
  EXPECT_EQ(staged_files(), std::vector<std::string>{});

  const std::string url = create_url(10);
  const response p = a().send(
      "PATCH", url, {{"Upload-Offset", "0"}, {"Content-Type", offset_stream}}, "0123456789");
  EXPECT_TRUE(is_tus_error(p, 412, "unsupported_tus_version"));
  EXPECT_EQ(p.header("Tus-Version"), "1.0.0");
  const response h = a().head(url);
  EXPECT_TRUE(is_tus_error(h, 412));
  EXPECT_EQ(h.header("Tus-Version"), "1.0.0");
  EXPECT_TRUE(is_tus_error(a().del(url), 412, "unsupported_tus_version"));
  EXPECT_EQ(current_offset(url), 0u);
}

TEST_F(Tus, PatchNeedsOffsetOctetStream) {
  const std::string url = create_url(10);
  for (const char* type : {"application/octet-stream", "text/plain", ""}) {
    SCOPED_TRACE(type);
    header_list h = tus_headers({{"Upload-Offset", "0"}});
    if (*type) h.emplace_back("Content-Type", type);
    EXPECT_TRUE(
        is_tus_error(a().send("PATCH", url, h, "0123456789"), 415, "unsupported_media_type"));
  }
  EXPECT_EQ(current_offset(url), 0u);
  EXPECT_TRUE(is_tus(patch(url, 0, "0123456789"), 204));
}

TEST_F(Tus, UnknownAndForeignUploadsAre404) {
  const std::string url = create_url(10);
  ASSERT_TRUE(is_tus(patch(url, 0, "01234"), 204));
  api_client bob = make_user("bob");
  for (const std::string& target :
       {"/tus/" + std::string(unknown_id), std::string("/tus/nope"), url}) {
    SCOPED_TRACE(target);
    api_client& c = target == url ? bob : a();
    EXPECT_TRUE(is_tus_error(head(target, &c), 404));
    EXPECT_TRUE(is_tus_error(patch(target, 5, "56789", {}, &c), 404, "upload_not_found"));
    EXPECT_TRUE(is_tus_error(c.get(target), 404, "upload_not_found"));
    EXPECT_TRUE(is_tus_error(c.del(target, tus_headers()), 404, "upload_not_found"));
  }
  EXPECT_EQ(current_offset(url), 5u);
  EXPECT_TRUE(fs::exists(staged_at(url)));
}

TEST_F(Tus, MalformedCreationAndChecksumAre400) {
  const std::vector<std::pair<header_list, std::string>> bad_creations = {
      {{}, "invalid_header"},
      {{{"Upload-Length", "10"}, {"Upload-Defer-Length", "1"}}, "invalid_header"},
      {{{"Upload-Defer-Length", "2"}}, "invalid_header"},
      {{{"Upload-Length", "ten"}}, "invalid_header"},
      {{{"Upload-Length", "-1"}}, "invalid_header"},
      {{{"Upload-Length", "10"}, {"Upload-Metadata", "filename !!!notbase64"}}, "invalid_metadata"},
      {{{"Upload-Length", "10"},
        {"Upload-Metadata", metadata_pair("a", "x") + "," + metadata_pair("a", "y")}},
       "invalid_metadata"},
      {{{"Upload-Length", "10"}, {"Upload-Concat", "sometimes"}}, "invalid_header"},
  };
  for (const auto& [h, code] : bad_creations) {
    SCOPED_TRACE(h.empty() ? "no length" : h.back().first + ": " + h.back().second);
    EXPECT_TRUE(is_tus_error(create(std::nullopt, h), 400, code));
  }
  EXPECT_EQ(staged_files(), std::vector<std::string>{});
  EXPECT_EQ(upload_rows(), std::vector<std::string>{});

  const std::string body = "0123456789";
  const std::string url = create_url(body.size());
  for (const std::string& checksum :
       {"crc32 " + to_base64("abcd"), "sha512 " + to_base64(raw_digest("sha512", body)),
        std::string("sha1"), std::string("sha1 !!!")}) {
    SCOPED_TRACE(checksum);
    EXPECT_TRUE(is_tus_error(patch(url, 0, body, {{"Upload-Checksum", checksum}}), 400,
                             "unsupported_checksum"));
  }
  EXPECT_TRUE(
      is_tus_error(a().send("PATCH", url, tus_headers({{"Content-Type", offset_stream}}), body),
                   400, "invalid_header"));
  EXPECT_EQ(current_offset(url), 0u);
}

TEST_F(Tus, CreationWithUpload) {
  const std::string content = generate_bytes(250 * kib, 3);
  // Part of the bytes with the creation request, the rest with a PATCH.
  const response part = create(content.size(), {}, std::string_view(content).substr(0, 100 * kib));
  ASSERT_TRUE(is_tus(part, 201));
  EXPECT_EQ(offset_of(part), 100 * kib);
  const std::string url = part.header("Location");
  EXPECT_EQ(current_offset(url), 100 * kib);
  const response rest = patch(url, 100 * kib, std::string_view(content).substr(100 * kib));
  ASSERT_TRUE(is_tus(rest, 204));
  EXPECT_FALSE(rest.header("Sharebox-File-Id").empty());
  EXPECT_EQ(served(url), content);

  // All of it at once: finished by the creation request.
  const response whole = create(content.size(), {}, content);
  ASSERT_TRUE(is_tus(whole, 201));
  EXPECT_EQ(offset_of(whole), content.size());
  const std::string file_id = whole.header("Sharebox-File-Id");
  ASSERT_FALSE(file_id.empty()) << whole.describe();
  EXPECT_EQ(served(whole.header("Location")), content);
  EXPECT_EQ(file_meta(file_id)["sha256"], sha256_hex(content));

  // A body of another type is refused before anything is created.
  const auto before = upload_rows().size();
  EXPECT_TRUE(is_tus_error(
      a().send("POST", "/tus/",
               tus_headers({{"Upload-Length", "10"}, {"Content-Type", "application/octet-stream"}}),
               "0123456789"),
      415, "unsupported_media_type"));
  EXPECT_EQ(upload_rows().size(), before);
  EXPECT_EQ(file_count(), 2u);
}

// A creation request whose body is longer than its Upload-Length is refused; the client never
// learns the upload's URL, so nothing may be left behind for it.
TEST_F(Tus, CreationWithUploadOverLengthLeavesNothing) {
  const response r = create(10, {}, "01234567890123456789");
  EXPECT_TRUE(is_tus_error(r, 413, "upload_length_exceeded"));
  EXPECT_FALSE(r.has_header("Location"));
  EXPECT_EQ(upload_rows(), std::vector<std::string>{}) << "an unreachable upload was kept";
  EXPECT_EQ(staged_files(), std::vector<std::string>{});
}

TEST_F(Tus, DeferredLength) {
  const std::string content = generate_bytes(150 * kib + 3, 4);
  const response created = create(std::nullopt, {{"Upload-Defer-Length", "1"}});
  ASSERT_TRUE(is_tus(created, 201));
  const std::string url = created.header("Location");
  response h = head(url);
  ASSERT_TRUE(is_tus(h, 200));
  EXPECT_EQ(h.header("Upload-Defer-Length"), "1");
  EXPECT_FALSE(h.has_header("Upload-Length"));
  EXPECT_EQ(offset_of(h), 0u);

  const response first = patch(url, 0, std::string_view(content).substr(0, 100 * kib));
  ASSERT_TRUE(is_tus(first, 204));
  EXPECT_EQ(offset_of(first), 100 * kib);
  EXPECT_FALSE(first.has_header("Sharebox-File-Id"));
  EXPECT_EQ(head(url).header("Upload-Defer-Length"), "1");

  const response last = patch(url, 100 * kib, std::string_view(content).substr(100 * kib),
                              {{"Upload-Length", std::to_string(content.size())}});
  ASSERT_TRUE(is_tus(last, 204));
  EXPECT_EQ(offset_of(last), content.size());
  EXPECT_FALSE(last.header("Sharebox-File-Id").empty()) << last.describe();
  h = head(url);
  EXPECT_EQ(h.header("Upload-Length"), std::to_string(content.size()));
  EXPECT_FALSE(h.has_header("Upload-Defer-Length"));
  EXPECT_EQ(served(url), content);
}

TEST_F(Tus, ChecksumsAreVerified) {
  const std::string content = generate_bytes(120 * kib + 11, 5);
  const std::string url = create_url(content.size());
  const std::uint64_t piece = 40 * kib;
  std::uint64_t offset = 0;
  for (const char* algorithm : {"sha1", "md5", "sha256"}) {
    SCOPED_TRACE(algorithm);
    const std::string_view part = std::string_view(content).substr(
        offset, algorithm == std::string_view("sha256") ? std::string_view::npos : piece);
    const std::string checksum =
        std::string(algorithm) + " " + to_base64(raw_digest(algorithm, part));
    // Other bytes under the right checksum: 460, and nothing is kept.
    const response bad =
        patch(url, offset, generate_bytes(part.size(), 77), {{"Upload-Checksum", checksum}});
    EXPECT_TRUE(is_tus_error(bad, 460, "checksum_mismatch"));
    EXPECT_EQ(current_offset(url), offset);
    const response good = patch(url, offset, part, {{"Upload-Checksum", checksum}});
    ASSERT_TRUE(is_tus(good, 204));
    offset += part.size();
    EXPECT_EQ(offset_of(good), offset);
  }
  EXPECT_EQ(served(url), content);
}

TEST_F(Tus, TerminationFreesTheUpload) {
  const std::string url = create_url(1000);
  ASSERT_TRUE(is_tus(patch(url, 0, generate_bytes(300, 6)), 204));
  ASSERT_TRUE(fs::exists(staged_at(url)));
  const response r = a().del(url, tus_headers());
  ASSERT_TRUE(is_tus(r, 204));
  EXPECT_FALSE(fs::exists(staged_at(url)));
  EXPECT_TRUE(is_tus_error(head(url), 404));
  EXPECT_TRUE(is_tus_error(patch(url, 300, "x"), 404, "upload_not_found"));
  EXPECT_TRUE(is_tus_error(a().del(url, tus_headers()), 404, "upload_not_found"));
  EXPECT_EQ(file_count(), 0u);
}

TEST_F(Tus, Concatenation) {
  // Finished partial uploads of `sizes` bytes; returns their URLs and appends their bytes.
  const auto partials = [&](std::initializer_list<std::uint64_t> sizes, std::string& all) {
    std::vector<std::string> urls;
    for (const auto size : sizes) {
      const std::string bytes = generate_bytes(size, 100 + all.size());
      const std::string url = create_url(size, {{"Upload-Concat", "partial"}});
      const response done = patch(url, 0, bytes);
      EXPECT_TRUE(is_tus(done, 204));
      EXPECT_FALSE(done.has_header("Sharebox-File-Id")) << "a partial upload became a file";
      EXPECT_EQ(head(url).header("Upload-Concat"), "partial");
      urls.push_back(url);
      all += bytes;
    }
    return urls;
  };
  const auto join = [](const std::vector<std::string>& urls, const std::string& prefix) {
    std::string v = "final;";
    for (std::size_t i = 0; i < urls.size(); ++i)
      v += (i ? " " : "") + prefix + urls[i];
    return v;
  };
  const std::string origin = "http://127.0.0.1:" + std::to_string(port());

  std::size_t files = 0;
  for (const bool absolute : {false, true}) {
    SCOPED_TRACE(absolute ? "absolute URLs" : "relative URLs");
    std::string all;
    const auto urls =
        absolute ? partials({70 * kib, 33 * kib}, all) : partials({50 * kib, 1, 90 * kib + 5}, all);
    const response final_resp =
        a().send("POST", "/tus/",
                 tus_headers({{"Upload-Concat", join(urls, absolute ? origin : "")},
                              {"Upload-Metadata", metadata_pair("filename", "joined.bin")}}));
    ASSERT_TRUE(is_tus(final_resp, 201));
    const std::string url = final_resp.header("Location");
    const response h = head(url);
    ASSERT_TRUE(is_tus(h, 200));
    EXPECT_EQ(h.header("Upload-Concat"), join(urls, ""));
    EXPECT_EQ(offset_of(h), all.size());
    EXPECT_EQ(h.header("Upload-Length"), std::to_string(all.size()));
    EXPECT_EQ(served(url), all);
    const std::string file_id = h.header("Sharebox-File-Id");
    ASSERT_FALSE(file_id.empty()) << h.describe();
    EXPECT_EQ(file_meta(file_id)["name"], "joined.bin");
    EXPECT_EQ(file_meta(file_id)["sha256"], sha256_hex(all));
    EXPECT_TRUE(is_tus_error(patch(url, all.size(), "x"), 403, "upload_not_writable"));
    EXPECT_TRUE(is_tus_error(patch(url, 0, "x"), 403, "upload_not_writable"));
    EXPECT_EQ(file_count(), ++files);
    for (const auto& part : urls)
      EXPECT_FALSE(fs::exists(staged_at(part))) << part;
  }

  // A final upload naming a partial upload that has not received all its bytes.
  std::string done_bytes;
  const auto finished = partials({10 * kib}, done_bytes);
  const std::string unfinished = create_url(10 * kib, {{"Upload-Concat", "partial"}});
  ASSERT_TRUE(is_tus(patch(unfinished, 0, generate_bytes(kib, 7)), 204));
  EXPECT_TRUE(
      is_tus_error(a().send("POST", "/tus/",
                            tus_headers({{"Upload-Concat", join({finished[0], unfinished}, "")}})),
                   400, "partial_upload_unfinished"));
  EXPECT_EQ(file_count(), files);
  EXPECT_EQ(current_offset(unfinished), kib);
  EXPECT_EQ(current_offset(finished[0]), 10 * kib);
}

TEST_F(Tus, ConcurrentPatchIsLocked) {
  const std::string content = generate_bytes(200 * kib, 8);
  const std::string url = create_url(content.size());
  held_request first = held_patch(url, 0, content.size());
  ASSERT_TRUE(has_status(first.start(), 100));
  first.send(std::string_view(content).substr(0, 100 * kib));

  EXPECT_TRUE(is_tus_error(patch(url, 0, "xyz"), 423, "upload_locked"));
  const response done = first.finish(std::string_view(content).substr(100 * kib));
  ASSERT_TRUE(is_tus(done, 204));
  EXPECT_EQ(offset_of(done), content.size());
  EXPECT_FALSE(done.header("Sharebox-File-Id").empty());
  EXPECT_EQ(served(url), content);
}

TEST_F(Tus, InterruptedPatchKeepsWhatArrived) {
  const std::string content = generate_bytes(mib, 9);
  const std::string url = create_url(content.size());
  const std::uint64_t sent = 600 * kib;
  {
    held_request cut = held_patch(url, 0, content.size());
    ASSERT_TRUE(has_status(cut.start(), 100));
    cut.send(std::string_view(content).substr(0, sent));
    std::this_thread::sleep_for(100ms);
    cut.close();
  }
  std::uint64_t offset = 0;
  ASSERT_TRUE(eventually([&] { return (offset = current_offset(url)) > 0; }, 5s))
      << "the bytes received before the connection broke were dropped";
  EXPECT_LE(offset, sent);

  // Resume from there; the server may still be finishing the broken request (423) for a moment.
  response rest;
  ASSERT_TRUE(eventually(
      [&] {
        return (rest = patch(url, offset, std::string_view(content).substr(offset))).status != 423;
      },
      5s));
  ASSERT_TRUE(is_tus(rest, 204));
  const std::string file_id = rest.header("Sharebox-File-Id");
  EXPECT_EQ(served(url), content);
  EXPECT_EQ(file_meta(file_id)["sha256"], sha256_hex(content));
}

// The spec: "The Tus-Resumable header MUST be included in every request and response except for
// OPTIONS requests" - an authentication failure on a tus URL is a tus response too.
TEST_F(Tus, UnauthenticatedResponsesCarryTusResumable) {
  const std::string url = create_url(10);
  api_client anon = anonymous();
  EXPECT_TRUE(
      is_tus_error(anon.send("POST", "/tus/", tus_headers({{"Upload-Length", "10"}})), 401));
  EXPECT_TRUE(is_tus_error(anon.head(url, tus_headers()), 401));
  EXPECT_TRUE(is_tus_error(patch(url, 0, "0123456789", {}, &anon), 401));
  EXPECT_EQ(current_offset(url), 0u);
}

// --- server options ---------------------------------------------------------------------------

class TusLimits : public tus_test {
 protected:
  std::vector<std::string> server_args() const override { return {"--max-file-size", "1M"}; }
};

TEST_F(TusLimits, OverMaxSizeIs413) {
  EXPECT_EQ(anonymous().send("OPTIONS", "/tus/").header("Tus-Max-Size"), std::to_string(mib));
  EXPECT_TRUE(is_tus_error(create(mib + 1), 413, "file_too_large"));
  EXPECT_EQ(staged_files(), std::vector<std::string>{});
  EXPECT_EQ(upload_rows(), std::vector<std::string>{});

  // A PATCH carrying more bytes than the upload has left.
  const std::string content = generate_bytes(1000, 10);
  const std::string url = create_url(content.size());
  EXPECT_TRUE(is_tus_error(patch(url, 0, generate_bytes(1500, 11)), 413, "upload_length_exceeded"));
  EXPECT_EQ(current_offset(url), 0u);
  ASSERT_TRUE(is_tus(patch(url, 0, content.substr(0, 600)), 204));
  EXPECT_TRUE(
      is_tus_error(patch(url, 600, generate_bytes(600, 12)), 413, "upload_length_exceeded"));
  EXPECT_EQ(current_offset(url), 600u);
  ASSERT_TRUE(is_tus(patch(url, 600, content.substr(600)), 204));
  EXPECT_EQ(served(url), content);

  // The whole size is allowed.
  EXPECT_TRUE(is_tus(create(mib), 201));
}

class TusExpiry : public tus_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--upload-ttl", "1", "--upload-sweep-interval", "0.1"};
  }
};

TEST_F(TusExpiry, IdleUploadIs410ThenGone) {
  const std::string url = create_url(1000);
  ASSERT_TRUE(is_tus(patch(url, 0, generate_bytes(100, 13)), 204));
  response h;
  ASSERT_TRUE(eventually([&] { return (h = head(url)).status != 200; }, 5s));
  EXPECT_TRUE(is_tus_error(h, 410));
  EXPECT_TRUE(is_tus_error(patch(url, 100, "x"), 410, "upload_expired"));
  EXPECT_TRUE(eventually([&] { return !fs::exists(staged_at(url)); }, 2s)) << "staged file kept";
  EXPECT_TRUE(eventually([&] { return head(url).status == 404; }, 5s));
}

class TusCors : public tus_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--cors-origins", "http://app.example"};
  }
  static constexpr const char* allowed = "http://app.example";
};

TEST_F(TusCors, PreflightAndExposedHeaders) {
  const std::string url = create_url(10);
  const std::string requested = "Authorization, Tus-Resumable, Upload-Offset, Content-Type";
  const auto preflight = [&](const char* origin) {
    return anonymous().send("OPTIONS", url,
                            {{"Origin", origin},
                             {"Access-Control-Request-Method", "PATCH"},
                             {"Access-Control-Request-Headers", requested}});
  };
  const response pre = preflight(allowed);
  ASSERT_EQ(pre.status, 204u) << pre.describe();
  EXPECT_EQ(pre.header("Access-Control-Allow-Origin"), allowed);
  EXPECT_TRUE(tokens(pre.header("Access-Control-Allow-Methods")).contains("PATCH"))
      << pre.describe();
  EXPECT_EQ(pre.header("Access-Control-Allow-Headers"), requested);

  const response h = a().head(url, tus_headers({{"Origin", allowed}}));
  ASSERT_TRUE(is_tus(h, 200));
  EXPECT_EQ(h.header("Access-Control-Allow-Origin"), allowed);
  const auto exposed = tokens(h.header("Access-Control-Expose-Headers"));
  for (const char* name : {"Upload-Offset", "Sharebox-File-Id", "Location", "Tus-Resumable"})
    EXPECT_TRUE(exposed.contains(name)) << name << "\n" << h.describe();

  const response denied =
      anonymous().send("POST", "/tus/", tus_headers({{"Origin", allowed}, {"Upload-Length", "1"}}));
  EXPECT_TRUE(is_problem(denied, 401, "unauthenticated"));
  EXPECT_EQ(denied.header("Access-Control-Allow-Origin"), allowed);

  // Any other origin gets no CORS headers at all.
  for (const response& r : {preflight("http://evil.example"),
                            a().head(url, tus_headers({{"Origin", "http://evil.example"}}))}) {
    EXPECT_FALSE(r.has_header("Access-Control-Allow-Origin")) << r.describe();
    EXPECT_FALSE(r.has_header("Access-Control-Expose-Headers")) << r.describe();
    EXPECT_FALSE(r.has_header("Access-Control-Allow-Headers")) << r.describe();
  }
}

}  // namespace
}  // namespace sharebox::test
