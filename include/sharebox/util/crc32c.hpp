#pragma once
#include <cstddef>
#include <cstdint>

namespace sharebox::util {

// CRC-32C (Castagnoli, RFC 9260 appendix A): the per-chunk integrity check of the chunked
// upload API. It catches transfer damage at a fraction of SHA-256's cost (SSE4.2 where the CPU
// has it), so a chunk can be checked without hashing its bytes twice; the file's SHA-256 stays
// the end-to-end proof.
class crc32c {
 public:
  void update(const void* data, std::size_t size) noexcept;
  std::uint32_t value() const noexcept { return ~state_; }

 private:
  std::uint32_t state_ = 0xffffffffu;
};

}  // namespace sharebox::util
