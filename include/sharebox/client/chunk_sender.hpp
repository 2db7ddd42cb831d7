#pragma once
// Sends chunks of a local file to an open upload over N parallel keep-alive connections, each
// chunk read through a mapping of the file (client::mapped_range) for its Content-Digest and the
// file's hash, and sent from the page cache by sendfile: the client holds no chunk in memory.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "sharebox/client/api.hpp"

namespace sharebox::client {

class file_digest;
class progress;
class rate_limiter;

// The server no longer knows the upload (404) or it expired (410): start a new one.
class upload_gone : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct upload_plan {
  std::string upload_id;
  std::uint64_t size = 0;
  std::uint64_t chunk_size = 0;
  std::uint64_t chunk_count = 0;

  std::uint64_t offset(std::uint64_t index) const { return index * chunk_size; }
  std::uint64_t length(std::uint64_t index) const;
};

struct chunk_source {
  int fd;
  std::filesystem::path path;
};

class chunk_sender {
 public:
  // `digest` (optional) gets every chunk's bytes as they are read.
  chunk_sender(endpoint ep, retry_policy policy, chunk_source source, upload_plan plan,
               unsigned parallel, rate_limiter* limiter, progress& meter,
               file_digest* digest = nullptr);

  // Sends the chunks `indices` (each at most once), returning when all are stored. Throws
  // upload_gone, or the first other failure once every worker has stopped.
  void send(const std::vector<std::uint64_t>& indices);

  std::uint64_t chunks_sent() const { return chunks_sent_.load(); }
  std::uint64_t bytes_sent() const { return bytes_sent_.load(); }

 private:
  void work(const std::vector<std::uint64_t>& indices, std::atomic<std::size_t>& next);
  void send_chunk(api_session& session, std::uint64_t index);

  endpoint ep_;
  retry_policy policy_;
  chunk_source source_;
  upload_plan plan_;
  unsigned parallel_;
  rate_limiter* limiter_;
  progress& meter_;
  file_digest* digest_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> chunks_sent_{0};
  std::atomic<std::uint64_t> bytes_sent_{0};
};

}  // namespace sharebox::client
