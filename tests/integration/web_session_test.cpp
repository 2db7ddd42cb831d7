// The browser app's side of the API: the embedded static files, sign-in sessions (an HttpOnly
// cookie for an API key), CSRF protection of cookie requests, and the file list's extra fields.
#include <gtest/gtest.h>

#include "support/api_client.hpp"
#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;

class WebSession : public alice_test {
 protected:
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port()); }

  // Signs in with the key; returns the cookie ("sharebox_session=...").
  std::string sign_in(const std::string& key) {
    auto r = anonymous().send("POST", "/auth/session",
                              {{"Content-Type", "application/json"}, {"Origin", origin()}},
                              json{{"api_key", key}}.dump());
    EXPECT_TRUE(has_status(r, 201));
    const std::string set = r.header("Set-Cookie");
    return set.substr(0, set.find(';'));
  }
  // A client that sends only the cookie (and Origin when given), like the browser does.
  response as_browser(const std::string& cookie, std::string_view method, std::string_view target,
                      std::optional<std::string> origin_header = std::nullopt,
                      std::string_view body = {}, header_list extra = {}) {
    extra.emplace_back("Cookie", cookie);
    if (origin_header) extra.emplace_back("Origin", *origin_header);
    return anonymous().send(method, target, extra, body);
  }
};

