#pragma once
// The tus 1.0.0 request headers (https://tus.io/protocols/resumable-upload), parsed and checked
// apart from the handlers (src/api/tus_api.cpp) so that tests/fuzz can drive them directly.
// Every function throws http::api_error with the status and code the handler answers with.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharebox/domain/upload_service.hpp"
#include "sharebox/util/crypto.hpp"

namespace sharebox::api::tus {

// Upload-Offset / Upload-Length: a non-negative decimal integer; 400 invalid_header.
std::uint64_t parse_number(std::string_view name, std::string_view value);

// Whether a Content-Type is application/offset+octet-stream (parameters ignored).
bool is_offset_stream(std::string_view content_type);

// Upload-Metadata: comma-separated `key base64(value)` pairs (the value may be absent); keys
// unique and non-empty. 400 invalid_metadata.
std::map<std::string, std::string> parse_metadata(std::string_view value);

// Upload-Checksum: `ALGORITHM BASE64` with sha1, md5 or sha256; 400 unsupported_checksum.
struct checksum {
  util::hash_algorithm algorithm;
  std::string raw;  // the decoded digest
};
checksum parse_checksum(std::string_view value);

// The upload ids named by `Upload-Concat: final;<url> <url> ...` (after "final;"): absolute or
// relative URLs ending in /tus/ID. 400 invalid_header.
std::vector<std::string> concat_parts(std::string_view list);

// A creation request (POST /tus/) as its headers describe it, checked in the order the handler
// has always checked them.
struct creation_headers {
  std::optional<std::string_view> metadata;      // Upload-Metadata
  std::optional<std::string_view> concat;        // Upload-Concat
  std::optional<std::string_view> length;        // Upload-Length
  std::optional<std::string_view> defer_length;  // Upload-Defer-Length
};
struct creation {
  domain::tus_create request;  // filename and content_type from the metadata, kind and size
  bool final_concat = false;
  std::vector<std::string> parts;  // final_concat: the partial uploads, in order
};
creation parse_creation(const creation_headers& h);

}  // namespace sharebox::api::tus
