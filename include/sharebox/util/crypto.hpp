#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sharebox::util {

// Cryptographically random bytes (OpenSSL RAND_bytes); throws if the RNG fails.
std::string random_bytes(std::size_t n);

// A random 128-bit id as 26 lower-case base32 characters: URL-safe, case-insensitive-FS-safe.
std::string new_id();
bool is_valid_id(std::string_view s) noexcept;

// Incremental SHA-256 (OpenSSL EVP). Hashing is on the upload hot path: feed large pieces.
class sha256 {
 public:
  using digest = std::array<std::uint8_t, 32>;
  sha256();
  ~sha256();
  sha256(sha256&&) noexcept;
  sha256& operator=(sha256&&) noexcept;
  void update(const void* data, std::size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  digest finish();

  static digest of(std::string_view s);

 private:
  struct ctx_deleter {
    void operator()(void* p) const noexcept;
  };
  std::unique_ptr<void, ctx_deleter> ctx_;
};

// Constant-time comparison (CRYPTO_memcmp) of equal-length byte strings.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace sharebox::util
