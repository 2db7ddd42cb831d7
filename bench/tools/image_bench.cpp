// Pictures for the image-intake benchmark (issue 6, scenario 8), and the decode time of the
// server's own validation on them.
//
//   image_bench generate DIR COUNT [WIDTH HEIGHT QUALITY]
//     COUNT different JPEGs (default 1600x1252, Q 90) drawn as "dead leaves": overlapping discs
//     whose radii follow a power law, the classic model of natural images (edges at every scale,
//     distinct large-scale structure per picture, so none is a duplicate of another), plus a
//     little sensor-like grain. Deterministic per index (picture i from seed i + 1).
//   image_bench analyze FILE...
//     Runs images::analyze() on each file exactly as intake does (default limits, a WebP
//     thumbnail written to a temp dir), one at a time on this thread after one warm-up call, and
//     prints one line per file ("analyze_ms NAME MS") and a summary line
//     ("analyze_summary n=N median_ms=M p99_ms=P max_ms=X").
#include <vips/vips.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "sharebox/images/image_probe.hpp"

namespace fs = std::filesystem;

namespace {

struct image_ref {
  VipsImage* p = nullptr;
  image_ref() = default;
  image_ref(const image_ref&) = delete;
  image_ref& operator=(const image_ref&) = delete;
  ~image_ref() {
    if (p) g_object_unref(p);
  }
};

[[noreturn]] void fail(const char* what) {
  std::string msg = std::string(what) + ": " + vips_error_buffer();
  vips_error_clear();
  throw std::runtime_error(msg);
}

void generate_one(const fs::path& out, unsigned seed, int width, int height, int quality) {
  std::mt19937 rng(seed * 2654435761u + 17);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // Drawn here rather than with vips_draw_circle: thousands of libvips calls per picture cost
  // seconds, a plain loop milliseconds.
  std::vector<std::uint8_t> px(static_cast<std::size_t>(width) * height * 3, 0);
  // A random palette per picture, so colours differ as much as shapes.
  std::vector<std::array<double, 3>> palette(6);
  for (auto& c : palette)
    c = {unit(rng) * 255, unit(rng) * 255, unit(rng) * 255};
  // Radii with density ~ r^-3 between rmin and rmax (inverse transform sampling); later discs
  // occlude earlier ones.
  const double rmin = 3, rmax = width / 3.0;
  for (int i = 0; i < 6000; ++i) {
    const double u = unit(rng);
    const double r = 1.0 / std::sqrt(u / (rmin * rmin) + (1 - u) / (rmax * rmax));
    const double cx = unit(rng) * width, cy = unit(rng) * height;
    const auto& base = palette[static_cast<std::size_t>(unit(rng) * palette.size())];
    const double shade = 0.6 + 0.4 * unit(rng);
    const std::uint8_t ink[3] = {static_cast<std::uint8_t>(base[0] * shade),
                                 static_cast<std::uint8_t>(base[1] * shade),
                                 static_cast<std::uint8_t>(base[2] * shade)};
    const int y0 = std::max(0, static_cast<int>(cy - r)), y1 = std::min(height - 1, int(cy + r));
    for (int y = y0; y <= y1; ++y) {
      const double dy = y - cy, half = std::sqrt(std::max(0.0, r * r - dy * dy));
      const int x0 = std::max(0, static_cast<int>(cx - half));
      const int x1 = std::min(width - 1, static_cast<int>(cx + half));
      std::uint8_t* row = px.data() + (static_cast<std::size_t>(y) * width) * 3;
      for (int x = x0; x <= x1; ++x)
        std::copy(ink, ink + 3, row + x * 3);
    }
  }
  // Grain, as in a photo: small, so the large-scale structure (and the perceptual hash) is the
  // discs'.
  std::normal_distribution<double> grain(0.0, 4.0);
  for (auto& v : px)
    v = static_cast<std::uint8_t>(std::clamp(v + grain(rng), 0.0, 255.0));
  image_ref img;
  img.p = vips_image_new_from_memory(px.data(), px.size(), width, height, 3, VIPS_FORMAT_UCHAR);
  if (!img.p) fail("new_from_memory");
  img.p->Type = VIPS_INTERPRETATION_sRGB;
  if (vips_jpegsave(img.p, out.c_str(), "Q", quality, "strip", TRUE, nullptr) != 0)
    fail("jpegsave");
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

int analyze_files(int argc, char** argv) {
  sharebox::images::initialize();
  const fs::path scratch =
      fs::temp_directory_path() / ("image_bench." + std::to_string(static_cast<long>(::getpid())));
  fs::create_directories(scratch);
  const sharebox::images::probe_limits limits;  // the server's defaults
  std::vector<double> ms;
  int bad = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path file = argv[i];
    const fs::path thumb = scratch / "thumb.webp";
    const auto run = [&] {
      const auto t = std::chrono::steady_clock::now();
      sharebox::images::analyze(file, limits, &thumb);
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t)
          .count();
    };
    try {
      if (i == 1) run();  // warm-up: libvips' loaders and the file's pages
      const double d = run();
      ms.push_back(d);
      std::printf("analyze_ms %s %.3f\n", file.filename().c_str(), d);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "image_bench: %s: %s\n", file.c_str(), e.what());
      ++bad;
    }
  }
  fs::remove_all(scratch);
  if (ms.empty()) return 1;
  std::printf("analyze_summary n=%zu median_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", ms.size(),
              percentile(ms, 50), percentile(ms, 99), *std::max_element(ms.begin(), ms.end()));
  return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (VIPS_INIT(argv[0]) != 0) return 1;
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "generate" && argc >= 4) {
      const fs::path dir = argv[2];
      const int count = std::atoi(argv[3]);
      const int w = argc > 5 ? std::atoi(argv[4]) : 1600;
      const int h = argc > 5 ? std::atoi(argv[5]) : 1252;
      const int q = argc > 6 ? std::atoi(argv[6]) : 90;
      fs::create_directories(dir);
      for (int i = 0; i < count; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "img%04d.jpg", i);
        generate_one(dir / name, static_cast<unsigned>(i + 1), w, h, q);
      }
      return 0;
    }
    if (cmd == "analyze" && argc >= 3) return analyze_files(argc - 1, argv + 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "image_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: image_bench generate DIR COUNT [WIDTH HEIGHT [QUALITY]]\n"
               "       image_bench analyze FILE...\n");
  return 2;
}
