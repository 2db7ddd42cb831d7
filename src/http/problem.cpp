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
    {domain::errc::file_too_large, bhttp::status::payload_too_large, "file_too_large"},
    {domain::errc::storage_full, bhttp::status::insufficient_storage, "storage_full"},
};

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
  nlohmann::json body{
      {"type", "/problems/" + p.code},
      {"title", std::string(bhttp::obsolete_reason(p.status))},
      {"status", static_cast<unsigned>(p.status)},
      {"detail", p.detail},
      {"code", p.code},
  };
  for (const auto& [k, v] : p.extra)
    body[k] = v;
  string_response res{p.status, version};
  res.set(bhttp::field::content_type, "application/problem+json");
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.body() += '\n';
  res.prepare_payload();
  return res;
}

}  // namespace sharebox::http
