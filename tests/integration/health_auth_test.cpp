// Health, authentication, routing errors, request ids, user CLI, --trust-user-header.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;

const std::regex key_format("sbx_[A-Za-z0-9_-]+");

using HealthAuth = server_test;

TEST_F(HealthAuth, HealthNeedsNoAuth) {
  const response r = request(port(), "GET", "/health");
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(to_lower(r.header("Content-Type")).rfind("application/json", 0), 0u) << r.describe();
  const json j = json_body(r);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j.value("status", ""), "ok") << r.body;
}

TEST_F(HealthAuth, KeysHaveDocumentedFormat) {
  EXPECT_TRUE(std::regex_match(server().admin_key(), key_format)) << server().admin_key();
  const std::string key = server().add_user("alice");
  EXPECT_TRUE(std::regex_match(key, key_format)) << "user add printed: '" << key << "'";
  EXPECT_NE(key, server().admin_key());
}

TEST_F(HealthAuth, MissingKeyIs401) {
  api_client anon = anonymous();
  EXPECT_TRUE(is_problem(anon.list(), 401));
  EXPECT_TRUE(is_problem(anon.upload_raw("a.txt", "x"), 401));
}

TEST_F(HealthAuth, WrongKeyIs401) {
  EXPECT_TRUE(is_problem(client("sbx_definitelyNotAValidKey").list(), 401));
  EXPECT_TRUE(is_problem(client("sbx_definitelyNotAValidKey", auth_style::api_key).list(), 401));
  api_client anon = anonymous();
  EXPECT_TRUE(is_problem(anon.get("/files", {{"Authorization", "Basic YWxpY2U6c2VjcmV0"}}), 401));
  EXPECT_TRUE(is_problem(anon.get("/files", {{"Authorization", "Bearer"}}), 401));
  // A valid key with a different scheme is not a bearer token.
  EXPECT_TRUE(
      is_problem(anon.get("/files", {{"Authorization", "Token " + server().admin_key()}}), 401));
}

TEST_F(HealthAuth, BearerAndApiKeyHeaderBothAuthenticate) {
  const std::string key = add_user("alice");
  EXPECT_TRUE(has_status(client(key, auth_style::bearer).list(), 200));
  EXPECT_TRUE(has_status(client(key, auth_style::api_key).list(), 200));
  EXPECT_TRUE(has_status(admin().list(), 200));
}

TEST_F(HealthAuth, UnknownRouteIs404RouteNotFound) {
  api_client alice = make_user("alice");
  EXPECT_TRUE(is_problem(alice.get("/nope"), 404, "route_not_found"));
  EXPECT_TRUE(is_problem(alice.get("/files/abc/def/ghi"), 404, "route_not_found"));
  EXPECT_TRUE(is_problem(alice.get("/sharesX"), 404, "route_not_found"));
}

TEST_F(HealthAuth, WrongMethodIs405WithAllow) {
  api_client alice = make_user("alice");
  const std::string id = created_id(alice.upload_raw("a.txt", "hello"));

  struct row {
    std::string method;
    std::string target;
    std::vector<std::string> allowed;
  };
  const std::vector<row> rows = {
      {"PATCH", "/files", {"GET", "POST"}},
      {"DELETE", "/health", {"GET"}},
      {"POST", "/health", {"GET"}},
      {"PATCH", "/files/" + id, {"GET", "PUT", "DELETE"}},
      {"POST", "/files/" + id, {"GET", "PUT", "DELETE"}},
      {"PUT", "/shares/" + id, {"GET", "POST"}},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.method + " " + r.target);
    const response resp = alice.send(r.method, r.target);
    EXPECT_TRUE(is_problem(resp, 405, "method_not_allowed"));
    ASSERT_TRUE(resp.has_header("Allow")) << resp.describe();
    const std::string allow = resp.header("Allow");
    for (const auto& m : r.allowed) {
      EXPECT_TRUE(std::regex_search(allow, std::regex("(^|[ ,])" + m + "($|[ ,])")))
          << "Allow: " << allow << " lacks " << m;
    }
    EXPECT_FALSE(std::regex_search(allow, std::regex("(^|[ ,])" + r.method + "($|[ ,])")))
        << "Allow: " << allow << " lists the rejected method";
  }
}

