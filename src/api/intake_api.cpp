// Image intake over WebSocket (docs/ws-intake.md): one connection is one session; files arrive
// one after another, go to disk as they come, and get a verdict once validated.
#include <spdlog/spdlog.h>

#include "sharebox/api/handlers.hpp"
#include "sharebox/api/intake_messages.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/domain/intake_session.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/images/image_probe.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::api {

namespace {

using nlohmann::json;

constexpr std::size_t read_piece_bytes = 64 * 1024;
constexpr std::size_t max_control_bytes = 16 * 1024;
constexpr std::uint64_t progress_step = 256 * 1024;
constexpr int max_bad_messages = 16;

// WebSocket close codes (RFC 6455 section 7.4.1).
constexpr std::uint16_t close_policy = 1008;
constexpr std::uint16_t close_too_big = 1009;

std::string_view code_of(images::rejection r) {
  switch (r) {
    case images::rejection::unsupported_type:
      return "unsupported_type";
    case images::rejection::corrupt:
      return "corrupt";
    case images::rejection::too_large:
      return "too_large";
  }
  return "corrupt";
}

// The verdict for a file the server failed to store (a full disk, an I/O error).
domain::intake_rejection storage_failure(const std::exception_ptr& failure, const char* stage) {
  try {
    std::rethrow_exception(failure);
  } catch (const domain::error& e) {
    return {std::string(http::to_problem(e).code), e.what(), {}};
  } catch (const std::exception& e) {
    spdlog::error("intake: {} failed: {}", stage, e.what());
  }
  return {"internal", "The server could not store the file.", {}};
}

// The file being received: its bytes go straight into a blob writer (a temp file).
struct incoming_file {
  std::string client_file_id;
  std::string name;
  std::optional<std::uint64_t> declared_size;
  std::uint64_t received = 0;
  std::uint64_t reported = 0;  // last progress sent
  std::unique_ptr<domain::blob_writer> writer;
  util::metrics::gauge_hold receiving;  // in progress from `ready` to its verdict
};

class intake_conversation {
 public:
  intake_conversation(request_context& ctx, http::websocket_channel& ch)
      : ctx_(ctx), ch_(ch), session_(ctx.svc.opts.intake.session) {}

  awaitable<void> run() {
    std::exception_ptr failure;
    try {
      co_await loop();
    } catch (...) {
      failure = std::current_exception();
    }
    // Whatever ended the session, a half-received file leaves nothing behind.
    co_await drop_current();
    if (failure) std::rethrow_exception(failure);
  }

 private:
  awaitable<void> loop() {
    const auto& lim = session_.limits();
    // (GCC 12 miscompiles braced temporaries inside co_await expressions: name them first.)
    const json hello{{"type", "session"},
                     {"session_id", util::new_id()},
                     {"limits",
                      {{"max_file_bytes", lim.max_file_bytes},
                       {"max_files", lim.max_files},
                       {"max_message_bytes", ctx_.svc.opts.intake.max_message_bytes},
                       {"formats", {"jpeg", "png", "webp", "heic", "heif"}}}}};
    co_await send(hello);
    std::vector<char> buf(read_piece_bytes);
    std::string text;
    for (;;) {
      const auto piece = co_await ch_.read_some(buf.data(), buf.size());
      if (!piece) co_return;  // closed, vanished or broke the protocol
      if (piece->binary) {
        if (!co_await on_bytes(buf.data(), piece->size)) co_return;
        continue;
      }
      if (text.size() + piece->size > max_control_bytes) {
        co_await ch_.close(close_too_big, "control message too large");
        co_return;
      }
      text.append(buf.data(), piece->size);
      if (!piece->message_done) continue;
      const bool go_on = co_await on_control(text);
      text.clear();
      if (!go_on) co_return;
    }
  }

  // ---- control messages ----

  awaitable<bool> on_control(const std::string& text) {
    auto msg = parse_intake_message(text);
    switch (msg.type) {
      case intake_message::kind::announce:
        co_return co_await on_announce(std::move(msg));
      case intake_message::kind::end:
        co_return co_await on_end(msg);
      case intake_message::kind::cancel:
        if (current_ && msg.client_file_id == current_->client_file_id) {
          co_await reject_current("cancelled", "Cancelled by the client.");
        }
        co_return true;
      case intake_message::kind::invalid:
        break;
    }
    co_return co_await bad_message(std::move(msg.complaint));
  }

