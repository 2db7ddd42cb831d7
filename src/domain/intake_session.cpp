#include "sharebox/domain/intake_session.hpp"

#include <bit>
#include <cstdio>

#include "sharebox/domain/model.hpp"

namespace sharebox::domain {

std::string human_size(std::uint64_t bytes) {
  char buf[32];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  } else if (bytes < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024 * 1024));
  }
  return buf;
}

std::optional<intake_rejection> intake_session::check_announce(
    std::string_view name, std::optional<std::uint64_t> size) const {
  if (!is_valid_file_name(name)) {
    return intake_rejection{"invalid_name",
                            "File names must be 1-255 bytes of UTF-8 without control characters.",
                            std::nullopt};
  }
  if (size && *size > limits_.max_file_bytes) {
    return intake_rejection{"too_large",
                            "The file is " + human_size(*size) + "; images may be at most " +
                                human_size(limits_.max_file_bytes) + ".",
                            std::nullopt};
  }
  if (accepted_.size() >= limits_.max_files) {
    return intake_rejection{"session_limit",
                            "This session already has " + std::to_string(accepted_.size()) +
                                " images, the most it may add. Open a new session for more.",
                            std::nullopt};
  }
  return std::nullopt;
}

std::optional<intake_rejection> intake_session::check_duplicate(std::string_view sha256,
                                                                std::uint64_t phash,
                                                                double phash_structure) const {
  for (const auto& a : accepted_) {
    if (a.sha256 == sha256) {
      return intake_rejection{"duplicate",
                              "The same file as " + a.name + ", already added in this session.",
                              a.client_file_id};
    }
  }
  if (phash_structure < limits_.min_phash_structure) return std::nullopt;
  // The closest match names the duplicate: with several near ones, that is the likeliest.
  const accepted_file* best = nullptr;
  int best_distance = limits_.max_phash_distance + 1;
  for (const auto& a : accepted_) {
    if (a.phash_structure < limits_.min_phash_structure) continue;
    const int d = std::popcount(a.phash ^ phash);
    if (d < best_distance) {
      best_distance = d;
      best = &a;
    }
  }
  if (!best) return std::nullopt;
  return intake_rejection{"duplicate",
                          "The same picture as " + best->name +
                              " (re-encoded or resized), already added in this session.",
                          best->client_file_id};
}

void intake_session::accepted(std::string client_file_id, std::string name, std::string sha256,
                              std::uint64_t phash, double phash_structure) {
  accepted_.push_back(
      {std::move(client_file_id), std::move(name), std::move(sha256), phash, phash_structure});
}

}  // namespace sharebox::domain
