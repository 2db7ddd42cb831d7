#pragma once
#include <cstdint>
#include <functional>

#include <nlohmann/json.hpp>

#include "sharebox/domain/auth_service.hpp"
#include "sharebox/domain/intake_session.hpp"
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
  std::int64_t session_ttl_ms = 7ll * 24 * 3600 * 1000;
  bool secure_cookies = false;  // behind TLS: the cookie is sent over HTTPS only
  // GET /metrics wants `Authorization: Bearer` this key when set; public otherwise, like /health.
  std::string metrics_key;
  struct {
    domain::intake_limits session;
    std::size_t max_message_bytes = 1024 * 1024;  // one WebSocket message
    std::uint64_t max_pixels = 40'000'000;        // decoding memory grows with pixels
    // Files bigger than this get no thumbnail made on demand (intake images always have one).
    std::uint64_t max_thumbnail_source_bytes = 64ull << 20;
  } intake;
};

// Whether the server can do its work: each check's outcome by name ("ok", or what is wrong).
struct readiness {
  bool ready = false;
  nlohmann::json checks = nlohmann::json::object();
};

// What handlers may use. The pool runs every blocking call (SQLite, fsync, hashing).
class live_hub;
class ticket_store;
class download_cache;
class api_metrics;
class rate_limiter;

struct services {
  domain::file_service& files;
  domain::auth_service& auth;
  domain::notification_service& notifications;
  domain::upload_service& uploads;
  domain::blob_store& blobs;
  asio::thread_pool& pool;
  // Short metadata reads (authentication, a download's file and descriptor), one thread per
  // usable core. Apart from `pool` because Asio's pool wakes a further idle thread whenever it
  // dequeues a job with more waiting: with more threads than cores, hand-offs then cost about
  // two context switches and three futex calls per request instead of a few per batch of
  // requests (measured on one core: 43 against 35 us of CPU per download).
  asio::thread_pool& read_pool;
  // Image decoding only: a burst of pictures never holds up SQLite commits or fsyncs.
  asio::thread_pool& image_pool;
  options opts;
  class live_hub& hub;
  class ticket_store& tickets;
  class download_cache& downloads;
  // --rate-limit: every authenticated request takes a token of its credential's bucket.
  class rate_limiter& limiter;
  // Extra members of GET /health (e.g. broker state); must not block.
  std::function<nlohmann::json()> health_details;
  // GET /ready's checks (schema migrated, data dir writable); blocking, so run on the pool.
  std::function<readiness()> readiness_check;
  // Requests by route, uploads in progress, intake verdicts; GET /metrics renders it.
  api_metrics& metrics;
};

// What a request presented to prove who sends it, read from its headers before any database
// work.
struct credential {
  enum class kind { api_key, trusted_user, session } type = kind::api_key;
  std::string secret;  // the key, the trusted user id or the session token
};

struct request_context {
  http::exchange& io;
  const services& svc;
  http::params path;
  http::params query;
  domain::user user;         // the authenticated caller, on routes that require one
  bool via_session = false;  // authenticated by the browser app's cookie
  // On routes that resolve the caller themselves (see resolve_credential), set before the
  // handler runs.
  struct credential credential;
};

using handler = std::function<awaitable<void>(request_context&)>;

// The request handler for the whole HTTP API.
http::request_handler make_api(const services& svc);

// Every route make_api() serves, as registered (GET routes answer HEAD too): what
// docs/openapi.yaml must describe, no more and no less (tests/unit/openapi_test.cpp).
struct route_info {
  bhttp::verb method;
  std::string pattern;  // e.g. "/files/{id}"; a trailing slash is kept ("/tus/")
  bool public_route = false;
};
std::vector<route_info> registered_routes();

}  // namespace sharebox::api
