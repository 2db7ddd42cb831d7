#include "phash.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <stdexcept>
#include <vector>

namespace sharebox::images::detail {
namespace {

constexpr int kSide = 32;  // the picture is reduced to kSide x kSide
constexpr int kLow = 8;    // and the kLow x kLow lowest frequencies are kept
constexpr double kZero = 1e-6;

struct span_weights {
  int first = 0;                // first source sample
  std::vector<double> weights;  // for first, first + 1, ...
};

// How `n` samples are averaged down (or stretched up) to kSide: output o covers the interval
// [o * n / kSide, (o + 1) * n / kSide) and takes each source sample in proportion to the overlap.
std::array<span_weights, kSide> area_weights(int n) {
  std::array<span_weights, kSide> out;
  const double step = static_cast<double>(n) / kSide;
  for (int o = 0; o < kSide; ++o) {
    const double begin = o * step;
    const double end = (o + 1) * step;
    const int first = static_cast<int>(std::floor(begin));
    const int last = std::min(n - 1, static_cast<int>(std::ceil(end)) - 1);
    out[o].first = first;
    for (int i = first; i <= last; ++i) {
      const double overlap = std::min(end, i + 1.0) - std::max(begin, static_cast<double>(i));
      out[o].weights.push_back(std::max(0.0, overlap) / step);
    }
  }
  return out;
}

using block = std::array<std::array<double, kSide>, kSide>;

block area_resample(std::span<const std::uint8_t> grey, int width, int height) {
  const auto wx = area_weights(width);
  const auto wy = area_weights(height);
  // Rows first: height x kSide.
  std::vector<std::array<double, kSide>> rows(static_cast<std::size_t>(height));
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* row = grey.data() + static_cast<std::size_t>(y) * width;
    for (int x = 0; x < kSide; ++x) {
      double sum = 0;
      for (std::size_t k = 0; k < wx[x].weights.size(); ++k)
        sum += wx[x].weights[k] * row[wx[x].first + k];
      rows[y][x] = sum;
    }
  }
  block out{};
  for (int y = 0; y < kSide; ++y) {
    for (std::size_t k = 0; k < wy[y].weights.size(); ++k) {
      const auto& src = rows[wy[y].first + k];
      for (int x = 0; x < kSide; ++x)
        out[y][x] += wy[y].weights[k] * src[x];
    }
  }
  return out;
}

// cosines[u][x] = a(u) * cos(pi * (2x + 1) * u / (2 * kSide)), the orthonormal DCT-II basis.
std::array<std::array<double, kSide>, kLow> dct_basis() {
  std::array<std::array<double, kSide>, kLow> basis{};
  for (int u = 0; u < kLow; ++u) {
    const double scale = std::sqrt((u == 0 ? 1.0 : 2.0) / kSide);
    for (int x = 0; x < kSide; ++x) {
      basis[u][x] = scale * std::cos(std::numbers::pi * (2 * x + 1) * u / (2.0 * kSide));
    }
  }
  return basis;
}

}  // namespace

phash_result dct_phash(std::span<const std::uint8_t> grey, int width, int height) {
  if (width < 1 || height < 1 ||
      grey.size() < static_cast<std::size_t>(width) * static_cast<std::size_t>(height)) {
    throw std::invalid_argument("dct_phash: the pixel buffer does not match its size");
  }
  const block pixels = area_resample(grey, width, height);
  static const auto basis = dct_basis();

  // Separable 2-D DCT, only the kLow x kLow low frequencies: along rows, then along columns.
  std::array<std::array<double, kLow>, kSide> along_rows{};  // [y][u]
  for (int y = 0; y < kSide; ++y) {
    for (int u = 0; u < kLow; ++u) {
      double sum = 0;
      for (int x = 0; x < kSide; ++x)
        sum += basis[u][x] * pixels[y][x];
      along_rows[y][u] = sum;
    }
  }
  std::array<double, kLow * kLow> coefficients{};  // [v * kLow + u]
  for (int v = 0; v < kLow; ++v) {
    for (int u = 0; u < kLow; ++u) {
      double sum = 0;
      for (int y = 0; y < kSide; ++y)
        sum += basis[v][y] * along_rows[y][u];
      coefficients[v * kLow + u] = std::abs(sum) < kZero ? 0.0 : sum;
    }
  }

  // Median of the 63 AC coefficients (an odd count: the median is one of them).
  std::array<double, kLow * kLow - 1> ac{};
  std::copy(coefficients.begin() + 1, coefficients.end(), ac.begin());
  std::nth_element(ac.begin(), ac.begin() + ac.size() / 2, ac.end());
  const double median = ac[ac.size() / 2];

  phash_result out;
  double energy = 0;
  for (std::size_t i = 0; i < coefficients.size(); ++i) {
    if (coefficients[i] > median) out.hash |= std::uint64_t{1} << (63 - i);
    if (i != 0) energy += coefficients[i] * coefficients[i];
  }
  // Orthonormal DCT: the coefficients' energy is the pixels' energy, spread over kSide^2 pixels.
  out.structure = std::sqrt(energy / (kSide * kSide));
  return out;
}

}  // namespace sharebox::images::detail
