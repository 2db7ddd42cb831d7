#pragma once
// Overlaps receiving a body with storing it: the connection fills one buffer while the worker
// pool writes (and hashes) the ones filled before, in order. Reading, hashing and writing one
// buffer at a time would add their times up; here a stream goes at the pace of the slowest.
// Memory stays bounded: `depth` buffers of `buffer_bytes` each, allocated once.
//
// Used from one coroutine on a strand (a connection's), one call at a time: completions of
// pool work come back through that strand, so the state needs no lock. Before the pipeline or
// whatever `write` refers to goes away, `settle()` must have returned: no write is then left
// running on the pool.
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "sharebox/http/beast.hpp"

namespace sharebox::http {

class write_pipeline {
 public:
  struct buffer {
    char* data = nullptr;
    std::size_t capacity = 0;
    std::size_t size = 0;  // bytes to write, set by the caller before submit()
  };
  // Runs on the pool, one call at a time, in the order the buffers were submitted.
  using write_fn = std::function<void(const char* data, std::size_t size)>;

  write_pipeline(asio::thread_pool& pool, asio::any_io_executor strand, std::size_t buffer_bytes,
                 std::size_t depth, write_fn write);
  write_pipeline(const write_pipeline&) = delete;
  write_pipeline& operator=(const write_pipeline&) = delete;
  ~write_pipeline();

  // A free buffer (size 0), waiting while every buffer is queued or being written. Rethrows the
  // failure of an earlier write.
  awaitable<buffer*> acquire();
  // Queues the acquired buffer's `size` bytes for writing and returns at once (an empty buffer
  // is given back as it is).
  void submit(buffer* b);
  // Waits until everything submitted is written; rethrows the failure of a write.
  awaitable<void> drain();
  // Waits until no write is running or queued, without throwing (for failure paths: what was
  // queued behind a failed write is dropped).
  awaitable<void> settle();

 private:
  struct state;
  void start_next();
  awaitable<void> wait_for_change();

  std::shared_ptr<state> state_;
};

}  // namespace sharebox::http