TEST_F(WebSession, AppIsServedWithAStrictPolicy) {
  const auto index = anonymous().get("/");
  ASSERT_TRUE(has_status(index, 200));
  EXPECT_EQ(index.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("/app/app.js"), std::string::npos);
  EXPECT_NE(index.header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(index.header("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(index.header("Content-Security-Policy").find("frame-ancestors 'none'"),
            std::string::npos);

  const auto js = anonymous().get("/app/app.js");
  ASSERT_TRUE(has_status(js, 200));
  EXPECT_EQ(js.header("Content-Type"), "text/javascript; charset=utf-8");
  const auto etag = js.header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_TRUE(has_status(anonymous().get("/app/app.js", {{"If-None-Match", etag}}), 304));

  EXPECT_TRUE(is_problem(anonymous().get("/app/missing.js"), 404, "route_not_found"));
  EXPECT_TRUE(is_problem(anonymous().get("/app/..%2f..%2fetc%2fpasswd"), 404));
}

TEST_F(WebSession, SignInSetsAnHttpOnlyStrictCookieThatAuthenticates) {
  auto r = anonymous().send("POST", "/auth/session",
                            {{"Content-Type", "application/json"}, {"Origin", origin()}},
                            json{{"api_key", key_}}.dump());
  ASSERT_TRUE(has_status(r, 201));
  EXPECT_EQ(json_body(r)["user_id"], "alice");
  const std::string set = r.header("Set-Cookie");
  EXPECT_EQ(set.rfind("sharebox_session=sbs_", 0), 0u) << set;
  EXPECT_NE(set.find("; HttpOnly"), std::string::npos) << set;
  EXPECT_NE(set.find("; SameSite=Strict"), std::string::npos) << set;
  EXPECT_NE(set.find("; Path=/"), std::string::npos) << set;
  // Over plain HTTP a Secure cookie would never come back.
  EXPECT_EQ(set.find("Secure"), std::string::npos) << set;
  EXPECT_EQ(set.find(key_), std::string::npos) << "the key itself must not be in the cookie";
  const std::string cookie = set.substr(0, set.find(';'));

  const auto me = as_browser(cookie, "GET", "/auth/session");
  ASSERT_TRUE(has_status(me, 200));
  EXPECT_EQ(json_body(me)["user_id"], "alice");
  EXPECT_TRUE(has_status(as_browser(cookie, "GET", "/files"), 200));
  const auto up = as_browser(cookie, "POST", "/files?name=a.txt", origin(), "hello",
                             {{"Content-Type", "text/plain"}});
  ASSERT_TRUE(has_status(up, 201));
  EXPECT_EQ(json_body(up)["owner"], "alice");
}

TEST_F(WebSession, BadKeysAndMissingSessionsAre401) {
  auto r = anonymous().send("POST", "/auth/session", {{"Content-Type", "application/json"}},
                            R"({"api_key":"sbx_wrong"})");
  EXPECT_TRUE(is_problem(r, 401, "unauthenticated"));
  EXPECT_FALSE(r.has_header("Set-Cookie"));
  EXPECT_TRUE(is_problem(
      anonymous().send("POST", "/auth/session", {{"Content-Type", "application/json"}}, "{}"), 400,
      "invalid_parameter"));
  EXPECT_TRUE(is_problem(anonymous().get("/auth/session"), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(as_browser("sharebox_session=sbs_forged", "GET", "/files"), 401,
                         "unauthenticated"));
}

TEST_F(WebSession, CookieChangesNeedOurOwnOrigin) {
  const auto cookie = sign_in(key_);
  // No Origin, or another site's: refused before anything happens.
  EXPECT_TRUE(is_problem(as_browser(cookie, "POST", "/files?name=a.txt", std::nullopt, "x"), 403,
                         "csrf_rejected"));
  EXPECT_TRUE(
      is_problem(as_browser(cookie, "POST", "/files?name=a.txt", "http://evil.example", "x"), 403,
                 "csrf_rejected"));
  EXPECT_TRUE(json_body(alice().list()).empty()) << "nothing was stored";
  // Reads need no Origin (links, <img>), and API keys are not subject to the check.
  EXPECT_TRUE(has_status(as_browser(cookie, "GET", "/files"), 200));
  EXPECT_TRUE(has_status(
      alice().send("POST", "/files?name=k.txt", {{"Origin", "http://evil.example"}}, "x"), 201));
  // Signing in from another site's page is refused too (login CSRF).
  EXPECT_TRUE(is_problem(
      anonymous().send("POST", "/auth/session",
                       {{"Content-Type", "application/json"}, {"Origin", "http://evil.example"}},
                       json{{"api_key", key_}}.dump()),
      403, "origin_not_allowed"));
}

TEST_F(WebSession, SignOutEndsTheSession) {
  const auto cookie = sign_in(key_);
  EXPECT_TRUE(is_problem(as_browser(cookie, "DELETE", "/auth/session"), 403, "csrf_rejected"));
  const auto out = as_browser(cookie, "DELETE", "/auth/session", origin());
  ASSERT_TRUE(has_status(out, 204));
  EXPECT_NE(out.header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_TRUE(is_problem(as_browser(cookie, "GET", "/files"), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(as_browser(cookie, "GET", "/auth/session"), 401));
}

TEST_F(WebSession, RevokingTheKeyEndsItsSessions) {
  const auto cookie = sign_in(key_);
  ASSERT_TRUE(has_status(as_browser(cookie, "GET", "/files"), 200));
  const auto revoked = run_program(
      {sharebox_binary(), "key", "revoke", key_, "--data-dir", server().data_dir().string()},
      std::chrono::seconds(20));
  ASSERT_TRUE(revoked.exit.clean()) << revoked.err;
  EXPECT_TRUE(is_problem(as_browser(cookie, "GET", "/files"), 401, "unauthenticated"));
}

TEST_F(WebSession, SessionSurvivesARestart) {
  const auto cookie = sign_in(key_);
  server().restart();
  EXPECT_TRUE(has_status(as_browser(cookie, "GET", "/files"), 200));
}

TEST_F(WebSession, CookieOpensTheEventStreamsFromOurOrigin) {
  const auto cookie = sign_in(key_);
  const header_list upgrade{{"Connection", "Upgrade"},
                            {"Upgrade", "websocket"},
                            {"Sec-WebSocket-Version", "13"},
                            {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  auto h = upgrade;
  h.emplace_back("Origin", "http://evil.example");
  EXPECT_TRUE(is_problem(as_browser(cookie, "GET", "/ws/events", std::nullopt, {}, h), 403,
                         "origin_not_allowed"));
}

TEST_F(WebSession, ListShowsOwnersWhomTheirFilesAreSharedWith) {
  auto bob = make_user("bob");
  make_user("carol");
  const std::string id = created_id(alice().upload_raw("a.txt", "x"));
  ASSERT_TRUE(has_status(alice().share(id, "bob", "read"), 201));
  ASSERT_TRUE(has_status(alice().share(id, "carol", "write"), 201));
  const auto mine = json_body(alice().list());
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0]["shared_with"],
            (json::array({{{"user_id", "bob"}, {"permission", "read"}},
                          {{"user_id", "carol"}, {"permission", "write"}}})));
  const auto theirs = json_body(bob.list());
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_FALSE(theirs[0].contains("shared_with")) << "only the owner sees whom it is shared with";
  EXPECT_EQ(theirs[0]["permission"], "read");
}

}  // namespace
}  // namespace sharebox::test
