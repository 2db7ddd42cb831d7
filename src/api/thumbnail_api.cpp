// GET /files/{id}/thumbnail: a small WebP of a picture. Intake makes it when it accepts an
// image; for pictures that came another way it is made on first request and kept beside the blob.
#include <fcntl.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "sharebox/api/handlers.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/images/image_probe.hpp"

namespace sharebox::api {

namespace {

[[noreturn]] void no_thumbnail(std::string detail) {
  throw http::api_error(bhttp::status::not_found, "no_thumbnail", std::move(detail));
}

// On the image pool. -1 if the content is not a picture we can show.
int make_thumbnail(const services& svc, const domain::file_record& f, int content_fd) {
  const auto scratch = svc.blobs.scratch_path();
  images::probe_limits limits;
  limits.max_pixels = svc.opts.intake.max_pixels;
  try {
    // libvips reads by path; this names the open blob, so a concurrent replace cannot swap it.
    const std::filesystem::path source = "/proc/self/fd/" + std::to_string(content_fd);
    images::analyze(source, limits, &scratch);
  } catch (const images::image_error&) {
    return -1;
  }
  svc.blobs.put_thumbnail(f.blob, scratch);
  return svc.blobs.open_thumbnail(f.blob);
}

}  // namespace

awaitable<void> get_thumbnail(request_context& ctx) {
  const std::string& id = ctx.path.at("id");
  auto [view, content_fd] = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.files.open_content(ctx.user, id); });
  unique_fd content(content_fd);
  const auto& f = view.file;
  // The thumbnail changes exactly when the content does.
  const std::string etag = "\"" + std::to_string(f.version) + "-thumb\"";
  const auto inm = ctx.io.request()[bhttp::field::if_none_match];
  if (!inm.empty() && inm.find(etag) != std::string_view::npos) {
    http::string_response res{bhttp::status::not_modified, 11};
    res.set(bhttp::field::etag, etag);
    co_await ctx.io.send(std::move(res));
    co_return;
  }
  int fd =
      co_await http::offload(ctx.svc.pool, [&] { return ctx.svc.blobs.open_thumbnail(f.blob); });
  if (fd < 0) {
    const bool maybe_picture =
        f.image || (f.content_type.starts_with("image/") &&
                    f.size <= ctx.svc.opts.intake.max_thumbnail_source_bytes);
    if (!maybe_picture) no_thumbnail("The file is not a picture.");
    fd = co_await http::offload(ctx.svc.image_pool,
                                [&] { return make_thumbnail(ctx.svc, f, content.fd); });
    if (fd < 0) no_thumbnail("The file is not a picture sharebox can show.");
  }
  unique_fd thumb(fd);
  struct stat st {};
  if (::fstat(thumb.fd, &st) != 0) throw std::runtime_error("fstat of a thumbnail failed");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  bhttp::response_header<> h;
  h.result(bhttp::status::ok);
  h.set(bhttp::field::content_type, "image/webp");
  h.set(bhttp::field::content_length, std::to_string(size));
  h.set(bhttp::field::etag, etag);
  h.set(bhttp::field::cache_control, "private, no-cache");
  h.set("X-Content-Type-Options", "nosniff");
  std::vector<http::body_piece> whole{{"", 0, size}};
  co_await ctx.io.send_file(std::move(h), thumb.fd, std::move(whole));
}

}  // namespace sharebox::api
