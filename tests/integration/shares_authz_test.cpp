// Sharing API. (Every route against every kind of caller: authorization_matrix_test.cpp.)
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;

class Shares : public server_test {
 protected:
  void SetUp() override {
    server_test::SetUp();
    alice_.emplace(make_user("alice"));
    bob_.emplace(make_user("bob"));
    carol_.emplace(make_user("carol"));
    dave_.emplace(make_user("dave"));
  }
  api_client& alice() { return *alice_; }
  api_client& bob() { return *bob_; }
  api_client& carol() { return *carol_; }
  api_client& dave() { return *dave_; }

  // A file of alice's shared read with bob and write with carol.
  std::string shared_file(const std::string& content = "shared content") {
    const std::string id = created_id(alice().upload_raw("shared.txt", content, "text/plain"));
    EXPECT_TRUE(has_status(alice().share(id, "bob", "read"), 201));
    EXPECT_TRUE(has_status(alice().share(id, "carol", "write"), 201));
    return id;
  }

  std::optional<api_client> alice_, bob_, carol_, dave_;
};

TEST_F(Shares, CreateShareReturns201ThenIdempotent200) {
  const std::string id = created_id(alice().upload_raw("a.txt", "a"));
  const response created = alice().share(id, "bob", "read");
  ASSERT_TRUE(has_status(created, 201));
  const json s = json_body(created);
  ASSERT_TRUE(is_share_object(s));
  EXPECT_EQ(s["file_id"], id);
  EXPECT_EQ(s["user_id"], "bob");
  EXPECT_EQ(s["permission"], "read");
  EXPECT_EQ(s["granted_by"], "alice");

  const response again = alice().share(id, "bob", "read");
  ASSERT_TRUE(has_status(again, 200));
  EXPECT_EQ(json_body(again)["permission"], "read");

  const response upgraded = alice().share(id, "bob", "write");
  ASSERT_TRUE(has_status(upgraded, 200));
  EXPECT_TRUE(is_share_object(json_body(upgraded)));
  EXPECT_EQ(json_body(upgraded)["permission"], "write");

  const response listed = alice().get("/shares/" + id);
  ASSERT_TRUE(has_status(listed, 200));
  const json shares = json_body(listed);
  ASSERT_TRUE(shares.is_array());
  ASSERT_EQ(shares.size(), 1u) << shares.dump();
  EXPECT_EQ(shares[0]["permission"], "write");
}

TEST_F(Shares, PermissionDefaultsToRead) {
  const std::string id = created_id(alice().upload_raw("a.txt", "a"));
  const response r = alice().share(id, "bob");
  ASSERT_TRUE(has_status(r, 201));
  EXPECT_EQ(json_body(r)["permission"], "read");
  EXPECT_TRUE(is_problem(bob().put_raw(id, "x", "\"1\""), 403, "read_only_share"));
}

TEST_F(Shares, ShareErrors) {
  const std::string id = created_id(alice().upload_raw("a.txt", "a"));
  EXPECT_TRUE(is_problem(alice().share(id, "nobody"), 404, "user_not_found"));
  EXPECT_TRUE(is_problem(alice().share(id, "alice"), 422, "share_with_self"));
  EXPECT_TRUE(is_problem(alice().post_json("/shares/" + id, "{not json"), 400, "invalid_json"));
  EXPECT_TRUE(is_problem(alice().post_json("/shares/" + id, ""), 400, "invalid_json"));
  EXPECT_TRUE(is_problem(alice().share(id, "bob", "admin"), 400, "invalid_permission"));
  EXPECT_TRUE(is_problem(alice().share(id, "bob", "READ"), 400, "invalid_permission"));
  EXPECT_EQ(json_body(alice().get("/shares/" + id)), json::array()) << "an error created a share";
}

TEST_F(Shares, SharedFilesAppearInListingWithPermission) {
  const std::string id = shared_file();
  const std::string bobs_own = created_id(bob().upload_raw("mine.txt", "b"));

  const json bob_list = json_body(bob().list());
  ASSERT_EQ(bob_list.size(), 2u) << bob_list.dump();
  EXPECT_EQ(bob_list[0]["id"], bobs_own) << "newest first";
  const json& shared = bob_list[1];
  EXPECT_TRUE(is_file_object(shared));
  EXPECT_EQ(shared["id"], id);
  EXPECT_EQ(shared["owner"], "alice");
  EXPECT_EQ(shared["permission"], "read");
  EXPECT_EQ(shared["shared_by"], "alice");

  const json carol_list = json_body(carol().list());
  ASSERT_EQ(carol_list.size(), 1u);
  EXPECT_EQ(carol_list[0]["permission"], "write");
  EXPECT_EQ(carol_list[0]["shared_by"], "alice");

  EXPECT_EQ(json_body(dave().list()), json::array());
}

TEST_F(Shares, WriteShareCanUpdateReadShareCannot) {
  const std::string id = shared_file("v1");
  EXPECT_TRUE(is_problem(bob().put_raw(id, "by bob", "\"1\""), 403, "read_only_share"));
  const response r = carol().put_raw(id, "by carol", "\"1\"");
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(json_body(r)["version"], 2);
  EXPECT_EQ(json_body(r)["owner"], "alice") << "updating must not transfer ownership";
  EXPECT_EQ(alice().get("/files/" + id).body, "by carol");
  EXPECT_EQ(bob().get("/files/" + id).body, "by carol");
}

