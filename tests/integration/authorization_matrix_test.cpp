// The authorization matrix: every route the server registers (api::registered_routes(), the
// router's own table) x seven kinds of caller, each cell checked on one real server against the
// status and problem code that docs/openapi.yaml and README.md document.
//
// Columns (who calls):
//   owner        owns the resource the route acts on
//   read share   holds a read share on that file
//   write share  holds a write share on it
//   stranger     a valid key, no relation to the resource
//   revoked key  a key of the caller who would succeed (the owner; on /admin routes the
//                administrator), used once, then revoked with DELETE /admin/users/{u}/keys/{k}
//   no key       no credentials at all
//   admin        an administrator who neither owns the resource nor holds a share on it: admin
//                rights count on /admin routes only (README, Administration)
//
// What the columns mean where the resource is not a file:
//   upload       (/v1/uploads/{id}..., /tus/{id}) owner: who created it. A chunked upload here
//                replaces the owner's file, on which the share columns hold their shares: an upload
//                belongs to its creator alone, so even a write sharee of that file gets 404
//                upload_not_found. POST /v1/uploads/init naming that file: the share columns hold
//                their share on it (a write share may replace it, a read share may not).
//   notification owner: its recipient (erin, a fifth user, shared her file with them); the share
//                columns hold shares on the same file of erin's and got notifications of their own.
//   user, key    (/admin/users/{user_id}...) owner: that user, not an administrator, with their
//                own key; the other columns are as usual.
//   none         (listings, inboxes, POST /files, uploads' creation, tickets, streams) every caller
//                acts on their own things. A file the owner shared and a notification of the
//                owner's exist throughout, to check that nobody else is shown them.
//   sessions     GET and DELETE /auth/session take the browser's cookie, opened with the caller's
//                key (the revoked key's before it was revoked); POST takes the key in its body.
//   tickets      rows marked "?ticket=" open the stream with a ticket that POST /auth/ws-ticket
//                gave the caller's key (the revoked key's before it was revoked).
//
// Every cell checks: the documented status and problem code (401s with WWW-Authenticate); nothing
// of the resource in the answer to a caller who may not see it; for a 404, the same answer as for
// ids that do not exist (ids do not leak through 403 against 404); for a refused call, the
// database and the data directory exactly as before; and no change to the resource by a caller
// the row does not let change it. Rows whose call may change the resource get a fresh one per
// cell. A route the server registers without a row here, or a row naming a route it does not
// register, fails AuthorizationMatrixTable.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "sharebox/api/context.hpp"
#include "support/fixture.hpp"
#include "support/test_images.hpp"
#include "support/upload_helpers.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// ------------------------------------------------------------------------------------------
// The table

enum column : std::size_t {
  owner,
  reader,
  writer,
  stranger,
  revoked,
  no_key,
  administrator,
  columns
};
constexpr std::array<const char*, columns> column_names{
    "owner", "read share", "write share", "stranger", "revoked key", "no key", "admin"};

struct expect {
  unsigned status;
  std::string_view code;  // the problem code of an error
};
constexpr expect s101{101, ""}, s200{200, ""}, s201{201, ""}, s204{204, ""};
constexpr expect unauth{401, "unauthenticated"};
constexpr expect not_owner{403, "not_owner"}, read_only{403, "read_only_share"},
    admin_only{403, "admin_required"};
constexpr expect no_file{404, "file_not_found"}, no_upload{404, "upload_not_found"},
    no_note{404, "notification_not_found"};
constexpr expect empty_key{400, "invalid_parameter"};

using expectations = std::array<expect, columns>;
constexpr expectations everyone(expect e) {
  return {e, e, e, e, e, e, e};
}
// Any valid caller (the route acts on their own things), and 401 without valid credentials.
constexpr expectations signed_in(expect e) {
  return {e, e, e, e, unauth, unauth, e};
}
// A file's reads: the owner and both sharees; 404 for everyone else.
constexpr expectations file_readers(expect e) {
  return {e, e, e, no_file, unauth, unauth, no_file};
}
// Only the creator of an upload (or recipient of a notification) ever finds it.
constexpr expectations creator_only(expect e, expect others) {
  return {e, others, others, others, unauth, unauth, others};
}
constexpr expectations admins_only(expect e) {
  return {admin_only, admin_only, admin_only, admin_only, unauth, unauth, e};
}

// The resource a row's calls act on.
enum class kind {
  none,
  file,          // the owner's file, shared read with the reader and write with the writer
  picture,       // the same, a PNG
  notification,  // the owner's notification about erin's file (shared with all three)
  chunked,       // the owner's open chunked upload replacing such a file (no chunk yet)
  chunked_full,  // the same with every chunk received
  chunked_done,  // the same, completed
  tus_open,      // the owner's open tus upload
  tus_done,      // the owner's finished tus upload
  tus_parts,     // two finished partial tus uploads of the owner's
  user,          // a user who is not an administrator, with one key
};

enum class sends { key, cookie, nothing };  // how the caller's credential travels
enum class via { http, websocket, event_stream };

