// Upload, download, metadata, listing and pagination, update and delete.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;

const std::regex http_date(
    R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT)");

class Files : public server_test {
 protected:
  void SetUp() override {
    server_test::SetUp();
    alice_.emplace(make_user("alice"));
  }
  api_client& alice() { return *alice_; }
  std::optional<api_client> alice_;
};

std::vector<std::string> ids_of(const json& list) {
  std::vector<std::string> ids;
  for (const auto& f : list)
    ids.push_back(f.value("id", ""));
  return ids;
}

// Target of the rel="next" link in a Link header, or "" if none.
std::string next_link(const response& r) {
  for (const auto& value : r.headers.get_all("Link")) {
    static const std::regex next(R"re(<([^>]*)>\s*;\s*rel="?next"?)re");
    std::smatch m;
    if (std::regex_search(value, m, next)) return m[1].str();
  }
  return {};
}

TEST_F(Files, MultipartUploadReturns201WithFileObject) {
  const std::string content = "hello, sharebox\n";
  const response r = alice().upload("hello.txt", content, "text/plain");
  ASSERT_TRUE(has_status(r, 201));
  const json f = json_body(r);
  ASSERT_TRUE(is_file_object(f));
  EXPECT_EQ(f["name"], "hello.txt");
  EXPECT_EQ(f["size"], content.size());
  EXPECT_EQ(f["content_type"], "text/plain");
  EXPECT_EQ(f["sha256"], sha256_hex(content));
  EXPECT_EQ(f["version"], 1);
  EXPECT_EQ(f["etag"], "\"1\"");
  EXPECT_EQ(f["owner"], "alice");
  EXPECT_EQ(r.header("ETag"), f["etag"].get<std::string>());
  EXPECT_EQ(r.header("Location"), "/files/" + f["id"].get<std::string>());
}

TEST_F(Files, RawUploadTakesNameFromQueryAndTypeFromRequest) {
  const response r = alice().upload_raw("notes.txt", "some notes", "text/markdown");
  ASSERT_TRUE(has_status(r, 201));
  const json f = json_body(r);
  ASSERT_TRUE(is_file_object(f));
  EXPECT_EQ(f["name"], "notes.txt");
  EXPECT_EQ(f["content_type"], "text/markdown");
  EXPECT_EQ(f["size"], 10);
  EXPECT_EQ(f["sha256"], sha256_hex("some notes"));
  EXPECT_EQ(r.header("Location"), "/files/" + f["id"].get<std::string>());
  EXPECT_EQ(r.header("ETag"), "\"1\"");
}

TEST_F(Files, EmptyFileCanBeUploadedAndDownloaded) {
  const response r = alice().upload_raw("empty.bin", "");
  ASSERT_TRUE(has_status(r, 201));
  const json f = json_body(r);
  EXPECT_EQ(f["size"], 0);
  EXPECT_EQ(f["sha256"], sha256_hex(""));
  const response got = alice().get("/files/" + f["id"].get<std::string>());
  ASSERT_TRUE(has_status(got, 200));
  EXPECT_EQ(got.body, "");
  EXPECT_EQ(got.header("Content-Length"), "0");
}

TEST_F(Files, RawUploadWithoutNameIs400MissingName) {
  EXPECT_TRUE(is_problem(alice().send("POST", "/files", {{"Content-Type", "text/plain"}}, "data"),
                         400, "missing_name"));
  EXPECT_TRUE(
      is_problem(alice().send("POST", "/files?name=", {{"Content-Type", "text/plain"}}, "data"),
                 400, "missing_name"));
  EXPECT_EQ(json_body(alice().list()).size(), 0u);
}

