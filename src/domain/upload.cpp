#include "sharebox/domain/upload.hpp"

#include <algorithm>

namespace sharebox::domain {

namespace {

template <typename Enum, std::size_t N>
std::optional<Enum> lookup(const std::pair<Enum, std::string_view> (&table)[N],
                           std::string_view s) noexcept {
  for (const auto& [value, name] : table) {
    if (name == s) return value;
  }
  return std::nullopt;
}

template <typename Enum, std::size_t N>
std::string_view name_of(const std::pair<Enum, std::string_view> (&table)[N], Enum e) noexcept {
  for (const auto& [value, name] : table) {
    if (value == e) return name;
  }
  return "?";
}

constexpr std::pair<upload_protocol, std::string_view> protocols[] = {
    {upload_protocol::chunked, "chunked"}, {upload_protocol::tus, "tus"}};
constexpr std::pair<upload_kind, std::string_view> kinds[] = {{upload_kind::single, "single"},
                                                              {upload_kind::partial, "partial"},
                                                              {upload_kind::final_concat, "final"}};
constexpr std::pair<upload_state, std::string_view> states[] = {
    {upload_state::open, "open"},
    {upload_state::completed, "completed"},
    {upload_state::expired, "expired"}};

}  // namespace

std::string_view to_string(upload_protocol p) noexcept {
  return name_of(protocols, p);
}
std::string_view to_string(upload_kind k) noexcept {
  return name_of(kinds, k);
}
std::string_view to_string(upload_state s) noexcept {
  return name_of(states, s);
}
std::optional<upload_protocol> parse_upload_protocol(std::string_view s) noexcept {
  return lookup(protocols, s);
}
std::optional<upload_kind> parse_upload_kind(std::string_view s) noexcept {
  return lookup(kinds, s);
}
std::optional<upload_state> parse_upload_state(std::string_view s) noexcept {
  return lookup(states, s);
}

std::uint64_t upload_record::chunk_length(std::uint64_t index) const noexcept {
  if (!size || index >= chunk_count()) return 0;
  const std::uint64_t start = index * chunk_size;
  return std::min(chunk_size, *size - start);
}

std::vector<std::uint64_t> missing_chunks(const std::vector<std::uint64_t>& received,
                                          std::uint64_t chunk_count) {
  std::vector<std::uint64_t> out;
  std::size_t j = 0;
  for (std::uint64_t i = 0; i < chunk_count; ++i) {
    while (j < received.size() && received[j] < i)
      ++j;
    if (j < received.size() && received[j] == i) continue;
    out.push_back(i);
  }
  return out;
}

}  // namespace sharebox::domain
