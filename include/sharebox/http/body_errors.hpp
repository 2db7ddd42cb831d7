#pragma once
// How a request body failed to arrive, for the code that reads it through exchange::read_body.
#include "sharebox/http/beast.hpp"

namespace sharebox::http {

// An error from exchange::read_body meaning the client sent a malformed body (a broken chunked
// encoding, a chunk header or trailer section past the read buffer's bound), as opposed to
// going away or stalling. Such a request is answered 400 rather than treated as interrupted.
inline bool is_malformed_body(const error_code& ec) noexcept {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_chunk).category() &&
         ec != bhttp::error::partial_message && ec != bhttp::error::end_of_stream;
}

}  // namespace sharebox::http
