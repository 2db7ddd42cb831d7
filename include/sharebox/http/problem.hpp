#pragma once
// RFC 9457 problem details. Every error response is built here, and the table mapping domain
// errors to statuses and machine codes lives in problem.cpp.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sharebox/domain/errors.hpp"
#include "sharebox/http/beast.hpp"

namespace sharebox::http {

// An error decided at the HTTP layer (bad syntax, limits, routing), with its own code.
class api_error : public std::runtime_error {
 public:
  api_error(bhttp::status status, std::string code, std::string detail,
            std::vector<domain::error::field> extra = {})
      : std::runtime_error(detail),
        status_(status),
        code_(std::move(code)),
        extra_(std::move(extra)) {}
  bhttp::status status() const noexcept { return status_; }
  const std::string& code() const noexcept { return code_; }
  const std::vector<domain::error::field>& extra() const noexcept { return extra_; }

 private:
  bhttp::status status_;
  std::string code_;
  std::vector<domain::error::field> extra_;
};

struct problem {
  bhttp::status status;
  std::string code;
  std::string detail;
  std::vector<domain::error::field> extra;
};

problem to_problem(const domain::error& e);
problem to_problem(const api_error& e);

using string_response = bhttp::response<bhttp::string_body>;
string_response problem_response(const problem& p, unsigned version = 11);
// With `members` (a JSON object) merged into the body: extension members that are not flat
// fields, e.g. GET /ready's checks.
string_response problem_response(const problem& p, const nlohmann::json& members,
                                 unsigned version = 11);

}  // namespace sharebox::http
