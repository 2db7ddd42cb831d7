#pragma once
// HTTP Range requests (RFC 9110 §14): parsing a Range header against a representation size.
#include <cstdint>
#include <string_view>
#include <vector>

namespace sharebox::http {

struct byte_range {
  std::uint64_t first = 0;  // inclusive
  std::uint64_t last = 0;   // inclusive
  std::uint64_t length() const noexcept { return last - first + 1; }
  bool operator==(const byte_range&) const = default;
};

struct range_request {
  enum class kind {
    full,           // no Range, unknown unit, bad syntax or too many ranges: send 200 whole
    partial,        // 206 with `ranges` (one, or several for multipart/byteranges)
    unsatisfiable,  // 416 with Content-Range: bytes */size
  };
  kind result = kind::full;
  std::vector<byte_range> ranges;  // sorted, non-overlapping, non-adjacent, clipped to size
};

// `header` is the Range field value (e.g. "bytes=0-99,-500"). Satisfiable ranges are clipped to
// `size`; unsatisfiable ones are dropped; overlapping or adjacent ones are coalesced. More than
// `max_ranges` ranges in the header is treated as `full` (RFC 9110 allows ignoring Range).
range_request parse_range(std::string_view header, std::uint64_t size, std::size_t max_ranges = 32);

}  // namespace sharebox::http
