// Request targets (src/http/router.cpp, src/util/encoding.cpp): parse_target's percent-decoding
// of path segments and query parameters, and routing on the server's real route table.
// Input: the method on the first line, the request target after it.
//
// Properties:
//  - decoded segments and parameters, percent-encoded again, parse to the same target;
//  - a route found has the method asked for (or GET for HEAD) and a pattern whose literal
//    segments are the path's, with every {param} bound to its (non-empty) segment;
//  - a 405's Allow list never holds the method asked for, and only methods of routes whose
//    pattern matches;
//  - url_decode inverts url_encode, with or without '+' as space.
#include <algorithm>

#include "fuzz_support.hpp"
#include "sharebox/api/context.hpp"
#include "sharebox/http/router.hpp"
#include "sharebox/util/encoding.hpp"

namespace {

using namespace sharebox;

const http::router<std::size_t>& routes() {
  static const auto table = [] {
    http::router<std::size_t> r;
    std::size_t i = 0;
    for (const auto& info : api::registered_routes())
      r.add(info.method, info.pattern, i++);
    return r;
  }();
  return table;
}

std::string encode_target(const http::target& t) {
  std::string out;
  for (const auto& seg : t.path)
    out += "/" + util::url_encode(seg);
  if (out.empty()) out = "/";
  if (!t.query.empty()) {
    out += "?";
    bool first = true;
    for (const auto& [k, v] : t.query) {
      if (!std::exchange(first, false)) out += "&";
      out += util::url_encode(k) + "=" + util::url_encode(v);
    }
  }
  return out;
}

bool pattern_matches(const std::string& pattern, const std::vector<std::string>& path,
                     http::params* bound) {
  // The pattern's segments, as the router splits them ("/" has none; a trailing slash is an
  // empty last segment).
  std::vector<std::string> segs;
  if (pattern != "/") {
    std::string_view p = pattern;
    p.remove_prefix(1);
    for (;;) {
      const auto slash = p.find('/');
      segs.emplace_back(p.substr(0, slash));
      if (slash == std::string_view::npos) break;
      p.remove_prefix(slash + 1);
    }
  }
  if (segs.size() != path.size()) return false;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const auto& s = segs[i];
    if (s.size() > 2 && s.front() == '{' && s.back() == '}') {
      if (path[i].empty()) return false;
      if (bound) bound->emplace(s.substr(1, s.size() - 2), path[i]);
    } else if (s != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  const auto [method_line, raw_target] = fuzz::first_line(input);

  for (const bool plus : {false, true}) {
    const auto back = util::url_decode(util::url_encode(input), plus);
    FUZZ_CHECK(back && *back == input);
  }

  const auto target = http::parse_target(raw_target);
  if (!target) {
    FUZZ_CHECK(raw_target.empty() || raw_target.front() != '/' ||
               !util::url_decode(raw_target.substr(0, raw_target.find('?')), false));
    return 0;
  }
  const auto again = http::parse_target(encode_target(*target));
  FUZZ_CHECK(again && again->path == target->path && again->query == target->query);

  const auto method = bhttp::string_to_verb(method_line);
  const auto m = routes().find(method, target->path);
  if (m.found) {
    const auto& r = *m.found;
    FUZZ_CHECK(r.method == method || (method == bhttp::verb::head && r.method == bhttp::verb::get));
    http::params bound;
    FUZZ_CHECK(pattern_matches(r.pattern, target->path, &bound));
    FUZZ_CHECK(bound == m.path_params);
  } else {
    for (const auto v : m.allowed) {
      FUZZ_CHECK(v != method);
      const auto& all = routes().routes();
      FUZZ_CHECK(std::any_of(all.begin(), all.end(), [&](const auto& r) {
        return (r.method == v || (v == bhttp::verb::head && r.method == bhttp::verb::get)) &&
               pattern_matches(r.pattern, target->path, nullptr);
      }));
    }
  }
  return 0;
}
