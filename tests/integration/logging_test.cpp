// The server's log: --log-format json writes one JSON object per line, and no credential (API
// key, session token, WebSocket ticket) reaches a log line at any level, in either format.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "support/fixture.hpp"
#include "support/ws_client.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

class Logging : public alice_test, public ::testing::WithParamInterface<std::string> {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--log-level", "trace", "--log-format", GetParam()};
  }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port()); }

  std::string ticket() {
    const auto r = alice().send("POST", "/auth/ws-ticket");
    EXPECT_TRUE(has_status(r, 201));
    return json_body(r)["ticket"];
  }

  // Exercises every way a credential travels to the server, right or wrong, and returns the
  // credentials used.
  std::vector<std::string> use_every_credential() {
    std::vector<std::string> secrets{server().admin_key(), key_};
    EXPECT_TRUE(has_status(admin().get("/files"), 200));
    EXPECT_TRUE(has_status(client(key_, auth_style::api_key).get("/files"), 200));
    EXPECT_TRUE(has_status(alice().upload("notes.txt", "hello"), 201));

    const std::string forged = "sbk_forgedKeyThatIsNotValid0123456789abcdefgh";
    secrets.push_back(forged);
    EXPECT_TRUE(is_problem(client(forged).get("/files"), 401));
    EXPECT_TRUE(is_problem(client(forged, auth_style::api_key).get("/files"), 401));
    // Keys put in the URL (not how sharebox takes them) are not logged either.
    EXPECT_TRUE(is_problem(anonymous().get("/files?api_key=" + key_ + "&limit=5"), 401));
    EXPECT_TRUE(is_problem(anonymous().get("/files?limit=5&key=" + key_), 401));
    EXPECT_TRUE(is_problem(anonymous().get("/files?token=" + key_), 401));

    // Keys issued over the admin API: in response bodies only; used, revoked, refused.
    auto created = admin().post_json("/admin/users", R"({"name":"bob"})");
    EXPECT_TRUE(has_status(created, 201));
    const std::string bob_key = json_body(created)["key"]["key"];
    secrets.push_back(bob_key);
    EXPECT_TRUE(has_status(client(bob_key).get("/files"), 200));
    auto issued = admin().post_json("/admin/users/bob/keys", R"({"label":"ci"})");
    EXPECT_TRUE(has_status(issued, 201));
    const auto second = json_body(issued);
    secrets.push_back(second["key"]);
    EXPECT_TRUE(
        has_status(admin().del("/admin/users/bob/keys/" + second["id"].get<std::string>()), 204));
    EXPECT_TRUE(is_problem(client(second["key"]).get("/files"), 401));

    // A browser sign-in: the key in the body, the token in the cookie.
    auto signed_in = anonymous().send("POST", "/auth/session",
                                      {{"Content-Type", "application/json"}, {"Origin", origin()}},
                                      json{{"api_key", key_}}.dump());
    EXPECT_TRUE(has_status(signed_in, 201));
    const std::string cookie = signed_in.header("Set-Cookie");
    const std::string token =
        cookie.substr(cookie.find('=') + 1, cookie.find(';') - cookie.find('=') - 1);
    EXPECT_GT(token.size(), 20u) << cookie;
    secrets.push_back(token);
    EXPECT_TRUE(
        has_status(anonymous().get("/files", {{"Cookie", "sharebox_session=" + token}}), 200));

    // WebSocket tickets, redeemed and not, in the query string where they must travel.
    const std::string used = ticket();
    secrets.push_back(used);
    { ws_client events(port(), "/ws/events?ticket=" + used); }
    // Replayed: refused, and still not logged.
    EXPECT_THROW(ws_client(port(), "/ws/events?ticket=" + used), boost::system::system_error);
    return secrets;
  }
};

// The part of a secret that would give it away: its last 16 characters (keys share a prefix).
std::string tail_of(const std::string& secret) {
  return secret.substr(secret.size() > 16 ? secret.size() - 16 : 0);
}

