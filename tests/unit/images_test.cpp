// Image validation: every test picture is drawn with libvips at test time and saved in the
// format under test, then damaged where the test needs it.
#include "sharebox/images/image_probe.hpp"

#include <gtest/gtest.h>
#include <vips/vips.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.hpp"

namespace images = sharebox::images;
namespace fs = std::filesystem;
using images::format;
using images::rejection;
using namespace std::string_literals;

namespace {

// The Hamming distance under which two hashes mean "the same picture".
constexpr int kThreshold = 10;

struct unref {
  void operator()(gpointer object) const noexcept { g_object_unref(object); }
};
using image = std::unique_ptr<VipsImage, unref>;

[[noreturn]] void vips_failed(const char* what) {
  std::string message = std::string("libvips ") + what + ": " + vips_error_buffer();
  vips_error_clear();
  throw std::runtime_error(message);
}

// Runs a libvips operation that produces an image.
template <class F>
image make(F&& fn) {
  VipsImage* out = nullptr;
  const int rc = fn(&out);
  image result(out);
  if (rc != 0 || !result) vips_failed("operation failed");
  return result;
}

void check(int rc) {
  if (rc != 0) vips_failed("operation failed");
}

// ---- Pictures -----------------------------------------------------------------------------------

// A writable 3-band canvas filled with one colour.
image canvas(int width, int height, std::array<double, 3> colour) {
  image black =
      make([&](VipsImage** out) { return vips_black(out, width, height, "bands", 3, nullptr); });
  image typed = make([&](VipsImage** out) { return vips_cast_uchar(black.get(), out, nullptr); });
  image memory(vips_image_copy_memory(typed.get()));
  if (!memory) vips_failed("copy_memory");
  check(vips_draw_rect(memory.get(), colour.data(), 3, 0, 0, width, height, "fill", TRUE, nullptr));
  return memory;
}

void rect(VipsImage* on, std::array<double, 3> colour, double x, double y, double w, double h) {
  const int width = vips_image_get_width(on);
  const int height = vips_image_get_height(on);
  check(vips_draw_rect(on, colour.data(), 3, static_cast<int>(x * width),
                       static_cast<int>(y * height), static_cast<int>(w * width),
                       static_cast<int>(h * height), "fill", TRUE, nullptr));
}

void circle(VipsImage* on, std::array<double, 3> colour, double cx, double cy, double r) {
  const int width = vips_image_get_width(on);
  const int height = vips_image_get_height(on);
  check(vips_draw_circle(on, colour.data(), 3, static_cast<int>(cx * width),
                         static_cast<int>(cy * height), static_cast<int>(r * height), "fill", TRUE,
                         nullptr));
}

// A landscape: sky, a field, a sun and a house.
image landscape(int width, int height) {
  image picture = canvas(width, height, {90, 140, 220});
  rect(picture.get(), {60, 160, 70}, 0, 0.6, 1, 0.4);
  circle(picture.get(), {250, 220, 60}, 0.78, 0.22, 0.14);
  rect(picture.get(), {150, 40, 30}, 0.15, 0.4, 0.28, 0.32);
  rect(picture.get(), {240, 240, 240}, 0.22, 0.5, 0.07, 0.1);
  return picture;
}

// A target: a big light disc with a dark bar, on a dark ground.
image target(int width, int height) {
  image picture = canvas(width, height, {40, 40, 40});
  circle(picture.get(), {235, 235, 225}, 0.5, 0.5, 0.42);
  circle(picture.get(), {200, 30, 30}, 0.5, 0.5, 0.2);
  rect(picture.get(), {20, 20, 20}, 0.46, 0, 0.08, 1);
  rect(picture.get(), {250, 150, 20}, 0.02, 0.04, 0.2, 0.25);
  return picture;
}

// Soft clouds: a few random values (fixed seed) blown up smoothly, then coloured.
image clouds(int width, int height, int seed) {
  image noise = make([&](VipsImage** out) {
    return vips_gaussnoise(out, 8, 6, "sigma", 60.0, "mean", 128.0, "seed", seed, nullptr);
  });
  image smooth = make([&](VipsImage** out) {
    return vips_resize(noise.get(), out, width / 8.0, "vscale", height / 6.0, nullptr);
  });
  // Red and blue follow the clouds in opposite directions; green is a gentle slope.
  std::array<double, 3> scale{1.0, 0.4, -0.8};
  std::array<double, 3> offset{0, 60, 230};
  image coloured = make([&](VipsImage** out) {
    return vips_linear(smooth.get(), out, scale.data(), offset.data(), 3, nullptr);
  });
  return make([&](VipsImage** out) { return vips_cast_uchar(coloured.get(), out, nullptr); });
}

// Diagonal waves.
image waves(int width, int height) {
  image sines = make([&](VipsImage** out) {
    return vips_sines(out, width, height, "hfreq", 1.5, "vfreq", 1.0, nullptr);
  });
  std::array<double, 3> scale{110, -90, 60};
  std::array<double, 3> offset{128, 128, 100};
  image coloured = make([&](VipsImage** out) {
    return vips_linear(sines.get(), out, scale.data(), offset.data(), 3, nullptr);
  });
  return make([&](VipsImage** out) { return vips_cast_uchar(coloured.get(), out, nullptr); });
}

image resized(VipsImage* in, double scale) {
  return make([&](VipsImage** out) { return vips_resize(in, out, scale, nullptr); });
}

// ---- Files --------------------------------------------------------------------------------------

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

fs::path save_jpeg(VipsImage* in, const fs::path& path, int quality = 90) {
  check(vips_jpegsave(in, path.c_str(), "Q", quality, nullptr));
  return path;
}

fs::path save_png(VipsImage* in, const fs::path& path) {
  check(vips_pngsave(in, path.c_str(), nullptr));
  return path;
}

fs::path save_webp(VipsImage* in, const fs::path& path) {
  check(vips_webpsave(in, path.c_str(), "Q", 85, nullptr));
  return path;
}

fs::path save_heic(VipsImage* in, const fs::path& path) {
  check(vips_heifsave(in, path.c_str(), "compression", VIPS_FOREIGN_HEIF_COMPRESSION_HEVC, "Q", 60,
                      nullptr));
  return path;
}

// libheif writes HEVC files with major brand "heic" (compatible: mif1, heic, miaf). A file that
// announces only the generic HEIF brand is the same file with major brand "mif1".
fs::path heif_from_heic(const fs::path& heic, const fs::path& path) {
  std::string bytes = read_file(heic);
  if (bytes.substr(4, 8) != "ftypheic") throw std::runtime_error("unexpected HEIC brand");
  bytes.replace(8, 4, "mif1");
  write_file(path, bytes);
  return path;
}

fs::path truncated(const fs::path& from, const fs::path& to, double keep) {
  const std::string bytes = read_file(from);
  write_file(to, std::string_view(bytes).substr(0, static_cast<std::size_t>(bytes.size() * keep)));
  return to;
}

std::uint32_t crc32(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<std::uint8_t>(c);
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string be32(std::uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
          static_cast<char>(value >> 8), static_cast<char>(value)};
}

std::string png_chunk(std::string_view type, std::string_view data) {
  const std::string body = std::string(type) + std::string(data);
  return be32(static_cast<std::uint32_t>(data.size())) + body + be32(crc32(body));
}

struct chunk {
  std::size_t offset;  // of the length field
  std::uint32_t length;
  std::string type;
};

std::vector<chunk> png_chunks(const std::string& png) {
  std::vector<chunk> out;
  for (std::size_t at = 8; at + 12 <= png.size();) {
    const auto* p = reinterpret_cast<const unsigned char*>(png.data() + at);
    const std::uint32_t length = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                                 (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    out.push_back({at, length, png.substr(at + 4, 4)});
    at += 12 + length;
  }
  return out;
}

// Flips 16 bytes in the middle of the compressed picture data; optionally fixes the chunk's CRC
// so that only the deflate stream / row filters are wrong.
fs::path png_with_damaged_data(const fs::path& from, const fs::path& to, bool fix_crc) {
  std::string png = read_file(from);
  std::vector<chunk> idat;
  for (const chunk& c : png_chunks(png)) {
    if (c.type == "IDAT") idat.push_back(c);
  }
  if (idat.empty()) throw std::runtime_error("no IDAT");
  const chunk& middle = idat[idat.size() / 2];
  const std::size_t data = middle.offset + 8;
  for (std::size_t i = 0; i < 16; ++i)
    png[data + middle.length / 2 + i] ^= 0x5A;
  if (fix_crc) {
    png.replace(data + middle.length, 4,
                be32(crc32(std::string_view(png).substr(middle.offset + 4, 4 + middle.length))));
  }
  write_file(to, png);
  return to;
}

// A PNG whose header announces width x height, followed by a little deflate data that could
// never fill it: it can only be rejected from its header (too_large), or as corrupt.
fs::path png_header_only(const fs::path& path, std::uint32_t width, std::uint32_t height) {
  std::string ihdr = be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  const std::string idat("\x78\x9c\x63\x60\x00\x00\x00\x02\x00\x01", 10);
  write_file(path, "\x89PNG\r\n\x1A\n" + png_chunk("IHDR", ihdr) + png_chunk("IDAT", idat) +
                       png_chunk("IEND", ""));
  return path;
}

struct loaded_thumbnail {
  int width = 0;
  int height = 0;
  int bands = 0;
  VipsInterpretation interpretation = VIPS_INTERPRETATION_ERROR;
  bool has_xmp_or_icc = true;
  int orientation = 0;
};

loaded_thumbnail load_thumbnail(const fs::path& path) {
  image thumb = make([&](VipsImage** out) { return vips_webpload(path.c_str(), out, nullptr); });
  double average = 0;
  check(vips_avg(thumb.get(), &average, nullptr));  // decodes it all
  const bool has_xmp_or_icc = vips_image_get_typeof(thumb.get(), VIPS_META_XMP_NAME) != 0 ||
                              vips_image_get_typeof(thumb.get(), VIPS_META_ICC_NAME) != 0;
  return {vips_image_get_width(thumb.get()),
          vips_image_get_height(thumb.get()),
          vips_image_get_bands(thumb.get()),
          vips_image_get_interpretation(thumb.get()),
          has_xmp_or_icc,
          vips_image_get_orientation(thumb.get())};
}

rejection rejection_of(const fs::path& path, const images::probe_limits& limits = {}) {
  try {
    images::analyze(path, limits);
  } catch (const images::image_error& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
    return e.code();
  }
  ADD_FAILURE() << path << " was accepted";
  return rejection::unsupported_type;
}

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

// ---- The shared set of files --------------------------------------------------------------------

// One picture in each accepted format, made once per test run (HEVC encoding is slow) and
// removed at exit.
struct file_set {
  static constexpr int kWidth = 900;
  static constexpr int kHeight = 600;
  temp_dir dir;
  fs::path jpeg, png, webp, heic, heif;

  file_set() {
    images::initialize();
    image land = landscape(kWidth, kHeight);
    jpeg = save_jpeg(land.get(), dir.path() / "land.jpg");
    png = save_png(land.get(), dir.path() / "land.png");
    webp = save_webp(land.get(), dir.path() / "land.webp");
    heic = save_heic(land.get(), dir.path() / "land.heic");
    heif = heif_from_heic(heic, dir.path() / "land.heif");
  }
};

const file_set& shared_files() {
  static const file_set files;
  return files;
}

class ImageProbe : public ::testing::Test {
 protected:
  static constexpr int kWidth = file_set::kWidth;
  static constexpr int kHeight = file_set::kHeight;

  void SetUp() override {
    files_ = &shared_files();
    images::initialize();
  }
  // A fresh directory for each test's own files.
  const fs::path& dir() const { return dir_.path(); }

  const file_set* files_ = nullptr;
  temp_dir dir_;
};

// ---- sniff --------------------------------------------------------------------------------------

std::string ftyp(std::string_view major, std::initializer_list<std::string_view> compatible,
                 std::optional<std::uint32_t> declared_size = std::nullopt) {
  std::string body = std::string("ftyp") + std::string(major) + std::string(4, '\0');
  for (std::string_view brand : compatible)
    body += brand;
  return be32(declared_size.value_or(static_cast<std::uint32_t>(4 + body.size()))) + body;
}

TEST(ImageSniff, RecognisesEachMagic) {
  struct row {
    std::string head;
    std::optional<format> expected;
  };
  const std::vector<row> rows = {
      {"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"s, format::jpeg},
      {"\xFF\xD8\xFF\xE1\x12\x34"
       "Exif"s,
       format::jpeg},
      {"\xFF\xD8\xFF"s, format::jpeg},
      {"\x89PNG\r\n\x1A\n\x00\x00\x00\x0DIHDR"s, format::png},
      {"RIFF\x24\x10\x00\x00WEBPVP8 "s, format::webp},
      {ftyp("heic", {"mif1", "heic", "miaf"}), format::heic},
      {ftyp("heix", {"mif1", "heix"}), format::heic},
      {ftyp("hevc", {"msf1", "hevc"}), format::heic},
      {ftyp("hevx", {}), format::heic},
      {ftyp("heim", {}), format::heic},
      {ftyp("heis", {}), format::heic},
      {ftyp("mif1", {"mif1", "heic", "miaf"}), format::heif},
      {ftyp("msf1", {"msf1"}), format::heif},
      {ftyp("mif1", {"avif", "mif1", "miaf"}), format::heif},  // AV1 inside: libheif decodes it
      // Another major brand: the compatible brands decide.
      {ftyp("miaf", {"miaf", "heic"}), format::heic},
      {ftyp("MiHE", {"mif1", "MiHE"}), format::heif},
      // AVIF is not accepted.
      {ftyp("avif", {"avif", "mif1", "miaf"}), std::nullopt},
      {ftyp("avis", {"avis", "msf1"}), std::nullopt},
      {ftyp("miaf", {"avif", "mif1"}), std::nullopt},
      // Other ISO-BMFF files: video, JPEG 2000, and a box that claims to be too small.
      {ftyp("isom", {"isom", "mp41"}), std::nullopt},
      {ftyp("qt  ", {}), std::nullopt},
      {ftyp("heic", {}, 12), std::nullopt},
      {ftyp("heic", {}, 0), std::nullopt},
      {ftyp("heic", {}, 1), std::nullopt},
      // A compatible brand beyond the declared box size belongs to the next box.
      {ftyp("miaf", {"miaf", "heic"}, 20), std::nullopt},
      {"GIF89a\x01\x00\x01\x00"s, std::nullopt},
      {"BM\x36\x00\x00\x00"s, std::nullopt},
      {"RIFF\x24\x10\x00\x00WAVEfmt "s, std::nullopt},
      {"%PDF-1.7\n", std::nullopt},
      {"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", std::nullopt},
      {"hello, this is text", std::nullopt},
  };
  for (const row& r : rows) {
    EXPECT_EQ(images::sniff(bytes_of(r.head)), r.expected)
        << "head: " << testing::PrintToString(r.head);
  }
}

TEST(ImageSniff, ShortInputsAreNothing) {
  const std::vector<std::string> magics = {"\xFF\xD8\xFF"s, "\x89PNG\r\n\x1A\n"s,
                                           "RIFF\x24\x10\x00\x00WEBP"s, ftyp("heic", {"mif1"}),
                                           ftyp("mif1", {"heic"})};
  for (const std::string& magic : magics) {
    ASSERT_TRUE(images::sniff(bytes_of(magic)).has_value()) << testing::PrintToString(magic);
    // Every proper prefix of the magic (0 .. n-1 bytes; ftyp needs its major brand, 12 bytes).
    const bool iso_bmff = magic.size() > 8 && magic.substr(4, 4) == "ftyp";
    const std::size_t needed = iso_bmff ? 12 : magic.size();
    for (std::size_t n = 0; n < needed; ++n) {
      EXPECT_EQ(images::sniff(bytes_of(std::string_view(magic).substr(0, n))), std::nullopt)
          << testing::PrintToString(magic) << " cut to " << n;
    }
  }
  EXPECT_EQ(images::sniff({}), std::nullopt);
}

TEST(ImageSniff, NamesAndMimeTypes) {
  EXPECT_EQ(images::to_string(format::jpeg), "jpeg");
  EXPECT_EQ(images::to_string(format::heif), "heif");
  EXPECT_EQ(images::mime_type(format::png), "image/png");
  EXPECT_EQ(images::mime_type(format::webp), "image/webp");
  EXPECT_EQ(images::mime_type(format::heic), "image/heic");
  EXPECT_EQ(images::mime_type(format::heif), "image/heif");
  EXPECT_EQ(images::hamming_distance(0, ~std::uint64_t{0}), 64);
  EXPECT_EQ(images::hamming_distance(0b1011, 0b0001), 2);
}

// ---- Accepted files -----------------------------------------------------------------------------

TEST_F(ImageProbe, AcceptsEachFormatAndWritesAThumbnail) {
  const std::vector<std::pair<fs::path, format>> cases = {{files_->jpeg, format::jpeg},
                                                          {files_->png, format::png},
                                                          {files_->webp, format::webp},
                                                          {files_->heic, format::heic},
                                                          {files_->heif, format::heif}};
  for (const auto& [path, expected] : cases) {
    SCOPED_TRACE(path.filename().string());
    const fs::path thumb = dir() / (path.filename().string() + ".thumb.webp");
    const images::analysis a = images::analyze(path, {}, &thumb);
    EXPECT_EQ(a.fmt, expected);
    EXPECT_EQ(a.width, kWidth);
    EXPECT_EQ(a.height, kHeight);
    EXPECT_NE(a.phash, 0u);

    ASSERT_TRUE(fs::exists(thumb));
    const std::string head = read_file(thumb).substr(0, 32);
    EXPECT_EQ(images::sniff(bytes_of(head)), format::webp);
    const loaded_thumbnail t = load_thumbnail(thumb);
    EXPECT_EQ(std::max(t.width, t.height), 256);
    EXPECT_NEAR(static_cast<double>(t.width) / t.height, static_cast<double>(kWidth) / kHeight,
                0.02);
    EXPECT_EQ(t.bands, 3);
    EXPECT_FALSE(t.has_xmp_or_icc);
    EXPECT_EQ(t.orientation, 1);
  }
  // Only the thumbnails: no temporary files left behind.
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir())) {
    EXPECT_EQ(entry.path().filename().string().rfind(".", 0), std::string::npos) << entry.path();
    ++entries;
  }
  EXPECT_EQ(entries, 5);
}

