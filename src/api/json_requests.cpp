#include "sharebox/api/json_requests.hpp"

#include "sharebox/domain/errors.hpp"
#include "sharebox/http/problem.hpp"

namespace sharebox::api {

namespace {

// A member of a JSON body that is missing or of the wrong type.
[[noreturn]] void invalid_member(std::string detail) {
  throw domain::error(domain::errc::invalid_parameter, std::move(detail));
}

std::string string_field(const nlohmann::json& body, const char* name, bool required) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) invalid_member(std::string(name) + " is required.");
    return {};
  }
  if (!it->is_string()) invalid_member(std::string(name) + " must be a string.");
  return it->get<std::string>();
}

std::optional<std::uint64_t> size_field(const nlohmann::json& body, const char* name,
                                        bool required) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) invalid_member(std::string(name) + " is required.");
    return std::nullopt;
  }
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
    invalid_member(std::string(name) + " must be a non-negative integer.");
  }
  return it->get<std::uint64_t>();
}

std::optional<bool> optional_bool(const nlohmann::json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end()) return std::nullopt;
  if (!it->is_boolean()) invalid_member(std::string(name) + " must be true or false.");
  return it->get<bool>();
}

std::string optional_string(const nlohmann::json& body, const char* name,
                            std::string default_value) {
  const auto it = body.find(name);
  if (it == body.end()) return default_value;
  if (!it->is_string()) invalid_member(std::string(name) + " must be a string.");
  return it->get<std::string>();
}

}  // namespace

nlohmann::json parse_json_object(std::string_view body) {
  // Depth is bounded by the size limit; nlohmann's parser recurses once per nesting level.
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw http::api_error(bhttp::status::bad_request, "invalid_json",
                          "The request body must be a JSON object.");
  }
  return j;
}

domain::chunked_init parse_upload_init(const nlohmann::json& body) {
  domain::chunked_init req;
  req.filename = string_field(body, "filename", true);
  req.size = *size_field(body, "size", true);
  req.content_type = string_field(body, "content_type", false);
  req.sha256 = string_field(body, "sha256", false);
  req.chunk_size = size_field(body, "chunk_size", false);
  if (req.chunk_size == 0u) invalid_member("chunk_size must be positive.");
  req.file_id = string_field(body, "file_id", false);
  req.if_match = string_field(body, "if_match", false);
  if (!req.if_match.empty() && req.file_id.empty()) {
    invalid_member("if_match only makes sense with file_id.");
  }
  return req;
}

std::string parse_upload_completion(const std::optional<nlohmann::json>& body) {
  if (!body) return {};
  return string_field(*body, "sha256", false);
}

share_request parse_share_request(const nlohmann::json& body) {
  const auto target = body.find("target_user_id");
  if (target == body.end() || !target->is_string() || target->get<std::string>().empty()) {
    throw domain::error(domain::errc::invalid_parameter,
                        "target_user_id must be a non-empty string.");
  }
  share_request req{target->get<std::string>()};
  if (const auto p = body.find("permission"); p != body.end()) {
    const auto parsed =
        p->is_string() ? domain::parse_permission(p->get<std::string>()) : std::nullopt;
    if (!parsed) {
      throw domain::error(domain::errc::invalid_permission,
                          "permission must be \"read\" or \"write\".");
    }
    req.perm = *parsed;
  }
  return req;
}

new_user_request parse_new_user(const nlohmann::json& body) {
  const auto name = body.find("name");
  if (name == body.end() || !name->is_string()) invalid_member("name must be a string.");
  new_user_request req;
  req.name = name->get<std::string>();
  req.admin = optional_bool(body, "admin").value_or(false);
  req.key_label = optional_string(body, "key_label", "initial");
  return req;
}

domain::user_change parse_user_change(const nlohmann::json& body) {
  const domain::user_change change{optional_bool(body, "disabled"), optional_bool(body, "admin")};
  if (!change.disabled && !change.admin) {
    invalid_member("Send {\"disabled\": true|false} and/or {\"admin\": true|false}.");
  }
  return change;
}

std::string parse_new_key_label(const std::optional<nlohmann::json>& body) {
  return body ? optional_string(*body, "label", "") : std::string();
}

std::string parse_session_key(const nlohmann::json& body) {
  const auto it = body.find("api_key");
  if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    throw domain::error(domain::errc::invalid_parameter, "Send {\"api_key\": \"...\"}.");
  }
  return it->get<std::string>();
}

}  // namespace sharebox::api