// A request, with placeholders filled per cell: {file} {upload} {part0} {part1} {note} {user}
// {key_id} (the resource's ids), {name} (a new name), {key} (the caller's key), {ticket}.
struct request_spec {
  std::string method;
  std::string target;
  header_list headers = {};
  std::string body = {};
  sends how = sends::key;
  via transport = via::http;
};

// Whether each cell gets a resource of its own: yes where the call may change it.
enum class cells { share, fresh };
constexpr auto shared = cells::share;
constexpr auto fresh = cells::fresh;

struct row {
  std::string route;  // "METHOD /pattern", exactly as the server registers it
  std::string note;   // what sets the row apart from another of the same route
  kind on;
  cells resource;
  request_spec req;
  expectations want;
  // Columns whose call may change the resource (bits by column); by default those with a
  // successful expectation on a fresh row.
  unsigned may_change = 0;
};

const header_list tus{{"Tus-Resumable", "1.0.0"}};
header_list tus_with(header_list more) {
  header_list h = tus;
  h.insert(h.end(), more.begin(), more.end());
  return h;
}
const std::string offset_stream = "application/offset+octet-stream";
const header_list json_type{{"Content-Type", "application/json"}};
const header_list text_type{{"Content-Type", "text/plain"}};

// One row per route (some routes have a second, a variant), then the seven expectations:
//   owner, read share, write share, stranger, revoked key, no key, admin.
// clang-format off
const std::vector<row>& matrix() {
  static const std::vector<row> rows = {
      // Public: credentials are not looked at.
      {"GET /health", "", kind::none, shared, {"GET", "/health"}, everyone(s200)},
      {"GET /ready", "", kind::none, shared, {"GET", "/ready"}, everyone(s200)},
      {"GET /metrics", "no --metrics-key", kind::none, shared, {"GET", "/metrics"}, everyone(s200)},
      {"GET /", "", kind::none, shared, {"GET", "/"}, everyone(s200)},
      {"GET /app/{name}", "", kind::none, shared, {"GET", "/app/app.js"}, everyone(s200)},
      {"GET /openapi.json", "", kind::none, shared, {"GET", "/openapi.json"}, everyone(s200)},
      {"GET /docs", "", kind::none, shared, {"GET", "/docs"}, everyone(s200)},
      {"GET /docs/{name}", "", kind::none, shared, {"GET", "/docs/docs.js"}, everyone(s200)},
      {"OPTIONS /tus", "", kind::none, shared, {"OPTIONS", "/tus"}, everyone(s204)},
      {"OPTIONS /tus/", "", kind::none, shared, {"OPTIONS", "/tus/"}, everyone(s204)},
      {"OPTIONS /tus/{id}", "", kind::tus_open, shared,
       {"OPTIONS", "/tus/{upload}"},
       everyone(s204)},

      // Browser sessions and stream tickets.
      {"POST /auth/session", "the key in the body", kind::none, shared,
       {"POST", "/auth/session", json_type, R"({"api_key":"{key}"})", sends::nothing},
       {s201, s201, s201, s201, unauth, empty_key, s201}},
      {"GET /auth/session", "the cookie", kind::none, shared,
       {"GET", "/auth/session", {}, {}, sends::cookie},
       signed_in(s200)},
      {"DELETE /auth/session", "the cookie", kind::none, shared,
       {"DELETE", "/auth/session", {}, {}, sends::cookie},
       everyone(s204)},
      {"POST /auth/ws-ticket", "", kind::none, shared,
       {"POST", "/auth/ws-ticket"},
       signed_in(s201)},

      // Streams: a real WebSocket upgrade; an event stream's status line and headers.
      {"GET /ws/events", "", kind::none, shared,
       {"GET", "/ws/events", {}, {}, sends::key, via::websocket},
       signed_in(s101)},
      {"GET /ws/events", "?ticket=", kind::none, shared,
       {"GET", "/ws/events?ticket={ticket}", {}, {}, sends::nothing, via::websocket},
       signed_in(s101)},
      {"GET /ws/intake", "", kind::none, shared,
       {"GET", "/ws/intake", {}, {}, sends::key, via::websocket},
       signed_in(s101)},
      {"GET /ws/intake", "?ticket=", kind::none, shared,
       {"GET", "/ws/intake?ticket={ticket}", {}, {}, sends::nothing, via::websocket},
       signed_in(s101)},
      {"GET /events", "", kind::none, shared,
       {"GET", "/events", {}, {}, sends::key, via::event_stream},
       signed_in(s200)},
      {"GET /events", "?ticket=", kind::none, shared,
       {"GET", "/events?ticket={ticket}", {}, {}, sends::nothing, via::event_stream},
       signed_in(s200)},

      // Files.
      {"POST /files", "", kind::none, shared,
       {"POST", "/files?name={name}.txt", text_type, "new file"},
       signed_in(s201)},
      {"GET /files", "", kind::none, shared, {"GET", "/files"}, signed_in(s200)},
      {"GET /files/{id}", "", kind::file, shared, {"GET", "/files/{file}"}, file_readers(s200)},
      {"GET /files/{id}", "HEAD", kind::file, shared,
       {"HEAD", "/files/{file}"},
       file_readers(s200)},
      {"GET /files/{id}/meta", "", kind::file, shared,
       {"GET", "/files/{file}/meta"},
       file_readers(s200)},
      {"GET /files/{id}/thumbnail", "", kind::picture, shared,
       {"GET", "/files/{file}/thumbnail"},
       file_readers(s200)},
      {"PUT /files/{id}", "", kind::file, fresh,
       {"PUT", "/files/{file}", {{"If-Match", "\"1\""}, text_type[0]}, "replaced"},
       {s200, read_only, s200, no_file, unauth, unauth, no_file}},
      {"DELETE /files/{id}", "", kind::file, fresh,
       {"DELETE", "/files/{file}"},
       {s204, not_owner, not_owner, no_file, unauth, unauth, no_file}},

      // Shares.
      {"POST /shares/{id}", "", kind::file, fresh,
       {"POST", "/shares/{file}", json_type, R"({"target_user_id":"erin","permission":"write"})"},
       {s201, not_owner, not_owner, no_file, unauth, unauth, no_file}},
      {"GET /shares/{id}", "", kind::file, shared,
       {"GET", "/shares/{file}"},
       {s200, not_owner, not_owner, no_file, unauth, unauth, no_file}},
      {"DELETE /shares/{id}/{user_id}", "", kind::file, fresh,
       {"DELETE", "/shares/{file}/bob"},
       {s204, not_owner, not_owner, no_file, unauth, unauth, no_file}},

      // Notifications.
      {"GET /notifications", "", kind::notification, shared,
       {"GET", "/notifications"},
       signed_in(s200)},
      {"GET /notifications/unread-count", "", kind::notification, shared,
       {"GET", "/notifications/unread-count"},
       signed_in(s200)},
      {"PATCH /notifications/read-all", "", kind::notification, fresh,
       {"PATCH", "/notifications/read-all"},
       signed_in(s200), 1u << owner},
      {"PATCH /notifications/{id}/read", "", kind::notification, fresh,
       {"PATCH", "/notifications/{note}/read"},
       creator_only(s200, no_note)},
      {"DELETE /notifications/{id}", "", kind::notification, fresh,
       {"DELETE", "/notifications/{note}"},
       creator_only(s204, no_note)},

      // The chunked upload API.
      {"POST /v1/uploads/init", "a new file", kind::none, shared,
       {"POST", "/v1/uploads/init", json_type, R"({"filename":"{name}.bin","size":10})"},
       signed_in(s201)},
      {"POST /v1/uploads/init", "replacing the file", kind::file, shared,
       {"POST", "/v1/uploads/init", json_type,
        R"({"filename":"{name}.bin","size":10,"file_id":"{file}","if_match":"\"1\""})"},
       {s201, read_only, s201, no_file, unauth, unauth, no_file}},
      {"GET /v1/uploads/{id}", "", kind::chunked, shared,
       {"GET", "/v1/uploads/{upload}"},
       creator_only(s200, no_upload)},
      {"GET /v1/uploads/{id}/missing-chunks", "", kind::chunked, shared,
       {"GET", "/v1/uploads/{upload}/missing-chunks"},
       creator_only(s200, no_upload)},
      {"PUT /v1/uploads/{id}/chunks/{index}", "", kind::chunked, fresh,
       {"PUT", "/v1/uploads/{upload}/chunks/0", {}, "0123456789"},
       creator_only(s200, no_upload)},
      {"POST /v1/uploads/{id}/complete", "", kind::chunked_full, fresh,
       {"POST", "/v1/uploads/{upload}/complete"},
       creator_only(s200, no_upload)},
      {"GET /v1/uploads/{id}/download", "", kind::chunked_done, shared,
       {"GET", "/v1/uploads/{upload}/download"},
       creator_only(s200, no_upload)},
      {"DELETE /v1/uploads/{id}", "", kind::chunked, fresh,
       {"DELETE", "/v1/uploads/{upload}"},
       creator_only(s204, no_upload)},
      {"DELETE /v1/uploads/{id}", "a tus upload's id", kind::tus_open, fresh,
       {"DELETE", "/v1/uploads/{upload}"},
       creator_only(no_upload, no_upload)},

      // tus.
      {"POST /tus", "", kind::none, shared,
       {"POST", "/tus", tus_with({{"Upload-Length", "10"}})},
       signed_in(s201)},
      {"POST /tus/", "", kind::none, shared,
       {"POST", "/tus/", tus_with({{"Upload-Length", "10"}})},
       signed_in(s201)},
      {"POST /tus/", "concatenating the owner's partial uploads", kind::tus_parts, fresh,
       {"POST", "/tus/", tus_with({{"Upload-Concat", "final;/tus/{part0} /tus/{part1}"}})},
       creator_only(s201, no_upload)},
      {"GET /tus/{id}", "a finished upload's content", kind::tus_done, shared,
       {"GET", "/tus/{upload}"},
       creator_only(s200, no_upload)},
      {"GET /tus/{id}", "HEAD", kind::tus_open, shared,
       {"HEAD", "/tus/{upload}", tus},
       creator_only(s200, no_upload)},
      {"PATCH /tus/{id}", "", kind::tus_open, fresh,
       {"PATCH", "/tus/{upload}",
        tus_with({{"Upload-Offset", "0"}, {"Content-Type", offset_stream}}), "0123456789"},
       creator_only(s204, no_upload)},
      {"DELETE /tus/{id}", "", kind::tus_open, fresh,
       {"DELETE", "/tus/{upload}", tus},
       creator_only(s204, no_upload)},

      // Administration ("owner": the user the route acts on).
      {"POST /admin/users", "", kind::none, fresh,
       {"POST", "/admin/users", json_type, R"({"name":"{name}"})"},
       admins_only(s201)},
      {"GET /admin/users", "", kind::user, shared, {"GET", "/admin/users"}, admins_only(s200)},
      {"GET /admin/users/{user_id}", "", kind::user, shared,
       {"GET", "/admin/users/{user}"},
       admins_only(s200)},
      {"PATCH /admin/users/{user_id}", "promote", kind::user, fresh,
       {"PATCH", "/admin/users/{user}", json_type, R"({"admin":true})"},
       admins_only(s200)},
      {"POST /admin/users/{user_id}/keys", "", kind::user, fresh,
       {"POST", "/admin/users/{user}/keys"},
       admins_only(s201)},
      {"DELETE /admin/users/{user_id}/keys/{key_id}", "", kind::user, fresh,
       {"DELETE", "/admin/users/{user}/keys/{key_id}"},
       admins_only(s204)},
  };
  return rows;
}
// clang-format on