TEST_F(ImageProbe, AnalysisWithoutThumbnailAgreesWithIt) {
  const fs::path thumb = dir() / "agree.webp";
  const images::analysis with = images::analyze(files_->png, {}, &thumb);
  const images::analysis without = images::analyze(files_->png, {});
  EXPECT_EQ(with.phash, without.phash);
  // The thumbnail size does not change the hash: it is made from a view of fixed size.
  images::probe_limits small;
  small.thumbnail_size = 64;
  const fs::path small_thumb = dir() / "small.webp";
  EXPECT_EQ(images::analyze(files_->png, small, &small_thumb).phash, with.phash);
  const loaded_thumbnail t = load_thumbnail(small_thumb);
  EXPECT_EQ(t.width, 64);
  EXPECT_EQ(t.height, 43);
  // And an existing thumbnail is replaced.
  images::analyze(files_->png, small, &thumb);
  EXPECT_EQ(load_thumbnail(thumb).width, 64);
}

TEST_F(ImageProbe, SmallAndGreyPicturesAreNotEnlarged) {
  image land = landscape(40, 20);
  image grey = make([&](VipsImage** out) {
    return vips_colourspace(land.get(), out, VIPS_INTERPRETATION_B_W, nullptr);
  });
  const fs::path path = save_png(grey.get(), dir() / "tiny-grey.png");
  const fs::path thumb = dir() / "tiny-grey.webp";
  const images::analysis a = images::analyze(path, {}, &thumb);
  EXPECT_EQ(a.fmt, format::png);
  EXPECT_EQ(a.width, 40);
  EXPECT_EQ(a.height, 20);
  const loaded_thumbnail t = load_thumbnail(thumb);
  EXPECT_EQ(t.width, 40);
  EXPECT_EQ(t.height, 20);
  // The hash still sees the picture: close to the big colour one.
  const images::analysis big = images::analyze(files_->png, {});
  std::printf("[   info   ] tiny grey vs full size colour: distance %d\n",
              images::hamming_distance(a.phash, big.phash));
  EXPECT_LE(images::hamming_distance(a.phash, big.phash), kThreshold);
}

