#pragma once
#include <cstdint>
#include <functional>

#include <nlohmann/json.hpp>

#include "sharebox/domain/auth_service.hpp"
#include "sharebox/domain/file_service.hpp"
#include "sharebox/domain/notification_service.hpp"
#include "sharebox/domain/upload_service.hpp"
#include "sharebox/http/exchange.hpp"
#include "sharebox/http/router.hpp"

namespace sharebox::api {

struct options {
  std::uint64_t max_file_size = 10ull << 30;
  bool trust_user_header = false;
  std::size_t upload_buffer_bytes = 256 * 1024;
  std::size_t max_json_body = 64 * 1024;
  // Origins whose browser pages may call the API (CORS); "*" allows any.
  std::vector<std::string> cors_origins;
};

// What handlers may use. The pool runs every blocking call (SQLite, fsync, hashing).
class live_hub;
class ticket_store;

struct services {
  domain::file_service& files;
  domain::auth_service& auth;
  domain::notification_service& notifications;
  domain::upload_service& uploads;
  domain::blob_store& blobs;
  asio::thread_pool& pool;
  options opts;
  class live_hub& hub;
  class ticket_store& tickets;
  // Extra members of GET /health (e.g. broker state); must not block.
  std::function<nlohmann::json()> health_details;
};

struct request_context {
  http::exchange& io;
  const services& svc;
  http::params path;
  http::params query;
  domain::user user;  // the authenticated caller, on routes that require one
};

using handler = std::function<awaitable<void>(request_context&)>;

// The request handler for the whole HTTP API.
http::request_handler make_api(const services& svc);

}  // namespace sharebox::api