TEST_F(HealthAuth, RequestIdIsEchoedOrGenerated) {
  api_client alice = make_user("alice");
  const response echoed = alice.get("/files", {{"X-Request-Id", "abc"}});
  EXPECT_TRUE(has_status(echoed, 200));
  EXPECT_EQ(echoed.header("X-Request-Id"), "abc");

  // Also on errors and unauthenticated requests.
  EXPECT_EQ(alice.get("/nope", {{"X-Request-Id", "req-404"}}).header("X-Request-Id"), "req-404");
  EXPECT_EQ(anonymous().get("/files", {{"X-Request-Id", "req-401"}}).header("X-Request-Id"),
            "req-401");

  const response a = alice.list();
  const response b = alice.list();
  ASSERT_FALSE(a.header("X-Request-Id").empty()) << a.describe();
  ASSERT_FALSE(b.header("X-Request-Id").empty()) << b.describe();
  EXPECT_NE(a.header("X-Request-Id"), b.header("X-Request-Id"));
  EXPECT_FALSE(request(port(), "GET", "/health").header("X-Request-Id").empty());
}

TEST_F(HealthAuth, KeepAliveConnectionServesManyRequests) {
  connection conn(port());
  for (int i = 0; i < 20; ++i) {
    const response r = conn.request("GET", "/health");
    ASSERT_TRUE(has_status(r, 200));
    ASSERT_TRUE(conn.is_open());
  }
}

TEST_F(HealthAuth, UserHeaderIgnoredWithoutTrustFlag) {
  add_user("alice");
  EXPECT_TRUE(is_problem(client("alice", auth_style::user_header).list(), 401));
}

TEST_F(HealthAuth, UserAddValidatesNames) {
  const std::string dir = server().data_dir().string();
  for (const std::string& bad : std::vector<std::string>{"", "Alice", "has space", "semi;colon",
                                                         "slash/name", std::string(65, 'a')}) {
    SCOPED_TRACE("name '" + bad + "'");
    const cli_result r = server().run_cli({"user", "add", bad, "--data-dir", dir});
    EXPECT_TRUE(r.exit.exited && r.exit.code != 0) << r.exit.describe() << "\n" << r.out;
  }
  for (const std::string& good :
       std::vector<std::string>{"a", "bob.smith_2-x", std::string(64, 'z')}) {
    SCOPED_TRACE("name '" + good + "'");
    const std::string key = server().add_user(good);
    EXPECT_TRUE(std::regex_match(key, key_format)) << key;
    EXPECT_TRUE(has_status(client(key).list(), 200));
  }
}

class TrustUserHeader : public server_test {
 protected:
  std::vector<std::string> server_args() const override { return {"--trust-user-header"}; }
};

TEST_F(TrustUserHeader, UserHeaderAuthenticatesAndAutoCreatesUsers) {
  api_client alice = client("alice", auth_style::user_header);
  const response up = alice.upload_raw("a.txt", "from alice");
  ASSERT_TRUE(has_status(up, 201));
  const json file = json_body(up);
  EXPECT_EQ(file.value("owner", ""), "alice");

  // carol has never been seen: sharing auto-creates her.
  const std::string id = file["id"].get<std::string>();
  const response share = alice.share(id, "carol");
  ASSERT_TRUE(has_status(share, 201));
  EXPECT_EQ(json_body(share).value("user_id", ""), "carol");

  api_client carol = client("carol", auth_style::user_header);
  const response got = carol.get("/files/" + id);
  ASSERT_TRUE(has_status(got, 200));
  EXPECT_EQ(got.body, "from alice");

  // Keys keep working alongside the header.
  EXPECT_TRUE(has_status(admin().list(), 200));
  // Without any credentials it is still 401.
  EXPECT_TRUE(is_problem(anonymous().list(), 401));
}

}  // namespace
}  // namespace sharebox::test
