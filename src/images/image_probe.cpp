#include "sharebox/images/image_probe.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

#include "phash.hpp"
#include "vips_handles.hpp"

namespace sharebox::images {
namespace {

using detail::image_ptr;
using detail::out_image;
using detail::source_ptr;
using detail::take_vips_error;

// The pipeline is: header -> pixel limit -> decode at a reduced scale -> "view" (longest side
// kViewMin or thumbnail_size, whichever is larger; sRGB or B_W; EXIF-rotated) in memory. Making
// the view pulls every row of the file through the loader, which is what detects truncation and
// corrupt data; the thumbnail and the hash are then made from the small view. Whatever the
// size of the original, the hash sees a picture of the same scale, so a resized copy and the
// original hash alike.
constexpr int kViewMin = 256;

// Loaders fail on errors and truncation, not on warnings: libjpeg and libpng warn about flaws that
// are common in real cameras' and editors' output (extraneous bytes before a marker, a
// known-wrong sRGB profile), and VIPS_FAIL_ON_WARNING would turn those away. With ERROR, a
// truncated JPEG/PNG/WEBP/HEIC, a PNG chunk with a bad CRC and a PNG whose deflate data or row
// filters are broken all fail. (JPEG has no checksum: flipped bytes in its entropy-coded data
// decode to wrong pixels and cannot be detected.)
constexpr VipsFailOn kFailOn = VIPS_FAIL_ON_ERROR;

class unique_fd {
 public:
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Call as `throw_errno(errno, ...)` right after the failed call: `err` is read before `what` is
// built (the string allocation could change errno).
[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

std::string_view display_name(format f) {
  switch (f) {
    case format::jpeg:
      return "JPEG";
    case format::png:
      return "PNG";
    case format::webp:
      return "WEBP";
    case format::heic:
      return "HEIC";
    case format::heif:
      return "HEIF";
  }
  return "image";
}

[[noreturn]] void throw_corrupt(format f) {
  std::string message = "The " + std::string(display_name(f)) + " image is damaged or incomplete";
  if (f == format::heic || f == format::heif) message += ", or uses an unsupported encoding";
  throw image_error(rejection::corrupt, message + ".", take_vips_error());
}

bool equals(std::span<const std::byte> head, std::size_t offset, std::string_view magic) {
  return head.size() >= offset + magic.size() &&
         std::memcmp(head.data() + offset, magic.data(), magic.size()) == 0;
}

std::optional<format> sniff_ftyp(std::span<const std::byte> head) {
  // ISO-BMFF: [size:4][type "ftyp":4][major brand:4][minor version:4][compatible brands:4 each].
  if (head.size() < 12) return std::nullopt;
  const std::uint32_t box_size = (std::to_integer<std::uint32_t>(head[0]) << 24) |
                                 (std::to_integer<std::uint32_t>(head[1]) << 16) |
                                 (std::to_integer<std::uint32_t>(head[2]) << 8) |
                                 std::to_integer<std::uint32_t>(head[3]);
  if (box_size < 16) return std::nullopt;  // also 0 ("to the end") and 1 (64-bit size)
  auto brand_at = [&](std::size_t offset) {
    return std::string_view(reinterpret_cast<const char*>(head.data()) + offset, 4);
  };
  auto is_heic = [](std::string_view b) {
    return b == "heic" || b == "heix" || b == "hevc" || b == "hevx" || b == "heim" || b == "heis";
  };
  auto is_heif = [](std::string_view b) { return b == "mif1" || b == "msf1"; };
  auto is_avif = [](std::string_view b) { return b == "avif" || b == "avis"; };

  const std::string_view major = brand_at(8);
  if (is_heic(major)) return format::heic;
  if (is_heif(major)) return format::heif;
  if (is_avif(major)) return std::nullopt;

  bool heic = false, avif = false, heif = false;
  const std::size_t end = std::min<std::size_t>(box_size, head.size());
  for (std::size_t offset = 16; offset + 4 <= end; offset += 4) {
    const std::string_view brand = brand_at(offset);
    heic = heic || is_heic(brand);
    avif = avif || is_avif(brand);
    heif = heif || is_heif(brand);
  }
  if (heic) return format::heic;
  if (avif) return std::nullopt;
  if (heif) return format::heif;
  return std::nullopt;
}

// The first bytes of the file, without moving its offset.
std::size_t read_head(int fd, std::span<std::byte> head, const std::filesystem::path& path) {
  std::size_t got = 0;
  while (got < head.size()) {
    const ssize_t n = ::pread(fd, head.data() + got, head.size() - got, static_cast<off_t>(got));
    const int err = errno;
    if (n < 0 && err == EINTR) continue;
    if (n < 0) throw_errno(err, "cannot read " + path.string());
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

struct load_scale {
  int jpeg_shrink = 1;      // libjpeg DCT scaling: 1, 2, 4 or 8
  double webp_scale = 1.0;  // libwebp scaling, <= 1
};

// Opens the file with the one loader its content announced (never the generic, suffix- or
// content-guessing vips_image_new_from_*: a crafted file must not reach other loaders), lazily:
// only the header is read here. Sequential access: rows are decoded top to bottom on demand
// and not kept.
image_ptr open_image(int fd, format f, const load_scale& scale) {
  // Each VipsSource reads through a dup() of `fd`, which shares its offset.
  if (::lseek(fd, 0, SEEK_SET) < 0) throw_errno(errno, "cannot seek");
  source_ptr source(vips_source_new_from_descriptor(fd));
  if (!source) throw std::runtime_error("libvips cannot read the file: " + take_vips_error());
  VipsSource* src = source.get();
  image_ptr image = out_image([&](VipsImage** out) {
    switch (f) {
      case format::jpeg:
        return vips_jpegload_source(src, out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", kFailOn,
                                    "shrink", scale.jpeg_shrink, nullptr);
      case format::png:
        return vips_pngload_source(src, out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", kFailOn,
                                   nullptr);
      case format::webp:
        return vips_webpload_source(src, out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", kFailOn,
                                    "scale", scale.webp_scale, nullptr);
      case format::heic:
      case format::heif:
        // libheif decodes the whole primary image on first access; never its embedded
        // thumbnail ("thumbnail" stays false), which would leave the real picture unchecked.
        return vips_heifload_source(src, out, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", kFailOn,
                                    nullptr);
    }
    return -1;
  });
  if (!image) throw_corrupt(f);
  return image;
}

// Shrink-on-load, leaving at least a factor of two for the final resize (as vips_thumbnail
// does): DCT scaling is a plain block average and alone would alias.
//
// JPEG: libvips 8.14 makes a DCT-scaled image floor(height / shrink) rows high, so the last
// rows are never asked for; if they are the only rows of the last iMCU row (8, 16 or 32 image
// rows, by chroma subsampling), that row is never decoded and a file cut there would pass. A
// shrink is therefore used only when the last iMCU row has at least `shrink` rows, whatever its
// height: ((height - 1) % 8) + 1 >= shrink. (Whole iMCU rows are entropy-decoded, so the width
// does not matter.)
load_scale choose_scale(format f, int width, int height, int view_size) {
  load_scale scale;
  const double ratio = static_cast<double>(std::max(width, height)) / view_size;
  if (f == format::jpeg) {
    const int last_rows = (height - 1) % 8 + 1;
    for (const int shrink : {8, 4, 2}) {
      if (ratio >= 2.0 * shrink && last_rows >= shrink) {
        scale.jpeg_shrink = shrink;
        break;
      }
    }
  } else if (f == format::webp) {
    scale.webp_scale = std::min(1.0, 2.0 / ratio);
  }
  return scale;
}

image_ptr fit_within(VipsImage* in, int size) {
  // vips_thumbnail_image: sRGB (or B_W for grey input) from any interpretation and depth (CMYK,
  // 16-bit), alpha premultiplied while resizing, EXIF orientation applied (after the resize,
  // from a small in-memory copy, so the input stays sequential), never enlarges.
  return out_image([&](VipsImage** out) {
    return vips_thumbnail_image(in, out, size, "height", size, "size", VIPS_SIZE_DOWN, nullptr);
  });
}

// A copy of `in` without any metadata (EXIF, XMP, IPTC, ICC, ...: all of it came from the
// upload). libvips 8.14's webpsave does not honour "strip" for XMP (the upload's XMP, with
// whatever it says, would land in the thumbnail) and re-parses the upload's EXIF with libexif
// while saving, which valgrind shows reading out of bounds. Without metadata it only writes a
// small EXIF block of its own (orientation 1, resolution, size).
image_ptr without_metadata(VipsImage* in) {
  image_ptr copy = out_image([&](VipsImage** out) { return vips_copy(in, out, nullptr); });
  if (!copy) throw std::runtime_error("libvips copy failed: " + take_vips_error());
  detail::g_strv_ptr fields(vips_image_get_fields(copy.get()));
  for (char** field = fields.get(); *field; ++field) {
    vips_image_remove(copy.get(), *field);  // core fields (width, ...) are not removable: ignored
  }
  return copy;
}

detail::phash_result hash_of(VipsImage* view) {
  auto fail = [](const char* step) -> std::runtime_error {
    return std::runtime_error(std::string("libvips ") + step + " failed: " + take_vips_error());
  };
  // Transparent areas count as white, as most viewers show them.
  image_ptr flat;
  if (vips_image_hasalpha(view)) {
    double white[] = {255.0};
    VipsArrayDouble* background = vips_array_double_new(white, 1);
    flat = out_image([&](VipsImage** out) {
      return vips_flatten(view, out, "background", background, nullptr);
    });
    vips_area_unref(VIPS_AREA(background));
    if (!flat) throw fail("flatten");
    view = flat.get();
  }
  image_ptr grey = out_image([&](VipsImage** out) {
    return vips_colourspace(view, out, VIPS_INTERPRETATION_B_W, nullptr);
  });
  if (!grey) throw fail("colourspace");
  image_ptr band =
      out_image([&](VipsImage** out) { return vips_extract_band(grey.get(), out, 0, nullptr); });
  if (!band) throw fail("extract_band");
  image_ptr bytes =
      out_image([&](VipsImage** out) { return vips_cast_uchar(band.get(), out, nullptr); });
  if (!bytes) throw fail("cast");
  std::size_t size = 0;
  detail::g_memory_ptr<std::uint8_t> pixels(
      static_cast<std::uint8_t*>(vips_image_write_to_memory(bytes.get(), &size)));
  if (!pixels) throw fail("write_to_memory");
  return detail::dct_phash({pixels.get(), size}, vips_image_get_width(bytes.get()),
                           vips_image_get_height(bytes.get()));
}

// Writes `data` to `target` so that readers see either the old file or the whole new one: a
// temporary file in the same directory, fsync, rename.
void write_atomically(const std::filesystem::path& target, std::span<const std::byte> data) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::filesystem::path temp;
  int raw_fd = -1;
  for (int attempt = 0; raw_fd < 0; ++attempt) {
    // Appended piecewise: GCC 12 at -O3 reports a false -Wrestrict on `"." + std::string`.
    std::string name = ".";
    name += target.filename().string();
    name += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
    temp = dir / name;
    raw_fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    const int err = errno;
    if (raw_fd < 0 && (err != EEXIST || attempt >= 100)) {
      throw_errno(err, "cannot create " + temp.string());
    }
  }
  unique_fd fd(raw_fd);
  try {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
      const int err = errno;
      if (n < 0 && err == EINTR) continue;
      if (n < 0) throw_errno(err, "cannot write " + temp.string());
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) throw_errno(errno, "cannot sync " + temp.string());
    if (::close(fd.release()) != 0) throw_errno(errno, "cannot close " + temp.string());
    if (::rename(temp.c_str(), target.c_str()) != 0) {
      throw_errno(errno, "cannot rename to " + target.string());
    }
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

void write_thumbnail(VipsImage* view, int thumbnail_size, const std::filesystem::path& target) {
  image_ptr smaller;
  if (std::max(vips_image_get_width(view), vips_image_get_height(view)) > thumbnail_size) {
    smaller = fit_within(view, thumbnail_size);
    if (!smaller) throw std::runtime_error("libvips resize failed: " + take_vips_error());
    view = smaller.get();
  }
  void* raw = nullptr;
  std::size_t length = 0;
  const int rc = vips_webpsave_buffer(view, &raw, &length, "Q", 80, "strip", TRUE, nullptr);
  detail::g_memory_ptr<std::byte> buffer(static_cast<std::byte*>(raw));
  if (rc != 0 || !buffer) throw std::runtime_error("libvips webpsave failed: " + take_vips_error());
  write_atomically(target, {buffer.get(), length});
}

}  // namespace

std::string_view to_string(format f) {
  switch (f) {
    case format::jpeg:
      return "jpeg";
    case format::png:
      return "png";
    case format::webp:
      return "webp";
    case format::heic:
      return "heic";
    case format::heif:
      return "heif";
  }
  return "unknown";
}

std::string_view mime_type(format f) {
  switch (f) {
    case format::jpeg:
      return "image/jpeg";
    case format::png:
      return "image/png";
    case format::webp:
      return "image/webp";
    case format::heic:
      return "image/heic";
    case format::heif:
      return "image/heif";
  }
  return "application/octet-stream";
}

std::optional<format> sniff(std::span<const std::byte> head) {
  if (equals(head, 0, "\xFF\xD8\xFF")) return format::jpeg;
  if (equals(head, 0, "\x89PNG\r\n\x1A\n")) return format::png;
  if (equals(head, 0, "RIFF") && equals(head, 8, "WEBP")) return format::webp;
  if (equals(head, 4, "ftyp")) return sniff_ftyp(head);
  return std::nullopt;
}

int hamming_distance(std::uint64_t a, std::uint64_t b) noexcept {
  return std::popcount(a ^ b);
}

void initialize() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (VIPS_INIT("sharebox") != 0) {
      throw std::runtime_error("libvips failed to start: " + take_vips_error());
    }
    // No operation cache: every call here is a one-off on a different file, and the cache would
    // hold decoded pixels and open files.
    vips_cache_set_max(0);
    // Damaged uploads make libvips (and libjpeg/libpng through it) warn on stderr for every file;
    // the verdict already says what was wrong, so the details go to the debug log instead.
    g_log_set_handler(
        "VIPS",
        static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO),
        [](const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
          spdlog::debug("libvips: {}", message ? message : "");
        },
        nullptr);
    // See the header: more than one worker loses errors from the last tile (libvips 8.14).
    vips_concurrency_set(1);
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (const char* loader : {"VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadWebp",
                               "VipsForeignLoadHeif"}) {
      vips_operation_block_set(loader, FALSE);
    }
  });
}

analysis analyze(const std::filesystem::path& path, const probe_limits& limits,
                 const std::filesystem::path* thumbnail_out) {
  if (limits.thumbnail_size < 1) throw std::invalid_argument("thumbnail_size must be positive");
  initialize();

  // O_NONBLOCK: a FIFO put in the file's place must not hang the worker (no effect on files).
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) throw_errno(errno, "cannot open " + path.string());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno(errno, "cannot stat " + path.string());
  if (!S_ISREG(st.st_mode)) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            path.string() + " is not a regular file");
  }
  std::array<std::byte, 32> head{};
  const std::size_t head_size = read_head(fd.get(), head, path);
  const std::optional<format> sniffed = sniff(std::span(head).first(head_size));
  if (!sniffed) {
    throw image_error(rejection::unsupported_type,
                      "The file is not a JPEG, PNG, WEBP, HEIC or HEIF image.");
  }
  const format f = *sniffed;

  // Header only: nothing is decoded yet.
  image_ptr image = open_image(fd.get(), f, {});
  analysis result{f};
  result.width = vips_image_get_width(image.get());
  result.height = vips_image_get_height(image.get());
  const std::uint64_t pixels =
      static_cast<std::uint64_t>(result.width) * static_cast<std::uint64_t>(result.height);
  if (pixels > limits.max_pixels) {
    char text[160];
    std::snprintf(text, sizeof text,
                  "The image is %d x %d pixels (%.1f megapixels); at most %.1f megapixels are "
                  "accepted.",
                  result.width, result.height, static_cast<double>(pixels) / 1e6,
                  static_cast<double>(limits.max_pixels) / 1e6);
    throw image_error(rejection::too_large, text);
  }

  const int view_size = std::max(limits.thumbnail_size, kViewMin);
  const load_scale scale = choose_scale(f, result.width, result.height, view_size);
  if (scale.jpeg_shrink != 1 || scale.webp_scale != 1.0) {
    image.reset();  // its reads must be over before the next source reads the same descriptor
    image = open_image(fd.get(), f, scale);
  }

  // The full decode: every row goes through the loader, which fails on damage.
  image_ptr view = fit_within(image.get(), view_size);
  if (view) view.reset(vips_image_copy_memory(view.get()));
  if (!view) throw_corrupt(f);
  image.reset();
  view = without_metadata(view.get());

  if (thumbnail_out) write_thumbnail(view.get(), limits.thumbnail_size, *thumbnail_out);
  const auto hashed = hash_of(view.get());
  result.phash = hashed.hash;
  result.phash_structure = hashed.structure;
  return result;
}

}  // namespace sharebox::images
