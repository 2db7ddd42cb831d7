#include "support/test_certificate.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <system_error>

namespace sharebox::test {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void openssl_failure(const char* what) {
  throw std::runtime_error(std::string("test certificate: ") + what + " failed");
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) openssl_failure("X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

void write_pem(const fs::path& path, const std::function<int(FILE*)>& write) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::system_error(errno, std::generic_category(), path.string());
  const int ok = write(f);
  std::fclose(f);
  if (ok != 1) openssl_failure("PEM write");
}

}  // namespace

test_certificate make_test_certificate(const fs::path& dir, const std::string& common_name,
                                       bool expired) {
  fs::create_directories(dir);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) openssl_failure("EVP_EC_gen");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(std::rand() & 0x7fffffff));
  X509_set_version(cert, 2);
  const long start = expired ? -25 * 3600 : -3600;
  X509_gmtime_adj(X509_getm_notBefore(cert), start);
  X509_gmtime_adj(X509_getm_notAfter(cert), start + 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  // What `openssl req -x509` makes, plus the names the tests connect to.
  add_extension(cert, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert, NID_subject_key_identifier, "hash");
  add_extension(cert, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  if (X509_sign(cert, key, EVP_sha256()) == 0) openssl_failure("X509_sign");

  test_certificate out{dir / "cert.pem", dir / "key.pem"};
  write_pem(out.cert, [&](FILE* f) { return PEM_write_X509(f, cert); });
  write_pem(out.key, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace sharebox::test
