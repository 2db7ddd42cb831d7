#pragma once
// The API as the CLI sees it: credentials, problem+json errors turned into one-line messages,
// and retries with backoff for transient failures.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sharebox/client/http.hpp"
#include "sharebox/client/url.hpp"

namespace sharebox::client {

struct endpoint {
  server_url url;
  std::string key;  // API key; empty when none was given
  tls_options tls;  // for https:// URLs
};

// From the --url, --key and --cacert options: throws client_error for a bad URL or a key that
// cannot go into a header. Surrounding whitespace (a key pasted with its newline) is dropped.
endpoint make_endpoint(std::string_view url, std::string_view key, std::string ca_file = {});

struct retry_policy {
  int max_attempts = 8;    // connection errors and 5xx
  int max_throttled = 60;  // 429 answers: flow control, expected under load, so more patience
  std::chrono::milliseconds base_delay{250};
  std::chrono::milliseconds max_delay{20'000};
  std::chrono::seconds max_retry_after{120};
};

// Statuses worth another attempt: 408, 429, 500, 502, 503, 504.
bool is_transient(unsigned status);
// The delay a Retry-After header asks for (delta-seconds or an HTTP date), if any.
std::optional<std::chrono::milliseconds> retry_after(const response& r);
// Exponential backoff with jitter for attempt 1, 2, ...
std::chrono::milliseconds backoff(int attempt, const retry_policy& policy);

// The parsed body of a 2xx JSON response; throws client_error if it is not JSON.
nlohmann::json json_body(const response& r);
// The problem+json body of an error response (an empty object if there is none).
nlohmann::json problem_of(const response& r);
// The problem's `code`, or "".
std::string problem_code(const response& r);

class api_session {
 public:
  explicit api_session(endpoint ep, retry_policy policy = {});

  // A request to `path` with the credentials.
  request make(std::string method, std::string path) const;
  // Sends `req`, retrying connection failures and transient statuses; returns the first other
  // response (which may be an error: see check()). Throws client_error once attempts run out.
  response send(const request& req, const transfer_hooks& hooks = {});
  // Throws api_error with a one-line message if `r` is not 2xx; `context` names what was being
  // done ("file 3f2a...", "upload movie.mkv").
  void check(const response& r, std::string_view context) const;
  // send + check + json_body.
  nlohmann::json call_json(const request& req, std::string_view context);

  connection& conn() { return conn_; }
  const endpoint& where() const { return ep_; }
  const retry_policy& policy() const { return policy_; }

 private:
  endpoint ep_;
  retry_policy policy_;
  connection conn_;
};

// Message for a non-2xx response: "<context>: <detail> (<code>, HTTP <status>)", with advice for
// 401 (the key) and 429 (the server is busy).
std::string describe_failure(const response& r, std::string_view context, bool key_given);

}  // namespace sharebox::client