TEST_F(ImageProbe, KeepsAlpha) {
  image land = landscape(300, 200);
  image alpha = make([&](VipsImage** out) { return vips_black(out, 300, 200, nullptr); });
  image opaque =
      make([&](VipsImage** out) { return vips_linear1(alpha.get(), out, 1.0, 255.0, nullptr); });
  image alpha_u8 =
      make([&](VipsImage** out) { return vips_cast_uchar(opaque.get(), out, nullptr); });
  image memory(vips_image_copy_memory(alpha_u8.get()));
  double clear = 0;
  check(vips_draw_rect(memory.get(), &clear, 1, 0, 0, 150, 200, "fill", TRUE, nullptr));
  image rgba =
      make([&](VipsImage** out) { return vips_bandjoin2(land.get(), memory.get(), out, nullptr); });
  const fs::path path = save_png(rgba.get(), dir() / "alpha.png");
  const fs::path thumb = dir() / "alpha.webp";
  const images::analysis a = images::analyze(path, {}, &thumb);
  EXPECT_EQ(a.width, 300);
  const loaded_thumbnail t = load_thumbnail(thumb);
  EXPECT_EQ(t.bands, 4);
  EXPECT_EQ(t.width, 256);
}

TEST_F(ImageProbe, CmykJpegBecomesAnSrgbThumbnail) {
  image land = landscape(600, 400);
  image cmyk = make([&](VipsImage** out) {
    return vips_colourspace(land.get(), out, VIPS_INTERPRETATION_CMYK, nullptr);
  });
  ASSERT_EQ(vips_image_get_bands(cmyk.get()), 4);
  const fs::path path = save_jpeg(cmyk.get(), dir() / "cmyk.jpg");
  const fs::path thumb = dir() / "cmyk.webp";
  const images::analysis a = images::analyze(path, {}, &thumb);
  EXPECT_EQ(a.fmt, format::jpeg);
  const loaded_thumbnail t = load_thumbnail(thumb);
  EXPECT_EQ(t.bands, 3);
  EXPECT_EQ(t.interpretation, VIPS_INTERPRETATION_sRGB);
  const images::analysis rgb = images::analyze(files_->jpeg, {});
  std::printf("[   info   ] CMYK JPEG vs RGB JPEG: distance %d\n",
              images::hamming_distance(a.phash, rgb.phash));
  EXPECT_LE(images::hamming_distance(a.phash, rgb.phash), kThreshold);
}

