// tus 1.0.0 (https://tus.io/protocols/resumable-upload) at /tus/: core, creation,
// creation-with-upload, creation-defer-length, termination, checksum, expiration and
// concatenation, over the same upload service as the chunked API.
#include <charconv>

#include "sharebox/api/handlers.hpp"
#include "sharebox/api/tus_headers.hpp"
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
  return tus::parse_number(name, *v);
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

void require_offset_stream(const request_context& ctx) {
  if (!tus::is_offset_stream(ctx.io.request()[bhttp::field::content_type])) {
    throw http::api_error(bhttp::status::unsupported_media_type, "unsupported_media_type",
                          std::string("PATCH bodies must be ") + offset_octet_stream + ".");
  }
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
  std::optional<tus::checksum> checksum;
  if (const auto c = header(ctx, "Upload-Checksum")) checksum = tus::parse_checksum(*c);
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
  auto creation =
      tus::parse_creation({header(ctx, "Upload-Metadata"), header(ctx, "Upload-Concat"),
                           header(ctx, "Upload-Length"), header(ctx, "Upload-Defer-Length")});
  auto& req = creation.request;
  const auto length = req.size;
  domain::patch_result result;
  if (creation.final_concat) {
    result = co_await http::offload(ctx.svc.pool, [&] {
      return ctx.svc.uploads.concat_final(ctx.user, creation.parts, std::move(req));
    });
  } else {
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
