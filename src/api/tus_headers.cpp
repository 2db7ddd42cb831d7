#include "sharebox/api/tus_headers.hpp"

#include <charconv>
#include <initializer_list>

#include "sharebox/http/problem.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::api::tus {

namespace {

constexpr std::string_view offset_octet_stream = "application/offset+octet-stream";

[[noreturn]] void bad_request(std::string code, std::string detail) {
  throw http::api_error(bhttp::status::bad_request, std::move(code), std::move(detail));
}

std::string first_of(const std::map<std::string, std::string>& m,
                     std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (const auto it = m.find(k); it != m.end() && !it->second.empty()) return it->second;
  }
  return {};
}

}  // namespace

std::uint64_t parse_number(std::string_view name, std::string_view value) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    bad_request("invalid_header", std::string(name) + " must be a non-negative integer.");
  }
  return n;
}

bool is_offset_stream(std::string_view content_type) {
  const auto semi = content_type.find(';');
  auto media = content_type.substr(0, semi);
  while (!media.empty() && media.back() == ' ')
    media.remove_suffix(1);
  return beast::iequals(media, offset_octet_stream);
}

std::map<std::string, std::string> parse_metadata(std::string_view v) {
  std::map<std::string, std::string> out;
  while (!v.empty()) {
    const auto comma = v.find(',');
    auto pair = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    while (!pair.empty() && pair.front() == ' ')
      pair.remove_prefix(1);
    while (!pair.empty() && pair.back() == ' ')
      pair.remove_suffix(1);
    const auto space = pair.find(' ');
    const std::string key(pair.substr(0, space));
    if (key.empty() || key.find_first_of(",\t") != std::string::npos || out.contains(key)) {
      bad_request("invalid_metadata", "Upload-Metadata keys must be unique and non-empty.");
    }
    std::string value;
    if (space != std::string_view::npos) {
      const auto decoded = util::base64_decode(pair.substr(space + 1));
      if (!decoded) bad_request("invalid_metadata", "Upload-Metadata values must be base64.");
      value = *decoded;
    }
    out.emplace(key, std::move(value));
  }
  return out;
}

checksum parse_checksum(std::string_view c) {
  const auto space = c.find(' ');
  const auto algo = util::parse_hash_algorithm(c.substr(0, space));
  if (!algo || *algo == util::hash_algorithm::sha512 || *algo == util::hash_algorithm::crc32c ||
      space == std::string_view::npos) {
    bad_request("unsupported_checksum",
                "Upload-Checksum must be 'ALGORITHM BASE64' with sha1, md5 or sha256.");
  }
  const auto raw = util::base64_decode(c.substr(space + 1));
  if (!raw) bad_request("unsupported_checksum", "The Upload-Checksum digest must be base64.");
  return {*algo, *raw};
}

std::vector<std::string> concat_parts(std::string_view list) {
  std::vector<std::string> ids;
  while (!list.empty()) {
    const auto space = list.find(' ');
    auto url = list.substr(0, space);
    list = space == std::string_view::npos ? std::string_view{} : list.substr(space + 1);
    if (url.empty()) continue;
    const auto q = url.find_first_of("?#");
    url = url.substr(0, q);
    while (!url.empty() && url.back() == '/')
      url.remove_suffix(1);
    const auto at = url.rfind("/tus/");
    const auto id = at == std::string_view::npos ? std::string_view{} : url.substr(at + 5);
    if (!util::is_valid_id(id)) {
      bad_request("invalid_header", "Upload-Concat names an unknown upload: " + std::string(url));
    }
    ids.emplace_back(id);
  }
  return ids;
}

creation parse_creation(const creation_headers& h) {
  creation c;
  auto& req = c.request;
  if (h.metadata) {
    req.metadata = std::string(*h.metadata);
    const auto meta = parse_metadata(*h.metadata);
    req.filename = first_of(meta, {"filename", "name"});
    req.content_type = first_of(meta, {"filetype", "type", "contentType"});
  }
  if (h.concat && h.concat->substr(0, 6) == "final;") {
    c.final_concat = true;
    c.parts = concat_parts(h.concat->substr(6));
    return c;
  }
  if (h.concat && *h.concat != "partial") {
    bad_request("invalid_header", "Upload-Concat must be 'partial' or 'final;URL URL ...'.");
  }
  req.kind = h.concat ? domain::upload_kind::partial : domain::upload_kind::single;
  if (h.length) req.size = parse_number("Upload-Length", *h.length);
  if (h.defer_length && *h.defer_length != "1") {
    bad_request("invalid_header", "Upload-Defer-Length must be 1.");
  }
  if (req.size.has_value() == h.defer_length.has_value()) {
    bad_request("invalid_header", "Send either Upload-Length or Upload-Defer-Length: 1.");
  }
  return c;
}

}  // namespace sharebox::api::tus
