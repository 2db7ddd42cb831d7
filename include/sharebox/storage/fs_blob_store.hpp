#pragma once
// Blobs as files under <data>/blobs/<2-char shard>/<id>. Names are random ids chosen here;
// nothing a client sends ever becomes part of a path.
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

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

  // Blobs renamed into place by an earlier process whose metadata commit never happened, and
  // thumbnails whose blob is gone. `referenced(shard)` returns the ids, among those starting with
  // the 2-character `shard`, that metadata refers to (one query per shard, not one per blob).
  //
  // Safe to run while serving (the server runs it in the background after it is ready, so start
  // time does not grow with the number of blobs): a blob this store made itself (begin/commit or
  // adopt) is never taken for an orphan, since its metadata commit may still be on its way. Only
  // the first call after construction does that bookkeeping: later calls skip nothing.
  std::size_t remove_unreferenced(
      const std::function<std::vector<std::string>(std::string_view shard)>& referenced);

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

  // Called before a new blob's name appears under blobs/ (see remove_unreferenced).
  void note_made(const std::string& blob_id);
  std::mutex made_mutex_;
  bool tracking_made_ = true;  // until the first sweep ends
  std::unordered_set<std::string> made_;
};

}  // namespace sharebox::storage
