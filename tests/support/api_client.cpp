#include "support/api_client.hpp"

#include <regex>
#include <stdexcept>
#include <utility>

namespace sharebox::test {

using nlohmann::json;

api_client::api_client(std::uint16_t port, std::string credential, auth_style style)
    : conn_(port), credential_(std::move(credential)), style_(style) {}

header_list api_client::auth() const {
  switch (style_) {
    case auth_style::bearer:
      return {{"Authorization", "Bearer " + credential_}};
    case auth_style::api_key:
      return {{"X-API-Key", credential_}};
    case auth_style::user_header:
      return {{"X-User-Id", credential_}};
    case auth_style::none:
      break;
  }
  return {};
}

response api_client::send(std::string_view method, std::string_view target, header_list headers,
                          std::string_view body) {
  header_list all = auth();
  all.insert(all.end(), headers.begin(), headers.end());
  return conn_.request(method, target, all, body);
}

response api_client::get(std::string_view target, header_list headers) {
  return send("GET", target, std::move(headers));
}

response api_client::head(std::string_view target, header_list headers) {
  return send("HEAD", target, std::move(headers));
}

response api_client::del(std::string_view target, header_list headers) {
  return send("DELETE", target, std::move(headers));
}

response api_client::post_json(std::string_view target, std::string_view json_text) {
  return send("POST", target, {{"Content-Type", "application/json"}}, json_text);
}

response api_client::upload(std::string_view name, std::string_view content,
                            std::string_view content_type) {
  const auto mp = build_multipart(
      {{"file", std::string(name), std::string(content_type), std::string(content)}});
  return send("POST", "/files", {{"Content-Type", mp.content_type()}}, mp.body);
}

response api_client::upload_raw(std::string_view name, std::string_view content,
                                std::string_view content_type) {
  return send("POST", "/files?name=" + url_encode(name),
              {{"Content-Type", std::string(content_type)}}, content);
}

response api_client::put_raw(std::string_view id, std::string_view content,
                             std::optional<std::string> if_match, std::string_view query,
                             std::string_view content_type) {
  header_list h = {{"Content-Type", std::string(content_type)}};
  if (if_match) h.emplace_back("If-Match", *if_match);
  std::string target = "/files/" + std::string(id);
  if (!query.empty()) target += "?" + std::string(query);
  return send("PUT", target, std::move(h), content);
}

response api_client::share(std::string_view id, std::string_view user,
                           std::optional<std::string> permission) {
  json body = {{"target_user_id", user}};
  if (permission) body["permission"] = *permission;
  return post_json("/shares/" + std::string(id), body.dump());
}

response api_client::list(std::string_view query) {
  std::string target = "/files";
  if (!query.empty()) target += "?" + std::string(query);
  return get(target);
}

// ------------------------------------------------------------------------------------------

json json_body(const response& r) {
  try {
    return json::parse(r.body);
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("response body is not JSON (") + e.what() + "):\n" +
                             r.describe());
  }
}

std::string created_id(const response& r) {
  const json j = json_body(r);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) {
    throw std::runtime_error("response has no string `id`:\n" + r.describe());
  }
  return j["id"].get<std::string>();
}

std::string etag_for(long version) {
  return "\"" + std::to_string(version) + "\"";
}

::testing::AssertionResult has_status(const response& r, unsigned status) {
  if (r.status == status) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected HTTP " << status << ", got:\n" << r.describe();
}

::testing::AssertionResult is_problem(const response& r, unsigned status, std::string_view code) {
  auto fail = [&](std::string_view why) {
    return ::testing::AssertionFailure() << "expected problem " << status
                                         << (code.empty() ? "" : " ") << code << ": " << why << "\n"
                                         << r.describe();
  };
  if (r.status != status) return fail("wrong status");
  const std::string ct = to_lower(r.header("Content-Type"));
  if (ct.rfind("application/problem+json", 0) != 0) return fail("wrong Content-Type");
  json j;
  try {
    j = json::parse(r.body);
  } catch (const json::exception&) {
    return fail("body is not JSON");
  }
  if (!j.is_object()) return fail("body is not a JSON object");
  for (const char* field : {"type", "title", "detail", "code"}) {
    if (!j.contains(field) || !j[field].is_string()) {
      return fail(std::string("missing string field `") + field + "`");
    }
  }
  if (!j.contains("status") || !j["status"].is_number_integer() ||
      j["status"].get<long>() != static_cast<long>(status)) {
    return fail("`status` field missing or different from the HTTP status");
  }
  static const std::regex snake(R"([a-z][a-z0-9]*(_[a-z0-9]+)*)");
  const auto actual = j["code"].get<std::string>();
  if (!std::regex_match(actual, snake)) return fail("`code` is not snake_case");
  if (!code.empty() && actual != code) return fail("wrong `code`");
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult is_file_object(const json& j) {
  auto fail = [&](std::string_view why) {
    return ::testing::AssertionFailure() << "not a file object (" << why << "): " << j.dump();
  };
  if (!j.is_object()) return fail("not an object");
  for (const char* field :
       {"id", "name", "content_type", "sha256", "etag", "owner", "created_at", "updated_at"}) {
    if (!j.contains(field) || !j[field].is_string()) {
      return fail(std::string("missing string `") + field + "`");
    }
  }
  if (j["id"].get<std::string>().empty()) return fail("empty id");
  if (!j.contains("size") || !j["size"].is_number_unsigned()) {
    // nlohmann stores non-negative integers as unsigned.
    return fail("missing non-negative integer `size`");
  }
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<long>() < 1) {
    return fail("missing integer `version` >= 1");
  }
  static const std::regex hex64("[0-9a-f]{64}");
  if (!std::regex_match(j["sha256"].get<std::string>(), hex64)) {
    return fail("sha256 is not 64 lowercase hex digits");
  }
  if (j["etag"].get<std::string>() != etag_for(j["version"].get<long>())) {
    return fail("etag is not \"<version>\"");
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult is_share_object(const json& j) {
  auto fail = [&](std::string_view why) {
    return ::testing::AssertionFailure() << "not a share object (" << why << "): " << j.dump();
  };
  if (!j.is_object()) return fail("not an object");
  for (const char* field : {"file_id", "user_id", "permission", "granted_by", "created_at"}) {
    if (!j.contains(field) || !j[field].is_string()) {
      return fail(std::string("missing string `") + field + "`");
    }
  }
  const auto p = j["permission"].get<std::string>();
  if (p != "read" && p != "write") return fail("permission is not read|write");
  return ::testing::AssertionSuccess();
}

}  // namespace sharebox::test
