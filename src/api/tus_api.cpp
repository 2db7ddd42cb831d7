// tus 1.0.0 (https://tus.io/protocols/resumable-upload) at /tus/: core, creation,
// creation-with-upload, creation-defer-length, termination, checksum, expiration and
// concatenation, over the same upload service as the chunked API.
#include <charconv>

#include "sharebox/api/handlers.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/body_errors.hpp"
#include "sharebox/http/conditional.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::api {

namespace {

using domain::errc;

constexpr const char* tus_version = "1.0.0";
constexpr const char* tus_extensions =
    "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration,"
    "concatenation";
constexpr const char* offset_octet_stream = "application/offset+octet-stream";
constexpr auto checksum_mismatch_status = static_cast<bhttp::status>(460);

[[noreturn]] void bad_request(std::string code, std::string detail) {
  throw http::api_error(bhttp::status::bad_request, std::move(code), std::move(detail));
}

std::optional<std::string_view> header(const request_context& ctx, std::string_view name) {
  const auto& req = ctx.io.request();
  const auto it = req.find(name);
  if (it == req.end()) return std::nullopt;
  return it->value();
}

std::optional<std::uint64_t> number_header(const request_context& ctx, std::string_view name) {
  const auto v = header(ctx, name);
  if (!v) return std::nullopt;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size()) {
    bad_request("invalid_header", std::string(name) + " must be a non-negative integer.");
  }
  return n;
}

// Requests other than OPTIONS (and plain GET downloads) must name the tus version they speak.
// (Every /tus response names it: the router adds Tus-Resumable before authentication.)
void begin_tus(request_context& ctx, bool require_version) {
  if (!require_version) return;
  const auto v = header(ctx, "Tus-Resumable");
  if (!v || *v != tus_version) {
    ctx.io.add_response_header("Tus-Version", tus_version);
    throw http::api_error(bhttp::status::precondition_failed, "unsupported_tus_version",
                          "This server speaks tus 1.0.0; send 'Tus-Resumable: 1.0.0'.");
  }
}

bool is_offset_stream(std::string_view content_type) {
  const auto semi = content_type.find(';');
  auto media = content_type.substr(0, semi);
  while (!media.empty() && media.back() == ' ')
    media.remove_suffix(1);
  return beast::iequals(media, offset_octet_stream);
}

void require_offset_stream(const request_context& ctx) {
  if (!is_offset_stream(ctx.io.request()[bhttp::field::content_type])) {
    throw http::api_error(bhttp::status::unsupported_media_type, "unsupported_media_type",
                          std::string("PATCH bodies must be ") + offset_octet_stream + ".");
  }
}

// Upload-Metadata: comma-separated `key base64(value)` pairs (the value may be absent).
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

std::string first_of(const std::map<std::string, std::string>& m,
                     std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (const auto it = m.find(k); it != m.end() && !it->second.empty()) return it->second;
  }
  return {};
}

domain::tus_create creation_from_headers(const request_context& ctx) {
  domain::tus_create req;
  if (const auto m = header(ctx, "Upload-Metadata")) {
    req.metadata = std::string(*m);
    const auto meta = parse_metadata(*m);
    req.filename = first_of(meta, {"filename", "name"});
    req.content_type = first_of(meta, {"filetype", "type", "contentType"});
  }
  return req;
}

// The upload ids named by `Upload-Concat: final;<url> <url> ...` (absolute or relative URLs).
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

std::string expires_header(std::int64_t unix_ms) {
  return http::format_http_date(http::sys_seconds(std::chrono::seconds(unix_ms / 1000)));
}

// Headers describing an upload's progress (PATCH, POST and HEAD responses).
void describe(bhttp::fields& f, const domain::upload_record& u) {
  f.set(
      "Upload-Offset",
      std::to_string(u.kind == domain::upload_kind::final_concat ? u.size.value_or(0) : u.offset));
  if (u.state == domain::upload_state::open) f.set("Upload-Expires", expires_header(u.expires_at));
  if (!u.file_id.empty()) f.set("Sharebox-File-Id", u.file_id);
}

[[noreturn]] void offset_mismatch_after_completion() {
  throw domain::error(errc::offset_mismatch, "This upload is already complete.");
}

