#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sharebox/util/crc32c.hpp"

namespace sharebox::util {

// Cryptographically random bytes (OpenSSL RAND_bytes); throws if the RNG fails.
std::string random_bytes(std::size_t n);

// A random 128-bit id as 26 lower-case base32 characters: URL-safe, case-insensitive-FS-safe.
std::string new_id();
bool is_valid_id(std::string_view s) noexcept;
// new_id's encoding of 16 given bytes, into `out` (which keeps its capacity): for callers that
// draw random bytes in bulk.
void encode_id(std::string_view bytes16, std::string& out);

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

enum class hash_algorithm { md5, sha1, sha256, sha512, crc32c };
// "md5", "sha1", "sha256"/"sha-256", "sha512"/"sha-512", "crc32c" (case-insensitive).
std::optional<hash_algorithm> parse_hash_algorithm(std::string_view name) noexcept;

// Incremental digest of any supported algorithm. Copyable, so a running hash can be forked:
// one copy goes on with a request's bytes and replaces the original only if the request
// succeeds.
class hasher {
 public:
  explicit hasher(hash_algorithm a);
  ~hasher();
  hasher(const hasher& other);
  hasher& operator=(const hasher& other);
  hasher(hasher&&) noexcept;
  hasher& operator=(hasher&&) noexcept;

  void update(const void* data, std::size_t size);
  // The raw digest (CRC-32C: 4 bytes, big-endian, as RFC 9530 encodes it). The hasher is spent
  // afterwards.
  std::string finish();
  hash_algorithm algorithm() const noexcept { return algorithm_; }

 private:
  struct ctx_deleter {
    void operator()(void* p) const noexcept;
  };
  hash_algorithm algorithm_;
  std::unique_ptr<void, ctx_deleter> ctx_;  // null for CRC-32C, which OpenSSL does not have
  crc32c crc_;
};

// Constant-time comparison (CRYPTO_memcmp) of equal-length byte strings.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace sharebox::util
