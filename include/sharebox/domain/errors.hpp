#pragma once
// Typed domain errors. Each errc has exactly one HTTP status and stable machine code, declared
// once in http/problem.cpp (the single mapping table).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace sharebox::domain {

enum class errc {
  unauthenticated,
  file_not_found,
  user_not_found,
  share_not_found,
  notification_not_found,
  not_owner,
  read_only_share,
  etag_mismatch,
  if_match_required,
  share_with_self,
  invalid_name,
  invalid_user_name,
  invalid_permission,
  invalid_parameter,
  user_exists,
  admin_required,
  last_admin,
  key_not_found,
  file_too_large,
  storage_full,
  // Resumable uploads.
  upload_not_found,
  upload_expired,
  upload_completed,
  upload_busy,
  upload_locked,
  too_many_uploads,
  too_many_inflight_chunks,
  chunks_missing,
  checksum_mismatch,
  digest_mismatch,
  chunk_size_mismatch,
  invalid_chunk_index,
  offset_mismatch,
  upload_length_exceeded,
  upload_not_writable,
  partial_upload_unfinished,
};

class error : public std::runtime_error {
 public:
  // An additional problem member: text, a number, or a list of numbers (e.g. missing chunks).
  struct field {
    std::string name;
    std::variant<std::string, std::int64_t, std::vector<std::int64_t>> value;
  };
  error(errc code, std::string detail, std::vector<field> extra = {})
      : std::runtime_error(detail), code_(code), extra_(std::move(extra)) {}
  errc code() const noexcept { return code_; }
  // Additional problem members, e.g. {"current_etag", "\"4\""}.
  const std::vector<field>& extra() const noexcept { return extra_; }

 private:
  errc code_;
  std::vector<field> extra_;
};

}  // namespace sharebox::domain
