// The first bytes a client sends to a TLS port (src/transport/http_session.cpp accept_tls,
// src/transport/tls.cpp): Beast's detect_ssl as the session runs it (into the session's read
// buffer, however the bytes arrive), then the TLS handshake with the server's own context
// (make_tls_context: its options, ciphers and ALPN callback), fed the whole first flight.
// Input: the client's first flight.
//
// Properties:
//  - the verdict (TLS or not) and its error do not depend on how the bytes are split into reads;
//  - detection consumes nothing: the buffer holds exactly the first bytes sent, so the
//    handshake (or the plain-HTTP refusal) sees them all;
//  - an HTTP request line (a method's letters first) is never taken for a TLS client hello;
//  - the handshake never selects an ALPN protocol but http/1.1.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <filesystem>

#include <boost/beast/_experimental/test/stream.hpp>

#include "fuzz_support.hpp"
#include "sharebox/http/beast.hpp"
#include "sharebox/transport/tls.hpp"
#include "support/test_certificate.hpp"

namespace {

using namespace sharebox;

std::unique_ptr<asio::ssl::context> server_context;

struct detection {
  bool hello = false;
  error_code ec;
  std::string buffered;  // what the session's buffer holds afterwards
  bool same_verdict(const detection& o) const { return hello == o.hello && ec == o.ec; }
};

detection detect(std::string_view bytes, std::size_t read_size) {
  asio::io_context ioc;
  beast::test::stream client(ioc);
  client.append(bytes);
  client.read_size(read_size);
  client.close_remote();  // then end of stream, as from a client that sent this and waits
  beast::flat_buffer buffer;
  detection d;
  beast::async_detect_ssl(client, buffer, [&](error_code ec, bool hello) {
    d.ec = ec;
    d.hello = hello;
  });
  ioc.run();
  d.buffered = beast::buffers_to_string(buffer.data());
  return d;
}

// The handshake's first step, as the server's SSL stream takes it, over memory BIOs; returns the
// ALPN protocol selected (empty if none).
std::string handshake(std::string_view first_flight) {
  SSL* ssl = SSL_new(server_context->native_handle());
  FUZZ_CHECK(ssl != nullptr);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);  // the SSL owns both now
  SSL_set_accept_state(ssl);
  if (!first_flight.empty()) {
    BIO_write(in, first_flight.data(), static_cast<int>(first_flight.size()));
  }
  SSL_do_handshake(ssl);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  std::string selected(reinterpret_cast<const char*>(alpn), alpn ? alpn_len : 0);
  SSL_free(ssl);
  ERR_clear_error();
  return selected;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A certificate made here (EC P-256), loaded as the server loads --tls-cert/--tls-key.
  const auto dir =
      std::filesystem::temp_directory_path() / ("sharebox-fuzz-tls-" + std::to_string(::getpid()));
  const auto cert = test::make_test_certificate(dir);
  server_context = transport::make_tls_context(cert.cert, cert.key);
  std::filesystem::remove_all(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = fuzz::as_text(data, size);
  fuzz::input_random rnd(bytes);

  const detection whole = detect(bytes, 1 << 20);
  for (const std::size_t read_size : {std::size_t{1}, 1 + rnd.below(16), std::size_t{1 << 20}}) {
    const detection d = read_size == (1 << 20) ? whole : detect(bytes, read_size);
    FUZZ_CHECK(d.same_verdict(whole));
    FUZZ_CHECK(std::string_view(d.buffered) == bytes.substr(0, d.buffered.size()));
    // A verdict of TLS needs the record and handshake headers (9 bytes) in the buffer.
    if (d.hello) FUZZ_CHECK(d.buffered.size() >= 9);
  }
  if (!bytes.empty() &&
      ((bytes[0] >= 'A' && bytes[0] <= 'Z') || (bytes[0] >= 'a' && bytes[0] <= 'z'))) {
    FUZZ_CHECK(!whole.hello);
  }
  if (whole.hello) {
    FUZZ_CHECK(!whole.ec);
    FUZZ_CHECK(static_cast<unsigned char>(bytes[0]) == 0x16);
    const std::string alpn = handshake(bytes);
    FUZZ_CHECK(alpn.empty() || alpn == "http/1.1");
  }
  return 0;
}