TEST_F(Files, BadMultipartIs400InvalidMultipart) {
  const auto no_file_part =
      build_multipart({{"comment", std::nullopt, "", "no file here"}}, "bnd0001");
  EXPECT_TRUE(
      is_problem(alice().send("POST", "/files", {{"Content-Type", no_file_part.content_type()}},
                              no_file_part.body),
                 400, "invalid_multipart"));

  EXPECT_TRUE(is_problem(
      alice().send("POST", "/files", {{"Content-Type", "multipart/form-data; boundary=bnd0002"}},
                   "this is not multipart at all"),
      400, "invalid_multipart"));

  // Missing the closing delimiter.
  auto truncated = build_multipart({{"file", "a.txt", "text/plain", "abc"}}, "bnd0003");
  truncated.body.resize(truncated.body.find("--bnd0003--"));
  EXPECT_TRUE(is_problem(
      alice().send("POST", "/files", {{"Content-Type", truncated.content_type()}}, truncated.body),
      400, "invalid_multipart"));

  // multipart/form-data without a boundary parameter.
  EXPECT_TRUE(is_problem(
      alice().send("POST", "/files", {{"Content-Type", "multipart/form-data"}}, "--x\r\n"), 400,
      "invalid_multipart"));

  EXPECT_EQ(json_body(alice().list()).size(), 0u) << "a failed upload left a file behind";
}

TEST_F(Files, MultipartWithExtraFieldsUsesFilePart) {
  const auto mp = build_multipart({{"description", std::nullopt, "", "ignored"},
                                   {"file", "data.csv", "text/csv", "a,b\n1,2\n"}});
  const response r = alice().send("POST", "/files", {{"Content-Type", mp.content_type()}}, mp.body);
  ASSERT_TRUE(has_status(r, 201));
  const json f = json_body(r);
  EXPECT_EQ(f["name"], "data.csv");
  EXPECT_EQ(f["content_type"], "text/csv");
  EXPECT_EQ(f["sha256"], sha256_hex("a,b\n1,2\n"));
}

TEST_F(Files, DownloadReturnsBytesAndHeaders) {
  const std::string content = generate_bytes(5000, 7);
  const response up = alice().upload("blob.bin", content, "application/x-test");
  ASSERT_TRUE(has_status(up, 201));
  const json f = json_body(up);
  const std::string id = f["id"];

  const response r = alice().get("/files/" + id);
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(r.body.size(), content.size());
  EXPECT_TRUE(r.body == content) << "downloaded bytes differ";
  EXPECT_EQ(r.header("Content-Type"), "application/x-test");
  EXPECT_EQ(r.header("Content-Length"), "5000");
  EXPECT_EQ(r.header("Content-Disposition"), "attachment; filename=\"blob.bin\"");
  EXPECT_EQ(r.header("ETag"), "\"1\"");
  EXPECT_TRUE(std::regex_match(r.header("Last-Modified"), http_date)) << r.header("Last-Modified");
  EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
}

TEST_F(Files, HeadHasSameHeadersWithoutBody) {
  const std::string id = created_id(alice().upload("page.html", "<p>hi</p>", "text/html"));
  const response get = alice().get("/files/" + id);
  const response head = alice().head("/files/" + id);
  ASSERT_TRUE(has_status(get, 200));
  ASSERT_TRUE(has_status(head, 200));
  EXPECT_EQ(head.body, "");
  for (const char* h : {"Content-Type", "Content-Length", "Content-Disposition", "ETag",
                        "Last-Modified", "Accept-Ranges"}) {
    EXPECT_TRUE(head.has_header(h)) << h;
    EXPECT_EQ(head.header(h), get.header(h)) << h;
  }
  EXPECT_EQ(head.header("Content-Length"), "9");
  // The keep-alive connection is still in sync after a HEAD.
  EXPECT_TRUE(has_status(alice().get("/files/" + id), 200));
}

TEST_F(Files, NonAsciiNameGetsRfc5987Filename) {
  const std::string name = "r\xC3\xA9sum\xC3\xA9 \xE2\x82\xAC.txt";  // "résumé €.txt"
  const response up = alice().upload(name, "cv", "text/plain");
  ASSERT_TRUE(has_status(up, 201));
  EXPECT_EQ(json_body(up)["name"], name);
  const response r = alice().get("/files/" + created_id(up));
  ASSERT_TRUE(has_status(r, 200));
  const std::string cd = r.header("Content-Disposition");
  EXPECT_EQ(cd.rfind("attachment;", 0), 0u) << cd;
  EXPECT_NE(cd.find("filename=\""), std::string::npos) << cd;
  const auto star = cd.find("filename*=UTF-8''");
  ASSERT_NE(star, std::string::npos) << cd;
  std::string encoded = cd.substr(star + std::string("filename*=UTF-8''").size());
  encoded = encoded.substr(0, encoded.find(';'));
  EXPECT_EQ(percent_decode(encoded), name) << cd;
  // The quoted fallback must be plain ASCII.
  const std::string fallback = cd.substr(0, star);
  for (unsigned char c : fallback)
    EXPECT_LT(c, 0x80) << cd;
}

