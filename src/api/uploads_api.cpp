// The chunked upload API (/v1/uploads): init, chunks in any order and in parallel, status,
// missing chunks, complete, abort. See docs/uploads.md.
#include <charconv>

#include <spdlog/spdlog.h>

#include "sharebox/api/handlers.hpp"
#include "sharebox/api/json_requests.hpp"
#include "sharebox/api/request_params.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/http/write_pipeline.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::api {

namespace {

using domain::errc;

nlohmann::json status_json(const domain::upload_status& s) {
  const auto& u = s.upload;
  nlohmann::json j{
      {"upload_id", u.id},
      {"filename", u.filename},
      {"size", u.size.value_or(0)},
      {"content_type", u.content_type},
      {"chunk_size", u.chunk_size},
      {"chunk_count", u.chunk_count()},
      {"received_chunks", s.received_chunks},
      {"received_bytes", s.received_bytes},
      {"state", domain::to_string(u.state)},
      {"created_at", util::format_rfc3339(u.created_at)},
      {"expires_at", util::format_rfc3339(u.expires_at)},
  };
  if (!u.sha256.empty()) j["sha256"] = u.sha256;
  if (!u.replace_file_id.empty()) j["file_id"] = u.replace_file_id;
  if (!u.file_id.empty()) j["file_id"] = u.file_id;
  return j;
}

}  // namespace

std::optional<digest_expectation> content_digest(const http::request_header& req) {
  const auto it = req.find("Content-Digest");
  if (it == req.end()) return std::nullopt;
  // RFC 9530: a structured-field dictionary, e.g. `sha-256=:BASE64:, sha-512=:BASE64:`. The
  // strongest algorithm we support is checked; unknown ones are ignored, as the RFC allows.
  // crc32c (deprecated by RFC 9530 as a security measure, kept for integrity) lets a client
  // check each chunk cheaply when the file's SHA-256 is checked at completion anyway.
  const auto strength = [](util::hash_algorithm a) {
    switch (a) {
      case util::hash_algorithm::sha512:
        return 3;
      case util::hash_algorithm::sha256:
        return 2;
      case util::hash_algorithm::crc32c:
        return 1;
      default:
        return 0;
    }
  };
  std::optional<digest_expectation> best;
  std::string_view rest = it->value();
  const auto bad = [] {
    throw http::api_error(bhttp::status::bad_request, "invalid_digest",
                          "Content-Digest must look like 'sha-256=:BASE64:'.");
  };
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) bad();  // also an empty member (",,", ", ")
    const auto name = item.substr(0, eq);
    auto value = item.substr(eq + 1);
    if (value.size() < 2 || value.front() != ':' || value.back() != ':') bad();
    const auto raw = util::base64_decode(value.substr(1, value.size() - 2));
    if (!raw) bad();
    const auto algo = util::parse_hash_algorithm(name);
    if (!algo || strength(*algo) == 0) continue;
    if (best && strength(best->algorithm) >= strength(*algo)) continue;
    best = digest_expectation{*algo, *raw};
  }
  return best;
}

awaitable<void> pump_body(request_context& ctx, domain::upload_writer& w, upload_stream kind) {
  // Receiving the next buffer overlaps writing the previous one. Whatever happens, every
  // buffer received is written or dropped before this returns: callers read w.written().
  const auto receiving = ctx.svc.metrics.receiving(kind);
  auto executor = co_await asio::this_coro::executor;
  http::write_pipeline pipe(ctx.svc.pool, executor, ctx.svc.opts.upload_buffer_bytes, 2,
                            [&w](const char* data, std::size_t n) { w.write(data, n); });
  std::exception_ptr failure;
  try {
    for (;;) {
      auto* b = co_await pipe.acquire();
      b->size = co_await read_body_full(ctx.io, b->data, b->capacity);
      const bool last = b->size < b->capacity;  // the body ended inside this buffer
      pipe.submit(b);
      if (last) break;
    }
    co_await pipe.drain();
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    co_await pipe.settle();
    std::rethrow_exception(failure);
  }
}

awaitable<void> post_upload_init(request_context& ctx) {
  const auto body = co_await read_json_body(ctx);
  auto req = parse_upload_init(body);
  auto u = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.uploads.init_chunked(ctx.user, std::move(req)); });
  nlohmann::json j{
      {"upload_id", u.id},
      {"filename", u.filename},
      {"size", u.size.value_or(0)},
      {"chunk_size", u.chunk_size},
      {"chunk_count", u.chunk_count()},
      {"expires_at", util::format_rfc3339(u.expires_at)},
  };
  auto res = json_response(bhttp::status::created, j);
  res.set(bhttp::field::location, "/v1/uploads/" + u.id);
  co_await ctx.io.send(std::move(res));
}

