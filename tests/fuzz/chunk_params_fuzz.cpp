// The chunk route's parameters (src/api/uploads_api.cpp, src/api/request_params.cpp): the upload
// id and chunk index of PUT /v1/uploads/{id}/chunks/{index} (through the router, as a request
// reaches them) and the Content-Digest header.
// Input: header lines: X-Target (the request target), Content-Digest (any number of them).
//
// Properties:
//  - a chunk index is accepted exactly when it is a canonical decimal integer (no sign, no
//    leading zero) within 64 bits, and reads back as the same text;
//  - the upload id the route binds is what the path said, and is_valid_id agrees with the id
//    alphabet (26 characters of base32: a-z, 2-7);
//  - Content-Digest: refused only with 400 invalid_digest; the digest kept is the strongest
//    supported one (sha-512 > sha-256 > crc32c); written back, it parses to the same.
#include <algorithm>

#include "fuzz_support.hpp"
#include "sharebox/api/handlers.hpp"
#include "sharebox/api/request_params.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/problem.hpp"
#include "sharebox/http/router.hpp"
#include "sharebox/util/encoding.hpp"

namespace {

using namespace sharebox;
using util::hash_algorithm;

int strength(hash_algorithm a) {
  switch (a) {
    case hash_algorithm::sha512:
      return 3;
    case hash_algorithm::sha256:
      return 2;
    case hash_algorithm::crc32c:
      return 1;
    default:
      return 0;
  }
}

void check_index(std::string_view text) {
  std::uint64_t index = 0;
  bool ok = true;
  try {
    index = api::parse_chunk_index(text);
  } catch (const domain::error& e) {
    FUZZ_CHECK(e.code() == domain::errc::invalid_chunk_index);
    ok = false;
  }
  const auto d = fuzz::decimal(text);
  const bool canonical =
      d && (text.size() == 1 || text[0] != '0') &&
      (text.size() < 20 || (text.size() == 20 && text <= "18446744073709551615"));
  FUZZ_CHECK(ok == canonical);
  if (ok) FUZZ_CHECK(std::to_string(index) == text);
}

void check_id(std::string_view id) {
  const bool alphabet = id.size() == 26 && std::all_of(id.begin(), id.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
                        });
  FUZZ_CHECK(util::is_valid_id(id) == alphabet);
}

std::string algorithm_name(hash_algorithm a) {
  switch (a) {
    case hash_algorithm::sha512:
      return "sha-512";
    case hash_algorithm::sha256:
      return "sha-256";
    case hash_algorithm::crc32c:
      return "crc32c";
    case hash_algorithm::sha1:
      return "sha1";
    case hash_algorithm::md5:
      return "md5";
  }
  return "?";
}

void check_digest(const std::vector<std::string_view>& values) {
  http::request_header req;
  for (const auto v : values)
    req.insert("Content-Digest", v);
  std::optional<api::digest_expectation> got;
  try {
    got = api::content_digest(req);
  } catch (const http::api_error& e) {
    FUZZ_CHECK(e.status() == bhttp::status::bad_request && e.code() == "invalid_digest");
    return;
  }
  if (values.empty()) FUZZ_CHECK(!got);
  if (!got) return;
  FUZZ_CHECK(strength(got->algorithm) > 0);
  // Every member of the (first) field parsed, since none was refused: the one kept is the
  // strongest there.
  std::string_view rest = values.front();
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    const auto a = util::parse_hash_algorithm(item.substr(0, item.find('=')));
    if (a) FUZZ_CHECK(strength(*a) <= strength(got->algorithm));
  }
  http::request_header again;
  again.insert("Content-Digest",
               algorithm_name(got->algorithm) + "=:" + util::base64_encode(got->raw) + ":");
  const auto back = api::content_digest(again);
  FUZZ_CHECK(back && back->algorithm == got->algorithm && back->raw == got->raw);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto h = fuzz::header_block::parse(fuzz::as_text(data, size));

  if (const auto t = h.get("X-Target")) {
    http::router<int> r;
    r.add(bhttp::verb::put, "/v1/uploads/{id}/chunks/{index}", 0);
    if (const auto target = http::parse_target(*t)) {
      const auto m = r.find(bhttp::verb::put, target->path);
      if (m.found) {
        FUZZ_CHECK(m.path_params.at("id") == target->path.at(2));
        FUZZ_CHECK(m.path_params.at("index") == target->path.at(4));
        check_id(m.path_params.at("id"));
        check_index(m.path_params.at("index"));
      }
    }
  }
  if (const auto v = h.get("X-Index")) check_index(*v);
  if (const auto v = h.get("X-Upload-Id")) check_id(*v);
  check_digest(h.all("Content-Digest"));
  return 0;
}