std::string route_of(const api::route_info& r) {
  return std::string(bhttp::to_string(r.method)) + " " + r.pattern;
}

TEST(AuthorizationMatrixTable, HasARowForEveryRegisteredRoute) {
  std::set<std::string> rows;
  for (const auto& r : matrix())
    rows.insert(r.route);
  for (const auto& r : api::registered_routes()) {
    EXPECT_TRUE(rows.contains(route_of(r)))
        << route_of(r)
        << " is registered by the server (src/api/api.cpp build_routes) but the authorization "
           "matrix (tests/integration/authorization_matrix_test.cpp) has no row for it: add one "
           "with its documented status for each of the seven callers";
  }
}

TEST(AuthorizationMatrixTable, NamesOnlyRegisteredRoutes) {
  std::set<std::string> registered;
  for (const auto& r : api::registered_routes())
    registered.insert(route_of(r));
  for (const auto& r : matrix()) {
    EXPECT_TRUE(registered.contains(r.route))
        << "the authorization matrix has a row for " << r.route
        << ", which the server does not register (src/api/api.cpp build_routes)";
  }
}

// ------------------------------------------------------------------------------------------
// Talking to the server

// One request on its own connection, read up to the end of the answer's header block (and its
// body, when Content-Length gives its length): all there is to read of a WebSocket upgrade (101,
// after which the connection belongs to the WebSocket) and of an event stream (200, whose body
// only ends when the connection does).
response exchange_head(std::uint16_t port, const std::string& request_bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "socket");
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } guard{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::system_error(errno, std::system_category(), "connect");
  }
  for (std::size_t sent = 0; sent < request_bytes.size();) {
    const auto n =
        ::send(fd, request_bytes.data() + sent, request_bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) throw std::system_error(errno, std::system_category(), "send");
    sent += static_cast<std::size_t>(n);
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::string in;
  const auto read_more = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) {
      throw std::runtime_error("no complete answer within 10 s; got: " + in);
    }
    char buf[4096];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) throw std::runtime_error("connection closed before a complete answer: " + in);
    in.append(buf, static_cast<std::size_t>(n));
  };
  std::size_t end;
  while ((end = in.find("\r\n\r\n")) == std::string::npos)
    read_more();
  response r;
  std::size_t line_end = in.find("\r\n");
  const std::string status_line = in.substr(0, line_end);
  if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.1 ")) {
    throw std::runtime_error("not an HTTP/1.1 status line: " + status_line);
  }
  r.status = static_cast<unsigned>(std::stoul(status_line.substr(9, 3)));
  while (line_end < end) {
    const std::size_t next = in.find("\r\n", line_end + 2);
    const std::string line = in.substr(line_end + 2, next - line_end - 2);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      r.headers.add(line.substr(0, colon), value);
    }
    line_end = next;
  }
  const std::string length = r.header("Content-Length");
  if (!length.empty()) {
    const std::size_t want = end + 4 + std::stoul(length);
    while (in.size() < want)
      read_more();
    r.body = in.substr(end + 4, want - end - 4);
  }
  return r;
}