TEST_P(Logging, NoCredentialReachesTheLog) {
  const auto secrets = use_every_credential();
  ASSERT_TRUE(server().terminate().clean());
  const std::string log = server().stderr_text();
  // The access log saw those requests, with the credential-bearing parameters redacted.
  EXPECT_NE(log.find("/ws/events?ticket=REDACTED"), std::string::npos) << log;
  EXPECT_NE(log.find("/files?api_key=REDACTED&limit=5"), std::string::npos) << log;
  EXPECT_NE(log.find("/files?limit=5&key=REDACTED"), std::string::npos) << log;
  EXPECT_NE(log.find("/auth/session"), std::string::npos) << log;
  for (const auto& secret : secrets) {
    ASSERT_GE(secret.size(), 16u);
    EXPECT_EQ(log.find(tail_of(secret)), std::string::npos)
        << "credential in the log: " << secret << "\n"
        << log;
  }
  // stdout carries only the announcements; the initial admin key is printed there once, by
  // design (it is not a log line), and nothing else.
  const std::string out = server().stdout_text();
  for (std::size_t i = 1; i < secrets.size(); ++i) {
    EXPECT_EQ(out.find(tail_of(secrets[i])), std::string::npos) << secrets[i] << "\n" << out;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, Logging, ::testing::Values("text", "json"),
                         [](const auto& p) { return p.param; });

class JsonLog : public alice_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--log-level", "debug", "--log-format", "json"};
  }
};

TEST_F(JsonLog, EveryLineIsAnObjectAndRequestsHaveFields) {
  const auto up = alice().upload("caf\xc3\xa9.txt", "bytes");
  ASSERT_TRUE(has_status(up, 201));
  ASSERT_TRUE(has_status(alice().get("/files/" + created_id(up)), 200));
  EXPECT_TRUE(is_problem(anonymous().get("/nowhere?q=%22quoted%22"), 404, "route_not_found"));
  ASSERT_TRUE(server().terminate().clean());

  bool saw_download = false, saw_startup = false, saw_not_found = false;
  for (const auto& line : lines_of(server().stderr_text())) {
    json j;
    ASSERT_NO_THROW(j = json::parse(line)) << line;
    ASSERT_TRUE(j.is_object()) << line;
    ASSERT_TRUE(j["time"].is_string()) << line;
    EXPECT_EQ(j["time"].get<std::string>().size(), 24u) << line;  // 2026-11-22T19:05:00.123Z
    EXPECT_EQ(j["time"].get<std::string>().back(), 'Z') << line;
    ASSERT_TRUE(j["level"].is_string()) << line;
    if (j.value("type", "") == "access") {
      EXPECT_TRUE(j["request_id"].is_string()) << line;
      EXPECT_TRUE(j["status"].is_number_unsigned()) << line;
      EXPECT_TRUE(j["bytes_in"].is_number_unsigned()) << line;
      EXPECT_TRUE(j["bytes_out"].is_number_unsigned()) << line;
      EXPECT_TRUE(j["duration_ms"].is_number()) << line;
      if (j["method"] == "GET" && j["target"] == "/files/" + created_id(up)) {
        saw_download = true;
        EXPECT_EQ(j["user"], "alice") << line;
        EXPECT_EQ(j["status"], 200) << line;
        EXPECT_EQ(j["bytes_out"], 5) << line;  // the body
      }
      if (j["target"] == "/nowhere?q=%22quoted%22") {
        saw_not_found = true;
        EXPECT_EQ(j["user"], nullptr) << line;
        EXPECT_EQ(j["status"], 404) << line;
      }
    } else {
      ASSERT_TRUE(j["msg"].is_string()) << line;
      if (j["msg"].get<std::string>().find("serving") == 0) saw_startup = true;
    }
  }
  EXPECT_TRUE(saw_download) << server().stderr_text();
  EXPECT_TRUE(saw_startup) << server().stderr_text();
  EXPECT_TRUE(saw_not_found) << server().stderr_text();
}

}  // namespace
}  // namespace sharebox::test
