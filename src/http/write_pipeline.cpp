#include "sharebox/http/write_pipeline.hpp"

#include <stdexcept>

namespace sharebox::http {

// Shared with the pool work in flight, so buffers outlive a write even if the pipeline object
// were destroyed early. Touched only on the strand, except `write` and the buffer being written.
struct write_pipeline::state : std::enable_shared_from_this<state> {
  state(asio::thread_pool& p, asio::any_io_executor s, write_fn w)
      : pool(p), strand(std::move(s)), write(std::move(w)), wake(strand) {}

  void start_next() {
    if (busy || queued.empty()) return;
    busy = true;
    buffer* b = queued.front();
    queued.pop_front();
    asio::post(pool, [self = shared_from_this(), b] {
      std::exception_ptr error;
      try {
        self->write(b->data, b->size);
      } catch (...) {
        error = std::current_exception();
      }
      asio::post(self->strand, [self, b, error] { self->finished(b, error); });
    });
  }

  void finished(buffer* b, std::exception_ptr e) {
    busy = false;
    b->size = 0;
    idle.push_back(b);
    if (e && !failure) failure = e;
    if (failure) {
      // Nothing after a failed write may reach the file: give the queued buffers back unwritten.
      for (buffer* q : queued) {
        q->size = 0;
        idle.push_back(q);
      }
      queued.clear();
    }
    start_next();
    wake.cancel();
  }

  asio::thread_pool& pool;
  asio::any_io_executor strand;
  write_fn write;
  asio::steady_timer wake;  // an event: waited on by the coroutine, cancelled on each completion
  std::vector<std::unique_ptr<char[]>> storage;
  std::vector<buffer> buffers;
  std::deque<buffer*> idle;
  std::deque<buffer*> queued;
  bool busy = false;
  std::exception_ptr failure;
};

write_pipeline::write_pipeline(asio::thread_pool& pool, asio::any_io_executor strand,
                               std::size_t buffer_bytes, std::size_t depth, write_fn write)
    : state_(std::make_shared<state>(pool, std::move(strand), std::move(write))) {
  if (buffer_bytes == 0 || depth == 0) throw std::invalid_argument("write_pipeline: empty");
  state_->storage.reserve(depth);
  state_->buffers.resize(depth);
  for (auto& b : state_->buffers) {
    state_->storage.push_back(std::make_unique_for_overwrite<char[]>(buffer_bytes));
    b.data = state_->storage.back().get();
    b.capacity = buffer_bytes;
    state_->idle.push_back(&b);
  }
}

write_pipeline::~write_pipeline() = default;

awaitable<void> write_pipeline::wait_for_change() {
  state_->wake.expires_at(asio::steady_timer::time_point::max());
  error_code ec;  // operation_aborted: the expected wake-up
  co_await state_->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

awaitable<write_pipeline::buffer*> write_pipeline::acquire() {
  for (;;) {
    if (state_->failure) std::rethrow_exception(state_->failure);
    if (!state_->idle.empty()) {
      buffer* b = state_->idle.front();
      state_->idle.pop_front();
      b->size = 0;
      co_return b;
    }
    co_await wait_for_change();
  }
}

void write_pipeline::submit(buffer* b) {
  if (b->size == 0 || state_->failure) {
    b->size = 0;
    state_->idle.push_back(b);
    return;
  }
  state_->queued.push_back(b);
  state_->start_next();
}

awaitable<void> write_pipeline::drain() {
  for (;;) {
    if (state_->failure) std::rethrow_exception(state_->failure);
    if (!state_->busy && state_->queued.empty()) co_return;
    co_await wait_for_change();
  }
}

awaitable<void> write_pipeline::settle() {
  while (state_->busy || !state_->queued.empty()) {
    co_await wait_for_change();
  }
}

}  // namespace sharebox::http
