#pragma once
// A resumable upload: bytes received over many requests (and restarts) into one staged file,
// which becomes a regular file when the last byte is in.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sharebox::domain {

// Which protocol created the upload: they share storage but not their progress bookkeeping.
// Chunked uploads record fixed-size chunks received in any order; tus uploads record one
// contiguous offset.
enum class upload_protocol { chunked, tus };
// tus concatenation: a partial upload never becomes a file itself; a final upload is the
// concatenation of partial ones.
enum class upload_kind { single, partial, final_concat };
enum class upload_state { open, completed, expired };

std::string_view to_string(upload_protocol p) noexcept;
std::string_view to_string(upload_kind k) noexcept;
std::string_view to_string(upload_state s) noexcept;
std::optional<upload_protocol> parse_upload_protocol(std::string_view s) noexcept;
std::optional<upload_kind> parse_upload_kind(std::string_view s) noexcept;
std::optional<upload_state> parse_upload_state(std::string_view s) noexcept;

struct upload_record {
  std::string id;
  std::string owner;
  upload_protocol protocol = upload_protocol::chunked;
  upload_kind kind = upload_kind::single;
  upload_state state = upload_state::open;
  std::string filename;  // may be empty (tus without metadata): a name is made at completion
  std::string content_type;
  std::optional<std::uint64_t> size;  // nullopt: tus Upload-Defer-Length, not known yet
  std::uint64_t chunk_size = 0;       // chunked only
  std::uint64_t offset = 0;           // tus only: bytes durably received, from the start
  std::string sha256;                 // declared by the client (chunked), hex; may be empty
  std::string metadata;               // tus Upload-Metadata, as received
  std::string replace_file_id;        // complete replaces this file's content...
  std::string replace_etag;           // ...if it still has this ETag
  std::vector<std::string> parts;     // final_concat: the partial uploads, in order
  std::string file_id;                // completed: the file it became
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::int64_t expires_at = 0;  // open: when it expires; otherwise when the record is purged

  std::uint64_t chunk_count() const noexcept {
    if (protocol != upload_protocol::chunked || !size || chunk_size == 0) return 0;
    return (*size + chunk_size - 1) / chunk_size;
  }
  // Byte length of chunk `index` (the last one may be short).
  std::uint64_t chunk_length(std::uint64_t index) const noexcept;
};

// The indices in [0, chunk_count) that are not in `received` (ascending).
std::vector<std::uint64_t> missing_chunks(const std::vector<std::uint64_t>& received,
                                          std::uint64_t chunk_count);

}  // namespace sharebox::domain
