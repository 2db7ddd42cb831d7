#pragma once
// Runs blocking work (SQLite, fsync, hashing) on the worker pool and resumes the calling
// coroutine on its own executor (the connection's strand). Exceptions cross back intact.
#include <exception>
#include <optional>
#include <type_traits>

#include "sharebox/http/beast.hpp"

namespace sharebox::http {

template <typename F>
awaitable<std::invoke_result_t<F>> offload(asio::thread_pool& pool, F fn) {
  using result_t = std::invoke_result_t<F>;
  constexpr bool is_void = std::is_void_v<result_t>;
  std::conditional_t<is_void, bool, std::optional<result_t>> result{};
  std::exception_ptr failure;
  auto ex = co_await asio::this_coro::executor;
  // The coroutine frame outlives the posted work: it is suspended until the handler runs, so
  // capturing its locals by reference is safe.
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&](auto handler) {
        asio::post(pool, [&, ex, handler = std::move(handler)]() mutable {
          try {
            if constexpr (is_void) {
              fn();
            } else {
              result.emplace(fn());
            }
          } catch (...) {
            failure = std::current_exception();
          }
          asio::post(ex, std::move(handler));
        });
      },
      asio::use_awaitable);
  if (failure) std::rethrow_exception(failure);
  if constexpr (!is_void) co_return std::move(*result);
}

}  // namespace sharebox::http
