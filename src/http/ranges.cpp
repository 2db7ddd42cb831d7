#include "sharebox/http/ranges.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "sharebox/http/syntax.hpp"

namespace sharebox::http {

namespace {

constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();

bool is_bytes_unit(std::string_view unit) {
  return ascii_iequals(unit, "bytes");
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Saturates instead of wrapping: a position beyond 2^64-1 is past any real size anyway, so
// saturation gives the same answer as exact arithmetic (unsatisfiable first-pos, clipped
// last-pos, whole-representation suffix).
std::uint64_t saturating_value(std::string_view digits) {
  std::uint64_t v = 0;
  for (const char c : digits) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (max_u64 - d) / 10) return max_u64;
    v = v * 10 + d;
  }
  return v;
}

// Exact comparison of decimal strings of any length, so "last < first" is detected even when
// both overflow uint64.
bool digits_less(std::string_view a, std::string_view b) {
  a.remove_prefix(std::min(a.find_first_not_of('0'), a.size()));
  b.remove_prefix(std::min(b.find_first_not_of('0'), b.size()));
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

struct spec_result {
  bool valid = false;
  std::optional<byte_range> range;  // empty when valid but unsatisfiable
};

spec_result parse_spec(std::string_view spec, std::uint64_t size) {
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  const std::string_view first = spec.substr(0, dash);
  const std::string_view last = spec.substr(dash + 1);

  if (first.empty()) {
    if (!all_digits(last)) return {};
    const std::uint64_t suffix = saturating_value(last);
    if (suffix == 0 || size == 0) return {true, std::nullopt};
    return {true, byte_range{size - std::min(suffix, size), size - 1}};
  }

  if (!all_digits(first) || (!last.empty() && !all_digits(last))) return {};
  if (!last.empty() && digits_less(last, first)) return {};
  const std::uint64_t first_pos = saturating_value(first);
  const std::uint64_t last_pos = last.empty() ? max_u64 : saturating_value(last);
  if (first_pos >= size) return {true, std::nullopt};
  return {true, byte_range{first_pos, std::min(last_pos, size - 1)}};
}

std::vector<byte_range> coalesce(std::vector<byte_range> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const byte_range& a, const byte_range& b) { return a.first < b.first; });
  std::vector<byte_range> merged;
  for (const auto& r : ranges) {
    // last < size <= max_u64, so last + 1 cannot overflow.
    if (!merged.empty() && r.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

}  // namespace

range_request parse_range(std::string_view header, std::uint64_t size, std::size_t max_ranges) {
  const std::size_t eq = header.find('=');
  if (eq == std::string_view::npos || !is_bytes_unit(trim_ows(header.substr(0, eq)))) return {};

  std::vector<byte_range> satisfiable;
  std::size_t count = 0;
  std::string_view set = header.substr(eq + 1);
  while (!set.empty()) {
    const std::size_t comma = std::min(set.find(','), set.size());
    const std::string_view spec = trim_ows(set.substr(0, comma));
    set.remove_prefix(std::min(comma + 1, set.size()));
    if (spec.empty()) continue;  // RFC 9110 §5.6.1.2: empty list elements are allowed
    if (++count > max_ranges) return {};
    const auto result = parse_spec(spec, size);
    if (!result.valid) return {};
    if (result.range) satisfiable.push_back(*result.range);
  }

  if (count == 0) return {};
  if (satisfiable.empty()) return {range_request::kind::unsatisfiable, {}};
  return {range_request::kind::partial, coalesce(std::move(satisfiable))};
}

}  // namespace sharebox::http
