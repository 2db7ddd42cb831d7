// Crash safety (kill -9 during and right after uploads), graceful shutdown, restarts.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr std::uint64_t mib = 1024 * 1024;

struct dir_usage {
  std::size_t files = 0;
  std::uintmax_t bytes = 0;
  std::vector<std::string> names;
};

// Regular files under `dir` (recursively); tolerates files vanishing while scanning.
dir_usage usage(const fs::path& dir) {
  dir_usage u;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return u;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;
    const auto size = it->file_size(fec);
    if (fec) continue;
    ++u.files;
    u.bytes += size;
    u.names.push_back(it->path().string() + " (" + std::to_string(size) + " bytes)");
  }
  return u;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += "  " + s + "\n";
  return out;
}

// Polls `pred` every 10 ms until it holds or `timeout` elapses.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

class Durability : public alice_test {
 protected:
  fs::path tmp_dir() const { return server_->data_dir() / "tmp"; }

  stream_upload_options raw_upload(std::string name, std::uint64_t size, std::uint64_t seed) {
    stream_upload_options o;
    o.target = "/files?name=" + name;
    o.headers = auth();
    o.headers.emplace_back("Content-Type", "application/octet-stream");
    o.size = size;
    o.seed = seed;
    o.chunk_size = 256 * 1024;
    return o;
  }
};

TEST_F(Durability, KillDuringUploadLeavesNoPartialFile) {
  connection conn(port(), 30s);
  auto o = raw_upload("partial.bin", 200 * mib, 77);
  o.on_progress = [](std::uint64_t sent) { return sent < 50 * mib; };
  const auto up = upload_stream(conn, o);
  ASSERT_TRUE(up.aborted) << up.describe();
  ASSERT_FALSE(up.send_error) << up.describe();
  ASSERT_GE(up.bytes_sent, 50 * mib);

  // The in-progress upload is being written under DATA_DIR/tmp (so the cleanup below is real).
  EXPECT_TRUE(eventually([&] { return usage(tmp_dir()).bytes > 0; }, 10s))
      << "no partial upload data under " << tmp_dir() << " while uploading";

  server().kill9();
  EXPECT_EQ(server().last_exit()->signal, SIGKILL);
  server().restart();
  EXPECT_FALSE(server().printed_admin_key_on_last_start()) << "database was re-initialised";

  api_client a = alice();
  const response list = a.list();
  ASSERT_TRUE(has_status(list, 200));
  EXPECT_EQ(json_body(list), json::array()) << "interrupted upload is listed";

  // Leftovers are cleaned up at startup (allow a moment in case it is done in the background).
  dir_usage tmp;
  EXPECT_TRUE(eventually([&] { return (tmp = usage(tmp_dir())).files == 0; }, 5s))
      << "files left in " << tmp_dir() << ":\n"
      << join(tmp.names);
  const dir_usage all = usage(server().data_dir());
  EXPECT_LT(all.bytes, 16 * mib) << "partial upload data left in the data dir:\n"
                                 << join(all.names);

  // And the server works normally.
  const response ok = a.upload_raw("after.txt", "after restart");
  ASSERT_TRUE(has_status(ok, 201));
  EXPECT_EQ(a.get("/files/" + created_id(ok)).body, "after restart");
}

TEST_F(Durability, KillRightAfter201KeepsFile) {
  constexpr std::uint64_t size = 20 * mib;
  connection conn(port(), 30s);
  const auto up = upload_stream(conn, raw_upload("durable.bin", size, 78));
  ASSERT_TRUE(up.resp.has_value()) << up.describe();
  const bool created = up.resp->status == 201;
  server().kill9();  // immediately: no time for any deferred flushing
  ASSERT_TRUE(created) << up.resp->describe();
  const std::string id = created_id(*up.resp);

  server().restart();
  api_client a = alice();
  const json list = json_body(a.list());
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["id"], id);
  EXPECT_EQ(list[0]["size"], size);
  EXPECT_EQ(list[0]["sha256"], up.sha256);

  connection dl(port(), 30s);
  const auto down = download_stream(dl, "/files/" + id, auth());
  EXPECT_EQ(down.status, 200u);
  EXPECT_EQ(down.size, size);
  EXPECT_EQ(down.sha256, up.sha256);
}

