#include "sharebox/transport/tls.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace sharebox::transport {

namespace {

namespace ssl = boost::asio::ssl;

// Mozilla's "intermediate" TLS 1.2 suites: ECDHE key exchange and AEAD ciphers only. TLS 1.3
// suites are OpenSSL's defaults, all of them strong.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Read here rather than by OpenSSL from the path, so that a missing or unreadable file is
// reported with the system's reason instead of a generic library error.
std::string read_file(const std::filesystem::path& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw std::runtime_error(std::string("cannot read the TLS ") + what + " " + path.string() +
                             ": " + std::generic_category().message(err));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The first reason OpenSSL gave (its error queue is cleared), else `ec`'s.
std::string openssl_reason(const boost::system::error_code& ec) {
  const unsigned long first = ERR_peek_error();
  ERR_clear_error();
  if (first != 0) {
    const char* reason = ERR_reason_error_string(first);
    if (reason != nullptr) return reason;
  }
  return ec.message();
}

// ALPN: this server speaks HTTP/1.1 only. A client offering only other protocols gets no ALPN
// answer rather than a failed handshake.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                unsigned int in_len, void*) {
  static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, http11, sizeof http11, in, in_len) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// An encrypted key would make OpenSSL prompt on the terminal: with no password it fails instead.
int no_password(char*, int, int, void*) {
  return 0;
}

std::string asn1_time_text(const ASN1_TIME* t) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "?";
  std::string text = "?";
  if (ASN1_TIME_print(bio, t) == 1) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n > 0) text.assign(data, static_cast<std::size_t>(n));
  }
  BIO_free(bio);
  return text;
}

std::string name_text(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "?";
  std::string text = "?";
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n >= 0) text.assign(data, static_cast<std::size_t>(n));
  }
  BIO_free(bio);
  return text;
}

}  // namespace

std::unique_ptr<ssl::context> make_tls_context(const std::filesystem::path& cert_chain,
                                               const std::filesystem::path& key) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use | ssl::context::no_compression);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native, tls12_ciphers) != 1) {
    throw std::runtime_error("TLS: the cipher list is not supported by this OpenSSL");
  }
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);

  const std::string chain = read_file(cert_chain, "certificate");
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(chain), ec);
  if (ec) {
    throw std::runtime_error("the TLS certificate " + cert_chain.string() +
                             " is not a usable PEM certificate chain: " + openssl_reason(ec));
  }
  // Parsed apart from its use, so that an unparsable key and a key of another certificate get
  // their own messages.
  const std::string pem_key = read_file(key, "key");
  BIO* bio = BIO_new_mem_buf(pem_key.data(), static_cast<int>(pem_key.size()));
  EVP_PKEY* pkey =
      bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, no_password, nullptr) : nullptr;
  BIO_free(bio);
  if (pkey == nullptr) {
    // OpenSSL's reason here ("unsupported", whatever the file held) would only mislead.
    ERR_clear_error();
    throw std::runtime_error("the TLS key " + key.string() +
                             " is not a usable unencrypted PEM private key");
  }
  const int used = SSL_CTX_use_PrivateKey(native, pkey);
  EVP_PKEY_free(pkey);
  if (used != 1) {
    ERR_clear_error();
    throw std::runtime_error("the TLS key " + key.string() +
                             " does not belong to the certificate in " + cert_chain.string());
  }
  return ctx;
}

std::string describe_certificate(ssl::context& ctx, bool& expired) {
  X509* cert = SSL_CTX_get0_certificate(ctx.native_handle());
  expired = false;
  if (cert == nullptr) return "no certificate";
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  expired = X509_cmp_current_time(not_after) < 0;
  return "subject " + name_text(X509_get_subject_name(cert)) + ", expires " +
         asn1_time_text(not_after);
}

}  // namespace sharebox::transport
