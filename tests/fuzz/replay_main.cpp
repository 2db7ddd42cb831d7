// A stand-in for libFuzzer's main in builds without it (gcc, SHAREBOX_FUZZ=OFF): runs the
// target once on every file named, or found under a directory named, and exits 0 if none
// violated a property (a violation aborts). ctest replays each target's seed corpus and its
// regression inputs this way, so every input that ever crashed a target is a test in every build.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& p) {
  std::vector<std::filesystem::path> out;
  if (std::filesystem::is_directory(p)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(p)) {
      if (e.is_regular_file()) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());  // the same order every run
  } else {
    out.push_back(p);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("-")) continue;  // libFuzzer flags, harmless here
    if (!std::filesystem::exists(arg)) {
      std::fprintf(stderr, "replay: %s does not exist\n", arg.c_str());
      return 2;
    }
    for (const auto& path : inputs_under(arg)) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
        return 2;
      }
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      // Printed first: if the target aborts, the log names the input.
      std::fprintf(stderr, "replay: %s\n", path.c_str());
      // A copy of exactly `size` bytes on the heap, as libFuzzer gives: reads past the end are
      // what ASan would catch.
      std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
      LLVMFuzzerTestOneInput(copy.empty() ? nullptr : copy.data(), copy.size());
      ++runs;
    }
  }
  std::fprintf(stderr, "replay: %zu inputs, no property violated\n", runs);
  return 0;
}