TEST_F(Files, MetaReturnsFileObject) {
  const response up = alice().upload_raw("m.txt", "meta");
  ASSERT_TRUE(has_status(up, 201));
  const response r = alice().get("/files/" + created_id(up) + "/meta");
  ASSERT_TRUE(has_status(r, 200));
  const json meta = json_body(r);
  ASSERT_TRUE(is_file_object(meta));
  EXPECT_EQ(meta, json_body(up));
}

TEST_F(Files, ListIsNewestFirst) {
  EXPECT_EQ(json_body(alice().list()), json::array());
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(created_id(alice().upload_raw("f" + std::to_string(i) + ".txt", "x")));
  }
  const response r = alice().list();
  ASSERT_TRUE(has_status(r, 200));
  const json list = json_body(r);
  ASSERT_TRUE(list.is_array());
  for (const auto& f : list)
    EXPECT_TRUE(is_file_object(f));
  EXPECT_EQ(ids_of(list), (std::vector<std::string>{ids[3], ids[2], ids[1], ids[0]}));
  EXPECT_FALSE(r.has_header("Link")) << "no next page expected";
}

TEST_F(Files, ListOnlyShowsOwnFiles) {
  api_client bob = make_user("bob");
  ASSERT_TRUE(has_status(alice().upload_raw("a.txt", "a"), 201));
  const std::string bobs = created_id(bob.upload_raw("b.txt", "b"));
  EXPECT_EQ(ids_of(json_body(bob.list())), std::vector<std::string>{bobs});
  EXPECT_EQ(json_body(alice().list()).size(), 1u);
}

TEST_F(Files, PaginationFollowsLinkWithoutDuplicatesOrGaps) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(created_id(alice().upload_raw("p" + std::to_string(i), std::to_string(i))));
  }
  const std::vector<std::string> expected(ids.rbegin(), ids.rend());

  std::vector<std::string> seen;
  std::vector<std::size_t> page_sizes;
  std::string target = "/files?limit=3";
  for (int guard = 0; !target.empty() && guard < 10; ++guard) {
    const response r = alice().get(target);
    ASSERT_TRUE(has_status(r, 200));
    const json page = json_body(r);
    ASSERT_TRUE(page.is_array());
    page_sizes.push_back(page.size());
    for (const auto& id : ids_of(page))
      seen.push_back(id);
    target = next_link(r);
    if (!target.empty()) {
      EXPECT_EQ(target.rfind("/files?", 0), 0u) << target;
      EXPECT_NE(target.find("limit=3"), std::string::npos) << target;
      EXPECT_NE(target.find("cursor="), std::string::npos) << target;
    }
  }
  EXPECT_EQ(page_sizes, (std::vector<std::size_t>{3, 3, 1}));
  EXPECT_EQ(seen, expected);

  // Exactly one full page: no next link.
  const response all = alice().get("/files?limit=7");
  EXPECT_EQ(json_body(all).size(), 7u);
  EXPECT_EQ(next_link(all), "") << all.describe();
  EXPECT_TRUE(has_status(alice().get("/files?limit=1000"), 200));
  EXPECT_TRUE(has_status(alice().get("/files?limit=1"), 200));
}