TEST_F(Durability, KillRightAfterUpdateKeepsNewVersion) {
  api_client a = alice();
  const std::string id = created_id(a.upload_raw("v.txt", "version one"));
  const response put = a.put_raw(id, "version two", "\"1\"");
  server().kill9();
  ASSERT_TRUE(has_status(put, 200));

  server().restart();
  api_client b = alice();
  const response got = b.get("/files/" + id);
  ASSERT_TRUE(has_status(got, 200));
  EXPECT_EQ(got.body, "version two");
  EXPECT_EQ(got.header("ETag"), "\"2\"");
}

TEST_F(Durability, SigtermFinishesInFlightUploadAndExitsZero) {
  constexpr std::uint64_t size = 4 * mib;
  bool stopped_accepting = false;
  connection conn(port(), 30s);
  auto o = raw_upload("graceful.bin", size, 79);
  o.on_progress = [&](std::uint64_t sent) {
    if (sent != 0) return true;
    // Headers are out; the body is not. Let the server start on the request, then stop it.
    std::this_thread::sleep_for(300ms);
    server().signal(SIGTERM);
    // New connections stop being served while the upload is still in flight.
    stopped_accepting = eventually(
        [&] {
          try {
            connection probe(port(), 500ms);
            return probe.request("GET", "/health").status != 200;
          } catch (const std::system_error&) {
            return true;  // refused, reset, closed or not answered
          }
        },
        5s);
    return true;
  };
  const auto up = upload_stream(conn, o);
  EXPECT_TRUE(stopped_accepting) << "server kept serving new connections after SIGTERM";
  ASSERT_TRUE(up.resp.has_value()) << up.describe();
  ASSERT_TRUE(has_status(*up.resp, 201));
  const json f = json_body(*up.resp);
  EXPECT_EQ(f["sha256"], up.sha256);

  const process_exit e = server().wait_exit(15s);
  EXPECT_TRUE(e.clean()) << e.describe();

  server().restart();
  connection dl(port(), 30s);
  const auto down = download_stream(dl, "/files/" + f["id"].get<std::string>(), auth());
  EXPECT_EQ(down.status, 200u);
  EXPECT_EQ(down.sha256, up.sha256);
}

TEST_F(Durability, SigtermWhenIdleExitsZero) {
  connection idle(port(), 5s);  // an idle keep-alive connection must not block shutdown
  ASSERT_TRUE(has_status(idle.request("GET", "/health"), 200));
  const process_exit e = server().terminate(10s);
  EXPECT_TRUE(e.clean()) << e.describe();
}

TEST_F(Durability, RestartKeepsFilesUsersAndShares) {
  const std::string bob_key = add_user("bob");
  api_client a = alice();
  const std::string content = generate_bytes(100'000, 80);
  const std::string id = created_id(a.upload("kept.bin", content));
  ASSERT_TRUE(has_status(a.share(id, "bob", "write"), 201));
  ASSERT_TRUE(has_status(a.put_raw(id, content + "!", "\"1\""), 200));

  const process_exit e = server().terminate();
  ASSERT_TRUE(e.clean()) << e.describe();
  server().restart();
  EXPECT_FALSE(server().printed_admin_key_on_last_start());

  api_client a2 = alice();
  api_client b2(port(), bob_key);
  const response got = b2.get("/files/" + id);
  ASSERT_TRUE(has_status(got, 200));
  EXPECT_TRUE(got.body == content + "!");
  EXPECT_EQ(got.header("ETag"), "\"2\"");
  const json shares = json_body(a2.get("/shares/" + id));
  ASSERT_EQ(shares.size(), 1u);
  EXPECT_EQ(shares[0]["permission"], "write");
  EXPECT_TRUE(has_status(api_client(port(), server().admin_key()).list(), 200));
}

}  // namespace
}  // namespace sharebox::test
