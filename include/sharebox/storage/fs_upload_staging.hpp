#pragma once
// Resumable uploads as files under <data>/uploads/<upload id>, preallocated to their final size
// and written in place; completion links the file into the blob store (no copy).
#include <filesystem>

#include "sharebox/domain/ports.hpp"
#include "sharebox/storage/fs_blob_store.hpp"

namespace sharebox::storage {

class fs_upload_staging final : public domain::upload_staging {
 public:
  fs_upload_staging(const std::filesystem::path& data_dir, fs_blob_store& blobs);

  void create(std::string_view upload_id, std::optional<std::uint64_t> size) override;
  std::unique_ptr<domain::staged_file> open(std::string_view upload_id) override;
  domain::blob_info promote(std::string_view upload_id, std::uint64_t size,
                            std::string sha256) override;
  void remove(std::string_view upload_id) noexcept override;
  void truncate(std::string_view upload_id, std::uint64_t size) noexcept override;
  std::vector<std::string> list() override;

 private:
  std::filesystem::path path_of(std::string_view upload_id) const;
  std::filesystem::path dir_;
  fs_blob_store& blobs_;
};

}  // namespace sharebox::storage
