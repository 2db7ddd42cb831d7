#pragma once
// Streaming multipart/form-data parser (RFC 7578 / RFC 2046 §5.1). Push-style: feed it the body
// in pieces of any size; it reports parts through a handler and never buffers a part's content
// (it only holds back up to boundary-length bytes that might start a delimiter).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace sharebox::http {

enum class multipart_errc {
  bad_boundary = 1,        // boundary missing, empty, longer than 70 chars or invalid chars
  malformed,               // body does not follow the multipart grammar
  header_too_large,        // one part's header block exceeds limits::max_header_bytes
  too_many_parts,          // more than limits::max_parts parts
  missing_final_boundary,  // finish() called before the closing "--boundary--"
};
const std::error_category& multipart_category() noexcept;
std::error_code make_error_code(multipart_errc e) noexcept;

struct part_header {
  std::string name;                     // Content-Disposition name parameter ("" if absent)
  std::optional<std::string> filename;  // filename* (RFC 5987, UTF-8) preferred over filename
  std::string content_type;             // part Content-Type, "" if absent
};

class multipart_handler {
 public:
  virtual ~multipart_handler() = default;
  virtual void on_part_begin(const part_header& header) = 0;
  // Views are valid only during the call; a part's data may arrive in many calls.
  virtual void on_part_data(std::string_view data) = 0;
  virtual void on_part_end() = 0;
};

class multipart_parser {
 public:
  struct limits {
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_parts = 64;
  };

  explicit multipart_parser(std::string boundary)
      : multipart_parser(std::move(boundary), limits{}) {}
  multipart_parser(std::string boundary, limits lim);

  // Consumes all of `input`. Returns the first error; after an error every call fails again.
  std::error_code feed(std::string_view input, multipart_handler& handler);
  // Call once at the end of the body. Error if the closing delimiter was not seen.
  std::error_code finish();
  bool done() const noexcept;

 private:
  enum class state : unsigned char {
    preamble,       // discarding bytes until the first delimiter
    delimiter_end,  // just after "--boundary": "--", transport padding or CRLF follows
    close_dash,     // seen the first '-' of "--boundary--"
    padding,        // transport padding (spaces/tabs) before the CRLF
    delimiter_lf,   // seen the CR ending the delimiter line
    headers,        // collecting a part's header block in pending_
    body,           // streaming a part's content
    done,           // closing delimiter seen; the epilogue is ignored
  };
  struct scan_result {
    std::size_t consumed = 0;
    bool found = false;
  };

  scan_result scan_for_delimiter(std::string_view input, multipart_handler* sink);
  void step_delimiter_line(char c);
  std::size_t step_headers(std::string_view input, multipart_handler& handler);
  std::error_code fail(multipart_errc e);

  std::string boundary_;  // "\r\n--" + boundary
  limits limits_;
  state state_ = state::preamble;
  std::string pending_;  // held-back bytes (possible delimiter prefix, or header block so far)
  std::size_t parts_ = 0;
  std::error_code error_;
};

// Extracts the boundary parameter from a multipart/form-data Content-Type value; nullopt if the
// type is not multipart/form-data or the boundary is missing or invalid.
std::optional<std::string> multipart_boundary(std::string_view content_type);

}  // namespace sharebox::http

template <>
struct std::is_error_code_enum<sharebox::http::multipart_errc> : std::true_type {};