std::string random_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  std::string s(26, 'a');
  for (auto& c : s)
    c = alphabet[rng() % alphabet.size()];
  return s;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// Throws (failing the test with the whole answer) unless the setup step got `status`.
response must(response r, unsigned status, std::string_view what) {
  if (r.status != status) {
    throw std::runtime_error(std::string(what) + ": expected " + std::to_string(status) + "\n" +
                             r.describe());
  }
  return r;
}

std::string last_segment(const std::string& location) {
  return location.substr(location.rfind('/') + 1);
}

// Every row of every table, and every file in the data directory with its size and modification
// time: what a refused call must leave exactly as it was.
std::vector<std::string> rows_of(sqlite3* db, const std::string& sql,
                                 const std::vector<std::string>& params = {}) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
  }
  for (std::size_t i = 0; i < params.size(); ++i)
    sqlite3_bind_text(st, static_cast<int>(i + 1), params[i].c_str(), -1, SQLITE_TRANSIENT);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::string line;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      if (c) line += " | ";
      line += sqlite3_column_name(st, c);
      line += '=';
      if (sqlite3_column_type(st, c) == SQLITE_NULL) {
        line += "NULL";
      } else {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_blob(st, c));
        line.append(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(st, c)));
      }
    }
    out.push_back(std::move(line));
  }
  const std::string error = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db);
  sqlite3_finalize(st);
  if (!error.empty()) throw std::runtime_error(sql + ": " + error);
  std::sort(out.begin(), out.end());
  return out;
}

