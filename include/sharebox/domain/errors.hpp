#pragma once
// Typed domain errors. Each errc has exactly one HTTP status and stable machine code, declared
// once in http/problem.cpp (the single mapping table).
#include <stdexcept>
#include <string>
#include <utility>
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
  file_too_large,
  storage_full,
};

class error : public std::runtime_error {
 public:
  using field = std::pair<std::string, std::string>;
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
