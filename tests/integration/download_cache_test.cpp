// Downloads are served from memory once warm (the download cache). Whatever changes who may
// read a file, or what it holds, must show at the very next download: revoking a key from the
// CLI (another process), deleting, replacing, sharing and unsharing a file.
#include <gtest/gtest.h>

#include "support/api_client.hpp"
#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

class DownloadCache : public alice_test {
 protected:
  // Enough downloads, on one connection and on new ones, that any cache is warm.
  void warm(api_client& c, const std::string& id, std::string_view content) {
    for (int i = 0; i < 5; ++i) {
      const response r = c.get("/files/" + id);
      ASSERT_TRUE(has_status(r, 200));
      ASSERT_EQ(r.body, content);
    }
    for (int i = 0; i < 3; ++i) {
      api_client fresh(port(), c.credential());
      ASSERT_EQ(fresh.get("/files/" + id).body, content);
    }
  }
  std::string upload(std::string_view name, std::string_view content) {
    const response r = alice().upload_raw(name, content);
    EXPECT_TRUE(has_status(r, 201));
    return created_id(r);
  }
};

TEST_F(DownloadCache, KeyRevokedFromTheCliIsRefusedAtOnce) {
  const std::string id = upload("a.txt", "alpha");
  auto c = alice();
  warm(c, id, "alpha");
  const auto revoked =
      server().run_cli({"key", "revoke", key_, "--data-dir", server().data_dir().string()});
  ASSERT_TRUE(revoked.exit.clean()) << revoked.err;
  EXPECT_TRUE(is_problem(c.get("/files/" + id), 401, "unauthenticated"));
  EXPECT_TRUE(has_status(c.head("/files/" + id), 401));
  EXPECT_TRUE(is_problem(api_client(port(), key_).get("/files/" + id), 401, "unauthenticated"));
}

TEST_F(DownloadCache, OtherKeysOfTheUserStillWorkAfterOneIsRevoked) {
  const std::string id = upload("a.txt", "alpha");
  const auto added =
      server().run_cli({"key", "add", "alice", "--data-dir", server().data_dir().string()});
  ASSERT_TRUE(added.exit.clean()) << added.err;
  api_client second(port(), trim(added.out));
  auto first = alice();
  warm(first, id, "alpha");
  warm(second, id, "alpha");
  ASSERT_TRUE(server()
                  .run_cli({"key", "revoke", key_, "--data-dir", server().data_dir().string()})
                  .exit.clean());
  EXPECT_TRUE(is_problem(first.get("/files/" + id), 401));
  EXPECT_EQ(second.get("/files/" + id).body, "alpha");
}

TEST_F(DownloadCache, DeletedFileIsGoneAtOnce) {
  const std::string id = upload("a.txt", "alpha");
  auto c = alice();
  warm(c, id, "alpha");
  ASSERT_TRUE(has_status(alice().del("/files/" + id), 204));
  EXPECT_TRUE(is_problem(c.get("/files/" + id), 404, "file_not_found"));
}

TEST_F(DownloadCache, ReplacedContentIsServedAtOnce) {
  const std::string id = upload("a.txt", "alpha");
  auto c = alice();
  warm(c, id, "alpha");
  ASSERT_EQ(c.get("/files/" + id).header("ETag"), etag_for(1));
  ASSERT_TRUE(has_status(alice().put_raw(id, "beta, longer", etag_for(1)), 200));
  const response r = c.get("/files/" + id);
  EXPECT_EQ(r.body, "beta, longer");
  EXPECT_EQ(r.header("ETag"), etag_for(2));
  EXPECT_EQ(r.header("Content-Length"), "12");
  // And conditionals see the new version too.
  EXPECT_TRUE(has_status(c.get("/files/" + id, {{"If-None-Match", etag_for(1)}}), 200));
  EXPECT_TRUE(has_status(c.get("/files/" + id, {{"If-None-Match", etag_for(2)}}), 304));
}

TEST_F(DownloadCache, RenameShowsAtOnce) {
  const std::string id = upload("a.txt", "alpha");
  auto c = alice();
  warm(c, id, "alpha");
  ASSERT_TRUE(has_status(alice().put_raw(id, "alpha", etag_for(1), "name=b.txt"), 200));
  EXPECT_NE(c.get("/files/" + id).header("Content-Disposition").find("b.txt"), std::string::npos);
}

TEST_F(DownloadCache, ShareAndUnshareTakeEffectAtOnce) {
  const std::string id = upload("a.txt", "alpha");
  auto bob = make_user("bob");
  EXPECT_TRUE(is_problem(bob.get("/files/" + id), 404, "file_not_found"));
  ASSERT_TRUE(has_status(alice().share(id, "bob"), 201));
  warm(bob, id, "alpha");
  ASSERT_TRUE(has_status(alice().del("/shares/" + id + "/bob"), 204));
  EXPECT_TRUE(is_problem(bob.get("/files/" + id), 404, "file_not_found"));
  // The owner's own view is unaffected.
  EXPECT_EQ(alice().get("/files/" + id).body, "alpha");
}

TEST_F(DownloadCache, EachCallerSeesOnlyTheirOwnFiles) {
  const std::string id = upload("a.txt", "alpha");
  auto c = alice();
  warm(c, id, "alpha");
  auto bob = make_user("bob");
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(is_problem(bob.get("/files/" + id), 404, "file_not_found"));
  EXPECT_TRUE(is_problem(anonymous().get("/files/" + id), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(client("sbx_not-a-key").get("/files/" + id), 401, "unauthenticated"));
}

}  // namespace
}  // namespace sharebox::test