TEST_F(ImageProbe, AppliesExifOrientation) {
  // Stored 600 x 400, tagged "rotate 90° clockwise to display" (orientation 6).
  image land = landscape(600, 400);
  image tagged = make([&](VipsImage** out) { return vips_copy(land.get(), out, nullptr); });
  vips_image_set_int(tagged.get(), VIPS_META_ORIENTATION, 6);
  const std::string xmp =
      "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><secret>where-i-live</secret></x:xmpmeta>";
  vips_image_set_blob_copy(tagged.get(), VIPS_META_XMP_NAME, xmp.data(), xmp.size());
  const fs::path path = save_jpeg(tagged.get(), dir() / "rotated.jpg");
  // The same picture rotated in its pixels.
  image turned = make([&](VipsImage** out) { return vips_rot90(land.get(), out, nullptr); });
  const fs::path upright = save_jpeg(turned.get(), dir() / "upright.jpg");

  const fs::path thumb = dir() / "rotated.webp";
  const images::analysis a = images::analyze(path, {}, &thumb);
  EXPECT_EQ(a.width, 600);  // as stored
  EXPECT_EQ(a.height, 400);
  const loaded_thumbnail t = load_thumbnail(thumb);
  EXPECT_EQ(t.width, 171);  // as shown
  EXPECT_EQ(t.height, 256);
  // Nothing of the source's metadata is left: no XMP, and an orientation tag (libvips 8.14's
  // webpsave writes a minimal EXIF block of its own) that no longer asks for a rotation.
  EXPECT_FALSE(t.has_xmp_or_icc);
  EXPECT_EQ(t.orientation, 1);
  EXPECT_EQ(read_file(thumb).find("where-i-live"), std::string::npos);
  const images::analysis b = images::analyze(upright, {});
  std::printf("[   info   ] EXIF-rotated vs pixel-rotated: distance %d\n",
              images::hamming_distance(a.phash, b.phash));
  EXPECT_LE(images::hamming_distance(a.phash, b.phash), kThreshold);
}

