#pragma once
// Handlers, one group per resource, and the helpers they share.
#include <unistd.h>

#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "sharebox/api/context.hpp"
#include "sharebox/api/metrics.hpp"
#include "sharebox/domain/upload_service.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/http/router.hpp"

namespace sharebox::api {

awaitable<void> get_health(request_context& ctx);
awaitable<void> get_ready(request_context& ctx);
awaitable<void> get_metrics(request_context& ctx);

awaitable<void> post_file(request_context& ctx);
awaitable<void> list_files(request_context& ctx);
awaitable<void> get_file(request_context& ctx);
awaitable<void> get_file_meta(request_context& ctx);
awaitable<void> put_file(request_context& ctx);
awaitable<void> delete_file(request_context& ctx);

awaitable<void> list_notifications(request_context& ctx);
awaitable<void> unread_notifications(request_context& ctx);
awaitable<void> read_notification(request_context& ctx);
awaitable<void> read_all_notifications(request_context& ctx);
awaitable<void> delete_notification(request_context& ctx);

awaitable<void> post_session(request_context& ctx);
awaitable<void> get_session(request_context& ctx);
awaitable<void> delete_session(request_context& ctx);
awaitable<void> get_web_index(request_context& ctx);
awaitable<void> get_web_asset(request_context& ctx);
awaitable<void> get_openapi(request_context& ctx);
awaitable<void> get_docs_index(request_context& ctx);
awaitable<void> get_docs_asset(request_context& ctx);
awaitable<void> get_thumbnail(request_context& ctx);
awaitable<void> ws_intake(request_context& ctx);

awaitable<void> post_ws_ticket(request_context& ctx);
awaitable<void> ws_events(request_context& ctx);
awaitable<void> sse_events(request_context& ctx);

awaitable<void> post_upload_init(request_context& ctx);
awaitable<void> put_upload_chunk(request_context& ctx);
awaitable<void> get_upload(request_context& ctx);
awaitable<void> get_missing_chunks(request_context& ctx);
awaitable<void> post_upload_complete(request_context& ctx);
awaitable<void> get_upload_download(request_context& ctx);
awaitable<void> delete_upload(request_context& ctx);

awaitable<void> tus_options(request_context& ctx);
awaitable<void> tus_create(request_context& ctx);
awaitable<void> tus_head_or_get(request_context& ctx);
awaitable<void> tus_patch(request_context& ctx);
awaitable<void> tus_delete(request_context& ctx);

awaitable<void> post_admin_user(request_context& ctx);
awaitable<void> list_admin_users(request_context& ctx);
awaitable<void> get_admin_user(request_context& ctx);
awaitable<void> patch_admin_user(request_context& ctx);
awaitable<void> post_admin_key(request_context& ctx);
awaitable<void> delete_admin_key(request_context& ctx);

awaitable<void> post_share(request_context& ctx);
awaitable<void> list_shares(request_context& ctx);
awaitable<void> delete_share(request_context& ctx);

// --- shared helpers ---
// Closes a descriptor on every way out of a handler.
struct unique_fd {
  int fd = -1;
  explicit unique_fd(int f) : fd(f) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() {
    if (fd >= 0) ::close(fd);
  }
};

// A file object; listings also show the owner whom the file is shared with.
nlohmann::json to_json(const domain::file_view& v, bool listing = false);
nlohmann::json to_json(const domain::share& s);
nlohmann::json to_json(const domain::notification& n);
// Users and their keys (the administration API).
nlohmann::json to_json(const domain::user& u);
nlohmann::json to_json(const domain::api_key& k);
// The key as issued: the only representation that ever holds its secret.
nlohmann::json to_json(const domain::issued_key& k);

// Page size of the listings when the request names none.
inline constexpr std::size_t default_page_size = 100;

// The caller from an API key, a trusted X-User-Id or the browser app's session cookie; 401
// otherwise. Cookie requests that change state must come from an allowed Origin (403).
awaitable<domain::user> authenticate(request_context& ctx);
// authenticate() in two halves, for handlers that fold the lookup into their own pool work:
// read_credential runs on the network thread (401 without credentials, 403 for cross-site
// cookie changes); resolve_credential is a database read (pool only); accept_caller records
// the result in the context (network thread).
credential read_credential(request_context& ctx);
domain::user resolve_credential(const services& svc, const credential& c);
void accept_caller(request_context& ctx, const credential& c, domain::user u);
inline constexpr std::string_view session_cookie_name = "sharebox_session";
// --rate-limit. The bucket a credential's requests draw from: an API key's or a session's by a
// hash of the secret (`key_hash`: domain::hash_key of the key, when already computed), a proxied
// or ticket caller's by user id.
std::string rate_bucket(const credential& c, std::string_view key_hash = {});
std::string user_rate_bucket(std::string_view user_id);
// 429 rate_limited (with Retry-After) once the bucket is empty (`user_id`: the caller, for the
// access log). Only after the credential authenticated (made-up keys must not get buckets), and
// only if ctx.svc.limiter.enabled(), so that with no limit the hot path pays nothing but that
// test.
void limit_rate(request_context& ctx, std::string_view bucket, std::string_view user_id);
// The API key of `Authorization: Bearer KEY` or `X-API-Key: KEY`, if any.
std::optional<std::string_view> presented_key(const http::request_header& req);
std::optional<std::string_view> session_cookie(const http::request_header& req);
// True without an Origin header, for our own origin and for --cors-origins.
bool origin_allowed(const request_context& ctx);
// 403 origin_not_allowed unless origin_allowed(): WebSocket upgrades and sign-in.
void require_allowed_origin(const request_context& ctx);
// 403 csrf_rejected unless the request carries an Origin that origin_allowed() accepts: what a
// change authenticated by the cookie needs (browsers send Origin on every such request).
void require_own_page(const request_context& ctx, std::string detail);
http::string_response json_response(bhttp::status status, const nlohmann::json& body);

struct web_asset;
// The asset called `name` in an embedded table, or null.
const web_asset* find_asset(std::span<const web_asset> assets, std::string_view name);
// An embedded file with its strong ETag (304 for If-None-Match), `Cache-Control: no-cache` and
// a Content-Security-Policy that allows nothing but the server's own files.
awaitable<void> send_static_asset(request_context& ctx, const web_asset& a);

// The body of a create/replace request, stored as a committed blob.
struct received_upload {
  domain::blob_info blob;
  std::optional<std::string> name;          // from the multipart filename, `name` field or ?name=
  std::optional<std::string> content_type;  // from the part or the request
};
awaitable<received_upload> receive_upload(request_context& ctx);
// Reads body bytes until `buf` is full or the body ends; returns how many.
awaitable<std::size_t> read_body_full(http::exchange& io, char* buf, std::size_t size);

// Streams the request body into an upload's file, one buffer per pool write; the upload counts
// as in progress (metrics) meanwhile.
awaitable<void> pump_body(request_context& ctx, domain::upload_writer& w, upload_stream kind);
// A declared digest of the body: Content-Digest (RFC 9530) here, Upload-Checksum in tus.
struct digest_expectation {
  util::hash_algorithm algorithm;
  std::string raw;
};
// The body's Content-Digest, if it names an algorithm we check; 400 invalid_digest if malformed.
std::optional<digest_expectation> content_digest(const http::request_header& req);

// ?limit= as an integer from 1 to 1000; 400 invalid_parameter otherwise.
std::size_t limit_param(const http::params& query, std::size_t default_value);

// For streams (WebSocket, SSE): a ticket (?ticket=) or the usual credentials.
awaitable<domain::user> stream_user(request_context& ctx);
// Before a WebSocket upgrade: 426 without one, 403 from another origin, then the caller
// (ticket, cookie or key) into ctx.user.
awaitable<void> admit_websocket(request_context& ctx);

// A small JSON request body (limits from options): 413 if too large, 400 invalid_json if bad.
awaitable<nlohmann::json> read_json_body(request_context& ctx);
// The same for a body that may be absent (nullopt when it is empty).
awaitable<std::optional<nlohmann::json>> read_optional_json_body(request_context& ctx);

}  // namespace sharebox::api