TEST_F(Files, PaginationIsStableWhileFilesAreAdded) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(created_id(alice().upload_raw("s", "s")));
  const response first = alice().get("/files?limit=2");
  ASSERT_EQ(json_body(first).size(), 2u);
  // A newer file must not shift the cursor onto already-seen items.
  ASSERT_TRUE(has_status(alice().upload_raw("new", "n"), 201));
  const std::string next = next_link(first);
  ASSERT_FALSE(next.empty()) << first.describe();
  const response second = alice().get(next);
  ASSERT_TRUE(has_status(second, 200));
  EXPECT_EQ(ids_of(json_body(second)), (std::vector<std::string>{ids[1], ids[0]}));
}

TEST_F(Files, InvalidListParametersAre400) {
  // The last cursor is "s9999999999999999999", past 64 bits (found by
  // tests/fuzz/query_params_fuzz.cpp: it was a 500).
  for (const std::string q : {"limit=0", "limit=1001", "limit=abc", "limit=-1", "limit=2x",
                              "cursor=%%%", "cursor=not-a-real-cursor", "limit=2&cursor=garbage",
                              "cursor=czk5OTk5OTk5OTk5OTk5OTk5OTk"}) {
    SCOPED_TRACE(q);
    EXPECT_TRUE(is_problem(alice().list(q), 400, "invalid_parameter"));
  }
}

TEST_F(Files, PutRequiresIfMatch) {
  const std::string id = created_id(alice().upload_raw("v.txt", "one"));
  EXPECT_TRUE(is_problem(alice().put_raw(id, "two", std::nullopt), 428, "if_match_required"));
  const response stale = alice().put_raw(id, "two", "\"7\"");
  EXPECT_TRUE(is_problem(stale, 412, "etag_mismatch"));
  EXPECT_EQ(json_body(stale).value("current_etag", ""), "\"1\"") << stale.describe();
  // Neither changed anything.
  const response got = alice().get("/files/" + id);
  EXPECT_EQ(got.body, "one");
  EXPECT_EQ(got.header("ETag"), "\"1\"");
}

TEST_F(Files, PutReplacesContentAndBumpsVersion) {
  const std::string id = created_id(alice().upload_raw("v.txt", "version one", "text/plain"));
  const response r = alice().put_raw(id, "version two!", "\"1\"", "", "text/plain");
  ASSERT_TRUE(has_status(r, 200));
  const json f = json_body(r);
  ASSERT_TRUE(is_file_object(f));
  EXPECT_EQ(f["id"], id);
  EXPECT_EQ(f["version"], 2);
  EXPECT_EQ(f["etag"], "\"2\"");
  EXPECT_EQ(r.header("ETag"), "\"2\"");
  EXPECT_EQ(f["size"], 12);
  EXPECT_EQ(f["sha256"], sha256_hex("version two!"));
  EXPECT_EQ(f["name"], "v.txt");

  const response got = alice().get("/files/" + id);
  EXPECT_EQ(got.body, "version two!");
  EXPECT_EQ(got.header("ETag"), "\"2\"");
  EXPECT_EQ(json_body(alice().get("/files/" + id + "/meta")), f);

  // The old etag is now stale.
  EXPECT_TRUE(is_problem(alice().put_raw(id, "again", "\"1\""), 412, "etag_mismatch"));
  // Still one file in the listing.
  EXPECT_EQ(json_body(alice().list()).size(), 1u);
}

TEST_F(Files, PutWithNameRenames) {
  const std::string id = created_id(alice().upload_raw("old.txt", "a"));
  const response r = alice().put_raw(id, "b", "\"1\"", "name=new.txt");
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(json_body(r)["name"], "new.txt");
  EXPECT_EQ(alice().get("/files/" + id).header("Content-Disposition"),
            "attachment; filename=\"new.txt\"");
}

TEST_F(Files, PutAcceptsMultipart) {
  const std::string id = created_id(alice().upload_raw("m.bin", "first"));
  const auto mp = build_multipart({{"file", "m.bin", "application/octet-stream", "second"}});
  const response r = alice().send(
      "PUT", "/files/" + id, {{"Content-Type", mp.content_type()}, {"If-Match", "\"1\""}}, mp.body);
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(json_body(r)["sha256"], sha256_hex("second"));
  EXPECT_EQ(alice().get("/files/" + id).body, "second");
}