  awaitable<bool> bad_message(std::string message) {
    if (++bad_messages_ > max_bad_messages) {
      co_await ch_.close(close_policy, "too many malformed messages");
      co_return false;
    }
    const json error{{"type", "error"}, {"code", "bad_message"}, {"message", std::move(message)}};
    co_await send(error);
    co_return true;
  }

  awaitable<bool> on_announce(intake_message msg) {
    const std::string id = std::move(msg.client_file_id);
    const std::string name = std::move(msg.name);
    const std::optional<std::uint64_t> size = msg.size;

    if (current_) co_await reject_current("cancelled", "Another file was announced first.");
    discarded_ = 0;
    if (auto r = session_.check_announce(name, size)) {
      co_await send_rejection(id, *r);
      co_return true;
    }
    incoming_file f{id, name, size, 0, 0, nullptr, {}};
    std::exception_ptr failure;
    try {
      f.writer = co_await http::offload(ctx_.svc.pool, [&] { return ctx_.svc.blobs.begin(); });
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      co_await send_rejection(id, storage_failure(failure, "starting a file"));
      co_return true;
    }
    f.receiving = ctx_.svc.metrics.receiving(upload_stream::intake);
    current_ = std::move(f);
    const json ready{{"type", "ready"}, {"client_file_id", id}};
    co_await send(ready);
    if (size && *size == 0) co_await finish_current();
    co_return true;
  }

  awaitable<bool> on_end(const intake_message& msg) {
    if (!current_ || msg.client_file_id != current_->client_file_id) {
      co_return co_await bad_message("\"end\" names no file being sent.");
    }
    if (current_->declared_size && current_->received != *current_->declared_size) {
      co_await reject_current("size_mismatch", "The file ended after " +
                                                   std::to_string(current_->received) + " bytes; " +
                                                   std::to_string(*current_->declared_size) +
                                                   " were announced.");
      co_return true;
    }
    co_await finish_current();
    co_return true;
  }

  // ---- file bytes ----

  // False when the session must end (a client pushing bytes nobody asked for).
  awaitable<bool> on_bytes(const char* data, std::size_t n) {
    if (!current_) {
      // Bytes of a file already refused or cut off: read and dropped, never kept.
      discarded_ += n;
      if (discarded_ > session_.limits().max_file_bytes + ctx_.svc.opts.intake.max_message_bytes) {
        co_await ch_.close(close_policy, "unsolicited data");
        co_return false;
      }
      co_return true;
    }
    auto& f = *current_;
    const std::uint64_t total = f.received + n;
    const auto max = session_.limits().max_file_bytes;
    if (total > max) {
      co_await reject_current("too_large", "The file grew past " + domain::human_size(max) +
                                               ", the most an image may be; it was cut off.");
      discarded_ = n;  // `f` is gone: the rest of its bytes are unsolicited from here on
      co_return true;
    }
    if (f.declared_size && total > *f.declared_size) {
      co_await reject_current("size_mismatch", "More bytes arrived than the " +
                                                   std::to_string(*f.declared_size) +
                                                   " announced; the file was cut off.");
      co_return true;
    }
    std::exception_ptr failure;
    try {
      co_await http::offload(ctx_.svc.pool, [&] { f.writer->write(data, n); });
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      auto r = storage_failure(failure, "writing");
      co_await reject_current(std::move(r.code), std::move(r.message));
      co_return true;
    }
    f.received = total;
    const bool complete = f.declared_size && total == *f.declared_size;
    if (complete || total - f.reported >= progress_step) {
      f.reported = total;
      json p{{"type", "progress"}, {"client_file_id", f.client_file_id}, {"received", total}};
      if (f.declared_size) p["size"] = *f.declared_size;
      co_await send(p);
    }
    if (complete) co_await finish_current();
    co_return true;
  }

  // ---- verdicts ----

  struct checked {
    images::analysis image;
    std::string sha256;
  };

