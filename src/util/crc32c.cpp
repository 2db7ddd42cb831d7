#include "sharebox/util/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace sharebox::util {

namespace {

constexpr std::uint32_t reflected_polynomial = 0x82f63b78u;

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1u) ? (c >> 1) ^ reflected_polynomial : c >> 1;
    t[i] = c;
  }
  return t;
}

constexpr auto table = make_table();

std::uint32_t update_portable(std::uint32_t crc, const unsigned char* p, std::size_t n) {
  while (n-- > 0)
    crc = table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)

// The crc32 instruction has a latency of three cycles and a throughput of one, so one dependent
// chain runs at a third of the unit's speed. Three streams over adjacent blocks run in parallel
// and are joined afterwards, since a CRC register is linear: appending n bytes to the first
// block's register is multiplying it by x^(8n) mod P, which a 32x32 bit matrix does, here in
// four byte-indexed tables (after Mark Adler's crc32c.c).
using matrix = std::array<std::uint32_t, 32>;  // column i: the image of bit i

constexpr std::uint32_t times(const matrix& m, std::uint32_t v) {
  std::uint32_t r = 0;
  for (int i = 0; v != 0; ++i, v >>= 1)
    if (v & 1u) r ^= m[static_cast<std::size_t>(i)];
  return r;
}

constexpr matrix square(const matrix& m) {
  matrix r{};
  for (std::size_t i = 0; i < 32; ++i)
    r[i] = times(m, m[i]);
  return r;
}

// The operator that appends `bytes` zero bytes to a register (bytes a power of two).
constexpr matrix zeros_operator(std::size_t bytes) {
  matrix op{};  // one zero bit
  op[0] = reflected_polynomial;
  for (std::size_t i = 1; i < 32; ++i)
    op[i] = std::uint32_t{1} << (i - 1);
  for (std::size_t bits = 1; bits < bytes * 8; bits *= 2)
    op = square(op);
  return op;
}

using shift_table = std::array<std::array<std::uint32_t, 256>, 4>;

constexpr shift_table make_shift_table(std::size_t bytes) {
  const matrix op = zeros_operator(bytes);
  shift_table t{};
  for (std::size_t k = 0; k < 4; ++k)
    for (std::uint32_t b = 0; b < 256; ++b)
      t[k][b] = times(op, b << (8 * k));
  return t;
}

constexpr std::size_t long_block = 8192;  // per stream; L1-resident, few joins per MiB
constexpr std::size_t short_block = 256;  // for the tail of a buffer
constexpr auto long_shift = make_shift_table(long_block);
constexpr auto short_shift = make_shift_table(short_block);

std::uint32_t shift(const shift_table& t, std::uint32_t crc) {
  return t[0][crc & 0xffu] ^ t[1][(crc >> 8) & 0xffu] ^ t[2][(crc >> 16) & 0xffu] ^ t[3][crc >> 24];
}

inline std::uint64_t load(const unsigned char* p) {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

__attribute__((target("sse4.2"))) std::uint32_t three_streams(std::uint32_t crc,
                                                              const unsigned char* p,
                                                              std::size_t block,
                                                              const shift_table& t) {
  std::uint64_t c0 = crc;
  std::uint64_t c1 = 0;
  std::uint64_t c2 = 0;
  for (const unsigned char* end = p + block; p < end; p += 8) {
    c0 = _mm_crc32_u64(c0, load(p));
    c1 = _mm_crc32_u64(c1, load(p + block));
    c2 = _mm_crc32_u64(c2, load(p + 2 * block));
  }
  crc = shift(t, static_cast<std::uint32_t>(c0)) ^ static_cast<std::uint32_t>(c1);
  return shift(t, crc) ^ static_cast<std::uint32_t>(c2);
}

__attribute__((target("sse4.2"))) std::uint32_t update_sse42(std::uint32_t crc,
                                                             const unsigned char* p,
                                                             std::size_t n) {
  for (; n >= 3 * long_block; n -= 3 * long_block, p += 3 * long_block)
    crc = three_streams(crc, p, long_block, long_shift);
  for (; n >= 3 * short_block; n -= 3 * short_block, p += 3 * short_block)
    crc = three_streams(crc, p, short_block, short_shift);
  std::uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8)
    c = _mm_crc32_u64(c, load(p));
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; --n, ++p)
    c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

const bool have_sse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

void crc32c::update(const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  if (have_sse42) {
    state_ = update_sse42(state_, p, size);
    return;
  }
#endif
  state_ = update_portable(state_, p, size);
}

}  // namespace sharebox::util
