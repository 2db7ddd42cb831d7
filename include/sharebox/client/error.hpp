#pragma once
#include <optional>
#include <stdexcept>
#include <string>

namespace sharebox::client {

// A failure to report to the user as one line ("sharebox: <what>") with a non-zero exit.
class client_error : public std::runtime_error {
 public:
  explicit client_error(const std::string& what, int exit_status = 1)
      : std::runtime_error(what), exit_status_(exit_status) {}
  int exit_status() const noexcept { return exit_status_; }

 private:
  int exit_status_;
};

// The server answered with an error status; `code` and `detail` come from its problem+json
// body when there was one.
class api_error : public client_error {
 public:
  api_error(const std::string& what, unsigned status, std::string code)
      : client_error(what), status_(status), code_(std::move(code)) {}
  unsigned status() const noexcept { return status_; }
  const std::string& code() const noexcept { return code_; }

 private:
  unsigned status_;
  std::string code_;
};

// The connection to the server failed (refused, reset, timed out).
class transport_error : public client_error {
 public:
  transport_error(const std::string& what, bool connect_failed)
      : client_error(what), connect_failed_(connect_failed) {}
  // The TCP connection could not be established at all (as opposed to one that broke).
  bool connect_failed() const noexcept { return connect_failed_; }

 private:
  bool connect_failed_;
};

}  // namespace sharebox::client
