#include "sharebox/http/router.hpp"

#include "sharebox/util/encoding.hpp"

namespace sharebox::http {

std::optional<target> parse_target(std::string_view raw) {
  if (raw.empty() || raw.front() != '/') return std::nullopt;
  target t;
  const auto q = raw.find('?');
  std::string_view path = raw.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : raw.substr(q + 1);
  if (const auto hash = query.find('#'); hash != std::string_view::npos)
    query = query.substr(0, hash);

  path.remove_prefix(1);
  while (!path.empty()) {
    const auto slash = path.find('/');
    auto seg = util::url_decode(path.substr(0, slash), false);
    if (!seg) return std::nullopt;
    t.path.push_back(std::move(*seg));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty())
      t.path.emplace_back();  // keep a trailing slash visible: "/files/" != "/files"
  }
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    // A malformed escape in a query value is kept as sent: the parameter's own validation then
    // names the parameter, which is a better error than rejecting the whole target.
    const std::string_view raw_key = pair.substr(0, eq);
    const std::string_view raw_value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    auto key = util::url_decode(raw_key, true);
    auto value = util::url_decode(raw_value, true);
    t.query.emplace(key ? std::move(*key) : std::string(raw_key),
                    value ? std::move(*value) : std::string(raw_value));
  }
  return t;
}

}  // namespace sharebox::http
