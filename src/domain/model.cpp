#include "sharebox/domain/model.hpp"

#include <algorithm>

#include "sharebox/util/encoding.hpp"

namespace sharebox::domain {

std::string_view to_string(permission p) noexcept {
  return p == permission::write ? "write" : "read";
}

std::optional<permission> parse_permission(std::string_view s) noexcept {
  if (s == "read") return permission::read;
  if (s == "write") return permission::write;
  return std::nullopt;
}

std::string etag_of(const file_record& f) {
  // Appended rather than `"\"" + ... + "\""`: g++ 12 -O3 warns (-Wrestrict) on that form.
  std::string tag = "\"";
  tag += std::to_string(f.version);
  tag += '"';
  return tag;
}

bool is_valid_file_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 255 || !util::is_valid_utf8(name)) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool is_valid_key_label(std::string_view label) noexcept {
  return label.empty() || (label.size() <= 200 && is_valid_file_name(label));
}

bool is_valid_user_name(std::string_view name) noexcept {
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  };
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), allowed) &&
         name[0] != '.' && name[0] != '-' && name[0] != '_';
}

}  // namespace sharebox::domain
