#pragma once
// The listen port's TLS configuration: a server context built once at start from PEM files.
#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace sharebox::transport {

// A TLS 1.2+ server context with modern ciphers (forward secrecy and AEAD only, the server's
// preference), ALPN http/1.1, the certificate chain `cert_chain` (leaf first) and the private
// key `key`. Throws std::runtime_error naming the file when one cannot be read or parsed, the key
// is encrypted, or the key does not belong to the certificate.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const std::filesystem::path& cert_chain,
                                                            const std::filesystem::path& key);

// "subject ..., expires ..." of the context's certificate, for the startup log. Sets `expired`
// when its notAfter has passed.
std::string describe_certificate(boost::asio::ssl::context& ctx, bool& expired);

}  // namespace sharebox::transport
