#pragma once
// Blobs as files under <data>/blobs/<2-char shard>/<id>. Names are random ids chosen here;
// nothing a client sends ever becomes part of a path.
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

#include "sharebox/domain/ports.hpp"

namespace sharebox::storage {

class fs_blob_store final : public domain::blob_store {
 public:
  explicit fs_blob_store(std::filesystem::path data_dir);

  std::unique_ptr<domain::blob_writer> begin() override;
  int open(std::string_view blob_id) const override;
  void remove(std::string_view blob_id) noexcept override;
  int open_thumbnail(std::string_view blob_id) const override;
  void put_thumbnail(std::string_view blob_id, const std::filesystem::path& file) override;
  std::filesystem::path scratch_path() const override;

  // At start: temp files belong to uploads that were never acknowledged.
  std::size_t remove_temp_files();
  // At start: blobs renamed into place whose metadata commit never happened.
  std::size_t remove_unreferenced(const std::function<bool(std::string_view)>& referenced);

  const std::filesystem::path& temp_dir() const noexcept { return tmp_; }

  // Links an existing, fsynced file on the same filesystem in as a new blob (no copy), durably.
  // The original name stays; removing either name leaves the other intact.
  domain::blob_info adopt(const std::filesystem::path& file, std::uint64_t size,
                          std::string sha256);

 private:
  std::filesystem::path blob_path(std::string_view blob_id) const;
  std::filesystem::path thumbnail_path(std::string_view blob_id) const;
  std::filesystem::path blobs_;
  std::filesystem::path tmp_;
  std::filesystem::path thumbs_;
};

}  // namespace sharebox::storage
