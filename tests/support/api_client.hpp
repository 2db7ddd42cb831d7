#pragma once
// sharebox-specific helpers on top of the HTTP client: an authenticated client and gtest
// predicates for the API's JSON shapes (problem details, file and share objects).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "support/http_client.hpp"

namespace sharebox::test {

enum class auth_style {
  bearer,       // Authorization: Bearer KEY
  api_key,      // X-API-Key: KEY
  user_header,  // X-User-Id: NAME (--trust-user-header)
  none,
};

// A keep-alive connection plus credentials, with one method per API call.
class api_client {
 public:
  api_client(std::uint16_t port, std::string credential, auth_style style = auth_style::bearer);

  header_list auth() const;
  // Any request, with the credentials added.
  response send(std::string_view method, std::string_view target, header_list headers = {},
                std::string_view body = {});
  response get(std::string_view target, header_list headers = {});
  response head(std::string_view target, header_list headers = {});
  response del(std::string_view target, header_list headers = {});
  response post_json(std::string_view target, std::string_view json_text);

  // POST /files as multipart/form-data with a `file` part.
  response upload(std::string_view name, std::string_view content,
                  std::string_view content_type = "application/octet-stream");
  // POST /files?name=NAME with a raw body.
  response upload_raw(std::string_view name, std::string_view content,
                      std::string_view content_type = "application/octet-stream");
  // PUT /files/{id}[?query] with a raw body; If-Match only when given.
  response put_raw(std::string_view id, std::string_view content,
                   std::optional<std::string> if_match, std::string_view query = {},
                   std::string_view content_type = "application/octet-stream");
  // POST /shares/{id} {"target_user_id": user[, "permission": permission]}.
  response share(std::string_view id, std::string_view user,
                 std::optional<std::string> permission = std::nullopt);
  response list(std::string_view query = {});

  connection& conn() { return conn_; }
  const std::string& credential() const { return credential_; }

 private:
  connection conn_;
  std::string credential_;
  auth_style style_;
};

// Parses a JSON body; throws std::runtime_error (with the response) if it is not JSON.
nlohmann::json json_body(const response& r);
// The `id` of a 201 upload response (throws if absent).
std::string created_id(const response& r);
// `"N"` for version N.
std::string etag_for(long version);

// Status check that prints the whole response on failure.
::testing::AssertionResult has_status(const response& r, unsigned status);
// An application/problem+json error with fields type, title, status (== `status`), detail and a
// snake_case code (== `code` unless empty).
::testing::AssertionResult is_problem(const response& r, unsigned status,
                                      std::string_view code = {});
// {id, name, size, content_type, sha256, version, etag, owner, created_at, updated_at} with
// sane types and etag == "\"version\"".
::testing::AssertionResult is_file_object(const nlohmann::json& j);
// {file_id, user_id, permission, granted_by, created_at}.
::testing::AssertionResult is_share_object(const nlohmann::json& j);

}  // namespace sharebox::test
