#include "sharebox/http/problem.hpp"

#include <nlohmann/json.hpp>

namespace sharebox::http {

namespace {

struct mapping {
  domain::errc errc;
  bhttp::status status;
  std::string_view code;
};

// The single table from domain errors to HTTP.
constexpr mapping table[] = {
    {domain::errc::unauthenticated, bhttp::status::unauthorized, "unauthenticated"},
    {domain::errc::file_not_found, bhttp::status::not_found, "file_not_found"},
    {domain::errc::user_not_found, bhttp::status::not_found, "user_not_found"},
    {domain::errc::share_not_found, bhttp::status::not_found, "share_not_found"},
    {domain::errc::notification_not_found, bhttp::status::not_found, "notification_not_found"},
    {domain::errc::not_owner, bhttp::status::forbidden, "not_owner"},
    {domain::errc::read_only_share, bhttp::status::forbidden, "read_only_share"},
    {domain::errc::etag_mismatch, bhttp::status::precondition_failed, "etag_mismatch"},
    {domain::errc::if_match_required, bhttp::status::precondition_required, "if_match_required"},
    {domain::errc::share_with_self, bhttp::status::unprocessable_entity, "share_with_self"},
    {domain::errc::invalid_name, bhttp::status::bad_request, "invalid_name"},
    {domain::errc::invalid_user_name, bhttp::status::bad_request, "invalid_user_name"},
    {domain::errc::invalid_permission, bhttp::status::bad_request, "invalid_permission"},
    {domain::errc::invalid_parameter, bhttp::status::bad_request, "invalid_parameter"},
    {domain::errc::user_exists, bhttp::status::conflict, "user_exists"},
    {domain::errc::admin_required, bhttp::status::forbidden, "admin_required"},
    {domain::errc::last_admin, bhttp::status::conflict, "last_admin"},
    {domain::errc::key_not_found, bhttp::status::not_found, "key_not_found"},
    {domain::errc::file_too_large, bhttp::status::payload_too_large, "file_too_large"},
    {domain::errc::storage_full, bhttp::status::insufficient_storage, "storage_full"},
    {domain::errc::upload_not_found, bhttp::status::not_found, "upload_not_found"},
    {domain::errc::upload_expired, bhttp::status::gone, "upload_expired"},
    {domain::errc::upload_completed, bhttp::status::conflict, "upload_completed"},
    {domain::errc::upload_busy, bhttp::status::conflict, "upload_busy"},
    {domain::errc::upload_locked, bhttp::status::locked, "upload_locked"},
    {domain::errc::too_many_uploads, bhttp::status::too_many_requests, "too_many_uploads"},
    {domain::errc::too_many_inflight_chunks, bhttp::status::too_many_requests,
     "too_many_inflight_chunks"},
    {domain::errc::chunks_missing, bhttp::status::conflict, "chunks_missing"},
    {domain::errc::checksum_mismatch, bhttp::status::unprocessable_entity, "checksum_mismatch"},
    {domain::errc::digest_mismatch, bhttp::status::bad_request, "digest_mismatch"},
    {domain::errc::chunk_size_mismatch, bhttp::status::bad_request, "chunk_size_mismatch"},
    {domain::errc::invalid_chunk_index, bhttp::status::bad_request, "invalid_chunk_index"},
    {domain::errc::offset_mismatch, bhttp::status::conflict, "offset_mismatch"},
    {domain::errc::upload_length_exceeded, bhttp::status::payload_too_large,
     "upload_length_exceeded"},
    {domain::errc::upload_not_writable, bhttp::status::forbidden, "upload_not_writable"},
    {domain::errc::partial_upload_unfinished, bhttp::status::bad_request,
     "partial_upload_unfinished"},
};

// Statuses Beast has no reason phrase for.
std::string_view reason_of(bhttp::status s) {
  if (static_cast<unsigned>(s) == 460) return "Checksum Mismatch";  // tus checksum extension
  return bhttp::obsolete_reason(s);
}

}  // namespace

problem to_problem(const domain::error& e) {
  for (const auto& m : table) {
    if (m.errc == e.code()) return problem{m.status, std::string(m.code), e.what(), e.extra()};
  }
  return problem{bhttp::status::internal_server_error, "internal_error", e.what(), {}};
}

problem to_problem(const api_error& e) {
  return problem{e.status(), e.code(), e.what(), e.extra()};
}

string_response problem_response(const problem& p, unsigned version) {
  return problem_response(p, nlohmann::json::object(), version);
}

string_response problem_response(const problem& p, const nlohmann::json& members,
                                 unsigned version) {
  nlohmann::json body{
      {"type", "/problems/" + p.code},
      {"title", std::string(reason_of(p.status))},
      {"status", static_cast<unsigned>(p.status)},
      {"detail", p.detail},
      {"code", p.code},
  };
  for (const auto& f : p.extra)
    std::visit([&](const auto& v) { body[f.name] = v; }, f.value);
  body.update(members);
  string_response res{p.status, version};
  res.reason(reason_of(p.status));
  res.set(bhttp::field::content_type, "application/problem+json");
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.body() += '\n';
  res.prepare_payload();
  return res;
}

}  // namespace sharebox::http
