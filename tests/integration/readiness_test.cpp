// GET /ready: 503 until the schema is migrated and the data dir is writable; the broker's state
// is reported but never makes the server unready (events wait in the outbox).
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

using Readiness = server_test;

TEST_F(Readiness, ReadyWhenMigratedAndWritable) {
  const response r = request(port(), "GET", "/ready");
  ASSERT_TRUE(has_status(r, 200));
  const json j = json_body(r);
  EXPECT_EQ(j.value("status", ""), "ready") << r.body;
  EXPECT_EQ(j["checks"].value("database", ""), "ok") << r.body;
  EXPECT_EQ(j["checks"].value("data_dir", ""), "ok") << r.body;
  EXPECT_EQ(j["events"].value("broker", ""), "disabled") << r.body;
}

// The probe writes where uploads write (the data dir's tmp/): with that made unusable the
// server is unready, and ready again once it is back. /health stays a liveness check.
TEST_F(Readiness, DataDirThatCannotBeWrittenIs503) {
  const fs::path tmp = server().data_dir() / "tmp";
  const fs::path away = server().data_dir() / "tmp.away";
  fs::rename(tmp, away);
  std::ofstream(tmp) << "not a directory";

  const response r = request(port(), "GET", "/ready");
  EXPECT_TRUE(is_problem(r, 503, "not_ready"));
  const json j = json_body(r);
  EXPECT_EQ(j["checks"].value("data_dir", "").rfind("not writable: ", 0), 0u) << r.body;
  EXPECT_EQ(j["checks"].value("database", ""), "ok") << r.body;
  EXPECT_TRUE(has_status(request(port(), "GET", "/health"), 200));

  fs::remove(tmp);
  fs::rename(away, tmp);
  // A check's result answers for a second (a burst of probes is not a burst of fsyncs).
  EXPECT_TRUE(is_problem(request(port(), "GET", "/ready"), 503, "not_ready"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(has_status(request(port(), "GET", "/ready"), 200));
}

// A database whose migrations have not all run (here: the last one's record removed behind the
// server's back) is not ready.
TEST_F(Readiness, SchemaBehindTheBuildIs503) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((server().data_dir() / "sharebox.db").c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  ASSERT_EQ(sqlite3_exec(db,
                         "DELETE FROM schema_migrations WHERE version = "
                         "(SELECT MAX(version) FROM schema_migrations)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  const response r = request(port(), "GET", "/ready");
  EXPECT_TRUE(is_problem(r, 503, "not_ready"));
  const json j = json_body(r);
  EXPECT_EQ(j["checks"].value("database", "").rfind("schema at version ", 0), 0u) << r.body;
}

// Events on, broker unreachable: reported, still ready.
class ReadinessBrokerDown : public server_test {
  std::vector<std::string> server_args() const override {
    return {"--events", "on", "--rabbitmq-url", "amqp://guest:guest@127.0.0.1:1/"};
  }
};

TEST_F(ReadinessBrokerDown, BrokerDownIsReportedButStillReady) {
  const response r = request(port(), "GET", "/ready");
  ASSERT_TRUE(has_status(r, 200));
  const json j = json_body(r);
  EXPECT_EQ(j.value("status", ""), "ready") << r.body;
  EXPECT_EQ(j["events"].value("broker", ""), "disconnected") << r.body;
}

}  // namespace
}  // namespace sharebox::test
