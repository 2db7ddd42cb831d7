// JSON request bodies (src/api/json_requests.cpp): the parse and validate step of every route
// that reads JSON. Input: the route on the first line (init, complete, share, user, user-change,
// key, session), the body after it (up to the server's 64 KiB limit: -max_len=65536).
//
// Properties:
//  - a body that is not a JSON object is 400 invalid_json; a member of the wrong type or value is
//    a domain::error (invalid_parameter, or invalid_permission for shares); no other exception
//    (which would be a 500) escapes, however deep or odd the JSON;
//  - a typed request written back as JSON parses to the same typed request;
//  - the domain's name rules used on these values agree with their definitions (file names,
//    user names, key labels).
#include <algorithm>
#include <cctype>
#include <iterator>
#include <functional>

#include "fuzz_support.hpp"
#include "sharebox/api/json_requests.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/domain/model.hpp"
#include "sharebox/http/problem.hpp"
#include "sharebox/util/encoding.hpp"

namespace {

using namespace sharebox;
using nlohmann::json;

// Runs `fn`; false if it refused as a route may (invalid_json, or a domain error in `codes`).
bool accepted(const std::function<void()>& fn,
              std::initializer_list<domain::errc> codes = {domain::errc::invalid_parameter}) {
  try {
    fn();
    return true;
  } catch (const http::api_error& e) {
    FUZZ_CHECK(e.status() == bhttp::status::bad_request && e.code() == "invalid_json");
  } catch (const domain::error& e) {
    FUZZ_CHECK(std::find(codes.begin(), codes.end(), e.code()) != codes.end());
  }
  return false;
}

json reparse(const json& j) {
  return api::parse_json_object(j.dump());
}

bool no_controls(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

void check_names(std::string_view file_name, std::string_view user_name, std::string_view label) {
  FUZZ_CHECK(domain::is_valid_file_name(file_name) ==
             (!file_name.empty() && file_name.size() <= 255 && util::is_valid_utf8(file_name) &&
              no_controls(file_name)));
  const bool user_ok = !user_name.empty() && user_name.size() <= 64 &&
                       std::all_of(user_name.begin(), user_name.end(),
                                   [](char c) {
                                     return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                            c == '.' || c == '_' || c == '-';
                                   }) &&
                       std::isalnum(static_cast<unsigned char>(user_name[0]));
  FUZZ_CHECK(domain::is_valid_user_name(user_name) == user_ok);
  FUZZ_CHECK(
      domain::is_valid_key_label(label) ==
      (label.empty() || (label.size() <= 200 && util::is_valid_utf8(label) && no_controls(label))));
}

void upload_init(const json& body) {
  domain::chunked_init r;
  if (!accepted([&] { r = api::parse_upload_init(body); })) return;
  FUZZ_CHECK(r.chunk_size != 0u);
  FUZZ_CHECK(r.if_match.empty() || !r.file_id.empty());
  json j{{"filename", r.filename}, {"size", r.size}};
  if (!r.content_type.empty()) j["content_type"] = r.content_type;
  if (!r.sha256.empty()) j["sha256"] = r.sha256;
  if (r.chunk_size) j["chunk_size"] = *r.chunk_size;
  if (!r.file_id.empty()) j["file_id"] = r.file_id;
  if (!r.if_match.empty()) j["if_match"] = r.if_match;
  const auto again = api::parse_upload_init(reparse(j));
  FUZZ_CHECK(again.filename == r.filename && again.size == r.size &&
             again.content_type == r.content_type && again.sha256 == r.sha256 &&
             again.chunk_size == r.chunk_size && again.file_id == r.file_id &&
             again.if_match == r.if_match);
  check_names(r.filename, "", "");
}

void completion(const std::optional<json>& body) {
  std::string sha;
  if (!accepted([&] { sha = api::parse_upload_completion(body); })) return;
  if (!body) FUZZ_CHECK(sha.empty());
  std::optional<json> j;
  if (!sha.empty()) j = reparse(json{{"sha256", sha}});
  FUZZ_CHECK(api::parse_upload_completion(j) == sha);
}

void share(const json& body) {
  api::share_request r;
  if (!accepted([&] { r = api::parse_share_request(body); },
                {domain::errc::invalid_parameter, domain::errc::invalid_permission})) {
    return;
  }
  FUZZ_CHECK(!r.target_user_id.empty());
  const auto again = api::parse_share_request(
      reparse(json{{"target_user_id", r.target_user_id},
                   {"permission", std::string(domain::to_string(r.perm))}}));
  FUZZ_CHECK(again.target_user_id == r.target_user_id && again.perm == r.perm);
  check_names("", r.target_user_id, "");
}

void new_user(const json& body) {
  api::new_user_request r;
  if (!accepted([&] { r = api::parse_new_user(body); })) return;
  const auto again = api::parse_new_user(
      reparse(json{{"name", r.name}, {"admin", r.admin}, {"key_label", r.key_label}}));
  FUZZ_CHECK(again.name == r.name && again.admin == r.admin && again.key_label == r.key_label);
  check_names("", r.name, r.key_label);
}

void user_change(const json& body) {
  domain::user_change c;
  if (!accepted([&] { c = api::parse_user_change(body); })) return;
  FUZZ_CHECK(c.disabled || c.admin);
  json j = json::object();
  if (c.disabled) j["disabled"] = *c.disabled;
  if (c.admin) j["admin"] = *c.admin;
  const auto again = api::parse_user_change(reparse(j));
  FUZZ_CHECK(again.disabled == c.disabled && again.admin == c.admin);
}

void key_label(const std::optional<json>& body) {
  std::string label;
  if (!accepted([&] { label = api::parse_new_key_label(body); })) return;
  if (!body) FUZZ_CHECK(label.empty());
  FUZZ_CHECK(api::parse_new_key_label(reparse(json{{"label", label}})) == label);
  check_names("", "", label);
}

void session_key(const json& body) {
  std::string key;
  if (!accepted([&] { key = api::parse_session_key(body); })) return;
  FUZZ_CHECK(!key.empty());
  FUZZ_CHECK(api::parse_session_key(reparse(json{{"api_key", key}})) == key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // (Not a structured binding: clang 14 cannot capture those in lambdas.)
  const auto input = fuzz::first_line(fuzz::as_text(data, size));
  const std::string_view route = input.first;
  const std::string_view body = input.second;
  // A route this target does not know (a mutated first line) tries the body on every route.
  static constexpr std::string_view known[] = {"init",        "complete", "share",  "user",
                                               "user-change", "key",      "session"};
  const bool every = std::find(std::begin(known), std::end(known), route) == std::end(known);
  const auto on = [&](std::string_view name) { return every || route == name; };

  // Routes whose body is optional read an empty body as none (read_optional_json_body).
  std::optional<json> optional_body;
  if (!accepted([&] {
        if (!body.empty()) optional_body = api::parse_json_object(body);
      })) {
    return 0;
  }
  FUZZ_CHECK(!optional_body || optional_body->is_object());
  if (on("complete")) completion(optional_body);
  if (on("key")) key_label(optional_body);

  json object;
  if (!accepted([&] { object = api::parse_json_object(body); })) return 0;
  if (on("init")) upload_init(object);
  if (on("share")) share(object);
  if (on("user")) new_user(object);
  if (on("user-change")) user_change(object);
  if (on("session")) session_key(object);
  return 0;
}
