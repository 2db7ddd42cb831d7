#pragma once
// Pictures made at test time with libvips, for the image intake tests.
#include <string>
#include <string_view>

namespace sharebox::test {

// A width x height picture of random coloured rectangles: the same seed gives the same
// picture (at any size or in any format), different seeds clearly different pictures.
// `format`: "jpeg", "png" or "webp". Returns the encoded bytes.
std::string make_picture(unsigned seed, int width, int height, std::string_view format,
                         int quality = 90);

// A width x height JPEG of fine colour noise (sand, gravel, fog): different seeds are different
// pictures, yet their perceptual hashes are alike, for want of large-scale structure.
std::string make_texture(unsigned seed, int width, int height);

}  // namespace sharebox::test
