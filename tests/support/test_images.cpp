#include "support/test_images.hpp"

#include <vips/vips.h>

#include <mutex>
#include <random>
#include <stdexcept>

namespace sharebox::test {

namespace {

void start_vips() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (VIPS_INIT("sharebox-tests") != 0) throw std::runtime_error("vips_init failed");
  });
}

struct image_ref {
  VipsImage* p = nullptr;
  ~image_ref() {
    if (p) g_object_unref(p);
  }
};

[[noreturn]] void fail(const char* what) {
  std::string msg = std::string(what) + ": " + vips_error_buffer();
  vips_error_clear();
  throw std::runtime_error(msg);
}

}  // namespace

std::string make_picture(unsigned seed, int width, int height, std::string_view format,
                         int quality) {
  start_vips();
  // Drawn on a fixed 640x480 canvas, then resized: a smaller copy is the same picture.
  constexpr int canvas_w = 640;
  constexpr int canvas_h = 480;
  image_ref black;
  if (vips_black(&black.p, canvas_w, canvas_h, "bands", 3, nullptr) != 0) fail("black");
  image_ref canvas;
  if (vips_cast_uchar(black.p, &canvas.p, nullptr) != 0) fail("cast");
  image_ref mem;
  mem.p = vips_image_copy_memory(canvas.p);
  if (!mem.p) fail("copy_memory");
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> colour(0, 255);
  for (int i = 0; i < 14; ++i) {
    const int x = std::uniform_int_distribution<int>(0, canvas_w - 80)(rng);
    const int y = std::uniform_int_distribution<int>(0, canvas_h - 60)(rng);
    const int w = std::uniform_int_distribution<int>(60, canvas_w - x)(rng);
    const int h = std::uniform_int_distribution<int>(40, canvas_h - y)(rng);
    double ink[3] = {double(colour(rng)), double(colour(rng)), double(colour(rng))};
    if (vips_draw_rect(mem.p, ink, 3, x, y, w, h, "fill", TRUE, nullptr) != 0) fail("draw");
  }
  image_ref sized;
  if (vips_resize(mem.p, &sized.p, double(width) / canvas_w, "vscale", double(height) / canvas_h,
                  nullptr) != 0) {
    fail("resize");
  }
  void* buf = nullptr;
  size_t len = 0;
  int rc = -1;
  if (format == "jpeg") {
    rc = vips_jpegsave_buffer(sized.p, &buf, &len, "Q", quality, nullptr);
  } else if (format == "png") {
    rc = vips_pngsave_buffer(sized.p, &buf, &len, nullptr);
  } else if (format == "webp") {
    rc = vips_webpsave_buffer(sized.p, &buf, &len, "Q", quality, nullptr);
  } else {
    throw std::invalid_argument("unknown format");
  }
  if (rc != 0) fail("save");
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

std::string make_texture(unsigned seed, int width, int height) {
  start_vips();
  image_ref bands[3];
  for (int b = 0; b < 3; ++b) {
    if (vips_gaussnoise(&bands[b].p, width, height, "sigma", 50.0, "mean", 128.0, "seed",
                        static_cast<int>(seed * 3 + b), nullptr) != 0) {
      fail("gaussnoise");
    }
  }
  VipsImage* in[3] = {bands[0].p, bands[1].p, bands[2].p};
  image_ref joined;
  if (vips_bandjoin(in, &joined.p, 3, nullptr) != 0) fail("bandjoin");
  image_ref bytes;
  if (vips_cast_uchar(joined.p, &bytes.p, nullptr) != 0) fail("cast");
  image_ref srgb;
  if (vips_copy(bytes.p, &srgb.p, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr) != 0) {
    fail("copy");
  }
  void* buf = nullptr;
  size_t len = 0;
  if (vips_jpegsave_buffer(srgb.p, &buf, &len, "Q", 90, nullptr) != 0) fail("save");
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

}  // namespace sharebox::test