// Writes one request's body into the upload (PATCH, or POST with creation-with-upload).
awaitable<domain::patch_result> receive_patch(request_context& ctx, const std::string& id,
                                              std::uint64_t offset) {
  std::optional<digest_expectation> checksum;
  if (const auto c = header(ctx, "Upload-Checksum")) {
    const auto space = c->find(' ');
    const auto algo = util::parse_hash_algorithm(c->substr(0, space));
    if (!algo || *algo == util::hash_algorithm::sha512 || *algo == util::hash_algorithm::crc32c ||
        space == std::string_view::npos) {
      bad_request("unsupported_checksum",
                  "Upload-Checksum must be 'ALGORITHM BASE64' with sha1, md5 or sha256.");
    }
    const auto raw = util::base64_decode(c->substr(space + 1));
    if (!raw) bad_request("unsupported_checksum", "The Upload-Checksum digest must be base64.");
    checksum = digest_expectation{*algo, *raw};
  }
  const auto length = number_header(ctx, "Upload-Length");
  // Two PATCHes to one upload at once would race for the same offset: the second gets 423.
  auto pass = ctx.svc.uploads.gate().enter_exclusive(id, ctx.user.id, true, errc::upload_locked);
  auto slot = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.uploads.begin_patch(ctx.user, id, offset, length); });
  if (slot.already_complete) {
    if (ctx.io.content_length().value_or(0) > 0) offset_mismatch_after_completion();
    co_return domain::patch_result{slot.upload, std::nullopt};
  }
  auto w = co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.uploads.patch_writer(slot); });
  if (checksum) w.expect_digest(checksum->algorithm, checksum->raw);

  bool client_gone = false;
  error_code broken;
  std::exception_ptr failure;
  try {
    co_await pump_body(ctx, w, upload_stream::tus);
  } catch (const boost::system::system_error& e) {
    client_gone = true;
    broken = e.code();
  } catch (...) {
    failure = std::current_exception();
  }
  // Bytes that do not count must not keep holding disk space (see discard_patch).
  const auto discard = [&] {
    try {
      ctx.svc.uploads.discard_patch(slot);
    } catch (const std::exception&) {
    }
  };
  if (client_gone && http::is_malformed_body(broken)) {
    // Not an interrupted upload but a broken chunked encoding: nothing of it is trusted, and the
    // transport answers 400.
    co_await http::offload(ctx.svc.pool, discard);
    throw boost::system::system_error(broken, "malformed PATCH body");
  }
  if (client_gone) {
    // tus asks servers to keep what arrived before a connection broke, so the client resumes
    // from there; with a checksum the bytes cannot be verified and are dropped.
    co_await http::offload(ctx.svc.pool, [&] {
      if (!checksum && w.written() > 0) {
        try {
          w.finish();
          ctx.svc.uploads.commit_patch(ctx.user, slot, w);
          return;
        } catch (const std::exception&) {
        }
      }
      discard();
    });
    throw boost::system::system_error(asio::error::connection_aborted, "client went away");
  }
  std::optional<domain::patch_result> done;
  if (!failure) {
    try {
      done = co_await http::offload(ctx.svc.pool, [&] {
        w.finish();
        return ctx.svc.uploads.commit_patch(ctx.user, slot, w);
      });
    } catch (...) {
      failure = std::current_exception();
    }
  }
  if (failure) {
    co_await http::offload(ctx.svc.pool, discard);
    try {
      std::rethrow_exception(failure);
    } catch (const domain::error& e) {
      if (e.code() != errc::digest_mismatch) throw;
    }
    throw http::api_error(checksum_mismatch_status, "checksum_mismatch",
                          "The PATCH body does not match Upload-Checksum; it was discarded.");
  }
  co_return std::move(*done);
}

}  // namespace

awaitable<void> tus_options(request_context& ctx) {
  begin_tus(ctx, false);
  http::string_response res{bhttp::status::no_content, 11};
  res.set("Tus-Version", tus_version);
  res.set("Tus-Extension", tus_extensions);
  res.set("Tus-Max-Size", std::to_string(ctx.svc.uploads.options().max_file_size));
  res.set("Tus-Checksum-Algorithm", "sha1,md5,sha256");
  co_await ctx.io.send(std::move(res));
}

