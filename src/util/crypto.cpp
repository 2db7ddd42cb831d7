#include "sharebox/util/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace sharebox::util {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

namespace {
constexpr std::string_view base32_alphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::size_t id_length = 26;  // ceil(128 / 5)
}  // namespace

void encode_id(std::string_view bytes16, std::string& out) {
  out.clear();
  out.reserve(id_length);
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes16) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(base32_alphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(base32_alphabet[(buffer << (5 - bits)) & 31]);
}

std::string new_id() {
  std::string out;
  encode_id(random_bytes(16), out);
  return out;
}

bool is_valid_id(std::string_view s) noexcept {
  return s.size() == id_length && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
         });
}

void sha256::ctx_deleter::operator()(void* p) const noexcept {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(p));
}

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ ||
      EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_.get()), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP sha256 init failed");
  }
}
sha256::~sha256() = default;
sha256::sha256(sha256&&) noexcept = default;
sha256& sha256::operator=(sha256&&) noexcept = default;

void sha256::update(const void* data, std::size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_.get()), data, size);
}

sha256::digest sha256::finish() {
  digest d{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_.get()), d.data(), &len);
  return d;
}

sha256::digest sha256::of(std::string_view s) {
  // Called per request for API keys: the digest is fetched once and each thread keeps its
  // context, since setting both up per call costs ten times the hashing of a key.
  struct digest_context {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~digest_context() {
      EVP_MD_CTX_free(ctx);
      EVP_MD_free(md);
    }
  };
  thread_local digest_context d;
  digest out{};
  unsigned int len = 0;
  if (!d.md || !d.ctx || EVP_DigestInit_ex2(d.ctx, d.md, nullptr) != 1 ||
      EVP_DigestUpdate(d.ctx, s.data(), s.size()) != 1 ||
      EVP_DigestFinal_ex(d.ctx, out.data(), &len) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

std::optional<hash_algorithm> parse_hash_algorithm(std::string_view name) noexcept {
  std::string n;
  for (char c : name)
    n.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (n == "md5") return hash_algorithm::md5;
  if (n == "sha1") return hash_algorithm::sha1;
  if (n == "sha256" || n == "sha-256") return hash_algorithm::sha256;
  if (n == "sha512" || n == "sha-512") return hash_algorithm::sha512;
  if (n == "crc32c") return hash_algorithm::crc32c;
  return std::nullopt;
}

namespace {

const EVP_MD* md_of(hash_algorithm a) {
  switch (a) {
    case hash_algorithm::md5:
      return EVP_md5();
    case hash_algorithm::sha1:
      return EVP_sha1();
    case hash_algorithm::sha256:
      return EVP_sha256();
    case hash_algorithm::sha512:
      return EVP_sha512();
    case hash_algorithm::crc32c:
      break;
  }
  return EVP_sha256();
}

}  // namespace

void hasher::ctx_deleter::operator()(void* p) const noexcept {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(p));
}

hasher::hasher(hash_algorithm a) : algorithm_(a) {
  if (a == hash_algorithm::crc32c) return;
  ctx_.reset(EVP_MD_CTX_new());
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_.get()), md_of(a), nullptr) != 1) {
    throw std::runtime_error("EVP digest init failed");
  }
}
hasher::~hasher() = default;
hasher::hasher(hasher&&) noexcept = default;
hasher& hasher::operator=(hasher&&) noexcept = default;

hasher::hasher(const hasher& other) : algorithm_(other.algorithm_), crc_(other.crc_) {
  if (!other.ctx_) return;
  ctx_.reset(EVP_MD_CTX_new());
  if (!ctx_ || EVP_MD_CTX_copy_ex(static_cast<EVP_MD_CTX*>(ctx_.get()),
                                  static_cast<const EVP_MD_CTX*>(other.ctx_.get())) != 1) {
    throw std::runtime_error("EVP digest copy failed");
  }
}

hasher& hasher::operator=(const hasher& other) {
  if (this != &other) *this = hasher(other);
  return *this;
}

void hasher::update(const void* data, std::size_t size) {
  if (!ctx_) return crc_.update(data, size);
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_.get()), data, size);
}

std::string hasher::finish() {
  if (!ctx_) {
    const std::uint32_t v = crc_.value();
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
  }
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_.get()), d, &len);
  return std::string(reinterpret_cast<const char*>(d), len);
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace sharebox::util
