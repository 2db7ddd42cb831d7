// tus request headers (src/api/tus_headers.cpp): Upload-Metadata, Upload-Concat, Upload-Length,
// Upload-Defer-Length, Upload-Offset, Upload-Checksum and the PATCH Content-Type.
// Input: header lines, as a client sends them.
//
// Properties:
//  - every refusal is http::api_error 400 with the route's code (invalid_header,
//    invalid_metadata, unsupported_checksum); nothing else escapes;
//  - numbers: accepted exactly when the value is decimal digits within 64 bits, and read exactly;
//  - metadata: keys non-empty, unique, without ',', space or tab; written back as
//    `key base64(value)` pairs they parse to the same map;
//  - Upload-Checksum: only sha1, md5, sha256; written back, parses to the same digest;
//  - Upload-Concat final: every part is a valid upload id; written back as /tus/ URLs, the same;
//  - creation: exactly one of a length and Upload-Defer-Length; the kind follows Upload-Concat;
//    filename and type come from the metadata.
#include <algorithm>
#include <functional>

#include "fuzz_support.hpp"
#include "sharebox/api/tus_headers.hpp"
#include "sharebox/http/problem.hpp"
#include "sharebox/util/encoding.hpp"

namespace {

using namespace sharebox;
namespace tus = sharebox::api::tus;

// Runs `fn`; true if it returned, false if it refused with a 400 whose code is one of `codes`.
bool accepted(const std::function<void()>& fn, std::initializer_list<std::string_view> codes) {
  try {
    fn();
    return true;
  } catch (const http::api_error& e) {
    FUZZ_CHECK(e.status() == bhttp::status::bad_request);
    FUZZ_CHECK(std::find(codes.begin(), codes.end(), e.code()) != codes.end());
    return false;
  }
}

bool canonical_u64(std::string_view s, std::uint64_t& value) {
  const auto d = fuzz::decimal(s);
  if (!d) return false;
  auto sig = s.substr(std::min(s.find_first_not_of('0'), s.size()));
  if (sig.size() > 20 || (sig.size() == 20 && sig > "18446744073709551615")) return false;
  value = *d;
  return true;
}

std::string metadata_text(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [k, v] : m) {
    if (!out.empty()) out += ",";
    out += k;
    if (!v.empty()) out += " " + util::base64_encode(v);
  }
  return out;
}

void check_number(std::string_view value) {
  std::uint64_t n = 0;
  const bool ok =
      accepted([&] { n = tus::parse_number("Upload-Offset", value); }, {"invalid_header"});
  std::uint64_t want = 0;
  FUZZ_CHECK(ok == canonical_u64(value, want));
  if (ok) FUZZ_CHECK(n == want);
}

void check_metadata(std::string_view value) {
  std::map<std::string, std::string> m;
  if (!accepted([&] { m = tus::parse_metadata(value); }, {"invalid_metadata"})) return;
  for (const auto& [k, v] : m) {
    FUZZ_CHECK(!k.empty() && k.find_first_of(", \t") == std::string::npos);
  }
  std::map<std::string, std::string> again;
  FUZZ_CHECK(accepted([&] { again = tus::parse_metadata(metadata_text(m)); }, {}));
  FUZZ_CHECK(again == m);
}

void check_checksum(std::string_view value) {
  tus::checksum c;
  if (!accepted([&] { c = tus::parse_checksum(value); }, {"unsupported_checksum"})) return;
  using util::hash_algorithm;
  FUZZ_CHECK(c.algorithm == hash_algorithm::md5 || c.algorithm == hash_algorithm::sha1 ||
             c.algorithm == hash_algorithm::sha256);
  const char* name = c.algorithm == hash_algorithm::md5    ? "md5"
                     : c.algorithm == hash_algorithm::sha1 ? "sha1"
                                                           : "sha256";
  tus::checksum again;
  FUZZ_CHECK(accepted(
      [&] { again = tus::parse_checksum(std::string(name) + " " + util::base64_encode(c.raw)); },
      {}));
  FUZZ_CHECK(again.algorithm == c.algorithm && again.raw == c.raw);
}

void check_concat(std::string_view list) {
  std::vector<std::string> parts;
  if (!accepted([&] { parts = tus::concat_parts(list); }, {"invalid_header"})) return;
  std::string text;
  for (const auto& id : parts) {
    FUZZ_CHECK(util::is_valid_id(id));
    text += (text.empty() ? "/tus/" : " https://host/tus/") + id;
  }
  std::vector<std::string> again;
  FUZZ_CHECK(accepted([&] { again = tus::concat_parts(text); }, {}));
  FUZZ_CHECK(again == parts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto h = fuzz::header_block::parse(fuzz::as_text(data, size));

  for (const char* name : {"Upload-Offset", "Upload-Length"})
    if (const auto v = h.get(name)) check_number(*v);
  if (const auto v = h.get("Upload-Metadata")) check_metadata(*v);
  if (const auto v = h.get("Upload-Checksum")) check_checksum(*v);
  if (const auto v = h.get("Upload-Concat"); v && v->starts_with("final;"))
    check_concat(v->substr(6));
  if (const auto v = h.get("Content-Type")) {
    if (tus::is_offset_stream(*v)) {
      auto media = v->substr(0, v->find(';'));
      while (!media.empty() && media.back() == ' ')
        media.remove_suffix(1);
      FUZZ_CHECK(fuzz::iequals(media, "application/offset+octet-stream"));
    }
  }

  const tus::creation_headers ch{h.get("Upload-Metadata"), h.get("Upload-Concat"),
                                 h.get("Upload-Length"), h.get("Upload-Defer-Length")};
  tus::creation c;
  if (accepted([&] { c = tus::parse_creation(ch); }, {"invalid_header", "invalid_metadata"})) {
    const auto& req = c.request;
    FUZZ_CHECK(req.metadata == ch.metadata.value_or(""));
    if (ch.metadata) {
      const auto meta = tus::parse_metadata(*ch.metadata);
      const auto pick = [&](std::initializer_list<const char*> keys) {
        for (const char* k : keys)
          if (const auto it = meta.find(k); it != meta.end() && !it->second.empty())
            return it->second;
        return std::string();
      };
      FUZZ_CHECK(req.filename == pick({"filename", "name"}));
      FUZZ_CHECK(req.content_type == pick({"filetype", "type", "contentType"}));
    }
    if (c.final_concat) {
      FUZZ_CHECK(ch.concat && ch.concat->starts_with("final;"));
      FUZZ_CHECK(c.parts == tus::concat_parts(ch.concat->substr(6)));
    } else {
      FUZZ_CHECK(c.parts.empty());
      FUZZ_CHECK(req.size.has_value() != ch.defer_length.has_value());
      if (ch.defer_length) FUZZ_CHECK(*ch.defer_length == "1");
      if (req.size)
        FUZZ_CHECK(ch.length && req.size == tus::parse_number("Upload-Length", *ch.length));
      FUZZ_CHECK(req.kind ==
                 (ch.concat ? domain::upload_kind::partial : domain::upload_kind::single));
      if (ch.concat) FUZZ_CHECK(*ch.concat == "partial");
    }
  }
  return 0;
}
