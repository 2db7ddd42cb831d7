// Range requests (src/http/ranges.cpp). Input: the representation's size in decimal on the
// first line, the Range field value after it.
//
// Properties:
//  - partial: at most max_ranges ranges, each inside the file, sorted, neither overlapping nor
//    adjacent (merged as promised);
//  - for files of up to 4 KiB, checked byte by byte against the specs themselves: a byte is sent
//    iff some spec covers it, and 416 iff the specs are valid and cover nothing;
//  - the answer is stable: the ranges written back as a Range value give the same ranges.
#include <algorithm>
#include <vector>

#include "fuzz_support.hpp"
#include "sharebox/http/ranges.hpp"

namespace {

using namespace sharebox;
using sharebox::fuzz::decimal;

constexpr std::size_t max_ranges = 32;
constexpr std::uint64_t max_checked_size = 4096;

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Exact comparison of two strings of digits.
bool less(std::string_view a, std::string_view b) {
  a.remove_prefix(std::min(a.find_first_not_of('0'), a.size()));
  b.remove_prefix(std::min(b.find_first_not_of('0'), b.size()));
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

// RFC 9110 §14.1.1 read directly: nullopt where the whole header must be ignored (200), else
// which bytes of a `size`-byte file the specs ask for.
std::optional<std::vector<bool>> covered_bytes(std::string_view header, std::uint64_t size) {
  const auto eq = header.find('=');
  if (eq == std::string_view::npos || !fuzz::iequals(trim_ows(header.substr(0, eq)), "bytes")) {
    return std::nullopt;
  }
  std::vector<bool> covered(size, false);
  std::size_t count = 0;
  std::string_view set = header.substr(eq + 1);
  for (;;) {
    const auto comma = set.find(',');
    const std::string_view spec = trim_ows(set.substr(0, comma));
    if (!spec.empty()) {
      if (++count > max_ranges) return std::nullopt;
      const auto dash = spec.find('-');
      if (dash == std::string_view::npos) return std::nullopt;
      const auto first = spec.substr(0, dash);
      const auto last = spec.substr(dash + 1);
      if (first.empty()) {
        const auto suffix = decimal(last);
        if (!suffix) return std::nullopt;
        for (std::uint64_t i = 0; i < size; ++i)
          if (size - i <= *suffix) covered[i] = true;
      } else {
        const auto a = decimal(first);
        const auto b = last.empty() ? std::optional<std::uint64_t>(UINT64_MAX) : decimal(last);
        if (!a || !b) return std::nullopt;
        if (!last.empty() && less(last, first)) return std::nullopt;  // exact, at any length
        for (std::uint64_t i = 0; i < size; ++i)
          if (*a <= i && i <= *b) covered[i] = true;
      }
    }
    if (comma == std::string_view::npos) break;
    set.remove_prefix(comma + 1);
  }
  if (count == 0) return std::nullopt;
  return covered;
}

std::string render(const std::vector<http::byte_range>& ranges) {
  std::string out = "bytes=";
  for (const auto& r : ranges) {
    if (out.size() > 6) out += ',';
    out += std::to_string(r.first) + "-" + std::to_string(r.last);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [size_line, header] = fuzz::first_line(fuzz::as_text(data, size));
  const std::uint64_t file_size = decimal(size_line).value_or(0);

  const auto r = http::parse_range(header, file_size, max_ranges);
  using kind = http::range_request::kind;
  if (r.result != kind::partial) {
    FUZZ_CHECK(r.ranges.empty());
  } else {
    FUZZ_CHECK(!r.ranges.empty() && r.ranges.size() <= max_ranges);
    for (std::size_t i = 0; i < r.ranges.size(); ++i) {
      const auto& x = r.ranges[i];
      FUZZ_CHECK(x.first <= x.last && x.last < file_size);
      FUZZ_CHECK(x.length() >= 1 && x.length() <= file_size);
      if (i > 0) FUZZ_CHECK(x.first > r.ranges[i - 1].last + 1);
    }
    const auto again = http::parse_range(render(r.ranges), file_size, max_ranges);
    FUZZ_CHECK(again.result == kind::partial && again.ranges == r.ranges);
  }

  if (file_size <= max_checked_size) {
    const auto expected = covered_bytes(header, file_size);
    if (!expected) {
      FUZZ_CHECK(r.result == kind::full);
    } else {
      const bool any = std::find(expected->begin(), expected->end(), true) != expected->end();
      FUZZ_CHECK(r.result == (any ? kind::partial : kind::unsatisfiable));
      std::vector<bool> got(file_size, false);
      for (const auto& x : r.ranges)
        for (std::uint64_t i = x.first; i <= x.last; ++i)
          got[i] = true;
      FUZZ_CHECK(got == *expected);
    }
  }
  return 0;
}
