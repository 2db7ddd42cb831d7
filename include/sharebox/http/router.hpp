#pragma once
// Method + path pattern routing. Patterns are literal segments and `{name}` parameters; a path
// that matches a pattern under another method yields 405 with the methods that would match.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharebox/http/beast.hpp"

namespace sharebox::http {

using params = std::map<std::string, std::string, std::less<>>;

template <typename Handler>
class router {
 public:
  struct route {
    bhttp::verb method;
    std::string pattern;  // as added, e.g. "/files/{id}": what metrics label the route with
    std::vector<std::string> segments;
    Handler handler;
  };
  struct match {
    const route* found = nullptr;  // null: see `allowed`
    params path_params;
    std::vector<bhttp::verb> allowed;  // methods of routes whose path matched, if `found` is null
  };

  void add(bhttp::verb method, std::string_view pattern, Handler h) {
    routes_.push_back(route{method, std::string(pattern), split(pattern), std::move(h)});
  }

  // `path` is already percent-decoded per segment by the caller via `split_path`.
  match find(bhttp::verb method, const std::vector<std::string>& path) const {
    match m;
    for (const auto& r : routes_) {
      params p;
      if (!matches(r.segments, path, p)) continue;
      // HEAD is served by GET handlers; the transport drops the body.
      if (r.method == method || (method == bhttp::verb::head && r.method == bhttp::verb::get)) {
        m.found = &r;
        m.path_params = std::move(p);
        return m;
      }
      m.allowed.push_back(r.method);
      if (r.method == bhttp::verb::get) m.allowed.push_back(bhttp::verb::head);
    }
    return m;
  }

  const std::vector<route>& routes() const noexcept { return routes_; }

 private:
  // "/a/{b}" -> {"a", "{b}"}; a trailing slash is an empty last segment, as in parse_target.
  static std::vector<std::string> split(std::string_view pattern) {
    std::vector<std::string> out;
    if (pattern == "/") return out;  // the root: no segments, as parse_target("/") gives
    const bool trailing_slash = pattern.size() > 1 && pattern.back() == '/';
    while (!pattern.empty()) {
      if (pattern.front() == '/') pattern.remove_prefix(1);
      const auto slash = pattern.find('/');
      out.emplace_back(pattern.substr(0, slash));
      pattern = slash == std::string_view::npos ? std::string_view{} : pattern.substr(slash);
      if (pattern == "/") break;
    }
    if (trailing_slash) out.emplace_back();
    return out;
  }

  static bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                      params& p) {
    if (pattern.size() != path.size()) return false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      const auto& seg = pattern[i];
      if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
        if (path[i].empty()) return false;
        p.emplace(seg.substr(1, seg.size() - 2), path[i]);
      } else if (seg != path[i]) {
        return false;
      }
    }
    return true;
  }

  std::vector<route> routes_;
};

struct target {
  std::vector<std::string> path;  // decoded segments
  params query;                   // decoded; first occurrence wins
};

// Splits a request target (origin-form) into decoded path segments and query parameters.
// nullopt if it is not origin-form or has a malformed percent-escape.
std::optional<target> parse_target(std::string_view raw);

}  // namespace sharebox::http
