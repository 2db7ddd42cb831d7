#pragma once
// The DCT perceptual hash, on plain pixels (no libvips), private to src/images.
#include <cstdint>
#include <span>

namespace sharebox::images::detail {

// 64-bit DCT pHash of a greyscale picture (`grey` holds `width * height` bytes, row-major):
//  1. area-average the picture to 32 x 32 (aspect ratio ignored; works for pictures smaller than
//     32 too), which is also the low-pass filter;
//  2. orthonormal 2-D DCT-II in double;
//  3. keep the 8 x 8 lowest frequencies; threshold = median of the 63 AC coefficients (DC excluded:
//     it is the mean brightness and dwarfs the rest);
//  4. bit 63 - (8 * v + u) is set when coefficient (v, u) > threshold (v vertical, u horizontal
//     frequency). The DC bit is therefore set for any picture that is not black: 63 bits carry
//     the information. Coefficients within 1e-6 of zero count as zero, so a flat picture hashes to
//     a stable value instead of to rounding noise.
struct phash_result {
  std::uint64_t hash = 0;
  // How much large-scale structure the hash describes: the RMS, in grey levels, of the picture's
  // 63 lowest AC frequencies. Photos have tens; a flat or fine-textured picture (sand, noise,
  // fog) has little, and its bits are then set by small wobbles that any picture may share.
  double structure = 0;
};
phash_result dct_phash(std::span<const std::uint8_t> grey, int width, int height);

}  // namespace sharebox::images::detail
