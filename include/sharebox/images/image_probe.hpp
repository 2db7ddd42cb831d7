#pragma once
// Image validation for intake: what a file really is (by content, never by name or declared
// type), whether it decodes completely, its size in pixels, a perceptual hash for finding the
// same picture re-encoded or resized, and a small thumbnail. libvips does the decoding; only
// the five accepted formats' own loaders are ever called. Synchronous and CPU-heavy: callers run
// it on the worker pool.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace sharebox::images {

enum class format { jpeg, png, webp, heic, heif };
std::string_view to_string(format f);  // "jpeg", "png", "webp", "heic", "heif"
std::string_view mime_type(format f);  // "image/jpeg", ...

// The format the leading bytes announce (magic numbers; ISO-BMFF `ftyp` brands for HEIC/HEIF),
// or nullopt. 32 bytes are enough. JPEG: FF D8 FF; PNG: its 8-byte signature; WEBP: "RIFF" ....
// "WEBP". ISO-BMFF (`ftyp` box at offset 4): major brand heic/heix/hevc/hevx/heim/heis -> heic,
// mif1/msf1 -> heif, avif/avis -> nullopt (AVIF is not accepted); another major brand is decided
// by the compatible brands within `head`: a heic brand -> heic, else avif -> nullopt, else mif1
// -> heif. A `mif1` file whose picture is AV1 is accepted as heif: libheif decodes it.
std::optional<format> sniff(std::span<const std::byte> head);

enum class rejection { unsupported_type, corrupt, too_large };

// Why a file is not an acceptable image; `what()` is a message for people.
class image_error : public std::runtime_error {
 public:
  image_error(rejection code, const std::string& message, std::string detail = {})
      : std::runtime_error(message), code_(code), detail_(std::move(detail)) {}
  rejection code() const noexcept { return code_; }
  // What the decoder said (libvips' error text), for logs only: never show it to users. Best
  // effort: libvips has one error buffer per process, so under concurrency this may also hold
  // (or miss) messages about other files.
  const std::string& detail() const noexcept { return detail_; }

 private:
  rejection code_;
  std::string detail_;
};

struct probe_limits {
  // Decoding a picture costs memory in proportion to its pixels, whatever its file size:
  // bigger ones are refused (too_large) from their header, before decoding.
  std::uint64_t max_pixels = 40'000'000;
  int thumbnail_size = 256;  // longest side, pixels
};

struct analysis {
  format fmt;
  int width = 0;  // as stored (before any EXIF rotation)
  int height = 0;
  // 64-bit DCT perceptual hash of the picture as shown (EXIF orientation applied, transparency
  // on white), from a 32 x 32 greyscale reduction: see src/images/phash.hpp.
  std::uint64_t phash = 0;
  // How much large-scale structure the hash rests on (grey levels; photos have tens). Below a
  // few, different pictures can hash alike: see src/images/phash.hpp.
  double phash_structure = 0;
};

// Validates the file at `path` completely (truncation and corrupt data are errors, not
// warnings) and, when `thumbnail_out` is given, writes a WebP thumbnail there (longest side at
// most limits.thumbnail_size, never enlarged, EXIF orientation applied, sRGB, alpha kept, none
// of the upload's metadata; written to a temporary name in the same directory, then renamed).
// Throws image_error for a file that is not an acceptable image; other exceptions mean the check
// itself failed (I/O: std::system_error; a thumbnail_size below 1: std::invalid_argument). Safe to
// call from several threads at once.
//
// Memory stays bounded: the pixel limit is checked from the header before any decoding; JPEG
// and WEBP decode at a reduced scale (libjpeg DCT scaling, libwebp scaling: every byte is still
// decoded and checked); JPEG and non-interlaced PNG stream top to bottom. Held in full, bounded
// by max_pixels: HEIC/HEIF (libheif decodes the whole picture), interlaced PNG, and the DCT
// coefficients of a progressive JPEG (libjpeg).
// Validation covers the first frame/picture of animated WEBP and multi-image HEIF files.
analysis analyze(const std::filesystem::path& path, const probe_limits& limits,
                 const std::filesystem::path* thumbnail_out = nullptr);

// Differing bits of two perceptual hashes: small (<= about 10) for the same picture.
int hamming_distance(std::uint64_t a, std::uint64_t b) noexcept;

// Starts libvips once per process (idempotent, thread-safe): no operation cache, one worker
// thread per pipeline, every loader blocked except the JPEG, PNG, WEBP and HEIF ones. analyze()
// calls it; servers call it at start to fail early. Throws std::runtime_error if libvips fails.
//
// The single worker thread is needed for correctness, not only for memory: with libvips 8.14
// and two or more workers, a decode error in the last tile of a pipeline is sometimes lost (the
// pipeline reports success), so truncated files would pass. Do not raise it elsewhere.
void initialize();

}  // namespace sharebox::images
