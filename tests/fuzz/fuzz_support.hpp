#pragma once
// What every fuzz target shares: property checks that stop the run (libFuzzer then saves the
// input), and small readers for the targets' input formats (plain text, so that seed corpora
// can be written by hand and read in a review).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// A property the code promises; a violation aborts (libFuzzer reports a crash and keeps the
// input). Not assert(): the targets must check in every build type.
#define FUZZ_CHECK(cond)                                                \
  do {                                                                  \
    if (!(cond)) ::sharebox::fuzz::violated(#cond, __FILE__, __LINE__); \
  } while (0)

namespace sharebox::fuzz {

[[noreturn]] inline void violated(const char* what, const char* file, int line) {
  std::fprintf(stderr, "\nproperty violated: %s\n  at %s:%d\n", what, file, line);
  std::fflush(stderr);
  std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The first line (without its "\n" and a "\r" before it) and the rest.
inline std::pair<std::string_view, std::string_view> first_line(std::string_view s) {
  const auto nl = s.find('\n');
  std::string_view line = s.substr(0, nl);
  const std::string_view rest =
      nl == std::string_view::npos ? std::string_view{} : s.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return {line, rest};
}

inline std::vector<std::string_view> lines(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto [line, rest] = first_line(s);
    out.push_back(line);
    s = rest;
  }
  return out;
}

inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// "Name: value" lines, as in an HTTP header block; a line without a colon is ignored. Values lose
// their leading and trailing spaces and tabs (OWS), as from an HTTP parser and as Beast stores
// them; names keep their case.
struct header_block {
  std::vector<std::pair<std::string, std::string>> fields;

  static header_block parse(std::string_view text) {
    header_block h;
    for (const auto line : lines(text)) {
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      h.fields.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    return h;
  }

  // The first field called `name` (case-insensitive).
  std::optional<std::string_view> get(std::string_view name) const {
    for (const auto& [n, v] : fields)
      if (iequals(n, name)) return std::string_view(v);
    return std::nullopt;
  }
  std::vector<std::string_view> all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& [n, v] : fields)
      if (iequals(n, name)) out.emplace_back(v);
    return out;
  }
};

// A deterministic stream of pseudo-random numbers seeded by the input itself (FNV-1a, then
// splitmix64): how a target picks split points or variants without spending input bytes on
// them, so that hand-written seeds stay plain.
class input_random {
 public:
  explicit input_random(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ull;
    }
    state_ = h;
  }
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) for n > 0.
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

// Saturating decimal value of a string of digits (nullopt if empty or not all digits).
inline std::optional<std::uint64_t> decimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
  }
  return v;
}

}  // namespace sharebox::fuzz
