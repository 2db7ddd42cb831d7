#pragma once
// Helpers for the resumable-upload integration tests (chunked API and tus): digests computed
// independently of the server's code, requests whose body is sent by hand (to hold a request
// open on the server), polling, and read-only looks at the server's data directory and database.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/fixture.hpp"
#include "support/http_client.hpp"

namespace sharebox::test {

// Standard base64 with padding.
std::string to_base64(std::string_view bytes);
// Raw (binary) digest of `data`; `algorithm` is "md5", "sha1" or "sha256" (OpenSSL names).
std::string raw_digest(std::string_view algorithm, std::string_view data);

// `METHOD target HTTP/1.1`, Host and `headers`, then the blank line.
std::string raw_request_head(std::string_view method, std::string_view target, std::uint16_t port,
                             const header_list& headers);

// A request whose body the test sends by hand on its own connection. start() sends the header
// block with `Expect: 100-continue` and reads the server's first answer: 100 Continue means the
// handler has passed every check it makes before reading the body (admission, limits, locks)
// and is now waiting for bytes; anything else is the final (error) response.
class held_request {
 public:
  held_request(std::uint16_t port, std::string method, std::string target, header_list headers,
               std::uint64_t content_length);
  response start();
  void send(std::string_view bytes);
  // Sends `rest` and reads the final response.
  response finish(std::string_view rest);
  void close() { conn_.close(); }
  connection& conn() { return conn_; }

 private:
  connection conn_;
  std::string method_;
  std::string target_;
  header_list headers_;
  std::uint64_t content_length_;
};

// Polls `pred` every 10 ms until it holds or `timeout` elapses.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Names of the regular files directly in `dir` (sorted; empty if it does not exist).
std::vector<std::string> files_in(const std::filesystem::path& dir);
// Number of regular files anywhere under `dir`.
std::size_t count_files_under(const std::filesystem::path& dir);

// First column of every row of `sql` (with `?` parameters bound to `params`) in the SQLite
// database at `db`, opened read-only; NULL is "". Throws std::runtime_error on SQLite errors.
std::vector<std::string> query_column(const std::filesystem::path& db, const std::string& sql,
                                      const std::vector<std::string>& params = {});

// A server with alice, a keep-alive client for her, and read-only views of the server's data
// directory and database.
class upload_fixture : public alice_test {
 protected:
  void SetUp() override;
  api_client& a() { return *a_; }
  // A new client for alice, after a restart (the port may change).
  void reconnect() { a_.emplace(alice()); }

  std::filesystem::path uploads_dir() const;  // staged uploads: <data>/uploads/<upload id>
  std::filesystem::path staged(const std::string& upload_id) const;
  std::filesystem::path blobs_dir() const;
  std::filesystem::path db() const;
  // alice's files (GET /files).
  std::size_t file_count();
  // Types of the outbox events about `file_id`, oldest first.
  std::vector<std::string> outbox_types(const std::string& file_id) const;
  // Ids of the uploads the database holds, in any state.
  std::vector<std::string> upload_rows() const;

  std::optional<api_client> a_;
};

}  // namespace sharebox::test