TEST_F(ImageProbe, DecodesALargeFileWithBoundedWork) {
  // Uniform noise does not compress: a 1700 x 1300 RGB PNG of it is over 6 MB. (Whether a
  // file is too big in bytes is decided elsewhere; this checks that it decodes, streamed.)
  image wide = make([&](VipsImage** out) {
    return vips_gaussnoise(out, 1700 * 3, 1300, "sigma", 4000.0, "mean", 20000.0, "seed", 7,
                           nullptr);
  });
  image wrapped =
      make([&](VipsImage** out) { return vips_remainder_const1(wide.get(), out, 256.0, nullptr); });
  image bytes = make([&](VipsImage** out) { return vips_cast_uchar(wrapped.get(), out, nullptr); });
  // Every three neighbouring pixels become the three bands of one.
  image joined =
      make([&](VipsImage** out) { return vips_bandfold(bytes.get(), out, "factor", 3, nullptr); });
  image srgb = make([&](VipsImage** out) {
    return vips_copy(joined.get(), out, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr);
  });
  const fs::path png = dir() / "noise.png";
  check(vips_pngsave(srgb.get(), png.c_str(), "compression", 1, nullptr));
  ASSERT_GT(fs::file_size(png), 6'000'000u);
  const fs::path thumb = dir() / "noise.webp";
  const images::analysis a = images::analyze(png, {}, &thumb);
  EXPECT_EQ(a.fmt, format::png);
  EXPECT_EQ(a.width, 1700);
  EXPECT_EQ(a.height, 1300);
  EXPECT_EQ(load_thumbnail(thumb).width, 256);
}

TEST_F(ImageProbe, TooManyPixelsIsRefusedFromTheHeader) {
  const fs::path huge = png_header_only(dir() / "huge.png", 10000, 10000);
  EXPECT_EQ(rejection_of(huge), rejection::too_large);
  // Just over the limit, then just under it: the same kind of file is then decoded, and its
  // missing data found. So too_large came from the header, before any decoding.
  const fs::path over = png_header_only(dir() / "over.png", 8000, 5001);
  EXPECT_EQ(rejection_of(over), rejection::too_large);
  const fs::path under = png_header_only(dir() / "under.png", 8000, 5000);
  EXPECT_EQ(rejection_of(under), rejection::corrupt);
  images::probe_limits tight;
  tight.max_pixels = kWidth * kHeight - 1;
  EXPECT_EQ(rejection_of(files_->heic, tight), rejection::too_large);
  EXPECT_EQ(rejection_of(files_->jpeg, tight), rejection::too_large);
  try {
    images::analyze(huge, {});
  } catch (const images::image_error& e) {
    EXPECT_NE(std::string(e.what()).find("10000 x 10000"), std::string::npos) << e.what();
  }
}

// ---- Rejected files -----------------------------------------------------------------------------

TEST_F(ImageProbe, TextRenamedAsJpegIsNotAnImage) {
  const fs::path path = dir() / "notes.jpg";
  write_file(path, "These are my notes, not a picture.\nSecond line.\n");
  EXPECT_EQ(rejection_of(path), rejection::unsupported_type);
  const fs::path empty = dir() / "empty.png";
  write_file(empty, "");
  EXPECT_EQ(rejection_of(empty), rejection::unsupported_type);
  try {
    images::analyze(path, {});
  } catch (const images::image_error& e) {
    EXPECT_STREQ(e.what(), "The file is not a JPEG, PNG, WEBP, HEIC or HEIF image.");
  }
}