awaitable<void> tus_create(request_context& ctx) {
  begin_tus(ctx, true);
  auto req = creation_from_headers(ctx);
  const auto concat = header(ctx, "Upload-Concat");
  domain::patch_result result;
  if (concat && concat->substr(0, 6) == "final;") {
    const auto parts = concat_parts(concat->substr(6));
    result = co_await http::offload(ctx.svc.pool, [&] {
      return ctx.svc.uploads.concat_final(ctx.user, parts, std::move(req));
    });
  } else {
    if (concat && *concat != "partial") {
      bad_request("invalid_header", "Upload-Concat must be 'partial' or 'final;URL URL ...'.");
    }
    req.kind = concat ? domain::upload_kind::partial : domain::upload_kind::single;
    const auto length = number_header(ctx, "Upload-Length");
    const auto defer = header(ctx, "Upload-Defer-Length");
    if (defer && *defer != "1") bad_request("invalid_header", "Upload-Defer-Length must be 1.");
    if (length.has_value() == defer.has_value()) {
      bad_request("invalid_header", "Send either Upload-Length or Upload-Defer-Length: 1.");
    }
    req.size = length;
    const bool with_body = ctx.io.content_length().value_or(ctx.io.body_complete() ? 0 : 1) > 0;
    if (with_body) require_offset_stream(ctx);
    if (length && *length > ctx.svc.uploads.options().max_file_size) {
      throw http::api_error(bhttp::status::payload_too_large, "file_too_large",
                            "Uploads are limited to " +
                                std::to_string(ctx.svc.uploads.options().max_file_size) +
                                " bytes (Tus-Max-Size).");
    }
    result = co_await http::offload(
        ctx.svc.pool, [&] { return ctx.svc.uploads.create_tus(ctx.user, std::move(req)); });
    if (with_body) {
      // creation-with-upload: the first bytes ride along with the creation request. If they
      // fail, the client never learns the upload's URL: remove it rather than leave it
      // unreachable until it expires.
      std::exception_ptr failure;
      try {
        result = co_await receive_patch(ctx, result.upload.id, 0);
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        co_await http::offload(ctx.svc.pool, [&] {
          try {
            ctx.svc.uploads.abort(ctx.user, result.upload.id);
          } catch (const std::exception&) {
          }
        });
        std::rethrow_exception(failure);
      }
    }
  }
  http::string_response res{bhttp::status::created, 11};
  res.set(bhttp::field::location, "/tus/" + result.upload.id);
  describe(res.base(), result.upload);
  co_await ctx.io.send(std::move(res));
}

awaitable<void> tus_head_or_get(request_context& ctx) {
  const bool head = ctx.io.request().method() == bhttp::verb::head;
  begin_tus(ctx, head);
  const std::string id = ctx.path.at("id");
  auto u = co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.uploads.find(ctx.user, id); });
  if (u.protocol != domain::upload_protocol::tus) {
    throw domain::error(errc::upload_not_found, "No such upload.");
  }
  if (!head) {
    // As tusd does: a finished upload's URL serves its content.
    if (u.state != domain::upload_state::completed) {
      throw http::api_error(bhttp::status::conflict, "upload_incomplete",
                            "This upload has not received all its bytes yet.");
    }
    ctx.path.insert_or_assign("id", u.file_id);
    co_await get_file(ctx);
    co_return;
  }
  http::string_response res{bhttp::status::ok, 11};
  describe(res.base(), u);
  if (u.size) {
    res.set("Upload-Length", std::to_string(*u.size));
  } else {
    res.set("Upload-Defer-Length", "1");
  }
  if (!u.metadata.empty()) res.set("Upload-Metadata", u.metadata);
  if (u.kind == domain::upload_kind::partial) res.set("Upload-Concat", "partial");
  if (u.kind == domain::upload_kind::final_concat) {
    std::string v = "final;";
    for (std::size_t i = 0; i < u.parts.size(); ++i)
      v += (i ? " /tus/" : "/tus/") + u.parts[i];
    res.set("Upload-Concat", v);
  }
  res.set(bhttp::field::cache_control, "no-store");
  co_await ctx.io.send(std::move(res));
}

awaitable<void> tus_patch(request_context& ctx) {
  begin_tus(ctx, true);
  require_offset_stream(ctx);
  const auto offset = number_header(ctx, "Upload-Offset");
  if (!offset) bad_request("invalid_header", "PATCH needs Upload-Offset.");
  auto result = co_await receive_patch(ctx, ctx.path.at("id"), *offset);
  http::string_response res{bhttp::status::no_content, 11};
  describe(res.base(), result.upload);
  co_await ctx.io.send(std::move(res));
}

awaitable<void> tus_delete(request_context& ctx) {
  begin_tus(ctx, true);
  co_await http::offload(ctx.svc.pool, [&] {
    const auto u = ctx.svc.uploads.find(ctx.user, ctx.path.at("id"));
    if (u.protocol != domain::upload_protocol::tus) {
      throw domain::error(errc::upload_not_found, "No such upload.");
    }
    ctx.svc.uploads.abort(ctx.user, u.id);
  });
  http::string_response res{bhttp::status::no_content, 11};
  co_await ctx.io.send(std::move(res));
}

}  // namespace sharebox::api
