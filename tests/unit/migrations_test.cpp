#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "sharebox/storage/migrations.hpp"
#include "sharebox/storage/sqlite_store.hpp"
#include "temp_dir.hpp"

using sharebox::storage::embedded_migrations;
using sharebox::storage::migrate;
using sharebox::storage::migration;

namespace {

int schema_version(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT MAX(version) FROM schema_migrations");
  q.executeStep();
  return q.getColumn(0).getInt();
}

}  // namespace

TEST(Migrations, EmbeddedAreNumberedInOrderFromOne) {
  const auto& all = embedded_migrations();
  ASSERT_FALSE(all.empty());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int>(i + 1)) << all[i].name;
    EXPECT_FALSE(all[i].sql.empty());
  }
}

TEST(Migrations, AppliesOnceAndRecords) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  const auto& all = embedded_migrations();
  EXPECT_EQ(migrate(db, all), static_cast<int>(all.size()));
  EXPECT_EQ(schema_version(db), all.back().version);
  EXPECT_TRUE(db.tableExists("files"));
  EXPECT_EQ(migrate(db, all), 0);  // idempotent
}

TEST(Migrations, AppliesOnlyPendingOnes) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  std::vector<migration> first{{1, "0001_a", "CREATE TABLE a(x)"}};
  std::vector<migration> both{{1, "0001_a", "CREATE TABLE a(x)"},
                              {2, "0002_b", "CREATE TABLE b(y)"}};
  EXPECT_EQ(migrate(db, first), 1);
  EXPECT_EQ(migrate(db, both), 1);
  EXPECT_TRUE(db.tableExists("b"));
}

TEST(Migrations, FailedMigrationRollsBackEntirely) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  std::vector<migration> bad{{1, "0001_bad", "CREATE TABLE ok(x); THIS IS NOT SQL;"}};
  EXPECT_THROW(migrate(db, bad), SQLite::Exception);
  EXPECT_FALSE(db.tableExists("ok"));
  SQLite::Statement q(db, "SELECT COUNT(*) FROM schema_migrations");
  q.executeStep();
  EXPECT_EQ(q.getColumn(0).getInt(), 0);
}

TEST(Migrations, RefusesDatabaseFromNewerVersion) {
  temp_dir dir;
  const auto path = dir.path() / "sharebox.db";
  { sharebox::storage::sqlite_store store(path); }
  {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO schema_migrations(version, name, applied_at) VALUES (9999, 'future', 0)");
  }
  try {
    sharebox::storage::sqlite_store store(path);
    FAIL() << "opened a database from the future";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

// 0007 keeps each share's file seq for paged listings: shares made before it get theirs.
TEST(Migrations, SharesMadeBeforeFileSeqGetIt) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  const auto& all = embedded_migrations();
  ASSERT_GE(all.size(), 7u);
  const std::vector<migration> before(all.begin(), all.begin() + 6);
  ASSERT_EQ(migrate(db, before), 6);
  db.exec("INSERT INTO users(id, created_at) VALUES ('alice', 0), ('bob', 0)");
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    db.exec(
        "INSERT INTO files(id, owner, name, size, content_type, sha256, blob, version, "
        "created_at, updated_at) VALUES ('f" +
        n + "', 'alice', 'n', 0, 't', '', 'b" + n + "', 1, 0, 0)");
  }
  db.exec(
      "INSERT INTO shares(file_id, user_id, permission, granted_by, created_at) "
      "VALUES ('f2', 'bob', 'read', 'alice', 0)");
  EXPECT_EQ(migrate(db, all), static_cast<int>(all.size()) - 6);
  SQLite::Statement q(db,
                      "SELECT s.file_seq, f.seq FROM shares s JOIN files f ON f.id = s.file_id");
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getInt64(), q.getColumn(1).getInt64());
  EXPECT_EQ(q.getColumn(0).getInt64(), 3);
}

// 0008 lets administrators disable users: everyone there before it stays enabled.
TEST(Migrations, UsersMadeBeforeDisablingStayEnabled) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  const auto& all = embedded_migrations();
  ASSERT_GE(all.size(), 8u);
  ASSERT_EQ(migrate(db, std::vector<migration>(all.begin(), all.begin() + 7)), 7);
  db.exec("INSERT INTO users(id, is_admin, created_at) VALUES ('admin', 1, 0), ('bob', 0, 0)");
  EXPECT_EQ(migrate(db, all), static_cast<int>(all.size()) - 7);
  SQLite::Statement q(db, "SELECT COUNT(*) FROM users WHERE disabled = 0");
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getInt(), 2);
}
