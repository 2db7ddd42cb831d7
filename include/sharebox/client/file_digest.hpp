#pragma once
// The SHA-256 of a file being uploaded, fed from the chunk buffers the sender reads anyway, so a
// put reads the file once: chunks arrive from any worker in any order and are hashed in index
// order (a worker waits for its turn). Chunks the sender will not read (already on the server
// when a put resumes) are read here.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "sharebox/client/chunk_sender.hpp"
#include "sharebox/util/crypto.hpp"

namespace sharebox::client {

class file_digest {
 public:
  file_digest(chunk_source source, upload_plan plan);

  // The chunks that will come through add(); call before the first add().
  void expect(const std::vector<std::uint64_t>& indices);
  // Chunk `index`'s bytes: returns once they are hashed, after the chunks before them. A chunk
  // already hashed is ignored. Returns false, hashing nothing, once cancel() was called.
  bool add(std::uint64_t index, std::string_view bytes);
  // Releases every add() waiting for its turn (a worker failed, so some turn never comes).
  void cancel();
  // Hashes the rest from the file and returns the lowercase hex digest.
  std::string finish();

 private:
  void hash_from_file(std::uint64_t index);  // with mu_ held; advances next_

  chunk_source source_;
  upload_plan plan_;
  std::mutex mu_;
  std::condition_variable turn_;
  util::sha256 hash_;
  std::uint64_t next_ = 0;
  bool cancelled_ = false;
  std::vector<bool> expected_;
};

}  // namespace sharebox::client
