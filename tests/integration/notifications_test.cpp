// The notifications inbox: rows for shares, updates of shared files and revocations, and the
// routes to read them, each scoped to its user (another user's notification is a 404).
#include <gtest/gtest.h>

#include "support/api_client.hpp"
#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;

class Notifications : public server_test {
 protected:
  void SetUp() override {
    server_test::SetUp();
    alice_ = std::make_unique<api_client>(make_user("alice"));
    bob_ = std::make_unique<api_client>(make_user("bob"));
    carol_ = std::make_unique<api_client>(make_user("carol"));
  }
  api_client& alice() { return *alice_; }
  api_client& bob() { return *bob_; }
  api_client& carol() { return *carol_; }

  static json inbox(api_client& c, std::string_view query = {}) {
    const auto r =
        c.get("/notifications" + std::string(query.empty() ? "" : "?") + std::string(query));
    EXPECT_TRUE(has_status(r, 200));
    return json_body(r);
  }
  static long unread(api_client& c) {
    return json_body(c.get("/notifications/unread-count"))["unread"].get<long>();
  }

  std::unique_ptr<api_client> alice_, bob_, carol_;
};

TEST_F(Notifications, SharesUpdatesAndRevocationsNotifyTheRightUsers) {
  const std::string id = created_id(alice().upload("report.pdf", "v1"));
  ASSERT_TRUE(has_status(alice().share(id, "bob", "write"), 201));
  ASSERT_TRUE(has_status(alice().share(id, "carol", "read"), 201));
  ASSERT_TRUE(has_status(alice().share(id, "carol", "read"), 200));  // unchanged: no new row

  auto b = inbox(bob());
  ASSERT_EQ(b.size(), 1u) << b.dump();
  EXPECT_EQ(b[0]["type"], "file.shared");
  EXPECT_EQ(b[0]["file_id"], id);
  EXPECT_EQ(b[0]["file_name"], "report.pdf");
  EXPECT_EQ(b[0]["actor"], "alice");
  EXPECT_EQ(b[0]["read"], false);
  EXPECT_NE(b[0]["title"].get<std::string>().find("alice shared \"report.pdf\""),
            std::string::npos);
  EXPECT_EQ(inbox(carol()).size(), 1u);

  // bob (write share) updates it: carol hears of it, bob (the actor) does not.
  ASSERT_TRUE(has_status(bob().put_raw(id, "v2", etag_for(1)), 200));
  EXPECT_EQ(inbox(bob()).size(), 1u);
  auto c = inbox(carol());
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0]["type"], "file.updated");  // newest first
  EXPECT_EQ(c[0]["actor"], "bob");

  ASSERT_TRUE(has_status(alice().del("/shares/" + id + "/carol"), 204));
  c = inbox(carol());
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0]["type"], "file.unshared");
  EXPECT_TRUE(inbox(alice()).empty()) << "the owner's own actions do not notify the owner";
}

TEST_F(Notifications, ReadUnreadCountLimitAndDelete) {
  for (int i = 0; i < 3; ++i) {
    const std::string id = created_id(alice().upload_raw("f" + std::to_string(i), "x"));
    ASSERT_TRUE(has_status(alice().share(id, "bob"), 201));
  }
  EXPECT_EQ(unread(bob()), 3);
  auto all = inbox(bob());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]["file_name"], "f2");
  EXPECT_EQ(inbox(bob(), "limit=1").size(), 1u);

  const std::string first = all[0]["id"];
  auto r = bob().send("PATCH", "/notifications/" + first + "/read");
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(json_body(r)["read"], true);
  EXPECT_TRUE(json_body(r)["read_at"].is_string());
  EXPECT_TRUE(has_status(bob().send("PATCH", "/notifications/" + first + "/read"), 200));
  EXPECT_EQ(unread(bob()), 2);
  EXPECT_EQ(inbox(bob(), "unread_only=true").size(), 2u);
  EXPECT_EQ(inbox(bob(), "unread_only=false").size(), 3u);

  r = bob().send("PATCH", "/notifications/read-all");
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(json_body(r)["updated"], 2);
  EXPECT_EQ(unread(bob()), 0);
  EXPECT_TRUE(inbox(bob(), "unread_only=true").empty());

  EXPECT_TRUE(has_status(bob().del("/notifications/" + first), 204));
  EXPECT_TRUE(is_problem(bob().del("/notifications/" + first), 404, "notification_not_found"));
  EXPECT_EQ(inbox(bob()).size(), 2u);
}

TEST_F(Notifications, AnotherUsersNotificationIsNotFound) {
  const std::string id = created_id(alice().upload_raw("secret", "x"));
  ASSERT_TRUE(has_status(alice().share(id, "bob"), 201));
  const std::string nid = inbox(bob())[0]["id"];

  EXPECT_TRUE(is_problem(carol().send("PATCH", "/notifications/" + nid + "/read"), 404,
                         "notification_not_found"));
  EXPECT_TRUE(is_problem(carol().del("/notifications/" + nid), 404, "notification_not_found"));
  EXPECT_TRUE(is_problem(bob().del("/notifications/no-such-id"), 404, "notification_not_found"));
  EXPECT_TRUE(inbox(carol()).empty());
  EXPECT_EQ(json_body(carol().send("PATCH", "/notifications/read-all"))["updated"], 0);
  const auto b = inbox(bob());
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0]["read"], false) << "carol's read-all must not touch bob's inbox";
}

TEST_F(Notifications, BadParametersAndNoKey) {
  EXPECT_TRUE(is_problem(bob().get("/notifications?unread_only=maybe"), 400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(bob().get("/notifications?limit=0"), 400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(anonymous().get("/notifications"), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(anonymous().get("/notifications/unread-count"), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(bob().send("POST", "/notifications/read-all"), 405, "method_not_allowed"));
}

}  // namespace
}  // namespace sharebox::test