TEST_F(ImageProbe, TruncatedFilesAreCorrupt) {
  const fs::path d = dir();
  EXPECT_EQ(rejection_of(truncated(files_->jpeg, d / "cut.jpg", 0.6)), rejection::corrupt);
  EXPECT_EQ(rejection_of(truncated(files_->png, d / "cut.png", 0.6)), rejection::corrupt);
  EXPECT_EQ(rejection_of(truncated(files_->webp, d / "cut.webp", 0.6)), rejection::corrupt);
  EXPECT_EQ(rejection_of(truncated(files_->heic, d / "cut.heic", 0.6)), rejection::corrupt);
  EXPECT_EQ(rejection_of(truncated(files_->heif, d / "cut.heif", 0.6)), rejection::corrupt);
  EXPECT_EQ(rejection_of(truncated(files_->webp, d / "cut-end.webp", 0.98)), rejection::corrupt);
  EXPECT_EQ(rejection_of(truncated(files_->heic, d / "cut-end.heic", 0.98)), rejection::corrupt);
  try {
    images::analyze(d / "cut.jpg", {});
  } catch (const images::image_error& e) {
    EXPECT_STREQ(e.what(), "The JPEG image is damaged or incomplete.");
    EXPECT_FALSE(e.detail().empty());
  }
}

TEST_F(ImageProbe, FilesMissingOnlyTheirLastRowsAreCorrupt) {
  // Every row must go through the loader, whatever the height and the JPEG shrink-on-load
  // factor (4100 wide: 8 if the height allows it, else 4 or 2; 900 or 1201 wide: 1).
  struct picture_case {
    int width, height;
    bool png;
  };
  for (const picture_case c : {picture_case{900, 601, true}, picture_case{1201, 1003, true},
                               picture_case{4100, 600, false}, picture_case{4100, 604, false},
                               picture_case{4100, 603, false}, picture_case{4100, 601, false}}) {
    const std::string name = std::to_string(c.width) + "x" + std::to_string(c.height);
    SCOPED_TRACE(name);
    image picture = clouds(c.width, c.height, 11);
    const fs::path jpeg = save_jpeg(picture.get(), dir() / (name + ".jpg"));
    EXPECT_NO_THROW(images::analyze(jpeg, {}));
    const std::string jpeg_bytes = read_file(jpeg);
    const fs::path jpeg_cut = dir() / (name + "-cut.jpg");
    write_file(jpeg_cut, std::string_view(jpeg_bytes).substr(0, jpeg_bytes.size() - 300));
    // Several times: with more than one libvips worker, an error in the last tile was lost only
    // some of the time.
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(rejection_of(jpeg_cut), rejection::corrupt);
    if (!c.png) continue;
    const fs::path png = save_png(picture.get(), dir() / (name + ".png"));
    EXPECT_NO_THROW(images::analyze(png, {}));
    // Drop IEND and the last 20 bytes of picture data.
    const std::string png_bytes = read_file(png);
    const fs::path png_cut = dir() / (name + "-cut.png");
    write_file(png_cut, std::string_view(png_bytes).substr(0, png_bytes.size() - 12 - 4 - 20));
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(rejection_of(png_cut), rejection::corrupt);
  }
}

TEST_F(ImageProbe, ProgressiveJpegAndInterlacedPng) {
  // Both hold the whole picture before the first row comes out: truncation shows up at once.
  for (const auto& [width, height] : {std::pair{900, 600}, std::pair{4100, 600}}) {
    const std::string name = std::to_string(width);
    image picture = clouds(width, height, 4);
    const fs::path jpeg = dir() / (name + "-progressive.jpg");
    check(vips_jpegsave(picture.get(), jpeg.c_str(), "interlace", TRUE, nullptr));
    EXPECT_EQ(images::analyze(jpeg, {}).width, width);
    const std::string bytes = read_file(jpeg);
    const fs::path cut = dir() / (name + "-progressive-cut.jpg");
    write_file(cut, std::string_view(bytes).substr(0, bytes.size() - 300));
    EXPECT_EQ(rejection_of(cut), rejection::corrupt);
  }
  image picture = clouds(kWidth, kHeight, 4);
  const fs::path png = dir() / "interlaced.png";
  check(vips_pngsave(picture.get(), png.c_str(), "interlace", TRUE, nullptr));
  EXPECT_EQ(images::analyze(png, {}).height, kHeight);
  EXPECT_EQ(rejection_of(truncated(png, dir() / "interlaced-cut.png", 0.97)), rejection::corrupt);
}

TEST_F(ImageProbe, SixteenBitPng) {
  image land = landscape(kWidth, kHeight);
  image wide =
      make([&](VipsImage** out) { return vips_linear1(land.get(), out, 257.0, 0.0, nullptr); });
  image deep = make(
      [&](VipsImage** out) { return vips_cast(wide.get(), out, VIPS_FORMAT_USHORT, nullptr); });
  image tagged = make([&](VipsImage** out) {
    return vips_copy(deep.get(), out, "interpretation", VIPS_INTERPRETATION_RGB16, nullptr);
  });
  const fs::path png = save_png(tagged.get(), dir() / "deep.png");
  const fs::path thumb = dir() / "deep.webp";
  const images::analysis a = images::analyze(png, {}, &thumb);
  EXPECT_EQ(a.width, kWidth);
  const loaded_thumbnail t = load_thumbnail(thumb);
  EXPECT_EQ(t.bands, 3);
  EXPECT_EQ(t.width, 256);
  EXPECT_LE(images::hamming_distance(a.phash, images::analyze(files_->png, {}).phash), kThreshold);
}

