#include "support/upload_helpers.hpp"

#include <openssl/evp.h>
#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <utility>

namespace sharebox::test {

std::string to_base64(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                   static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                   static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    for (const int shift : {18, 12, 6, 0})
      out += alphabet[(n >> shift) & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string raw_digest(std::string_view algorithm, std::string_view data) {
  const EVP_MD* md = EVP_get_digestbyname(std::string(algorithm).c_str());
  if (md == nullptr) throw std::invalid_argument("unknown digest " + std::string(algorithm));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out, &len) != 1) {
    throw std::runtime_error("digest failed");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string raw_request_head(std::string_view method, std::string_view target, std::uint16_t port,
                             const header_list& headers) {
  std::string out = std::string(method) + " " + std::string(target) +
                    " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n";
  for (const auto& [n, v] : headers)
    out += n + ": " + v + "\r\n";
  return out + "\r\n";
}

held_request::held_request(std::uint16_t port, std::string method, std::string target,
                           header_list headers, std::uint64_t content_length)
    : conn_(port),
      method_(std::move(method)),
      target_(std::move(target)),
      headers_(std::move(headers)),
      content_length_(content_length) {}

response held_request::start() {
  header_list h = headers_;
  h.emplace_back("Content-Length", std::to_string(content_length_));
  h.emplace_back("Expect", "100-continue");
  conn_.send_raw(raw_request_head(method_, target_, conn_.port(), h));
  return conn_.read_response();
}

void held_request::send(std::string_view bytes) {
  conn_.send_raw(bytes);
}

response held_request::finish(std::string_view rest) {
  conn_.send_raw(rest);
  return conn_.read_response(method_ == "HEAD");
}

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t count_files_under(const std::filesystem::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) ++n;
  }
  return n;
}

std::vector<std::string> query_column(const std::filesystem::path& db, const std::string& sql,
                                      const std::vector<std::string>& params) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn(raw, sqlite3_close);
  const auto fail = [&](const char* what) {
    throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(conn.get()) + " (" + sql +
                             ")");
  };
  if (rc != SQLITE_OK) fail("open");
  sqlite3_busy_timeout(conn.get(), 5000);
  sqlite3_stmt* stmt_raw = nullptr;
  if (sqlite3_prepare_v2(conn.get(), sql.c_str(), -1, &stmt_raw, nullptr) != SQLITE_OK) {
    fail("prepare");
  }
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(stmt_raw, sqlite3_finalize);
  for (std::size_t i = 0; i < params.size(); ++i) {
    sqlite3_bind_text(stmt.get(), static_cast<int>(i + 1), params[i].c_str(), -1, SQLITE_TRANSIENT);
  }
  std::vector<std::string> out;
  for (;;) {
    const int step = sqlite3_step(stmt.get());
    if (step == SQLITE_DONE) break;
    if (step != SQLITE_ROW) fail("step");
    const auto* text = sqlite3_column_text(stmt.get(), 0);
    out.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
  }
  return out;
}

void upload_fixture::SetUp() {
  alice_test::SetUp();
  a_.emplace(alice());
}

std::filesystem::path upload_fixture::uploads_dir() const {
  return server_->data_dir() / "uploads";
}

std::filesystem::path upload_fixture::staged(const std::string& upload_id) const {
  return uploads_dir() / upload_id;
}

std::filesystem::path upload_fixture::blobs_dir() const {
  return server_->data_dir() / "blobs";
}

std::filesystem::path upload_fixture::db() const {
  return server_->data_dir() / "sharebox.db";
}

std::size_t upload_fixture::file_count() {
  const response r = a().list();
  if (r.status != 200) throw std::runtime_error("GET /files failed\n" + r.describe());
  return json_body(r).size();
}

std::vector<std::string> upload_fixture::outbox_types(const std::string& file_id) const {
  return query_column(db(), "SELECT type FROM outbox WHERE file_id = ? ORDER BY seq", {file_id});
}

std::vector<std::string> upload_fixture::upload_rows() const {
  return query_column(db(), "SELECT id FROM uploads ORDER BY id");
}

}  // namespace sharebox::test
