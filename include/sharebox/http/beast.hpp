#pragma once
// The one place that pulls in Asio and Beast (also the precompiled header). Boost 1.74 with
// C++20 needs <utility> before any Asio header or asio/awaitable.hpp fails to compile.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace sharebox {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using error_code = boost::system::error_code;
using tcp = boost::asio::ip::tcp;
template <typename T = void>
using awaitable = boost::asio::awaitable<T>;
}  // namespace sharebox
