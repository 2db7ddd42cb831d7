#include "sharebox/client/format.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::client {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool strip_suffix(std::string& s, std::string_view suffix) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  s.resize(s.size() - suffix.size());
  return true;
}

}  // namespace

std::string human_size(std::uint64_t bytes) {
  static constexpr std::array<const char*, 6> units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  std::size_t unit = 0;
  // 1023.95 KiB would print as "1024.0 KiB": move up once the rounded value reaches 1024.
  while (v >= 1023.95 && unit + 1 < units.size()) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[unit]);
  return buf;
}

std::string human_duration(std::optional<std::chrono::seconds> d) {
  if (!d || d->count() < 0 || d->count() > 99L * 3600) return "--:--";
  const long s = static_cast<long>(d->count());
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

std::optional<std::uint64_t> parse_rate(std::string_view text) {
  std::string s = lower(text);
  strip_suffix(s, "/s");
  strip_suffix(s, "ib") || strip_suffix(s, "b");
  double multiplier = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k':
        multiplier = 1024.0;
        break;
      case 'm':
        multiplier = 1024.0 * 1024;
        break;
      case 'g':
        multiplier = 1024.0 * 1024 * 1024;
        break;
      default:
        break;
    }
    if (multiplier != 1) s.pop_back();
  }
  if (s.empty() || s.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  const double bytes = std::floor(value * multiplier);
  if (!(bytes >= 1) || bytes > 1e18) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

std::string guess_content_type(std::string_view filename) {
  static constexpr std::pair<std::string_view, std::string_view> types[] = {
      {"txt", "text/plain"},        {"md", "text/markdown"},      {"csv", "text/csv"},
      {"html", "text/html"},        {"htm", "text/html"},         {"css", "text/css"},
      {"js", "text/javascript"},    {"json", "application/json"}, {"xml", "application/xml"},
      {"pdf", "application/pdf"},   {"zip", "application/zip"},   {"gz", "application/gzip"},
      {"tar", "application/x-tar"}, {"png", "image/png"},         {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},       {"gif", "image/gif"},         {"webp", "image/webp"},
      {"svg", "image/svg+xml"},     {"mp3", "audio/mpeg"},        {"wav", "audio/wav"},
      {"mp4", "video/mp4"},         {"mkv", "video/x-matroska"},  {"webm", "video/webm"},
  };
  const auto dot = filename.rfind('.');
  if (dot != std::string_view::npos && dot + 1 < filename.size()) {
    const std::string ext = lower(filename.substr(dot + 1));
    for (const auto& [e, type] : types) {
      if (e == ext) return std::string(type);
    }
  }
  return "application/octet-stream";
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    // C1 controls (U+0080-U+009F, UTF-8 C2 80..C2 9F) drive terminals too, like C0 and DEL.
    if (u == 0xc2 && i + 1 < s.size()) {
      const auto next = static_cast<unsigned char>(s[i + 1]);
      if (next >= 0x80 && next <= 0x9f) {
        out += '?';
        ++i;
        continue;
      }
    }
    out += (u < 0x20 || u == 0x7f) ? '?' : s[i];
  }
  return out;
}

std::string sha256_hex(std::string_view s) {
  return util::to_hex(util::sha256::of(s));
}

}  // namespace sharebox::client