TEST_F(ImageProbe, DamagedPngDataIsCorrupt) {
  image picture = clouds(kWidth, kHeight, 5);
  const fs::path png = save_png(picture.get(), dir() / "clouds.png");
  const std::vector<chunk> chunks = png_chunks(read_file(png));
  ASSERT_GE(
      std::count_if(chunks.begin(), chunks.end(), [](const chunk& c) { return c.type == "IDAT"; }),
      3);
  EXPECT_NO_THROW(images::analyze(png, {}));
  EXPECT_EQ(rejection_of(png_with_damaged_data(png, dir() / "bad-crc.png", false)),
            rejection::corrupt);
  EXPECT_EQ(rejection_of(png_with_damaged_data(png, dir() / "bad-data.png", true)),
            rejection::corrupt);
  EXPECT_EQ(rejection_of(png_with_damaged_data(files_->png, dir() / "bad-data2.png", true)),
            rejection::corrupt);
}

TEST_F(ImageProbe, MagicFollowedByGarbageIsCorrupt) {
  std::string garbage;
  std::uint32_t state = 12345;
  for (int i = 0; i < 20000; ++i) {
    state = state * 1103515245u + 12345u;
    garbage.push_back(static_cast<char>(state >> 16));
  }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"garbage.jpg", "\xFF\xD8\xFF"s},
      {"garbage2.jpg", "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"s},
      {"garbage.png", "\x89PNG\r\n\x1A\n"s},
      {"garbage.webp", "RIFF\x20\x4E\x00\x00WEBPVP8 "s},
      {"garbage.heic", ftyp("heic", {"mif1", "heic"})},
      {"garbage.heif", ftyp("mif1", {"mif1"})}};
  for (const auto& [name, magic] : cases) {
    const fs::path path = dir() / name;
    write_file(path, magic + garbage);
    EXPECT_EQ(rejection_of(path), rejection::corrupt) << name;
  }
}

TEST_F(ImageProbe, IoErrorsAreNotImageErrors) {
  EXPECT_THROW(images::analyze(dir() / "does-not-exist.jpg", {}), std::system_error);
  EXPECT_THROW(images::analyze(dir(), {}), std::system_error);  // a directory
  const fs::path nowhere = dir() / "no-such-dir" / "thumb.webp";
  try {
    images::analyze(files_->jpeg, {}, &nowhere);
    ADD_FAILURE() << "no error";
  } catch (const images::image_error&) {
    ADD_FAILURE() << "an I/O error reported as an image error";
  } catch (const std::system_error&) {
  }
  images::probe_limits bad;
  bad.thumbnail_size = 0;
  EXPECT_THROW(images::analyze(files_->jpeg, bad), std::invalid_argument);
}

TEST_F(ImageProbe, NoDescriptorIsLeaked) {
  const auto open_descriptors = [] {
    return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{});
  };
  const fs::path cut = truncated(files_->jpeg, dir() / "leak.jpg", 0.5);
  const fs::path text = dir() / "leak.txt";
  write_file(text, "not a picture at all, just some words");
  const fs::path thumb = dir() / "leak.webp";
  images::analyze(files_->webp, {}, &thumb);  // everything libvips opens once, opened
  const auto before = open_descriptors();
  for (int i = 0; i < 3; ++i) {
    for (const fs::path& path : {files_->jpeg, files_->png, files_->webp, files_->heic}) {
      images::analyze(path, {}, &thumb);
    }
    EXPECT_EQ(rejection_of(cut), rejection::corrupt);
    EXPECT_EQ(rejection_of(text), rejection::unsupported_type);
  }
  EXPECT_EQ(open_descriptors(), before);
}

TEST_F(ImageProbe, OnlyTheFourLoadersAreAvailable) {
  // initialize() blocks every other libvips loader: a CSV "image" cannot be opened.
  const fs::path csv = dir() / "matrix.csv";
  write_file(csv, "1 2 3\n4 5 6\n");
  VipsImage* out = nullptr;
  EXPECT_NE(vips_csvload(csv.c_str(), &out, nullptr), 0);
  if (out) g_object_unref(out);
  vips_error_clear();
  out = nullptr;
  EXPECT_EQ(vips_pngload(files_->png.c_str(), &out, nullptr), 0);
  if (out) g_object_unref(out);
}

// ---- Perceptual hash ----------------------------------------------------------------------------

class ImageHash : public ImageProbe {};

TEST_F(ImageHash, CopiesOfThePicturesAreClose) {
  const fs::path d = dir();
  image land = landscape(1200, 800);
  image sky = clouds(1200, 800, 21);
  int worst = 0;
  for (const auto& [name, picture] :
       {std::pair<const char*, VipsImage*>{"landscape", land.get()}, {"clouds", sky.get()}}) {
    const std::string n = name;
    const auto hash = [](const fs::path& path) { return images::analyze(path, {}).phash; };
    const std::uint64_t original = hash(save_jpeg(picture, d / (n + "-q90.jpg"), 90));
    image half = resized(picture, 0.5);
    image third = resized(picture, 0.33);
    const std::vector<std::pair<std::string, std::uint64_t>> copies = {
        {"png re-encoding", hash(save_png(picture, d / (n + ".png")))},
        {"webp re-encoding", hash(save_webp(picture, d / (n + ".webp")))},
        {"half size jpeg", hash(save_jpeg(half.get(), d / (n + "-half.jpg")))},
        {"third size png", hash(save_png(third.get(), d / (n + "-third.png")))},
        {"quality 50", hash(save_jpeg(picture, d / (n + "-q50.jpg"), 50))},
        {"quality 95", hash(save_jpeg(picture, d / (n + "-q95.jpg"), 95))},
    };
    for (const auto& [what, h] : copies) {
      const int distance = images::hamming_distance(original, h);
      std::printf("[   info   ] %s: q90 jpeg vs %s: distance %d\n", name, what.c_str(), distance);
      EXPECT_LE(distance, kThreshold) << name << " vs " << what;
      worst = std::max(worst, distance);
    }
    const int q = images::hamming_distance(copies[4].second, copies[5].second);
    std::printf("[   info   ] %s: quality 50 vs quality 95: distance %d\n", name, q);
    EXPECT_LE(q, kThreshold);
  }
  // The HEIC and HEIF files of the shared set against their JPEG.
  const std::uint64_t jpeg = images::analyze(files_->jpeg, {}).phash;
  for (const fs::path& path : {files_->heic, files_->heif, files_->webp, files_->png}) {
    const int distance = images::hamming_distance(jpeg, images::analyze(path, {}).phash);
    std::printf("[   info   ] landscape 900x600: jpeg vs %s: distance %d\n",
                path.extension().c_str(), distance);
    EXPECT_LE(distance, kThreshold);
  }
  std::printf("[   info   ] worst duplicate distance %d\n", worst);
}

