#include <gtest/gtest.h>

#include "sharebox/http/write_pipeline.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sharebox::http {
namespace {

// Runs `body` as a coroutine on a strand of a one-thread io_context, with a pool of `workers`.
template <typename Body>
void run_on_strand(std::size_t workers, Body body) {
  asio::io_context ioc;
  asio::thread_pool pool(workers);
  std::exception_ptr failure;
  asio::co_spawn(asio::make_strand(ioc), body(pool),
                 [&](std::exception_ptr e) { failure = std::move(e); });
  ioc.run();
  pool.join();
  if (failure) std::rethrow_exception(failure);
}

TEST(WritePipeline, WritesEveryBufferInOrderWithBoundedBuffers) {
  std::string written;
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  const std::size_t depth = 3;
  run_on_strand(4, [&](asio::thread_pool& pool) -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    write_pipeline pipe(pool, ex, 7, depth, [&](const char* data, std::size_t n) {
      const int now = ++running;
      int seen = max_running.load();
      while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // a slow disk
      written.append(data, n);
      --running;
    });
    std::set<char*> distinct;
    for (int i = 0; i < 200; ++i) {
      auto* b = co_await pipe.acquire();
      distinct.insert(b->data);
      EXPECT_EQ(b->size, 0u);
      EXPECT_EQ(b->capacity, 7u);
      const std::string piece = std::to_string(i) + ",";
      std::memcpy(b->data, piece.data(), piece.size());
      b->size = piece.size();
      pipe.submit(b);
    }
    co_await pipe.drain();
    EXPECT_EQ(distinct.size(), depth);  // buffers are reused, never more than `depth`
  });
  std::string expected;
  for (int i = 0; i < 200; ++i)
    expected += std::to_string(i) + ",";
  EXPECT_EQ(written, expected);
  EXPECT_EQ(max_running.load(), 1);  // one write at a time, though the pool has four threads
}

TEST(WritePipeline, AWriteFailureReachesTheCallerAndStopsLaterWrites) {
  std::string written;
  bool caught = false;
  run_on_strand(2, [&](asio::thread_pool& pool) -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    write_pipeline pipe(pool, ex, 4, 2, [&](const char* data, std::size_t n) {
      if (std::string_view(data, n) == "bad") throw std::runtime_error("disk full");
      written.append(data, n);
    });
    const std::vector<std::string> pieces{"a", "b", "bad", "c", "d", "e", "f"};
    try {
      for (const auto& piece : pieces) {
        auto* b = co_await pipe.acquire();
        std::memcpy(b->data, piece.data(), piece.size());
        b->size = piece.size();
        pipe.submit(b);
      }
      co_await pipe.drain();
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "disk full";
    }
    co_await pipe.settle();
  });
  EXPECT_TRUE(caught);
  // Writes are in order and nothing after the failed one reaches the file.
  EXPECT_EQ(written, "ab");
}

TEST(WritePipeline, SettleWaitsForQueuedWritesAfterACallerFailure) {
  std::atomic<int> writes{0};
  run_on_strand(2, [&](asio::thread_pool& pool) -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    write_pipeline pipe(pool, ex, 4, 2, [&](const char*, std::size_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ++writes;
    });
    for (int i = 0; i < 2; ++i) {
      auto* b = co_await pipe.acquire();
      b->size = 1;
      pipe.submit(b);
    }
    // The caller fails here (say the client went away): what it queued is still written.
    co_await pipe.settle();
    EXPECT_EQ(writes.load(), 2);
  });
}

TEST(WritePipeline, EmptyBuffersAreNotWritten) {
  int calls = 0;
  run_on_strand(1, [&](asio::thread_pool& pool) -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    write_pipeline pipe(pool, ex, 4, 1, [&](const char*, std::size_t) { ++calls; });
    for (int i = 0; i < 3; ++i)
      pipe.submit(co_await pipe.acquire());
    co_await pipe.drain();
  });
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace sharebox::http
