// Streams a request body (multipart/form-data or raw) into a blob: the network thread only
// moves bytes; writing and hashing run on the worker pool, one buffer at a time.
#include <memory>

#include "sharebox/api/handlers.hpp"
#include "sharebox/http/conditional.hpp"
#include "sharebox/http/multipart.hpp"
#include "sharebox/http/offload.hpp"

namespace sharebox::api {

namespace {

constexpr std::uint64_t multipart_overhead = 64 * 1024;  // boundaries, part headers, small fields
constexpr std::size_t max_field_bytes = 4096;

[[noreturn]] void too_large(std::uint64_t max) {
  throw http::api_error(bhttp::status::payload_too_large, "file_too_large",
                        "Files are limited to " + std::to_string(max) + " bytes.");
}

[[noreturn]] void bad_multipart(std::string detail) {
  throw http::api_error(bhttp::status::bad_request, "invalid_multipart", std::move(detail));
}

// Collects the `file` part's bytes for the next pool write, and small fields.
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
      pending_.append(data);
    } else if (field_value_.size() + data.size() <= max_field_bytes) {
      field_value_.append(data);
    }
  }
  void on_part_end() override {
    if (!in_file_ && field_name_ == "name" && !field_value_.empty()) name_field_ = field_value_;
    in_file_ = false;
  }

  std::string pending_;
  bool file_seen_ = false;
  std::optional<std::string> filename_;
  std::optional<std::string> content_type_;
  std::optional<std::string> name_field_;

 private:
  bool in_file_ = false;
  std::string field_name_;
  std::string field_value_;
};

// Reads until `buf` is full or the body ends.
awaitable<std::size_t> fill(http::exchange& io, char* buf, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    const std::size_t n = co_await io.read_body(buf + got, size - got);
    if (n == 0) break;
    got += n;
  }
  co_return got;
}

awaitable<void> stream_raw(request_context& ctx, domain::blob_writer& w, std::uint64_t max) {
  const std::size_t size = ctx.svc.opts.upload_buffer_bytes;
  auto buf = std::make_unique<char[]>(size);
  for (;;) {
    const std::size_t n = co_await fill(ctx.io, buf.get(), size);
    if (n == 0) break;
    if (w.size() + n > max) too_large(max);
    co_await http::offload(ctx.svc.pool, [&] { w.write(buf.get(), n); });
  }
}

awaitable<void> stream_multipart(request_context& ctx, domain::blob_writer& w, std::uint64_t max,
                                 std::string boundary, form_collector& form) {
  http::multipart_parser parser(std::move(boundary));
  const std::size_t size = ctx.svc.opts.upload_buffer_bytes;
  auto buf = std::make_unique<char[]>(size);
  form.pending_.reserve(size + 128);
  for (;;) {
    const std::size_t n = co_await fill(ctx.io, buf.get(), size);
    if (n == 0) break;
    if (const auto ec = parser.feed(std::string_view(buf.get(), n), form)) {
      bad_multipart("Malformed multipart body: " + ec.message() + ".");
    }
    if (form.pending_.empty()) continue;
    if (w.size() + form.pending_.size() > max) too_large(max);
    co_await http::offload(ctx.svc.pool,
                           [&] { w.write(form.pending_.data(), form.pending_.size()); });
    form.pending_.clear();
  }
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
  std::exception_ptr failure;
  try {
    if (boundary) {
      co_await stream_multipart(ctx, *writer, max, *boundary, form);
    } else {
      co_await stream_raw(ctx, *writer, max);
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    // Removing the temp file is disk work too: do it on the pool.
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