class database {
 public:
  explicit database(const std::filesystem::path& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      const std::string e = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("open " + path.string() + ": " + e);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~database() { sqlite3_close(db_); }
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

std::vector<std::string> diff(const std::vector<std::string>& before,
                              const std::vector<std::string>& after) {
  std::vector<std::string> out;
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::back_inserter(out));
  for (auto& l : out)
    l = "- " + l;
  std::vector<std::string> added;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(added));
  for (auto& l : added)
    out.push_back("+ " + l);
  return out;
}

std::string listing(const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < 20; ++i)
    out += "\n  " + lines[i];
  if (lines.size() > 20) out += "\n  ... (" + std::to_string(lines.size() - 20) + " more)";
  return out;
}

// ------------------------------------------------------------------------------------------
// The matrix, on one server

struct resource {
  std::string file_id;  // the file, or the file a chunked upload replaces
  std::string upload_id;
  std::vector<std::string> parts;  // partial tus uploads
  std::string notification_id;
  std::string user_id, user_key, key_id;  // a user of /admin/users/{user_id}, their key
  std::string name;                       // a new name, for rows that create something
  // Strings that only `seen_by` may be shown (ids, names, contents).
  std::vector<std::string> secrets;
  std::vector<std::string> seen_by;
};

struct caller {
  column col;
  std::string user;  // who the server will take them for ("" for the revoked key and no key)
  std::string key;
  std::string cookie;
  std::string ticket;
};

class AuthorizationMatrix : public server_test {
 protected:
  std::vector<std::string> server_args() const override {
    // Events stay in the outbox (no broker needed); tickets minted with the revoked key before
    // its revocation must outlive the whole run, so that a 401 is the revocation's doing.
    return {"--events", "off", "--ws-ticket-ttl", "3600"};
  }

