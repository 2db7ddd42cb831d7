// Image validation on arbitrary bytes (src/images/image_probe.cpp, libvips): what image intake
// and thumbnails run on every upload. Input: a file's bytes (bounded: -max_len=65536).
//
// Properties:
//  - a file is refused only with image_error (unsupported_type, corrupt, too_large); any other
//    exception would be a failed check ("internal" to the client, an error in the log);
//  - unsupported_type exactly when the leading bytes announce none of the five formats;
//  - an accepted file has the format its bytes announce, a size within the pixel limit, and a
//    thumbnail that is itself an acceptable WEBP of at most 256 pixels a side;
//  - sniffing reads only the bytes it is given.
//
// The pixel limit is 4 megapixels here (40 in the server) so that each input stays fast; the
// code paths are the same.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fuzz_support.hpp"
#include "sharebox/images/image_probe.hpp"

namespace {

using namespace sharebox;
namespace fs = std::filesystem;

fs::path work_dir;

void remove_work_dir() {
  std::error_code ignored;
  fs::remove_all(work_dir, ignored);
}

void write_file(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(out.good());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  images::initialize();
  std::string templ = (fs::temp_directory_path() / "sharebox-fuzz-image-XXXXXX").string();
  FUZZ_CHECK(::mkdtemp(templ.data()) != nullptr);
  work_dir = templ;
  std::atexit(remove_work_dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = fuzz::as_text(data, size);
  // Only the first 32 bytes matter; a copy of exactly that many catches reads past them.
  const std::vector<std::byte> head(
      reinterpret_cast<const std::byte*>(data),
      reinterpret_cast<const std::byte*>(data) + std::min<std::size_t>(size, 32));
  const auto sniffed = images::sniff(head);

  const fs::path input = work_dir / "input";
  const fs::path thumb = work_dir / "thumb.webp";
  write_file(input, bytes);
  std::error_code ignored;
  fs::remove(thumb, ignored);

  images::probe_limits limits;
  limits.max_pixels = 4'000'000;
  std::optional<images::analysis> a;
  try {
    a = images::analyze(input, limits, &thumb);
  } catch (const images::image_error& e) {
    FUZZ_CHECK((e.code() == images::rejection::unsupported_type) == !sniffed);
    FUZZ_CHECK(!fs::exists(thumb));
    return 0;
  }
  FUZZ_CHECK(sniffed && a->fmt == *sniffed);
  FUZZ_CHECK(a->width > 0 && a->height > 0);
  FUZZ_CHECK(static_cast<std::uint64_t>(a->width) * static_cast<std::uint64_t>(a->height) <=
             limits.max_pixels);
  const auto t = images::analyze(thumb, limits);
  FUZZ_CHECK(t.fmt == images::format::webp);
  FUZZ_CHECK(t.width <= 256 && t.height <= 256);
  return 0;
}
