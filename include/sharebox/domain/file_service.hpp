#pragma once
// Files and shares: visibility, permissions and content replacement rules. Synchronous; the
// caller runs it on the worker pool.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharebox/domain/model.hpp"
#include "sharebox/domain/ports.hpp"

namespace sharebox::domain {

// Checked against the current record inside the write transaction (e.g. If-Match); throws a
// domain::error to refuse the change.
using precondition = std::function<void(const file_record&)>;
// More work for the transaction that creates or replaces a file (e.g. marking the upload it came
// from as completed): both commit or neither does.
using txn_hook = std::function<void(metadata_txn&, const file_record&)>;

enum class share_outcome { created, updated, unchanged };

class file_service {
 public:
  struct options {
    // Behind an authenticating proxy, user ids come from the proxy: sharing with a user not
    // yet seen creates it instead of answering user_not_found.
    bool auto_create_users = false;
  };

  file_service(metadata_store& meta, blob_store& blobs, options opts);

  // Takes ownership of a committed blob: it is removed again if the metadata commit fails.
  file_view create(const user& caller, std::string name, std::string content_type,
                   const blob_info& blob, const txn_hook& also = {},
                   std::optional<image_meta> image = std::nullopt);
  file_view get(const user& caller, std::string_view file_id);
  // The file's current record and an open descriptor of its content (the caller closes it).
  // A replace or delete may remove the blob between reading the record and opening it; the
  // record is then read again, so readers see either the old or the new version, never an error.
  std::pair<file_view, int> open_content(const user& caller, std::string_view file_id);
  file_page list(const user& caller, std::optional<std::int64_t> before_seq, std::size_t limit);

  // The cheap checks a replace will make, done before the body is read so that a request that
  // must fail does not upload first.
  file_view check_replace(const user& caller, std::string_view file_id, const precondition& pre);
  file_view replace(const user& caller, std::string_view file_id, const precondition& pre,
                    const blob_info& blob, std::optional<std::string> name,
                    std::optional<std::string> content_type, const txn_hook& also = {});
  void remove(const user& caller, std::string_view file_id, const precondition& pre);

  std::pair<share, share_outcome> share_file(const user& caller, std::string_view file_id,
                                             std::string_view target_user, permission perm);
  std::vector<share> shares(const user& caller, std::string_view file_id);
  void unshare(const user& caller, std::string_view file_id, std::string_view target_user);

 private:
  metadata_store& meta_;
  blob_store& blobs_;
  options opts_;
};

}  // namespace sharebox::domain