  awaitable<void> finish_current() {
    incoming_file f = std::move(*current_);
    current_.reset();
    const auto& opts = ctx_.svc.opts.intake;
    const auto thumb = ctx_.svc.blobs.scratch_path();
    std::optional<checked> c;
    std::optional<domain::intake_rejection> rejection;
    try {
      // Decoding is the slow part: its own pool, so that it never holds up SQLite or fsync.
      c = co_await http::offload(ctx_.svc.image_pool, [&] {
        images::probe_limits pl;
        pl.max_pixels = opts.max_pixels;
        return checked{images::analyze(f.writer->path(), pl, &thumb), f.writer->sha256_so_far()};
      });
      rejection = session_.check_duplicate(c->sha256, c->image.phash, c->image.phash_structure);
    } catch (const images::image_error& e) {
      rejection = domain::intake_rejection{std::string(code_of(e.code())), e.what(), {}};
    } catch (const std::exception& e) {
      spdlog::error("intake: validation failed: {}", e.what());
      rejection = domain::intake_rejection{"internal", "The server could not check the file.", {}};
    }
    if (rejection) {
      co_await discard(std::move(f.writer), thumb);
      co_await send_rejection(f.client_file_id, *rejection);
      co_return;
    }
    std::optional<domain::file_view> stored;
    std::exception_ptr failure;
    try {
      stored = co_await http::offload(ctx_.svc.pool, [&] { return store(f, *c, thumb); });
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      co_await discard(std::move(f.writer), thumb);
      co_await send_rejection(f.client_file_id, storage_failure(failure, "storing"));
      co_return;
    }
    session_.accepted(f.client_file_id, f.name, c->sha256, c->image.phash,
                      c->image.phash_structure);
    ctx_.svc.metrics.verdict("accepted");
    const json verdict{{"type", "verdict"},
                       {"client_file_id", f.client_file_id},
                       {"accepted", true},
                       {"file", to_json(*stored)}};
    co_await send(verdict);
  }

  // On the worker pool: durable blob, then the file record (and its event) in one commit.
  domain::file_view store(incoming_file& f, const checked& c, const std::filesystem::path& thumb) {
    const auto blob = f.writer->commit();
    const auto fmt = c.image.fmt;
    auto view = ctx_.svc.files.create(
        ctx_.user, f.name, std::string(images::mime_type(fmt)), blob, {},
        domain::image_meta{c.image.width, c.image.height, std::string(images::to_string(fmt))});
    try {
      ctx_.svc.blobs.put_thumbnail(blob.id, thumb);
    } catch (const std::exception& e) {
      // Only a cache: GET /files/{id}/thumbnail makes it again.
      spdlog::warn("intake: thumbnail not kept: {}", e.what());
    }
    return view;
  }

  awaitable<void> reject_current(std::string code, std::string message) {
    const std::string id = current_->client_file_id;
    co_await drop_current();
    const domain::intake_rejection r{std::move(code), std::move(message), {}};
    co_await send_rejection(id, r);
  }

  awaitable<void> drop_current() {
    if (!current_) co_return;
    auto writer = std::move(current_->writer);
    current_.reset();
    co_await discard(std::move(writer), {});
  }

  // Removing a temp file is disk work too: on the pool.
  awaitable<void> discard(std::unique_ptr<domain::blob_writer> writer,
                          std::filesystem::path thumb) {
    if (!writer && thumb.empty()) co_return;
    co_await http::offload(ctx_.svc.pool, [&] {
      writer.reset();
      std::error_code ignored;
      if (!thumb.empty()) std::filesystem::remove(thumb, ignored);
    });
  }

  awaitable<void> send_rejection(const std::string& id, const domain::intake_rejection& r) {
    ctx_.svc.metrics.verdict(r.code);
    json v{{"type", "verdict"},
           {"client_file_id", id},
           {"accepted", false},
           {"code", r.code},
           {"message", r.message}};
    if (r.duplicate_of) v["duplicate_of"] = *r.duplicate_of;
    co_await send(v);
  }

  awaitable<void> send(const json& j) {
    co_await ch_.write_text(j.dump(-1, ' ', false, json::error_handler_t::replace));
  }

  request_context& ctx_;
  http::websocket_channel& ch_;
  domain::intake_session session_;
  std::optional<incoming_file> current_;
  std::uint64_t discarded_ = 0;
  int bad_messages_ = 0;
};

}  // namespace

awaitable<void> ws_intake(request_context& ctx) {
  co_await admit_websocket(ctx);
  co_await ctx.io.converse_websocket(ctx.svc.opts.intake.max_message_bytes,
                                     [&](http::websocket_channel& ch) -> awaitable<void> {
                                       intake_conversation conversation(ctx, ch);
                                       co_await conversation.run();
                                     });
}

}  // namespace sharebox::api
