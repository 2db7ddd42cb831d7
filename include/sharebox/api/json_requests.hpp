#pragma once
// JSON request bodies turned into typed requests: the parse and validate step of every route
// that reads JSON, apart from the handlers so that tests/fuzz can drive it. Errors are the ones
// the routes answer with: http::api_error 400 invalid_json for a body that is not a JSON
// object, domain::error (invalid_parameter, invalid_permission) for a member that is wrong.
// Rules that need the database (does the user exist, ...) stay in the domain services.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sharebox/domain/auth_service.hpp"
#include "sharebox/domain/model.hpp"
#include "sharebox/domain/upload_service.hpp"

namespace sharebox::api {

// A JSON object; 400 invalid_json for anything else (invalid JSON, an array, a number...).
nlohmann::json parse_json_object(std::string_view body);

// POST /v1/uploads/init: {filename, size, content_type?, sha256?, chunk_size?, file_id?,
// if_match?}.
domain::chunked_init parse_upload_init(const nlohmann::json& body);
// POST /v1/uploads/{id}/complete: the optional {"sha256": "<hex>"} ("" when absent).
std::string parse_upload_completion(const std::optional<nlohmann::json>& body);

// POST /shares/{id}: {"target_user_id": "bob", "permission"?: "read"|"write"}.
struct share_request {
  std::string target_user_id;
  domain::permission perm = domain::permission::read;
};
share_request parse_share_request(const nlohmann::json& body);

// POST /admin/users: {"name", "admin"?, "key_label"?}.
struct new_user_request {
  std::string name;
  bool admin = false;
  std::string key_label = "initial";
};
new_user_request parse_new_user(const nlohmann::json& body);
// PATCH /admin/users/{user_id}: {"disabled"?: bool, "admin"?: bool}, at least one of them.
domain::user_change parse_user_change(const nlohmann::json& body);
// POST /admin/users/{user_id}/keys: the optional {"label"?} ("" when absent).
std::string parse_new_key_label(const std::optional<nlohmann::json>& body);

// POST /auth/session: {"api_key": "..."}, a non-empty string.
std::string parse_session_key(const nlohmann::json& body);

}  // namespace sharebox::api
