// Streams a request body (multipart/form-data or raw) into a blob: the network thread only
// moves bytes; writing and hashing run on the worker pool, while the next buffer is being
// received (http::write_pipeline).
#include <cstring>
#include <memory>
#include <stdexcept>

#include "sharebox/api/handlers.hpp"
#include "sharebox/http/conditional.hpp"
#include "sharebox/http/multipart.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/http/write_pipeline.hpp"

namespace sharebox::api {

namespace {

constexpr std::uint64_t multipart_overhead = 64 * 1024;  // boundaries, part headers, small fields
constexpr std::size_t max_field_bytes = 4096;
// The multipart parser holds back at most a delimiter's length (boundary of at most 70 bytes
// plus CRLF and dashes) from one feed to the next: a feed may emit that much more than it got.
constexpr std::size_t multipart_slack = 256;

[[noreturn]] void too_large(std::uint64_t max) {
  throw http::api_error(bhttp::status::payload_too_large, "file_too_large",
                        "Files are limited to " + std::to_string(max) + " bytes.");
}

[[noreturn]] void bad_multipart(std::string detail) {
  throw http::api_error(bhttp::status::bad_request, "invalid_multipart", std::move(detail));
}

// Collects the `file` part's bytes into the pipeline buffer being filled, and small fields.
class form_collector final : public http::multipart_handler {
 public:
  void on_part_begin(const http::part_header& h) override {
    in_file_ = h.name == "file";
    field_name_ = in_file_ ? "" : h.name;
    field_value_.clear();
    if (!in_file_) return;
    if (file_seen_) bad_multipart("Only one part named 'file' is allowed.");
    file_seen_ = true;
    if (h.filename && !h.filename->empty()) filename_ = *h.filename;
    if (!h.content_type.empty()) content_type_ = h.content_type;
  }
  void on_part_data(std::string_view data) override {
    if (in_file_) {
      if (target_->size + data.size() > target_->capacity) {
        throw std::logic_error("multipart output exceeds its buffer");
      }
      std::memcpy(target_->data + target_->size, data.data(), data.size());
      target_->size += data.size();
    } else if (field_value_.size() + data.size() <= max_field_bytes) {
      field_value_.append(data);
    }
  }
  void on_part_end() override {
    if (!in_file_ && field_name_ == "name" && !field_value_.empty()) name_field_ = field_value_;
    in_file_ = false;
  }

  http::write_pipeline::buffer* target_ = nullptr;  // set around each feed()
  bool file_seen_ = false;
  std::optional<std::string> filename_;
  std::optional<std::string> content_type_;
  std::optional<std::string> name_field_;

 private:
  bool in_file_ = false;
  std::string field_name_;
  std::string field_value_;
};

awaitable<void> stream_raw(request_context& ctx, http::write_pipeline& pipe, std::uint64_t max) {
  std::uint64_t total = 0;
  for (;;) {
    auto* b = co_await pipe.acquire();
    b->size = co_await read_body_full(ctx.io, b->data, b->capacity);
    total += b->size;
    if (total > max) {
      b->size = 0;
      pipe.submit(b);
      too_large(max);
    }
    const bool last = b->size < b->capacity;
    pipe.submit(b);
    if (last) break;
  }
  co_await pipe.drain();
}

awaitable<void> stream_multipart(request_context& ctx, http::write_pipeline& pipe,
                                 std::uint64_t max, std::string boundary, form_collector& form) {
  http::multipart_parser parser(std::move(boundary));
  const std::size_t size = ctx.svc.opts.upload_buffer_bytes;
  auto buf = std::make_unique_for_overwrite<char[]>(size);
  std::uint64_t total = 0;
  for (;;) {
    const std::size_t n = co_await read_body_full(ctx.io, buf.get(), size);
    if (n == 0) break;
    auto* b = co_await pipe.acquire();
    form.target_ = b;
    const auto ec = parser.feed(std::string_view(buf.get(), n), form);
    form.target_ = nullptr;
    total += b->size;
    if (ec || total > max) {
      b->size = 0;
      pipe.submit(b);
      if (ec) bad_multipart("Malformed multipart body: " + ec.message() + ".");
      too_large(max);
    }
    pipe.submit(b);
  }
  co_await pipe.drain();
  if (const auto ec = parser.finish()) {
    bad_multipart("Malformed multipart body: " + ec.message() + ".");
  }
  if (!form.file_seen_) bad_multipart("The form has no part named 'file'.");
}

std::optional<std::string> request_content_type(const http::request_header& req) {
  const auto ct = req[bhttp::field::content_type];
  if (ct.empty()) return std::nullopt;
  return std::string(ct);
}

}  // namespace

awaitable<std::size_t> read_body_full(http::exchange& io, char* buf, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    const std::size_t n = co_await io.read_body(buf + got, size - got);
    if (n == 0) break;
    got += n;
  }
  co_return got;
}

awaitable<received_upload> receive_upload(request_context& ctx) {
  const auto& req = ctx.io.request();
  const std::uint64_t max = ctx.svc.opts.max_file_size;
  const auto content_type = req[bhttp::field::content_type];
  const auto boundary = http::multipart_boundary(content_type);
  if (!boundary && content_type.size() >= 19 &&
      beast::iequals(content_type.substr(0, 19), "multipart/form-data")) {
    bad_multipart("multipart/form-data needs a valid boundary parameter.");
  }
  // Refuse before reading a byte when the declared length already says no.
  if (const auto len = ctx.io.content_length()) {
    if (*len > max + (boundary ? multipart_overhead : 0)) too_large(max);
  }

  auto writer = co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.blobs.begin(); });
  form_collector form;
  // Two buffers: one being received while the other is hashed and written.
  const std::size_t buffer_bytes =
      ctx.svc.opts.upload_buffer_bytes + (boundary ? multipart_slack : 0);
  auto executor = co_await asio::this_coro::executor;
  http::write_pipeline pipe(
      ctx.svc.pool, executor, buffer_bytes, 2,
      [w = writer.get()](const char* data, std::size_t n) { w->write(data, n); });
  std::exception_ptr failure;
  auto stream = upload_stream::raw;
  if (boundary) stream = upload_stream::multipart;
  auto receiving = ctx.svc.metrics.receiving(stream);
  try {
    if (boundary) {
      co_await stream_multipart(ctx, pipe, max, *boundary, form);
    } else {
      co_await stream_raw(ctx, pipe, max);
    }
  } catch (...) {
    failure = std::current_exception();
  }
  receiving.release();
  if (failure) {
    // No write may still be running when the writer goes; removing the temp file is disk work
    // too: do it on the pool.
    co_await pipe.settle();
    co_await http::offload(ctx.svc.pool, [&] { writer.reset(); });
    std::rethrow_exception(failure);
  }

  received_upload out;
  out.blob = co_await http::offload(ctx.svc.pool, [&] {
    auto info = writer->commit();
    writer.reset();
    return info;
  });
  if (boundary) {
    out.name = form.name_field_ ? form.name_field_ : form.filename_;
    out.content_type = form.content_type_;
  } else {
    out.content_type = request_content_type(req);
  }
  if (const auto it = ctx.query.find("name"); it != ctx.query.end()) out.name = it->second;
  if (out.name && out.name->empty()) out.name.reset();
  co_return out;
}

}  // namespace sharebox::api