awaitable<void> put_upload_chunk(request_context& ctx) {
  const std::string& id = ctx.path.at("id");
  const std::uint64_t index = parse_chunk_index(ctx.path.at("index"));
  const auto digest = content_digest(ctx.io.request());
  // Admission before anything is read: a refused chunk costs the server nothing.
  auto pass = ctx.svc.uploads.gate().enter_chunk(id, ctx.user.id, index);
  const auto declared = ctx.io.content_length();
  auto slot = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.uploads.begin_chunk(ctx.user, id, index, declared); });

  const bool duplicate = slot.duplicate;
  auto w = co_await http::offload(ctx.svc.pool, [&] {
    // A stored chunk sent again replaces the stored one (it may be the repair of a chunk that
    // made the whole file's sha256 wrong). It stops counting as received first, so a crash in
    // the middle of the rewrite leaves it missing, never half old and half new.
    if (duplicate) ctx.svc.uploads.forget_chunk(ctx.user, id, index);
    return ctx.svc.uploads.chunk_writer(slot);
  });
  if (digest) w.expect_digest(digest->algorithm, digest->raw);
  bool overflow = false;  // a chunked-encoded body longer than the chunk
  try {
    co_await pump_body(ctx, w, upload_stream::chunked);
  } catch (const domain::error& e) {
    if (e.code() != errc::upload_length_exceeded) throw;
    overflow = true;
  }
  if (overflow || w.written() != slot.length || !ctx.io.body_complete()) {
    throw domain::error(errc::chunk_size_mismatch,
                        "Chunk " + std::to_string(index) + " is " + std::to_string(slot.length) +
                            " bytes; the request carried " +
                            (overflow ? "more" : std::to_string(w.written())) + ".",
                        {{"expected_size", static_cast<std::int64_t>(slot.length)}});
  }
  const auto st = co_await http::offload(ctx.svc.pool, [&] {
    w.finish();  // durable, and the digest checked, before it counts
    return ctx.svc.uploads.record_chunk(ctx.user, id, index);
  });
  pass = {};
  // Its own pool task: the response does not wait for the whole-file hash to catch up.
  asio::post(ctx.svc.pool, [&uploads = ctx.svc.uploads, id] {
    try {
      uploads.hash_received_chunks(id);
    } catch (const std::exception& e) {
      // Completion hashes whatever this did not; nothing is lost.
      spdlog::warn("upload {}: hashing received chunks: {}", id, e.what());
    }
  });
  nlohmann::json j{
      {"upload_id", id},
      {"index", index},
      {"size", slot.length},
      {"duplicate", duplicate},
      {"received_chunks", st.received_chunks},
      {"chunk_count", st.upload.chunk_count()},
  };
  co_await ctx.io.send(json_response(bhttp::status::ok, j));
}

awaitable<void> get_upload(request_context& ctx) {
  auto st = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.uploads.status(ctx.user, ctx.path.at("id")); });
  if (st.upload.protocol != domain::upload_protocol::chunked) {
    throw domain::error(errc::upload_not_found, "No such upload.");
  }
  co_await ctx.io.send(json_response(bhttp::status::ok, status_json(st)));
}

awaitable<void> get_missing_chunks(request_context& ctx) {
  auto missing = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.uploads.missing_chunks(ctx.user, ctx.path.at("id")); });
  // Named, not a braced temporary inside co_await: GCC 12 mis-destroys those.
  const nlohmann::json body{{"missing", missing}};
  co_await ctx.io.send(json_response(bhttp::status::ok, body));
}

awaitable<void> post_upload_complete(request_context& ctx) {
  const std::string& id = ctx.path.at("id");
  // Optional: {"sha256": "<hex>"}, the digest a client computed while it sent the chunks.
  const auto body = co_await read_optional_json_body(ctx);
  std::string sha256 = parse_upload_completion(body);
  auto pass = ctx.svc.uploads.gate().enter_exclusive(id, ctx.user.id, false, errc::upload_busy);
  auto done = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.uploads.complete(ctx.user, id, std::move(sha256)); });
  pass = {};
  const bool created = done.created;
  auto res =
      json_response(created ? bhttp::status::created : bhttp::status::ok, to_json(done.file));
  res.set(bhttp::field::etag, domain::etag_of(done.file.file));
  res.set(bhttp::field::location, "/files/" + done.file.file.id);
  co_await ctx.io.send(std::move(res));
}

awaitable<void> get_upload_download(request_context& ctx) {
  // The seed's route: a completed upload's content, served as its file (ranges and all).
  const auto u = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.uploads.find(ctx.user, ctx.path.at("id")); });
  if (u.protocol != domain::upload_protocol::chunked) {
    throw domain::error(errc::upload_not_found, "No such upload.");
  }
  if (u.state != domain::upload_state::completed) {
    throw http::api_error(bhttp::status::conflict, "upload_incomplete",
                          "This upload has not been completed yet.");
  }
  ctx.path.insert_or_assign("id", u.file_id);
  co_await get_file(ctx);
}

awaitable<void> delete_upload(request_context& ctx) {
  co_await http::offload(ctx.svc.pool, [&] {
    // A tus upload is not one of this API's (docs: 404 for an upload of the other protocol).
    const auto u = ctx.svc.uploads.find(ctx.user, ctx.path.at("id"));
    if (u.protocol != domain::upload_protocol::chunked) {
      throw domain::error(errc::upload_not_found, "No such upload.");
    }
    ctx.svc.uploads.abort(ctx.user, u.id);
  });
  http::string_response res{bhttp::status::no_content, 11};
  co_await ctx.io.send(std::move(res));
}

}  // namespace sharebox::api