TEST_F(ImageHash, DifferentPicturesAreFar) {
  const fs::path d = dir();
  std::vector<std::pair<std::string, std::uint64_t>> hashes;
  auto add = [&](const std::string& name, image picture) {
    hashes.emplace_back(name,
                        images::analyze(save_jpeg(picture.get(), d / (name + ".jpg")), {}).phash);
  };
  add("landscape", landscape(1000, 700));
  add("target", target(1000, 700));
  add("clouds-1", clouds(1000, 700, 1));
  add("clouds-2", clouds(1000, 700, 2));
  add("clouds-3", clouds(1000, 700, 3));
  add("waves", waves(1000, 700));
  int closest = 64;
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    for (std::size_t j = i + 1; j < hashes.size(); ++j) {
      const int distance = images::hamming_distance(hashes[i].second, hashes[j].second);
      std::printf("[   info   ] %s vs %s: distance %d\n", hashes[i].first.c_str(),
                  hashes[j].first.c_str(), distance);
      EXPECT_GT(distance, 20) << hashes[i].first << " vs " << hashes[j].first;
      closest = std::min(closest, distance);
    }
  }
  std::printf("[   info   ] closest different pair: distance %d\n", closest);
}

TEST_F(ImageHash, StructureTellsPhotosFromTextures) {
  const fs::path d = dir();
  // Photos (large shapes, skies) have tens of grey levels of large-scale structure.
  for (const auto& [name, picture] :
       {std::pair<std::string, image>{"landscape", landscape(1000, 700)},
        {"clouds", clouds(1000, 700, 5)},
        {"target", target(1000, 700)}}) {
    const double s =
        images::analyze(save_jpeg(picture.get(), d / (name + ".jpg")), {}).phash_structure;
    std::printf("[   info   ] %s: structure %.1f\n", name.c_str(), s);
    EXPECT_GT(s, 10.0) << name;
  }
  // Fine noise and a flat picture have almost none: their hashes carry no picture.
  image noisy = make([](VipsImage** out) {
    return vips_gaussnoise(out, 800, 600, "sigma", 50.0, "mean", 128.0, "seed", 7, nullptr);
  });
  image noise = make([&](VipsImage** out) { return vips_cast_uchar(noisy.get(), out, nullptr); });
  image flat = canvas(800, 600, {120, 130, 140});
  for (const auto& [name, picture] :
       {std::pair<std::string, VipsImage*>{"noise", noise.get()}, {"flat", flat.get()}}) {
    const double s = images::analyze(save_png(picture, d / (name + ".png")), {}).phash_structure;
    std::printf("[   info   ] %s: structure %.2f\n", name.c_str(), s);
    EXPECT_LT(s, 3.0) << name;
  }
}

// ---- Concurrency and cost -----------------------------------------------------------------------

TEST_F(ImageProbe, AnalysesOnFourThreadsAtOnce) {
  const fs::path d = dir();
  const std::vector<fs::path> good = {files_->jpeg, files_->png, files_->webp, files_->heic};
  // Damaged near their end: the error comes from the last tile.
  const std::vector<fs::path> bad = {
      truncated(files_->jpeg, d / "mt.jpg", 0.995), truncated(files_->png, d / "mt.png", 0.995),
      truncated(files_->webp, d / "mt.webp", 0.9), truncated(files_->heic, d / "mt.heic", 0.9)};
  std::vector<std::uint64_t> expected;
  for (const fs::path& path : good)
    expected.push_back(images::analyze(path, {}).phash);

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        const std::size_t i = (t + round) % 4;
        try {
          const fs::path thumb = d / ("mt-" + std::to_string(t) + ".webp");
          if (images::analyze(good[i], {}, &thumb).phash != expected[i]) ++failures;
        } catch (...) {
          ++failures;
        }
        try {
          images::analyze(bad[i], {});
          ++failures;  // a damaged file passed
        } catch (const images::image_error& e) {
          if (e.code() != rejection::corrupt) ++failures;
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(ImageProbe, TimeForATwoMegapixelJpeg) {
  image picture = clouds(1800, 1200, 9);
  const fs::path jpeg = save_jpeg(picture.get(), dir() / "2mp.jpg", 90);
  const fs::path thumb = dir() / "2mp.webp";
  images::analyze(jpeg, {}, &thumb);  // warm up
  constexpr int kRuns = 5;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i)
    images::analyze(jpeg, {}, &thumb);
  const auto each = (std::chrono::steady_clock::now() - start) / kRuns;
  std::printf("[   info   ] analyze() of a 1800x1200 JPEG (%zu bytes) with thumbnail: %.1f ms\n",
              static_cast<std::size_t>(fs::file_size(jpeg)),
              std::chrono::duration<double, std::milli>(each).count());
  const fs::path png = save_png(picture.get(), dir() / "2mp.png");
  const auto png_start = std::chrono::steady_clock::now();
  images::analyze(png, {}, &thumb);
  std::printf(
      "[   info   ] analyze() of the same picture as PNG: %.1f ms\n",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - png_start)
          .count());
}

}  // namespace
