// Concurrent requests: optimistic concurrency on PUT, parallel uploads and downloads.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Concurrency : public alice_test {};

struct outcome {
  response resp;
  std::string error;  // exception text if the request failed at the I/O level
};

TEST_F(Concurrency, FiftyConcurrentPutsWithSameIfMatchHaveOneWinner) {
  constexpr int n = 50;
  api_client a = alice();
  const std::string id = created_id(a.upload_raw("race.bin", "original"));

  std::vector<std::string> bodies;
  for (int i = 0; i < n; ++i) {
    bodies.push_back("writer " + std::to_string(i) + "\n" + generate_bytes(8 * 1024, 1000 + i));
  }
  // Connect everyone first so the barrier releases only the requests themselves.
  std::vector<connection> conns;
  for (int i = 0; i < n; ++i)
    conns.emplace_back(port(), 30s);

  std::vector<outcome> results(n);
  std::barrier start(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      header_list h = auth();
      h.emplace_back("If-Match", "\"1\"");
      h.emplace_back("Content-Type", "application/octet-stream");
      start.arrive_and_wait();
      try {
        results[i].resp = conns[i].request("PUT", "/files/" + id, h, bodies[i]);
      } catch (const std::exception& e) {
        results[i].error = e.what();
      }
    });
  }
  for (auto& t : threads)
    t.join();

  int winners = 0;
  int winner = -1;
  std::map<unsigned, int> statuses;
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(results[i].error, "") << "request " << i << " failed";
    const response& r = results[i].resp;
    ++statuses[r.status];
    if (r.status == 200) {
      ++winners;
      winner = i;
      EXPECT_EQ(json_body(r)["version"], 2);
      EXPECT_EQ(r.header("ETag"), "\"2\"");
    } else {
      EXPECT_TRUE(is_problem(r, 412, "etag_mismatch")) << "request " << i;
      EXPECT_EQ(json_body(r).value("current_etag", ""), "\"2\"") << r.describe();
    }
  }
  std::string summary;
  for (const auto& [status, count] : statuses) {
    summary += std::to_string(status) + " x" + std::to_string(count) + " ";
  }
  ASSERT_EQ(winners, 1) << summary;
  EXPECT_EQ(statuses[412], n - 1) << summary;

  const std::string expected_sha = sha256_hex(bodies[winner]);
  EXPECT_EQ(json_body(results[winner].resp)["sha256"], expected_sha);
  const json meta = json_body(a.get("/files/" + id + "/meta"));
  EXPECT_EQ(meta["version"], 2);
  EXPECT_EQ(meta["etag"], "\"2\"");
  EXPECT_EQ(meta["sha256"], expected_sha);
  EXPECT_EQ(meta["size"], bodies[winner].size());
  const response got = a.get("/files/" + id);
  EXPECT_EQ(sha256_hex(got.body), expected_sha) << "stored content is not the winner's";
  EXPECT_EQ(json_body(a.list()).size(), 1u);
}

TEST_F(Concurrency, ParallelUploadsAllSucceed) {
  constexpr int threads_n = 8;
  constexpr int per_thread = 6;
  std::vector<std::vector<std::pair<std::string, std::string>>> created(threads_n);  // id, sha
  std::vector<std::string> errors(threads_n);
  std::barrier start(threads_n);
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_n; ++t) {
    threads.emplace_back([&, t] {
      try {
        api_client c = alice();
        start.arrive_and_wait();
        for (int i = 0; i < per_thread; ++i) {
          const std::string content = generate_bytes(64 * 1024 + t * 100 + i, t * 100 + i);
          const response r =
              i % 2 == 0 ? c.upload_raw("p.bin", content) : c.upload("p.bin", content);
          if (r.status != 201) {
            errors[t] = r.describe();
            return;
          }
          created[t].emplace_back(created_id(r), sha256_hex(content));
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  for (int t = 0; t < threads_n; ++t)
    ASSERT_EQ(errors[t], "") << "thread " << t;

  std::map<std::string, std::string> expected;  // id -> sha
  for (const auto& v : created) {
    for (const auto& [id, sha] : v)
      expected[id] = sha;
  }
  EXPECT_EQ(expected.size(), static_cast<std::size_t>(threads_n * per_thread)) << "duplicate ids";

  api_client a = alice();
  const json list = json_body(a.get("/files?limit=1000"));
  std::map<std::string, std::string> listed;
  for (const auto& f : list)
    listed[f.value("id", "")] = f.value("sha256", "");
  EXPECT_EQ(listed, expected);
  for (const auto& [id, sha] : expected) {
    EXPECT_EQ(sha256_hex(a.get("/files/" + id).body), sha) << id;
  }
}

TEST_F(Concurrency, ReadersSeeCompleteVersionsDuringUpdates) {
  api_client a = alice();
  const std::string v1 = generate_bytes(256 * 1024, 1);
  const std::string id = created_id(a.upload_raw("rw.bin", v1));
  std::set<std::string> valid = {sha256_hex(v1)};
  std::vector<std::string> versions;
  for (int i = 2; i <= 6; ++i) {
    versions.push_back(generate_bytes(256 * 1024 + i, i));
    valid.insert(sha256_hex(versions.back()));
  }

  std::atomic<bool> done{false};
  std::vector<std::string> reader_errors(4);
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      try {
        connection c(port(), 30s);
        int reads = 0;
        while (!done.load() || reads == 0) {
          const auto d = download_stream(c, "/files/" + id, auth());
          ++reads;
          if (d.status != 200) {
            reader_errors[r] = "GET during updates returned HTTP " + std::to_string(d.status);
            return;
          }
          if (valid.count(d.sha256) == 0) {
            reader_errors[r] = "downloaded content matches no version (sha256 " + d.sha256 + ")";
            return;
          }
        }
      } catch (const std::exception& e) {
        reader_errors[r] = e.what();
      }
    });
  }
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const response r = a.put_raw(id, versions[i], etag_for(static_cast<long>(i) + 1));
    EXPECT_TRUE(has_status(r, 200));
  }
  done = true;
  for (auto& t : readers)
    t.join();
  for (const auto& e : reader_errors)
    EXPECT_EQ(e, "");
  EXPECT_EQ(sha256_hex(a.get("/files/" + id).body), sha256_hex(versions.back()));
}

}  // namespace
}  // namespace sharebox::test