  void SetUp() override {
    server_test::SetUp();
    keys_["admin"] = server().admin_key();
    for (const char* name : {"alice", "bob", "carol", "dave", "erin"}) {
      const json created = json_body(
          must(call_as("admin", "POST", "/admin/users", json{{"name", name}}.dump()), 201, "user"));
      keys_[name] = created["key"]["key"].get<std::string>();
    }
    // The revoked keys: a second key of the owner and of the administrator, each used while it
    // was valid (so that any cache knows it), the owner's also for a browser session and stream
    // tickets, then revoked over the admin API.
    const auto second_key = [&](const std::string& user) {
      const json k = json_body(
          must(call_as("admin", "POST", "/admin/users/" + user + "/keys", R"({"label":"doomed"})"),
               201, "second key"));
      return std::pair{k["key"].get<std::string>(), k["id"].get<std::string>()};
    };
    const auto [alice_doomed, alice_doomed_id] = second_key("alice");
    const auto [admin_doomed, admin_doomed_id] = second_key("admin");
    revoked_owner_key_ = alice_doomed;
    revoked_admin_key_ = admin_doomed;
    background_ = {make(kind::file), make(kind::notification)};
    must(with_key(alice_doomed, "GET", "/files"), 200, "the owner's second key");
    must(with_key(alice_doomed, "GET", "/files/" + background_[0].file_id), 200,
         "the owner's second key");
    must(with_key(admin_doomed, "GET", "/admin/users"), 200, "the admin's second key");
    revoked_cookie_ = open_session(alice_doomed);
    for (const auto& rw : matrix()) {
      if (rw.req.target.find("{ticket}") != std::string::npos)
        revoked_tickets_.push_back(mint_ticket(alice_doomed));  // one for each ticket row
    }
    must(call_as("admin", "DELETE", "/admin/users/alice/keys/" + alice_doomed_id), 204, "revoke");
    must(call_as("admin", "DELETE", "/admin/users/admin/keys/" + admin_doomed_id), 204, "revoke");
  }

  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port()); }

  response with_key(const std::string& key, const std::string& method, const std::string& target,
                    const std::string& body = {}, header_list headers = {}) {
    headers.emplace_back("Authorization", "Bearer " + key);
    return request(port(), method, target, headers, body);
  }
  response call_as(const std::string& user, const std::string& method, const std::string& target,
                   const std::string& body = {}, header_list headers = {}) {
    return with_key(keys_.at(user), method, target, body, std::move(headers));
  }

  std::string open_session(const std::string& key) {
    const response r =
        must(request(port(), "POST", "/auth/session", {{"Content-Type", "application/json"}},
                     json{{"api_key", key}}.dump()),
             201, "sign in");
    const std::string cookie = r.header("Set-Cookie");
    const auto eq = cookie.find('=');
    return cookie.substr(eq + 1, cookie.find(';') - eq - 1);
  }
  std::string mint_ticket(const std::string& key) {
    return json_body(must(with_key(key, "POST", "/auth/ws-ticket"), 201, "ticket"))["ticket"]
        .get<std::string>();
  }

  std::string new_name() { return "m" + std::to_string(++counter_) + random_id().substr(0, 10); }

  // The owner's file, shared read with bob and write with carol; content and name are secrets.
  resource shared_file(const std::string& content_type, const std::string& content,
                       const std::string& name) {
    resource r;
    r.file_id = created_id(must(
        call_as("alice", "POST", "/files?name=" + name, content, {{"Content-Type", content_type}}),
        201, "upload"));
    for (const auto& [user, perm] : {std::pair{"bob", "read"}, std::pair{"carol", "write"}}) {
      must(call_as("alice", "POST", "/shares/" + r.file_id,
                   json{{"target_user_id", user}, {"permission", perm}}.dump()),
           201, "share");
    }
    r.secrets = {r.file_id, name};
    if (content_type == "text/plain") r.secrets.push_back(content);
    r.seen_by = {"alice", "bob", "carol"};
    return r;
  }

  std::string tus_create(header_list headers, const std::string& body = {}) {
    headers.insert(headers.end(), tus.begin(), tus.end());
    if (!body.empty()) headers.emplace_back("Content-Type", offset_stream);
    return last_segment(must(call_as("alice", "POST", "/tus/", body, headers), 201, "tus creation")
                            .header("Location"));
  }

  resource make(kind k) {
    resource r;
    const std::string name = new_name();
    switch (k) {
      case kind::none:
        break;
      case kind::file:
        r = shared_file("text/plain", "content of " + name, name + ".txt");
        break;
      case kind::picture:
        r = shared_file("image/png", make_picture(counter_, 64, 64, "png"), name + ".png");
        break;
      case kind::notification: {
        // erin shares a file with all three: each gets a notification of their own.
        const std::string file = created_id(
            must(call_as("erin", "POST", "/files?name=" + name + ".txt", "erin's"), 201, "upload"));
        for (const auto& [user, perm] :
             {std::pair{"alice", "read"}, std::pair{"bob", "read"}, std::pair{"carol", "write"}}) {
          must(call_as("erin", "POST", "/shares/" + file,
                       json{{"target_user_id", user}, {"permission", perm}}.dump()),
               201, "share");
        }
        for (const auto& n : json_body(must(call_as("alice", "GET", "/notifications?limit=1000"),
                                            200, "notifications"))) {
          if (n["file_id"] == file) r.notification_id = n["id"].get<std::string>();
        }
        if (r.notification_id.empty()) throw std::runtime_error("no notification for alice");
        r.secrets = {r.notification_id};
        r.seen_by = {"alice"};
        break;
      }
      case kind::chunked:
      case kind::chunked_full:
      case kind::chunked_done: {
        r = make(kind::file);
        r.upload_id = json_body(must(call_as("alice", "POST", "/v1/uploads/init",
                                             json{{"filename", name + ".bin"},
                                                  {"size", 10},
                                                  {"file_id", r.file_id},
                                                  {"if_match", "\"1\""}}
                                                 .dump()),
                                     201, "init"))["upload_id"]
                          .get<std::string>();
        if (k != kind::chunked) {
          must(call_as("alice", "PUT", "/v1/uploads/" + r.upload_id + "/chunks/0", "abcdefghij"),
               200, "chunk");
        }
        if (k == kind::chunked_done) {
          must(call_as("alice", "POST", "/v1/uploads/" + r.upload_id + "/complete"), 200,
               "complete");
        }
        r.secrets = {r.upload_id};
        r.seen_by = {"alice"};
        break;
      }
      case kind::tus_open:
        r.upload_id = tus_create({{"Upload-Length", "10"}});
        break;
      case kind::tus_done:
        r.upload_id = tus_create({{"Upload-Length", "10"}}, "abcdefghij");
        break;
      case kind::tus_parts:
        for (int i = 0; i < 2; ++i)
          r.parts.push_back(
              tus_create({{"Upload-Length", "5"}, {"Upload-Concat", "partial"}}, "abcde"));
        break;
      case kind::user: {
        const json created =
            json_body(must(call_as("admin", "POST", "/admin/users", json{{"name", name}}.dump()),
                           201, "create user"));
        r.user_id = name;
        r.user_key = created["key"]["key"].get<std::string>();
        r.key_id = created["key"]["id"].get<std::string>();
        r.secrets = {r.key_id};
        r.seen_by = {"admin"};
        break;
      }
    }
    if (k == kind::tus_open || k == kind::tus_done || k == kind::tus_parts) {
      r.secrets = r.parts.empty() ? std::vector<std::string>{r.upload_id} : r.parts;
      r.seen_by = {"alice"};
    }
    r.name = name;
    return r;
  }

  // The same resource with ids that do not exist.
  static resource ghost_of(resource r) {
    for (auto* id : {&r.file_id, &r.upload_id, &r.notification_id}) {
      if (!id->empty()) *id = random_id();
    }
    for (auto& p : r.parts)
      p = random_id();
    return r;
  }

  caller caller_for(column c, const row& rw, const resource& res) {
    const bool admin_route = rw.route.find(" /admin/") != std::string::npos;
    caller w{c, "", "", "", ""};
    switch (c) {
      case owner:
        w.user = res.user_id.empty() ? "alice" : res.user_id;
        w.key = res.user_id.empty() ? keys_.at("alice") : res.user_key;
        break;
      case reader:
        w.user = "bob";
        break;
      case writer:
        w.user = "carol";
        break;
      case stranger:
        w.user = "dave";
        break;
      case administrator:
        w.user = "admin";
        break;
      case revoked:
        w.key = admin_route ? revoked_admin_key_ : revoked_owner_key_;
        break;
      case no_key:
      case columns:
        break;
    }
    if (w.key.empty() && !w.user.empty()) w.key = keys_.at(w.user);
    const bool valid = !w.user.empty();
    if (rw.req.how == sends::cookie) {
      if (valid) w.cookie = open_session(w.key);
      if (c == revoked) w.cookie = revoked_cookie_;
    }
    if (rw.req.target.find("{ticket}") != std::string::npos) {
      if (valid) w.ticket = mint_ticket(w.key);
      if (c == revoked) {
        w.ticket = revoked_tickets_.back();
        revoked_tickets_.pop_back();
      }
    }
    return w;
  }

  static std::string fill(std::string s, const resource& r, const caller& w) {
    replace_all(s, "{file}", r.file_id);
    replace_all(s, "{upload}", r.upload_id);
    replace_all(s, "{part0}", r.parts.empty() ? "" : r.parts[0]);
    replace_all(s, "{part1}", r.parts.size() < 2 ? "" : r.parts[1]);
    replace_all(s, "{note}", r.notification_id);
    replace_all(s, "{user}", r.user_id);
    replace_all(s, "{key_id}", r.key_id);
    replace_all(s, "{name}", r.name);
    replace_all(s, "{key}", w.key);
    replace_all(s, "{ticket}", w.ticket);
    return s;
  }

  response send(const request_spec& q, const caller& w, const resource& r) {
    std::string target = fill(q.target, r, w);
    if (target.ends_with("?ticket=")) target.resize(target.size() - 8);  // no ticket at all
    header_list h;
    for (const auto& [name, value] : q.headers)
      h.emplace_back(name, fill(value, r, w));
    if (q.how == sends::key && !w.key.empty()) h.emplace_back("Authorization", "Bearer " + w.key);
    if (q.how == sends::cookie && !w.cookie.empty()) {
      h.emplace_back("Cookie", "sharebox_session=" + w.cookie);
      h.emplace_back("Origin", origin());  // the app's own page: not a cross-site request
    }
    const std::string body = fill(q.body, r, w);
    switch (q.transport) {
      case via::http:
        return request(port(), q.method, target, h, body);
      case via::websocket:
        h.insert(h.end(), {{"Upgrade", "websocket"},
                           {"Connection", "Upgrade"},
                           {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                           {"Sec-WebSocket-Version", "13"}});
        return exchange_head(port(), raw_request_head(q.method, target, port(), h));
      case via::event_stream:
        return exchange_head(port(), raw_request_head(q.method, target, port(), h));
    }
    throw std::logic_error("unknown transport");
  }

  std::vector<std::string> snapshot() {
    const database db(server().data_dir() / "sharebox.db");
    std::vector<std::string> out;
    for (const auto& table :
         rows_of(db.get(), "SELECT name FROM sqlite_master WHERE type = 'table'")) {
      const std::string name = table.substr(table.find('=') + 1);
      for (auto& r : rows_of(db.get(), "SELECT * FROM \"" + name + "\""))
        out.push_back(name + ": " + r);
    }
    for (const auto& e : std::filesystem::recursive_directory_iterator(server().data_dir())) {
      const auto file = e.path().filename().string();
      if (!e.is_regular_file() || file.starts_with("sharebox.db")) continue;
      struct stat st {};
      if (::stat(e.path().c_str(), &st) != 0) continue;
      out.push_back("file " + e.path().lexically_relative(server().data_dir()).string() + " " +
                    std::to_string(st.st_size) + " bytes, modified " +
                    std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // The database rows that make up the resource itself.
  std::vector<std::string> fingerprint(const resource& r) {
    const database db(server().data_dir() / "sharebox.db");
    std::vector<std::string> out;
    const auto add = [&](const std::string& sql, const std::string& id) {
      if (id.empty()) return;
      for (auto& line : rows_of(db.get(), sql, {id}))
        out.push_back(std::move(line));
    };
    add("SELECT * FROM files WHERE id = ?", r.file_id);
    add("SELECT * FROM shares WHERE file_id = ?", r.file_id);
    add("SELECT * FROM uploads WHERE id = ?", r.upload_id);
    add("SELECT * FROM upload_chunks WHERE upload_id = ?", r.upload_id);
    for (const auto& p : r.parts)
      add("SELECT * FROM uploads WHERE id = ?", p);
    add("SELECT * FROM notifications WHERE id = ?", r.notification_id);
    add("SELECT * FROM users WHERE id = ?", r.user_id);
    add("SELECT * FROM api_keys WHERE user_id = ?", r.user_id);
    std::sort(out.begin(), out.end());
    return out;
  }

  void check_cell(const row& rw, column c, const resource& res) {
    SCOPED_TRACE(rw.route + (rw.note.empty() ? "" : " (" + rw.note + ")") + " as " +
                 column_names[c]);
    const caller w = caller_for(c, rw, res);
    const expect& want = rw.want[c];
    const bool head = rw.req.method == "HEAD";
    const bool refused = want.status >= 400;
    const auto state_before = refused ? snapshot() : std::vector<std::string>{};
    const auto resource_before = fingerprint(res);

    const response got = send(rw.req, w, res);

    if (refused && !head) {
      EXPECT_TRUE(is_problem(got, want.status, want.code));
    } else {
      EXPECT_TRUE(has_status(got, want.status));
    }
    if (want.status == 401) {
      EXPECT_EQ(got.header("WWW-Authenticate"), "Bearer realm=\"sharebox\"");
    }
    if (want.status == 101) {
      EXPECT_TRUE(iequals(got.header("Upgrade"), "websocket"));
    }
    if (rw.req.transport == via::event_stream && want.status == 200) {
      EXPECT_EQ(got.header("Content-Type"), "text/event-stream");
    }

    // Nothing the caller may not see, in the headers or the body.
    std::string text = got.body;
    for (const auto& [name, value] : got.headers.entries())
      text += "\n" + name + ": " + value;
    std::vector<const resource*> shown{&res};
    for (const auto& b : background_)
      shown.push_back(&b);
    for (const resource* r : shown) {
      const bool may_see =
          std::find(r->seen_by.begin(), r->seen_by.end(), w.user) != r->seen_by.end() &&
          w.col != revoked;
      for (const auto& secret : r->secrets) {
        if (!may_see) {
          EXPECT_EQ(text.find(secret), std::string::npos)
              << "the answer shows " << secret << " to " << column_names[c] << ":\n"
              << got.describe();
        }
      }
    }

    if (refused) {
      const auto changed = diff(state_before, snapshot());
      EXPECT_TRUE(changed.empty())
          << "a refused call changed the server's state:" << listing(changed);
    }
    unsigned may_change = rw.may_change;
    if (may_change == 0 && rw.resource == fresh) {
      for (std::size_t col = 0; col < columns; ++col) {
        if (rw.want[col].status < 300) may_change |= 1u << col;
      }
    }
    if ((may_change & (1u << c)) == 0) {
      const auto changed = diff(resource_before, fingerprint(res));
      EXPECT_TRUE(changed.empty()) << "the call changed the resource:" << listing(changed);
    }

    // A resource the caller cannot see answers like one that does not exist.
    if (want.status == 404) {
      const response ghost = send(rw.req, w, ghost_of(res));
      EXPECT_EQ(ghost.status, got.status) << "for ids that do not exist: " << ghost.describe();
      if (!head && ghost.status == got.status) {
        json a = json_body(got), b = json_body(ghost);
        for (auto* j : {&a, &b})
          j->erase("detail");
        EXPECT_EQ(a, b) << "the answer differs from the one for ids that do not exist";
      }
    }
  }

  std::map<std::string, std::string> keys_;
  std::string revoked_owner_key_, revoked_admin_key_, revoked_cookie_;
  std::vector<std::string> revoked_tickets_;
  // The owner's shared file and a notification of theirs, there for the whole run: what
  // listings and inboxes must show nobody else.
  std::vector<resource> background_;
  unsigned counter_ = 0;
};

TEST_F(AuthorizationMatrix, EveryRouteAndCaller) {
  const auto start = std::chrono::steady_clock::now();
  std::size_t cells = 0;
  for (const auto& rw : matrix()) {
    std::optional<resource> res;
    for (std::size_t c = 0; c < columns; ++c) {
      if (rw.resource == fresh || !res) res = make(rw.on);
      check_cell(rw, static_cast<column>(c), *res);
      ++cells;
    }
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::cout << "authorization matrix: " << matrix().size() << " rows, " << cells << " cells in "
            << took.count() << " ms\n";
}

}  // namespace
}  // namespace sharebox::test