TEST_F(Files, DeleteRemovesFile) {
  const std::string id = created_id(alice().upload_raw("d.txt", "bye"));
  const std::string keep = created_id(alice().upload_raw("k.txt", "stay"));
  const response r = alice().del("/files/" + id);
  ASSERT_TRUE(has_status(r, 204));
  EXPECT_EQ(r.body, "");
  EXPECT_TRUE(is_problem(alice().get("/files/" + id), 404, "file_not_found"));
  EXPECT_TRUE(is_problem(alice().get("/files/" + id + "/meta"), 404, "file_not_found"));
  EXPECT_TRUE(is_problem(alice().del("/files/" + id), 404, "file_not_found"));
  EXPECT_EQ(ids_of(json_body(alice().list())), std::vector<std::string>{keep});
}

TEST_F(Files, DeleteHonoursIfMatch) {
  const std::string id = created_id(alice().upload_raw("d.txt", "v1"));
  ASSERT_TRUE(has_status(alice().put_raw(id, "v2", "\"1\""), 200));
  EXPECT_TRUE(is_problem(alice().del("/files/" + id, {{"If-Match", "\"1\""}}), 412));
  EXPECT_TRUE(has_status(alice().get("/files/" + id), 200)) << "stale If-Match deleted the file";
  EXPECT_TRUE(has_status(alice().del("/files/" + id, {{"If-Match", "\"2\""}}), 204));
  EXPECT_TRUE(is_problem(alice().get("/files/" + id), 404, "file_not_found"));
}

TEST_F(Files, UnknownOrMalformedIdIs404) {
  for (const std::string id :
       {"00000000-0000-0000-0000-000000000000", "does-not-exist", "0", "-1", "not%20an%20id",
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}) {
    SCOPED_TRACE(id);
    EXPECT_TRUE(is_problem(alice().get("/files/" + id), 404, "file_not_found"));
    EXPECT_TRUE(is_problem(alice().get("/files/" + id + "/meta"), 404, "file_not_found"));
    EXPECT_TRUE(is_problem(alice().put_raw(id, "x", "\"1\""), 404, "file_not_found"));
    EXPECT_TRUE(is_problem(alice().del("/files/" + id), 404, "file_not_found"));
  }
}

TEST_F(Files, StreamedMultipartUploadRoundTrips) {
  constexpr std::uint64_t size = 8 * 1024 * 1024 + 123;
  stream_upload_options o;
  o.target = "/files";
  o.headers = alice().auth();
  o.size = size;
  o.seed = 42;
  connection conn(port());
  const auto up = upload_stream_multipart(conn, o, "big.bin");
  ASSERT_TRUE(up.resp.has_value()) << up.describe();
  ASSERT_TRUE(has_status(*up.resp, 201));
  const json f = json_body(*up.resp);
  EXPECT_EQ(f["size"], size);
  EXPECT_EQ(f["sha256"], up.sha256);
  EXPECT_EQ(up.sha256, generated_sha256(size, 42));

  const auto down = download_stream(conn, "/files/" + f["id"].get<std::string>(), alice().auth());
  EXPECT_EQ(down.status, 200u);
  EXPECT_EQ(down.size, size);
  EXPECT_EQ(down.sha256, up.sha256);
}

TEST_F(Files, ChunkedRawUploadRoundTrips) {
  constexpr std::uint64_t size = 3 * 1024 * 1024 + 7;
  stream_upload_options o;
  o.target = "/files?name=chunked.bin";
  o.headers = alice().auth();
  o.headers.emplace_back("Content-Type", "application/octet-stream");
  o.size = size;
  o.seed = 9;
  o.chunked = true;
  o.chunk_size = 100'000;
  connection conn(port());
  const auto up = upload_stream(conn, o);
  ASSERT_TRUE(up.resp.has_value()) << up.describe();
  ASSERT_TRUE(has_status(*up.resp, 201));
  EXPECT_EQ(json_body(*up.resp)["size"], size);
  EXPECT_EQ(json_body(*up.resp)["sha256"], up.sha256);
}

}  // namespace
}  // namespace sharebox::test
