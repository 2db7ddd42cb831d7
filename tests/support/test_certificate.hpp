#pragma once
// A self-signed certificate made at test time with OpenSSL's C API (no openssl CLI needed).
#include <filesystem>
#include <string>

namespace sharebox::test {

struct test_certificate {
  std::filesystem::path cert;  // PEM, self-signed: also the CA file clients trust
  std::filesystem::path key;   // PEM, unencrypted
};

// Writes cert.pem and key.pem into `dir` (created if missing): an EC P-256 key and a certificate
// for CN=`common_name` valid for 127.0.0.1 and localhost, from an hour ago for a day (or, when
// `expired`, for a day that ended an hour ago).
test_certificate make_test_certificate(const std::filesystem::path& dir,
                                       const std::string& common_name = "sharebox test",
                                       bool expired = false);

}  // namespace sharebox::test