TEST_F(Shares, OnlyOwnerDeletesOrManagesShares) {
  const std::string id = shared_file();
  EXPECT_TRUE(is_problem(bob().del("/files/" + id), 403, "not_owner"));
  EXPECT_TRUE(is_problem(carol().del("/files/" + id), 403, "not_owner"));
  EXPECT_TRUE(is_problem(carol().share(id, "dave", "read"), 403, "not_owner"));
  EXPECT_TRUE(is_problem(bob().get("/shares/" + id), 403, "not_owner"));
  EXPECT_TRUE(is_problem(carol().del("/shares/" + id + "/bob"), 403, "not_owner"));
  EXPECT_TRUE(is_problem(dave().get("/files/" + id), 404, "file_not_found"))
      << "a sharee must not be able to share onwards";
  EXPECT_TRUE(has_status(alice().get("/files/" + id), 200));
}

TEST_F(Shares, ListSharesShowsAllGrants) {
  const std::string id = shared_file();
  const response r = alice().get("/shares/" + id);
  ASSERT_TRUE(has_status(r, 200));
  const json shares = json_body(r);
  ASSERT_TRUE(shares.is_array());
  ASSERT_EQ(shares.size(), 2u) << shares.dump();
  std::map<std::string, std::string> by_user;
  for (const auto& s : shares) {
    EXPECT_TRUE(is_share_object(s));
    EXPECT_EQ(s["file_id"], id);
    EXPECT_EQ(s["granted_by"], "alice");
    by_user[s.value("user_id", "")] = s.value("permission", "");
  }
  EXPECT_EQ(by_user, (std::map<std::string, std::string>{{"bob", "read"}, {"carol", "write"}}));
}

TEST_F(Shares, RevokeRemovesAccess) {
  const std::string id = shared_file();
  ASSERT_TRUE(has_status(bob().get("/files/" + id), 200));
  const response r = alice().del("/shares/" + id + "/bob");
  ASSERT_TRUE(has_status(r, 204));
  EXPECT_EQ(r.body, "");
  EXPECT_TRUE(is_problem(alice().del("/shares/" + id + "/bob"), 404, "share_not_found"));
  EXPECT_TRUE(is_problem(alice().del("/shares/" + id + "/dave"), 404, "share_not_found"));
  EXPECT_TRUE(is_problem(bob().get("/files/" + id), 404, "file_not_found"));
  EXPECT_TRUE(is_problem(bob().get("/files/" + id + "/meta"), 404, "file_not_found"));
  EXPECT_EQ(json_body(bob().list()), json::array());
  // carol keeps her share.
  EXPECT_TRUE(has_status(carol().get("/files/" + id), 200));
  const json shares = json_body(alice().get("/shares/" + id));
  ASSERT_EQ(shares.size(), 1u);
  EXPECT_EQ(shares[0]["user_id"], "carol");
}

TEST_F(Shares, DeletingFileRevokesShares) {
  const std::string id = shared_file();
  ASSERT_TRUE(has_status(alice().del("/files/" + id), 204));
  EXPECT_TRUE(is_problem(bob().get("/files/" + id), 404, "file_not_found"));
  EXPECT_TRUE(is_problem(carol().get("/files/" + id), 404, "file_not_found"));
  EXPECT_EQ(json_body(carol().list()), json::array());
  EXPECT_TRUE(is_problem(alice().get("/shares/" + id), 404, "file_not_found"));
}

// A file the caller cannot see answers exactly like a file that does not exist.
TEST_F(Shares, InvisibleFileIs404OnEveryRoute) {
  const std::string id = shared_file();
  const std::string missing = "does-not-exist-000";

  struct call {
    std::string what;
    std::function<response(api_client&, const std::string&)> run;
  };
  const std::vector<call> calls = {
      {"GET", [](api_client& c, const std::string& f) { return c.get("/files/" + f); }},
      {"HEAD", [](api_client& c, const std::string& f) { return c.head("/files/" + f); }},
      {"GET meta",
       [](api_client& c, const std::string& f) { return c.get("/files/" + f + "/meta"); }},
      {"PUT", [](api_client& c, const std::string& f) { return c.put_raw(f, "x", "\"1\""); }},
      {"PUT without If-Match",
       [](api_client& c, const std::string& f) { return c.put_raw(f, "x", std::nullopt); }},
      {"DELETE", [](api_client& c, const std::string& f) { return c.del("/files/" + f); }},
      {"GET shares", [](api_client& c, const std::string& f) { return c.get("/shares/" + f); }},
      {"POST share", [](api_client& c, const std::string& f) { return c.share(f, "bob"); }},
      {"DELETE share",
       [](api_client& c, const std::string& f) { return c.del("/shares/" + f + "/bob"); }},
  };
  for (const auto& c : calls) {
    SCOPED_TRACE(c.what);
    const response existing = c.run(dave(), id);
    const response nonexistent = c.run(dave(), missing);
    if (c.what == "HEAD") {
      EXPECT_TRUE(has_status(existing, 404));
      EXPECT_TRUE(has_status(nonexistent, 404));
      EXPECT_EQ(existing.body, "");
      continue;
    }
    EXPECT_TRUE(is_problem(existing, 404, "file_not_found"));
    EXPECT_TRUE(is_problem(nonexistent, 404, "file_not_found"));
    // Same answer apart from per-request details.
    json a = json_body(existing);
    json b = json_body(nonexistent);
    for (auto* j : {&a, &b}) {
      j->erase("detail");
      j->erase("instance");
      j->erase("request_id");
    }
    EXPECT_EQ(a, b);
  }
  // Nothing changed.
  EXPECT_EQ(alice().get("/files/" + id).body, "shared content");
  EXPECT_EQ(json_body(alice().get("/shares/" + id)).size(), 2u);
}

}  // namespace
}  // namespace sharebox::test
