#include "sharebox/client/api.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <ctime>
#include <random>
#include <thread>

#include "sharebox/client/error.hpp"
#include "sharebox/client/format.hpp"

namespace sharebox::client {

namespace {

using std::chrono::milliseconds;

// Set once any server has answered this process: from then on a refused connection is a
// transient outage (a restart) worth waiting for, not a wrong URL to report at once.
std::atomic<bool> server_answered{false};

std::optional<std::time_t> parse_http_date(const std::string& text) {
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return ::timegm(&tm);
}

milliseconds jitter(milliseconds upper) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  if (upper.count() <= 0) return milliseconds(0);
  return milliseconds(std::uniform_int_distribution<long>(0, upper.count())(rng));
}

std::string attempts_text(int n) {
  return std::to_string(n) + (n == 1 ? " attempt" : " attempts");
}

}  // namespace

endpoint make_endpoint(std::string_view url, std::string_view key, std::string ca_file) {
  const auto first = key.find_first_not_of(" \t\r\n");
  key = first == std::string_view::npos ? std::string_view() : key.substr(first);
  key = key.substr(0, key.find_last_not_of(" \t\r\n") + 1);
  for (const char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      throw client_error(
          "the API key contains control characters; check --key or SHAREBOX_API_KEY");
    }
  }
  return endpoint{parse_server_url(url), std::string(key), tls_options{std::move(ca_file)}};
}

bool is_transient(unsigned status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

std::optional<milliseconds> retry_after(const response& r) {
  const std::string value = r.header("Retry-After");
  if (value.empty()) return std::nullopt;
  long seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc{} && end == value.data() + value.size() && seconds >= 0) {
    // Bounded before the multiplication: a huge value must not overflow into "retry now".
    constexpr long a_day = 24 * 3600;
    return milliseconds(std::min(seconds, a_day) * 1000);
  }
  if (const auto when = parse_http_date(value)) {
    return milliseconds(std::max<long>(0, (*when - std::time(nullptr)) * 1000L));
  }
  return std::nullopt;
}

milliseconds backoff(int attempt, const retry_policy& policy) {
  const int shift = std::clamp(attempt - 1, 0, 20);
  const milliseconds full = std::min(policy.max_delay, policy.base_delay * (1L << shift));
  // Half fixed, half random: spreads parallel workers apart without ever retrying at once.
  return full / 2 + jitter(full / 2);
}

nlohmann::json json_body(const response& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    throw client_error("the server answered HTTP " + std::to_string(r.status) +
                       " with a body that is not JSON");
  }
  return j;
}

nlohmann::json problem_of(const response& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

std::string problem_code(const response& r) {
  const auto p = problem_of(r);
  const auto it = p.find("code");
  return it != p.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string describe_failure(const response& r, std::string_view context, bool key_given) {
  const auto p = problem_of(r);
  const std::string code = problem_code(r);
  std::string detail = p.contains("detail") && p["detail"].is_string()
                           ? p["detail"].get<std::string>()
                           : std::string();
  std::string text = std::string(context) + ": ";
  switch (r.status) {
    case 401:
      return text +
             (key_given ? "the server rejected the API key" : "the server requires an API key") +
             " (HTTP 401" + (code.empty() ? "" : " " + printable(code)) +
             "): pass a valid key with --key or SHAREBOX_API_KEY";
    case 404:
      if (detail.empty()) detail = "not found (or not visible to you)";
      break;
    case 413:
      if (detail.empty()) detail = "too large for the server";
      break;
    case 429:
      detail = "the server is busy" + (detail.empty() ? "" : ": " + detail);
      break;
    default:
      if (detail.empty()) detail = "the server answered HTTP " + std::to_string(r.status);
  }
  text += printable(detail) + " (" + (code.empty() ? "" : printable(code) + ", ") + "HTTP " +
          std::to_string(r.status) + ")";
  return text;
}

api_session::api_session(endpoint ep, retry_policy policy)
    : ep_(std::move(ep)), policy_(policy), conn_(ep_.url, ep_.tls) {}

request api_session::make(std::string method, std::string path) const {
  request r;
  r.method = std::move(method);
  r.path = std::move(path);
  if (!ep_.key.empty()) r.headers.emplace_back("Authorization", "Bearer " + ep_.key);
  return r;
}

response api_session::send(const request& req, const transfer_hooks& hooks) {
  int failures = 0;
  int throttled = 0;
  for (;;) {
    milliseconds delay{0};
    try {
      response r = conn_.send(req, hooks);
      server_answered = true;
      if (!is_transient(r.status)) return r;
      const bool throttle = r.status == 429;
      const int n = throttle ? ++throttled : ++failures;
      const int limit = throttle ? policy_.max_throttled : policy_.max_attempts;
      if (n >= limit) {
        throw api_error("gave up after " + attempts_text(n) + ": " +
                            describe_failure(r, req.method + " " + req.path, !ep_.key.empty()),
                        r.status, problem_code(r));
      }
      const auto asked = (r.status == 429 || r.status == 503) ? retry_after(r) : std::nullopt;
      delay = asked ? std::min<milliseconds>(*asked, policy_.max_retry_after) +
                          jitter(milliseconds(250))
                    : backoff(n, policy_);
    } catch (const transport_error& e) {
      // A wrong URL or a server that is not running: say so at once instead of retrying.
      if (e.connect_failed() && !server_answered) throw;
      if (++failures >= policy_.max_attempts) {
        throw transport_error("gave up after " + attempts_text(failures) + ": " + e.what(),
                              e.connect_failed());
      }
      delay = backoff(failures, policy_);
    }
    std::this_thread::sleep_for(delay);
    if (hooks.on_retry) hooks.on_retry();
  }
}

void api_session::check(const response& r, std::string_view context) const {
  if (r.status / 100 == 2) return;
  throw api_error(describe_failure(r, context, !ep_.key.empty()), r.status, problem_code(r));
}

nlohmann::json api_session::call_json(const request& req, std::string_view context) {
  const response r = send(req);
  check(r, context);
  return json_body(r);
}

}  // namespace sharebox::client
