#pragma once
// Small JSON records kept between runs (resumable uploads and downloads) under
// $XDG_STATE_HOME/sharebox/<kind>/ (default ~/.local/state/sharebox/<kind>/).
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string_view>

namespace sharebox::client {

// $XDG_STATE_HOME/sharebox, or ~/.local/state/sharebox.
std::filesystem::path state_root();

class state_file {
 public:
  // The record of `kind` ("uploads", "downloads") named by the SHA-256 of `key`, so any key
  // (URLs, paths) maps to a safe file name.
  state_file(std::string_view kind, std::string_view key);

  // nullopt if absent or unreadable (a corrupt record only costs a resume).
  std::optional<nlohmann::json> load() const;
  // Atomic replace (temp file, fsync, rename): a kill -9 leaves the old or the new record.
  void save(const nlohmann::json& j) const;
  void remove() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sharebox::client
