// The admin API (/admin/users...): who may call it, what it answers, and that what it changes
// takes effect on the very next request: a revoked key (even one the download cache knew), a
// disabled user's keys, sessions, tickets and open live streams.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "support/api_client.hpp"
#include "support/fixture.hpp"
#include "support/ws_client.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const header_list json_type = {{"Content-Type", "application/json"}};

::testing::AssertionResult is_timestamp(const json& j) {
  static const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  if (j.is_string() && std::regex_match(j.get<std::string>(), rfc3339)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "not an RFC 3339 UTC time: " << j.dump();
}

::testing::AssertionResult is_user(const json& j, std::string_view id, bool admin, bool disabled) {
  if (!j.is_object() || j.value("id", "") != id || j.value("admin", !admin) != admin ||
      j.value("disabled", !disabled) != disabled || !j.contains("created_at")) {
    return ::testing::AssertionFailure() << "not user " << id << ": " << j.dump();
  }
  return is_timestamp(j["created_at"]);
}

// KEY: {id, label, created_at, revoked_at}; with the secret only when `with_secret`.
::testing::AssertionResult is_key(const json& j, bool with_secret) {
  if (!j.is_object() || !j["id"].is_string() || !j["label"].is_string() ||
      !j.contains("revoked_at")) {
    return ::testing::AssertionFailure() << "not a key: " << j.dump();
  }
  if (j.contains("key") != with_secret) {
    return ::testing::AssertionFailure()
           << "secret " << (with_secret ? "missing" : "shown") << ": " << j.dump();
  }
  if (with_secret && j["key"].get<std::string>().rfind("sbx_", 0) != 0) {
    return ::testing::AssertionFailure() << "not a key secret: " << j.dump();
  }
  return is_timestamp(j["created_at"]);
}

class Admin : public server_test {
 protected:
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port()); }

  response send_json(api_client& c, std::string_view method, std::string_view target,
                     const json& body) {
    return c.send(method, target, json_type, body.dump());
  }
  // POST /admin/users as the admin; returns the new user's key.
  std::string create(const std::string& name, bool admin_role = false) {
    auto a = admin();
    const auto r = send_json(a, "POST", "/admin/users", {{"name", name}, {"admin", admin_role}});
    EXPECT_TRUE(has_status(r, 201));
    return json_body(r)["key"]["key"];
  }
  response patch(const std::string& user, const json& body) {
    auto a = admin();
    return send_json(a, "PATCH", "/admin/users/" + user, body);
  }
  std::string sign_in(const std::string& key) {
    auto r = anonymous().send("POST", "/auth/session",
                              {{"Content-Type", "application/json"}, {"Origin", origin()}},
                              json{{"api_key", key}}.dump());
    EXPECT_TRUE(has_status(r, 201));
    const std::string set = r.header("Set-Cookie");
    return set.substr(0, set.find(';'));
  }
  response as_browser(const std::string& cookie, std::string_view method, std::string_view target,
                      std::string_view body = {}) {
    return anonymous().send(
        method, target,
        {{"Cookie", cookie}, {"Origin", origin()}, {"Content-Type", "application/json"}}, body);
  }
  std::string ticket(const std::string& key) {
    const auto r = client(key).send("POST", "/auth/ws-ticket");
    EXPECT_TRUE(has_status(r, 201));
    return json_body(r)["ticket"];
  }
  // Downloads enough times, on one connection and on fresh ones, that the cache knows the key.
  void warm(const std::string& key, const std::string& id) {
    auto c = client(key);
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(has_status(c.get("/files/" + id), 200));
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(has_status(client(key).get("/files/" + id), 200));
  }
  // GET /events?ticket=T, raw: a stream that is wrongly let in must not hang the test.
  ::testing::AssertionResult ticket_refused_as_disabled(const std::string& t) {
    const auto r = raw_exchange(
        port(), "GET /events?ticket=" + t + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        5s);
    const auto parsed = parse_response(r.data);
    if (!parsed) return ::testing::AssertionFailure() << "no response: " << r.data;
    return refused_as_disabled(*parsed);
  }
  ::testing::AssertionResult refused_as_disabled(const response& r) {
    auto p = is_problem(r, 401, "unauthenticated");
    if (!p) return p;
    if (json_body(r).value("detail", "") != "This account is disabled.") {
      return ::testing::AssertionFailure() << "detail: " << r.describe();
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(Admin, CreatesAUserWhoseKeyWorksAtOnce) {
  auto a = admin();
  const auto r = send_json(a, "POST", "/admin/users",
                           {{"name", "alice"}, {"admin", false}, {"key_label", "laptop"}});
  ASSERT_TRUE(has_status(r, 201));
  EXPECT_EQ(r.header("Location"), "/admin/users/alice");
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  const auto body = json_body(r);
  EXPECT_TRUE(is_user(body["user"], "alice", false, false));
  EXPECT_TRUE(is_key(body["key"], true));
  EXPECT_EQ(body["key"]["label"], "laptop");
  EXPECT_TRUE(body["key"]["revoked_at"].is_null());

  auto alice = client(body["key"]["key"]);
  EXPECT_TRUE(has_status(alice.upload_raw("a.txt", "hi"), 201));
  EXPECT_TRUE(has_status(alice.list(), 200));

  // Only the name is required; an admin can be made directly.
  const auto boss = send_json(a, "POST", "/admin/users", {{"name", "boss"}, {"admin", true}});
  ASSERT_TRUE(has_status(boss, 201));
  EXPECT_TRUE(is_user(json_body(boss)["user"], "boss", true, false));
  EXPECT_EQ(json_body(boss)["key"]["label"], "initial");
  EXPECT_TRUE(has_status(client(json_body(boss)["key"]["key"]).get("/admin/users"), 200));
}

TEST_F(Admin, ShowsAUserWithTheirKeysButNeverTheSecrets) {
  const std::string key = create("alice");
  auto a = admin();
  const auto r = a.get("/admin/users/alice");
  ASSERT_TRUE(has_status(r, 200));
  const auto body = json_body(r);
  EXPECT_TRUE(is_user(body, "alice", false, false));
  ASSERT_EQ(body["keys"].size(), 1u);
  EXPECT_TRUE(is_key(body["keys"][0], false));
  EXPECT_EQ(r.body.find(key), std::string::npos);
  EXPECT_TRUE(is_problem(a.get("/admin/users/nobody"), 404, "user_not_found"));
}

TEST_F(Admin, ListsUsersByNameInPages) {
  for (const char* name : {"dave", "alice", "carol", "bob", "erin"})
    create(name);
  auto a = admin();
  const auto all = a.get("/admin/users");
  ASSERT_TRUE(has_status(all, 200));
  std::vector<std::string> names;
  const auto listed = json_body(all);
  for (const auto& u : listed["users"]) {
    EXPECT_TRUE(is_user(u, u["id"].get<std::string>(), u["id"] == "admin", false));
    names.push_back(u["id"]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"admin", "alice", "bob", "carol", "dave", "erin"}));
  EXPECT_FALSE(listed.contains("next"));

  std::vector<std::string> paged;
  std::string target = "/admin/users?limit=4";
  for (int pages = 0; pages < 10; ++pages) {
    const auto r = a.get(target);
    ASSERT_TRUE(has_status(r, 200));
    const auto body = json_body(r);
    EXPECT_LE(body["users"].size(), 4u);
    for (const auto& u : body["users"])
      paged.push_back(u["id"]);
    if (!body.contains("next")) {
      EXPECT_FALSE(r.has_header("Link"));
      break;
    }
    EXPECT_EQ(body["next"], paged.back());
    target = "/admin/users?limit=4&after=" + body["next"].get<std::string>();
    EXPECT_EQ(r.header("Link"), "<" + target + ">; rel=\"next\"");
  }
  EXPECT_EQ(paged, names);

  const auto after_bob = json_body(a.get("/admin/users?after=bob&limit=1"));
  ASSERT_EQ(after_bob["users"].size(), 1u);
  EXPECT_EQ(after_bob["users"][0]["id"], "carol");
  EXPECT_EQ(after_bob["next"], "carol");
  EXPECT_TRUE(is_problem(a.get("/admin/users?limit=0"), 400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(a.get("/admin/users?limit=1001"), 400, "invalid_parameter"));
}

TEST_F(Admin, IssuesAndRevokesKeys) {
  const std::string first = create("alice");
  auto a = admin();
  const auto r = send_json(a, "POST", "/admin/users/alice/keys", {{"label", "ci"}});
  ASSERT_TRUE(has_status(r, 201));
  const auto key = json_body(r);
  EXPECT_TRUE(is_key(key, true));
  EXPECT_EQ(key["label"], "ci");
  EXPECT_EQ(r.header("Location"), "/admin/users/alice/keys/" + key["id"].get<std::string>());
  auto ci = client(key["key"]);
  EXPECT_TRUE(has_status(ci.list(), 200));

  // The body is optional.
  const auto bare = a.send("POST", "/admin/users/alice/keys");
  ASSERT_TRUE(has_status(bare, 201));
  EXPECT_EQ(json_body(bare)["label"], "");

  const std::string target = "/admin/users/alice/keys/" + key["id"].get<std::string>();
  ASSERT_TRUE(has_status(a.del(target), 204));
  EXPECT_TRUE(is_problem(ci.list(), 401, "unauthenticated"));
  EXPECT_TRUE(has_status(client(first).list(), 200)) << "alice's other keys still work";
  EXPECT_TRUE(is_problem(a.del(target), 404, "key_not_found")) << "already revoked";

  const auto shown = json_body(a.get("/admin/users/alice"));
  ASSERT_EQ(shown["keys"].size(), 3u);
  for (const auto& k : shown["keys"]) {
    EXPECT_TRUE(is_key(k, false));
    if (k["id"] == key["id"]) {
      EXPECT_TRUE(is_timestamp(k["revoked_at"]));
    } else {
      EXPECT_TRUE(k["revoked_at"].is_null());
    }
  }
}

TEST_F(Admin, UnknownKeysAndOtherUsersKeysAreNotFound) {
  create("alice");
  create("bob");
  auto a = admin();
  const auto bobs = json_body(a.get("/admin/users/bob"))["keys"][0]["id"].get<std::string>();
  EXPECT_TRUE(is_problem(a.del("/admin/users/alice/keys/" + bobs), 404, "key_not_found"));
  EXPECT_TRUE(is_problem(a.del("/admin/users/alice/keys/made-up"), 404, "key_not_found"));
  EXPECT_TRUE(is_problem(a.del("/admin/users/nobody/keys/" + bobs), 404, "key_not_found"));
  EXPECT_TRUE(is_problem(send_json(a, "POST", "/admin/users/nobody/keys", {{"label", "x"}}), 404,
                         "user_not_found"));
  EXPECT_TRUE(has_status(a.get("/admin/users/bob"), 200));
  EXPECT_TRUE(json_body(a.get("/admin/users/bob"))["keys"][0]["revoked_at"].is_null());
}

TEST_F(Admin, ARevokedKeyIsRefusedAtOnceEvenByTheDownloadCache) {
  const std::string key = create("alice");
  const std::string id = created_id(client(key).upload_raw("a.txt", "alpha"));
  auto c = client(key);
  warm(key, id);
  ASSERT_EQ(c.get("/files/" + id).body, "alpha");
  auto a = admin();
  const auto key_id = json_body(a.get("/admin/users/alice"))["keys"][0]["id"].get<std::string>();
  ASSERT_TRUE(has_status(a.del("/admin/users/alice/keys/" + key_id), 204));
  EXPECT_TRUE(is_problem(c.get("/files/" + id), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(client(key).get("/files/" + id), 401, "unauthenticated"));
}

TEST_F(Admin, RequiresCredentials) {
  auto anon = anonymous();
  EXPECT_TRUE(is_problem(anon.send("POST", "/admin/users", json_type, R"({"name":"x"})"), 401,
                         "unauthenticated"));
  EXPECT_TRUE(is_problem(anon.get("/admin/users"), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(anon.get("/admin/users/admin"), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(anon.send("PATCH", "/admin/users/admin", json_type, "{}"), 401,
                         "unauthenticated"));
  EXPECT_TRUE(is_problem(anon.send("POST", "/admin/users/admin/keys"), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(anon.del("/admin/users/admin/keys/x"), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(client("sbx_made_up").get("/admin/users"), 401, "unauthenticated"));
}

TEST_F(Admin, RefusesUsersWhoAreNotAdministrators) {
  auto alice = client(create("alice"));
  const auto refused = [](const response& r) { return is_problem(r, 403, "admin_required"); };
  EXPECT_TRUE(refused(alice.send("POST", "/admin/users", json_type, R"({"name":"eve"})")));
  EXPECT_TRUE(refused(alice.send("POST", "/admin/users", json_type, "not json")))
      << "refused before the body is looked at";
  EXPECT_TRUE(refused(alice.get("/admin/users")));
  EXPECT_TRUE(refused(alice.get("/admin/users/alice")));
  EXPECT_TRUE(refused(alice.send("PATCH", "/admin/users/alice", json_type, R"({"admin":true})")));
  EXPECT_TRUE(refused(alice.send("POST", "/admin/users/alice/keys")));
  EXPECT_TRUE(refused(alice.del("/admin/users/admin/keys/x")));
  auto a = admin();
  EXPECT_TRUE(is_problem(a.get("/admin/users/eve"), 404, "user_not_found"));
  EXPECT_FALSE(json_body(a.get("/admin/users/alice"))["admin"].get<bool>());
}

TEST_F(Admin, BadRequestBodies) {
  auto a = admin();
  create("alice");
  EXPECT_TRUE(
      is_problem(send_json(a, "POST", "/admin/users", {{"name", "admin"}}), 409, "user_exists"));
  EXPECT_TRUE(is_problem(send_json(a, "POST", "/admin/users", {{"name", "Not Valid"}}), 400,
                         "invalid_user_name"));
  EXPECT_TRUE(
      is_problem(send_json(a, "POST", "/admin/users", {{"name", ""}}), 400, "invalid_user_name"));
  EXPECT_TRUE(
      is_problem(send_json(a, "POST", "/admin/users", json::object()), 400, "invalid_parameter"));
  EXPECT_TRUE(
      is_problem(send_json(a, "POST", "/admin/users", {{"name", 5}}), 400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(send_json(a, "POST", "/admin/users", {{"name", "x"}, {"admin", "yes"}}),
                         400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(
      send_json(a, "POST", "/admin/users", {{"name", "x"}, {"key_label", std::string(201, 'l')}}),
      400, "invalid_parameter"));
  EXPECT_TRUE(
      is_problem(a.send("POST", "/admin/users", json_type, "{\"name\":"), 400, "invalid_json"));
  EXPECT_TRUE(is_problem(a.send("POST", "/admin/users", json_type, "[]"), 400, "invalid_json"));
  EXPECT_TRUE(is_problem(a.send("POST", "/admin/users", json_type, std::string(70 * 1024, ' ')),
                         413, "body_too_large"));
  EXPECT_TRUE(is_problem(a.get("/admin/users/x"), 404, "user_not_found"))
      << "nothing was created by the refused requests";

  EXPECT_TRUE(is_problem(patch("alice", json::object()), 400, "invalid_parameter"));
  EXPECT_TRUE(is_problem(patch("alice", {{"disabled", "true"}}), 400, "invalid_parameter"));
  EXPECT_TRUE(
      is_problem(a.send("PATCH", "/admin/users/alice", json_type, "nope"), 400, "invalid_json"));
  EXPECT_TRUE(is_problem(patch("nobody", {{"disabled", true}}), 404, "user_not_found"));
  EXPECT_TRUE(is_problem(send_json(a, "POST", "/admin/users/alice/keys", {{"label", 1}}), 400,
                         "invalid_parameter"));
  EXPECT_TRUE(
      is_problem(a.send("POST", "/admin/users/alice/keys", json_type, "{"), 400, "invalid_json"));
  EXPECT_TRUE(has_status(a.get("/admin/users/alice"), 200));
  EXPECT_EQ(json_body(a.get("/admin/users/alice"))["keys"].size(), 1u);
}

TEST_F(Admin, PromotesAndDemotes) {
  auto alice = client(create("alice"));
  EXPECT_TRUE(is_problem(alice.get("/admin/users"), 403, "admin_required"));
  const auto up = patch("alice", {{"admin", true}});
  ASSERT_TRUE(has_status(up, 200));
  EXPECT_TRUE(is_user(json_body(up), "alice", true, false));
  EXPECT_TRUE(has_status(alice.get("/admin/users"), 200)) << "at the very next request";
  ASSERT_TRUE(has_status(patch("alice", {{"admin", false}}), 200));
  EXPECT_TRUE(is_problem(alice.get("/admin/users"), 403, "admin_required"));
}

TEST_F(Admin, TheLastEnabledAdministratorStays) {
  EXPECT_TRUE(is_problem(patch("admin", {{"disabled", true}}), 409, "last_admin"));
  EXPECT_TRUE(is_problem(patch("admin", {{"admin", false}}), 409, "last_admin"));
  EXPECT_TRUE(has_status(admin().get("/admin/users"), 200));

  auto boss = client(create("boss", true));
  // A disabled administrator does not count.
  ASSERT_TRUE(has_status(patch("boss", {{"disabled", true}}), 200));
  EXPECT_TRUE(is_problem(patch("admin", {{"disabled", true}}), 409, "last_admin"));
  ASSERT_TRUE(has_status(patch("boss", {{"disabled", false}}), 200));
  // With two, either may go; then the other is the last.
  const auto off = patch("admin", {{"disabled", true}});
  ASSERT_TRUE(has_status(off, 200));
  EXPECT_TRUE(is_user(json_body(off), "admin", true, true));
  EXPECT_TRUE(refused_as_disabled(admin().get("/admin/users")));
  EXPECT_TRUE(is_problem(send_json(boss, "PATCH", "/admin/users/boss", {{"disabled", true}}), 409,
                         "last_admin"));
  EXPECT_TRUE(is_problem(send_json(boss, "PATCH", "/admin/users/boss", {{"admin", false}}), 409,
                         "last_admin"));
  // Demoting a disabled administrator leaves the enabled ones as they were.
  EXPECT_TRUE(has_status(send_json(boss, "PATCH", "/admin/users/admin", {{"admin", false}}), 200));
  // The CLI keeps the rule too.
  const auto cli =
      server().run_cli({"user", "disable", "boss", "--data-dir", server().data_dir().string()});
  EXPECT_FALSE(cli.exit.clean());
  EXPECT_NE(cli.err.find("last enabled administrator"), std::string::npos) << cli.err;
}

TEST_F(Admin, ADisabledUserIsRefusedEverywhereAtOnceUntilEnabled) {
  const std::string key = create("alice");
  const std::string id = created_id(client(key).upload_raw("a.txt", "alpha"));
  warm(key, id);
  const std::string cookie = sign_in(key);
  ASSERT_TRUE(has_status(as_browser(cookie, "GET", "/files"), 200));
  const std::string sse_ticket = ticket(key);
  const std::string ws_ticket = ticket(key);
  auto c = client(key);
  ASSERT_TRUE(has_status(c.get("/files/" + id), 200));

  // Open live streams: one WebSocket, one SSE.
  ws_client ws(port(), "/ws/events", {{"Authorization", "Bearer " + key}});
  connection sse(port(), 10s);
  sse.send_raw("GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n\r\n");
  std::string seen;
  for (int i = 0; i < 25 && seen.find(": stream open") == std::string::npos; ++i)
    seen += sse.read_until_close(200ms).data;
  ASSERT_NE(seen.find(": stream open"), std::string::npos) << seen;

  const auto off = patch("alice", {{"disabled", true}});
  ASSERT_TRUE(has_status(off, 200));
  EXPECT_TRUE(is_user(json_body(off), "alice", false, true));

  EXPECT_TRUE(refused_as_disabled(c.get("/files/" + id))) << "the download cache knew the key";
  EXPECT_TRUE(refused_as_disabled(client(key).get("/files")));
  EXPECT_TRUE(refused_as_disabled(as_browser(cookie, "GET", "/files")));
  EXPECT_TRUE(refused_as_disabled(as_browser(cookie, "GET", "/auth/session")));
  EXPECT_TRUE(ticket_refused_as_disabled(sse_ticket));
  EXPECT_THROW(ws_client(port(), "/ws/events?ticket=" + ws_ticket), boost::system::system_error);
  EXPECT_TRUE(refused_as_disabled(anonymous().send(
      "POST", "/auth/session", {{"Content-Type", "application/json"}, {"Origin", origin()}},
      json{{"api_key", key}}.dump())));
  // The streams that were open end (after any event still on its way, e.g. the upload's: the
  // hub hears of it from the outbox relay, which may come after the subscription).
  EXPECT_FALSE(ws.next_matching([](const json&) { return false; }, 5s).has_value());
  EXPECT_TRUE(ws.closed());
  const auto rest = sse.read_until_close(5s);
  EXPECT_TRUE(rest.closed) << rest.data;
  // Shown as disabled; files stay.
  auto a = admin();
  EXPECT_TRUE(json_body(a.get("/admin/users/alice"))["disabled"].get<bool>());

  const auto on = patch("alice", {{"disabled", false}});
  ASSERT_TRUE(has_status(on, 200));
  EXPECT_TRUE(is_user(json_body(on), "alice", false, false));
  EXPECT_EQ(c.get("/files/" + id).body, "alpha");
  EXPECT_TRUE(has_status(as_browser(cookie, "GET", "/files"), 200)) << "the session is back";
  ws_client again(port(), "/ws/events?ticket=" + ticket(key));
  EXPECT_FALSE(again.closed());
}

TEST_F(Admin, TheCliDisablesAndEnablesForARunningServer) {
  const std::string key = create("alice");
  const std::string id = created_id(client(key).upload_raw("a.txt", "alpha"));
  warm(key, id);
  const std::string cookie = sign_in(key);
  const std::string t = ticket(key);
  auto c = client(key);
  const auto dir = server().data_dir().string();
  const auto off = server().run_cli({"user", "disable", "alice", "--data-dir", dir});
  ASSERT_TRUE(off.exit.clean()) << off.err;
  EXPECT_TRUE(refused_as_disabled(c.get("/files/" + id)));
  EXPECT_TRUE(refused_as_disabled(as_browser(cookie, "GET", "/files")));
  EXPECT_TRUE(ticket_refused_as_disabled(t));
  EXPECT_TRUE(json_body(admin().get("/admin/users/alice"))["disabled"].get<bool>());
  const auto on = server().run_cli({"user", "enable", "alice", "--data-dir", dir});
  ASSERT_TRUE(on.exit.clean()) << on.err;
  EXPECT_EQ(c.get("/files/" + id).body, "alpha");
  EXPECT_TRUE(has_status(as_browser(cookie, "GET", "/files"), 200));
  EXPECT_FALSE(server().run_cli({"user", "disable", "nobody", "--data-dir", dir}).exit.clean());
}

TEST_F(Admin, CookieSessionsOfAdministratorsWork) {
  const std::string cookie = sign_in(server().admin_key());
  const auto r = as_browser(cookie, "POST", "/admin/users", R"({"name":"alice"})");
  ASSERT_TRUE(has_status(r, 201));
  EXPECT_TRUE(has_status(as_browser(cookie, "GET", "/admin/users/alice"), 200));
  // Changes by cookie still need our own page (CSRF), as everywhere.
  const auto cross = anonymous().send(
      "PATCH", "/admin/users/alice",
      {{"Cookie", cookie}, {"Origin", "http://evil.example"}, {"Content-Type", "application/json"}},
      R"({"disabled":true})");
  EXPECT_TRUE(is_problem(cross, 403, "csrf_rejected"));
}

// The CLI runs in another process: the server ends a user's open streams at its next sweep.
class AdminQuickSweep : public Admin {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--upload-sweep-interval", "0.2"};
  }
};

TEST_F(AdminQuickSweep, StreamsOfAUserDisabledFromTheCliEndAtTheNextSweep) {
  const std::string key = create("alice");
  const std::string other = create("bob");
  ws_client ws(port(), "/ws/events", {{"Authorization", "Bearer " + key}});
  ws_client bobs(port(), "/ws/events", {{"Authorization", "Bearer " + other}});
  const auto off =
      server().run_cli({"user", "disable", "alice", "--data-dir", server().data_dir().string()});
  ASSERT_TRUE(off.exit.clean()) << off.err;
  EXPECT_FALSE(ws.next(5s).has_value());
  EXPECT_TRUE(ws.closed());
  EXPECT_FALSE(bobs.next(500ms).has_value());
  EXPECT_FALSE(bobs.closed()) << "only the disabled user's streams end";
}

// Behind an authenticating proxy: X-User-Id names the caller.
class AdminBehindProxy : public Admin {
 protected:
  std::vector<std::string> server_args() const override { return {"--trust-user-header"}; }
};

TEST_F(AdminBehindProxy, ProxiedAdministratorsAndDisabledUsers) {
  api_client proxied_admin(port(), "admin", auth_style::user_header);
  api_client carol(port(), "carol", auth_style::user_header);
  EXPECT_TRUE(has_status(carol.list(), 200));  // created on first sight
  EXPECT_TRUE(is_problem(carol.get("/admin/users"), 403, "admin_required"));
  const auto off =
      proxied_admin.send("PATCH", "/admin/users/carol", json_type, R"({"disabled":true})");
  ASSERT_TRUE(has_status(off, 200));
  EXPECT_TRUE(refused_as_disabled(carol.list()));
  ASSERT_TRUE(has_status(
      proxied_admin.send("PATCH", "/admin/users/carol", json_type, R"({"disabled":false})"), 200));
  EXPECT_TRUE(has_status(carol.list(), 200));
}

}  // namespace
}  // namespace sharebox::test
