// The administrative commands and start-up behaviour of the real binary: keys issued and revoked
// while the server runs, keys provisioned from API_KEY_MAPPINGS, refusing a newer schema, and
// the header timeout that bounds slowloris clients.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include "support/api_client.hpp"
#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using namespace std::chrono_literals;

class Cli : public server_test {};

TEST_F(Cli, KeysAddedAndRevokedWhileServing) {
  const std::string dir = server().data_dir().string();
  const std::string first = server().add_user("alice");
  const auto second =
      server().run_cli({"key", "add", "alice", "--label", "laptop", "--data-dir", dir});
  ASSERT_TRUE(second.exit.clean()) << second.err;
  const std::string second_key = trim(second.out);
  ASSERT_EQ(second_key.rfind("sbx_", 0), 0u) << second.out;

  EXPECT_TRUE(has_status(client(first).list(), 200));
  EXPECT_TRUE(has_status(client(second_key).list(), 200));
  // Downloads resolve the key in their own pool hand-off: the revocation must reach them too.
  const auto uploaded = client(first).upload_raw("kept.txt", "kept");
  ASSERT_TRUE(has_status(uploaded, 201)) << uploaded.describe();
  const std::string file = json_body(uploaded).at("id").get<std::string>();
  EXPECT_EQ(client(second_key).get("/files/" + file).body, "kept");

  const auto listed = server().run_cli({"key", "list", "alice", "--data-dir", dir});
  ASSERT_TRUE(listed.exit.clean()) << listed.err;
  EXPECT_EQ(listed.out.find("sbx_"), std::string::npos) << "key list must not print secrets";
  const std::string first_id = listed.out.substr(0, listed.out.find(' '));
  ASSERT_EQ(first_id.size(), 26u) << listed.out;

  // Revoked by id: takes effect on the next request, without a restart.
  ASSERT_TRUE(server().run_cli({"key", "revoke", first_id, "--data-dir", dir}).exit.clean());
  EXPECT_TRUE(is_problem(client(first).list(), 401, "unauthenticated"));
  EXPECT_TRUE(has_status(client(second_key).list(), 200));

  // Revoked by the key itself.
  ASSERT_TRUE(server().run_cli({"key", "revoke", second_key, "--data-dir", dir}).exit.clean());
  EXPECT_TRUE(is_problem(client(second_key).list(), 401, "unauthenticated"));
  EXPECT_TRUE(is_problem(client(second_key).get("/files/" + file), 401, "unauthenticated"));

  const auto again = server().run_cli({"key", "revoke", first_id, "--data-dir", dir});
  EXPECT_TRUE(again.exit.exited && again.exit.code != 0) << again.exit.describe();
  const auto unknown_user = server().run_cli({"key", "add", "nobody", "--data-dir", dir});
  EXPECT_TRUE(unknown_user.exit.exited && unknown_user.exit.code != 0);
  EXPECT_TRUE(trim(unknown_user.out).empty());
}

TEST_F(Cli, AdminKeyIsPrintedOnlyOnFirstStart) {
  ASSERT_TRUE(server().printed_admin_key_on_last_start());
  EXPECT_TRUE(has_status(admin().list(), 200));
  server().restart();
  EXPECT_FALSE(server().printed_admin_key_on_last_start());
  EXPECT_TRUE(has_status(admin().list(), 200));
}

class KeyMappings : public server_test {
 protected:
  std::vector<std::string> server_args() const override {
    return {"--api-key-mappings", "dev-key:dave,ops-key:erin"};
  }
};

TEST_F(KeyMappings, ProvisionedKeysAuthenticateTheirUsers) {
  auto dave = client("dev-key", auth_style::api_key);
  const auto up = dave.upload_raw("d.txt", "from dave");
  ASSERT_TRUE(has_status(up, 201));
  EXPECT_EQ(json_body(up)["owner"], "dave");
  EXPECT_TRUE(has_status(client("ops-key").list(), 200));
  EXPECT_TRUE(is_problem(client("dev-key-wrong").list(), 401, "unauthenticated"));
  server().restart();  // provisioning again at start changes nothing
  EXPECT_EQ(json_body(client("dev-key").list()).size(), 1u);
}

TEST(StartUp, RefusesDatabaseWrittenByNewerVersion) {
  std::filesystem::path dir;
  {
    server_process first;
    dir = first.data_dir();
    ASSERT_TRUE(first.terminate().clean());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "sharebox.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO schema_migrations(version, name, applied_at) "
                           "VALUES (9999, '9999_future', 0)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);

    const auto r =
        first.run_cli({"serve", "--listen", "127.0.0.1:0", "--data-dir", dir.string()}, 20s);
    EXPECT_TRUE(r.exit.exited && r.exit.code != 0) << r.exit.describe();
    EXPECT_NE(r.err.find("newer"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("listening"), std::string::npos) << r.out;
  }
}

class HeaderTimeout : public server_test {
 protected:
  std::vector<std::string> server_args() const override { return {"--header-timeout", "1"}; }
};

TEST_F(HeaderTimeout, SlowlorisHeaderIsCutOff) {
  connection slow(port(), 10s);
  slow.send_raw("GET /health HTTP/1.1\r\nHost: x\r\n");
  const auto started = std::chrono::steady_clock::now();
  // Keep dribbling header lines, never finishing the block: the idle timeout must not reset.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(300ms);
    if (slow.try_send_raw("X-Slow-" + std::to_string(i) + ": y\r\n")) break;
  }
  const auto result = slow.read_until_close(5s);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(result.closed);
  EXPECT_LT(elapsed, 4s);
  EXPECT_TRUE(has_status(request(port(), "GET", "/health"), 200));
}

}  // namespace
}  // namespace sharebox::test
