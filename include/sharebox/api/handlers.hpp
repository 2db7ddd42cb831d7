#pragma once
// Handlers, one group per resource, and the helpers they share.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sharebox/api/context.hpp"
#include "sharebox/domain/upload_service.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/http/router.hpp"

namespace sharebox::api {

awaitable<void> get_health(request_context& ctx);

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

awaitable<void> post_share(request_context& ctx);
awaitable<void> list_shares(request_context& ctx);
awaitable<void> delete_share(request_context& ctx);

// --- shared helpers ---
nlohmann::json to_json(const domain::file_view& v);
nlohmann::json to_json(const domain::share& s);
nlohmann::json to_json(const domain::notification& n);

// The caller from an API key (or a trusted X-User-Id); 401 otherwise.
awaitable<domain::user> authenticate(request_context& ctx);
http::string_response json_response(bhttp::status status, const nlohmann::json& body);

// The body of a create/replace request, stored as a committed blob.
struct received_upload {
  domain::blob_info blob;
  std::optional<std::string> name;          // from the multipart filename, `name` field or ?name=
  std::optional<std::string> content_type;  // from the part or the request
};
awaitable<received_upload> receive_upload(request_context& ctx);

// Streams the request body into an upload's file, one buffer per pool write.
awaitable<void> pump_body(request_context& ctx, domain::upload_writer& w);
// A declared digest of the body: Content-Digest (RFC 9530) here, Upload-Checksum in tus.
struct digest_expectation {
  util::hash_algorithm algorithm;
  std::string raw;
};
// The body's Content-Digest, if it names an algorithm we check; 400 invalid_digest if malformed.
std::optional<digest_expectation> content_digest(const http::request_header& req);

// ?limit= as an integer from 1 to 1000; 400 invalid_parameter otherwise.
std::size_t limit_param(const http::params& query, std::size_t default_value);

// A small JSON request body (limits from options): 413 if too large, 400 invalid_json if bad.
awaitable<nlohmann::json> read_json_body(request_context& ctx);

}  // namespace sharebox::api
