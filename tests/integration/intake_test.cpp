// /ws/intake over real sockets: the protocol of docs/ws-intake.md end to end, with pictures made
// at test time, against the real server.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "support/api_client.hpp"
#include "support/fixture.hpp"
#include "support/test_images.hpp"
#include "support/ws_client.hpp"

namespace sharebox::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

// The intake protocol's side of a client (docs/ws-intake.md), on a blocking WebSocket.
class intake_client : public ws_client {
 public:
  intake_client(std::uint16_t port, const std::string& target, header_list headers = {})
      : ws_client(port, target, std::move(headers)) {
    hello_ = next(5s).value_or(json());
  }

  const json& hello() const { return hello_; }

  void announce(const std::string& id, const std::string& name, std::optional<std::size_t> size) {
    json m{{"type", "file"}, {"client_file_id", id}, {"name", name}};
    if (size) m["size"] = *size;
    text(m.dump());
  }

  // The next message of `type` for `id`, skipping progress; nullopt on timeout.
  std::optional<json> next_of(const std::string& type, const std::string& id,
                              std::chrono::milliseconds timeout = 15s) {
    auto m = next_matching([&](const json& j) { return !note_progress(j); }, timeout);
    if (m && ((*m)["type"] != type || m->value("client_file_id", "") != id)) {
      ADD_FAILURE() << "unexpected message while waiting for " << type << ": " << m->dump();
      return std::nullopt;
    }
    return m;
  }

  // The first answer about `id` after its announcement: `ready` or a verdict.
  std::optional<json> next_of_any(const std::string& id) {
    auto m = next_matching([&](const json& j) { return !note_progress(j); }, 15s);
    if (m) {
      EXPECT_EQ(m->value("client_file_id", ""), id) << m->dump();
    }
    return m;
  }

  // Announce, wait for ready, send, wait for the verdict.
  json send_file(const std::string& id, const std::string& name, const std::string& bytes) {
    announce(id, name, bytes.size());
    auto first = next_of_any(id);
    if (!first) return json();
    if ((*first)["type"] == "verdict") return *first;  // refused at the announcement
    EXPECT_EQ((*first)["type"], "ready") << first->dump();
    binary(bytes);
    return next_of("verdict", id).value_or(json());
  }

  const std::vector<std::uint64_t>& progress() const { return progress_; }

 private:
  bool note_progress(const json& m) {
    if (m["type"] != "progress") return false;
    progress_.push_back(m["received"].get<std::uint64_t>());
    return true;
  }

  json hello_;
  std::vector<std::uint64_t> progress_;
};

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng());
  return s;
}

bool is_rejected(const json& v, std::string_view code) {
  return v.is_object() && v.value("accepted", true) == false && v.value("code", "") == code &&
         !v.value("message", "").empty();
}

class Intake : public alice_test {
 protected:
  std::string ticket() {
    const auto r = alice().send("POST", "/auth/ws-ticket");
    EXPECT_TRUE(has_status(r, 201));
    return json_body(r)["ticket"];
  }
  std::unique_ptr<intake_client> connect() {
    return std::make_unique<intake_client>(port(), "/ws/intake?ticket=" + ticket());
  }
  // Files in the data dir's temp area: intake must leave none behind.
  std::size_t temp_files() {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(server().data_dir() / "tmp")) {
      (void)e;
      ++n;
    }
    return n;
  }
  bool wait_for_no_temp_files(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (temp_files() != 0) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }
  json files() { return json_body(alice().list()); }
};

TEST_F(Intake, SessionOpensWithItsLimits) {
  const std::string t = ticket();
  auto c = std::make_unique<intake_client>(port(), "/ws/intake?ticket=" + t);
  EXPECT_EQ(c->hello()["type"], "session");
  EXPECT_EQ(c->hello()["limits"]["max_file_bytes"], 5 * 1024 * 1024);
  EXPECT_EQ(c->hello()["limits"]["max_files"], 10);
  // The access log shows the request, but not the ticket: a credential, however short-lived.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server().stderr_text().find("/ws/intake?ticket=REDACTED") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    c->vanish();  // the access line is written when the connection ends
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(server().stderr_text().find("/ws/intake?ticket=REDACTED"), std::string::npos);
  EXPECT_EQ(server().stderr_text().find(t), std::string::npos);
}

TEST_F(Intake, AcceptedImageBecomesAFileWithDimensionsAndThumbnail) {
  auto c = connect();
  const auto jpeg = make_picture(1, 640, 480, "jpeg");
  const auto v = c->send_file("f1", "cat.jpg", jpeg);
  ASSERT_TRUE(v.value("accepted", false)) << v.dump();
  EXPECT_EQ(v["client_file_id"], "f1");
  const auto& f = v["file"];
  EXPECT_TRUE(is_file_object(f));
  EXPECT_EQ(f["name"], "cat.jpg");
  EXPECT_EQ(f["size"], jpeg.size());
  EXPECT_EQ(f["content_type"], "image/jpeg");
  EXPECT_EQ(f["image"], (json{{"width", 640}, {"height", 480}, {"format", "jpeg"}}));
  ASSERT_FALSE(c->progress().empty());
  EXPECT_EQ(c->progress().back(), jpeg.size());

  const auto listed = files();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], f["id"]);
  EXPECT_EQ(listed[0]["image"]["width"], 640);
  const auto content = alice().get("/files/" + f["id"].get<std::string>());
  ASSERT_TRUE(has_status(content, 200));
  EXPECT_EQ(content.body, jpeg);

  const auto thumb = alice().get("/files/" + f["id"].get<std::string>() + "/thumbnail");
  ASSERT_TRUE(has_status(thumb, 200));
  EXPECT_EQ(thumb.header("Content-Type"), "image/webp");
  EXPECT_EQ(thumb.body.substr(8, 4), "WEBP");
  EXPECT_LT(thumb.body.size(), jpeg.size());
  const auto again = alice().get("/files/" + f["id"].get<std::string>() + "/thumbnail",
                                 {{"If-None-Match", thumb.header("ETag")}});
  EXPECT_TRUE(has_status(again, 304));
  EXPECT_EQ(temp_files(), 0u);
}

TEST_F(Intake, EleventhFileOfASessionIsRefusedBeforeItsBytes) {
  auto c = connect();
  for (int i = 0; i < 10; ++i) {
    const auto v = c->send_file("f" + std::to_string(i), "p" + std::to_string(i) + ".jpg",
                                make_picture(100 + i, 320, 240, "jpeg"));
    ASSERT_TRUE(v.value("accepted", false)) << "file " << i << ": " << v.dump();
  }
  c->announce("f10", "p10.jpg", 1000);
  const auto v = c->next_of_any("f10");
  ASSERT_TRUE(v);
  EXPECT_EQ((*v)["type"], "verdict") << "no ready: the bytes must not be sent";
  EXPECT_TRUE(is_rejected(*v, "session_limit")) << v->dump();
  EXPECT_EQ(files().size(), 10u);

  // The limit is per session: a new connection (a new tab) may add more.
  auto c2 = connect();
  EXPECT_TRUE(
      c2->send_file("g", "p10.jpg", make_picture(110, 320, 240, "jpeg")).value("accepted", false));
}

TEST_F(Intake, DuplicatesBySameBytesReencodingAndResizing) {
  auto c = connect();
  const auto original = make_picture(7, 800, 600, "jpeg");
  ASSERT_TRUE(c->send_file("a", "a.jpg", original).value("accepted", false));

  const auto same = c->send_file("b", "copy.jpg", original);
  EXPECT_TRUE(is_rejected(same, "duplicate")) << same.dump();
  EXPECT_EQ(same["duplicate_of"], "a");

  const auto png = c->send_file("c", "a.png", make_picture(7, 800, 600, "png"));
  EXPECT_TRUE(is_rejected(png, "duplicate")) << png.dump();
  EXPECT_EQ(png["duplicate_of"], "a");

  const auto half = c->send_file("d", "small.jpg", make_picture(7, 400, 300, "jpeg", 70));
  EXPECT_TRUE(is_rejected(half, "duplicate")) << half.dump();

  const auto other = c->send_file("e", "other.jpg", make_picture(8, 800, 600, "jpeg"));
  EXPECT_TRUE(other.value("accepted", false))
      << "a different picture is not a duplicate: " << other.dump();
  EXPECT_EQ(files().size(), 2u);
  EXPECT_TRUE(wait_for_no_temp_files(5s));
}

TEST_F(Intake, DifferentTexturesAreNotDuplicates) {
  // Fine-grained pictures (sand, gravel) share a perceptual hash for want of large-scale
  // structure: they are told apart by their bytes only, never refused as the same picture.
  auto c = connect();
  for (unsigned i = 0; i < 4; ++i) {
    const auto v = c->send_file("t" + std::to_string(i), "sand" + std::to_string(i) + ".jpg",
                                make_texture(i + 1, 800, 600));
    EXPECT_TRUE(v.value("accepted", false)) << v.dump();
  }
  const auto again = c->send_file("u", "sand-again.jpg", make_texture(1, 800, 600));
  EXPECT_TRUE(is_rejected(again, "duplicate")) << "the same bytes are still a duplicate";
}

TEST_F(Intake, TooLargeDeclaredIsRefusedBeforeAnyByte) {
  auto c = connect();
  c->announce("big", "big.jpg", 6 * 1024 * 1024);
  const auto v = c->next_of_any("big");
  ASSERT_TRUE(v);
  EXPECT_EQ((*v)["type"], "verdict");
  EXPECT_TRUE(is_rejected(*v, "too_large")) << v->dump();
  EXPECT_TRUE(files().empty());
}

TEST_F(Intake, FileGrowingPastTheLimitIsCutOffAndTheSessionGoesOn) {
  auto c = connect();
  c->announce("s", "stream.jpg", std::nullopt);  // length unknown: ends with {"type":"end"}
  ASSERT_EQ(c->next_of_any("s").value_or(json())["type"], "ready");
  const auto head = make_picture(3, 320, 240, "jpeg");
  c->binary(head + random_bytes(6 * 1024 * 1024, 1));
  const auto v = c->next_of("verdict", "s");
  ASSERT_TRUE(v);
  EXPECT_TRUE(is_rejected(*v, "too_large")) << v->dump();
  // Cut off at the limit: never more than the limit (plus one read) was taken in.
  for (const auto p : c->progress())
    EXPECT_LE(p, 5u * 1024 * 1024);
  EXPECT_TRUE(wait_for_no_temp_files(5s));

  const auto ok = c->send_file("t", "fine.jpg", make_picture(4, 320, 240, "jpeg"));
  EXPECT_TRUE(ok.value("accepted", false)) << ok.dump();
  EXPECT_EQ(files().size(), 1u);
}

TEST_F(Intake, MoreBytesThanDeclaredIsCutOff) {
  auto c = connect();
  const auto pic = make_picture(5, 320, 240, "jpeg");
  c->announce("m", "m.jpg", pic.size());
  ASSERT_EQ(c->next_of_any("m").value_or(json())["type"], "ready");
  c->binary(pic + "trailing bytes", pic.size() + 14);  // one message, too long
  const auto v = c->next_of("verdict", "m");
  ASSERT_TRUE(v);
  EXPECT_TRUE(is_rejected(*v, "size_mismatch")) << v->dump();
  EXPECT_TRUE(files().empty());
}

TEST_F(Intake, StreamOfUnknownLengthEndsWithEnd) {
  auto c = connect();
  const auto pic = make_picture(6, 320, 240, "png");
  c->announce("u", "u.png", std::nullopt);
  ASSERT_EQ(c->next_of_any("u").value_or(json())["type"], "ready");
  c->binary(pic);
  c->text(R"({"type":"end","client_file_id":"u"})");
  const auto v = c->next_of("verdict", "u");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->value("accepted", false)) << v->dump();
  EXPECT_EQ((*v)["file"]["image"]["format"], "png");
}

TEST_F(Intake, TypeIsJudgedByContentNotByName) {
  auto c = connect();
  const auto text = c->send_file("t", "notes.jpg", std::string(4000, 'x') + "\nhello\n");
  EXPECT_TRUE(is_rejected(text, "unsupported_type")) << text.dump();

  auto jpeg = make_picture(9, 640, 480, "jpeg");
  const auto truncated = c->send_file("j", "cut.jpg", jpeg.substr(0, jpeg.size() * 6 / 10));
  EXPECT_TRUE(is_rejected(truncated, "corrupt")) << truncated.dump();

  // A PNG named .txt is still a PNG, and is stored as one.
  const auto png = c->send_file("p", "picture.txt", make_picture(10, 320, 240, "png"));
  ASSERT_TRUE(png.value("accepted", false)) << png.dump();
  EXPECT_EQ(png["file"]["content_type"], "image/png");
  EXPECT_EQ(files().size(), 1u);
  EXPECT_TRUE(wait_for_no_temp_files(5s));
}

TEST_F(Intake, ClientThatVanishesMidFileLeavesNothingBehind) {
  {
    auto c = connect();
    const auto pic = make_picture(11, 1600, 1200, "png");
    c->announce("v", "v.png", pic.size());
    ASSERT_EQ(c->next_of_any("v").value_or(json())["type"], "ready");
    c->binary(pic.substr(0, pic.size() / 3));
    // Wait until the server has written some of it, so there is something to clean up.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (temp_files() == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    EXPECT_EQ(temp_files(), 1u) << "the file in flight is in the temp area";
    c->vanish();
  }
  EXPECT_TRUE(wait_for_no_temp_files(10s)) << "the partial file was not removed";
  EXPECT_TRUE(files().empty());
  // Others are served meanwhile, and a new session works.
  EXPECT_TRUE(connect()
                  ->send_file("w", "w.jpg", make_picture(12, 320, 240, "jpeg"))
                  .value("accepted", false));
}

TEST_F(Intake, CancelAndBadMessages) {
  auto c = connect();
  c->text("not json");
  auto e = c->next(5s);
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["type"], "error");
  EXPECT_EQ((*e)["code"], "bad_message");

  c->announce("x", "x.jpg", 100000);
  ASSERT_EQ(c->next_of_any("x").value_or(json())["type"], "ready");
  c->binary(random_bytes(1000, 2));
  c->text(R"({"type":"cancel","client_file_id":"x"})");
  const auto v = c->next_of("verdict", "x");
  ASSERT_TRUE(v);
  EXPECT_TRUE(is_rejected(*v, "cancelled")) << v->dump();
  EXPECT_TRUE(wait_for_no_temp_files(5s));

  c->announce("", "y.jpg", 10);
  e = c->next(5s);
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["code"], "bad_message");
}

// Found by tests/fuzz/intake_messages_fuzz.cpp: a client_file_id that is not a string, in an
// "end" or "cancel" while a file was in flight, threw out of the conversation and dropped the
// connection without a close frame (and logged an error).
TEST_F(Intake, ClientFileIdOfTheWrongTypeIsABadMessage) {
  auto c = connect();
  c->announce("z", "z.jpg", 100000);
  ASSERT_EQ(c->next_of_any("z").value_or(json())["type"], "ready");
  c->text(R"({"type":"cancel","client_file_id":5})");  // names no file: ignored
  c->text(R"({"type":"end","client_file_id":["z"]})");
  const auto e = c->next(5s);
  ASSERT_TRUE(e) << "the session ended";
  EXPECT_EQ((*e)["type"], "error");
  EXPECT_EQ((*e)["code"], "bad_message");
  // The file is still the one in flight.
  c->text(R"({"type":"cancel","client_file_id":"z"})");
  const auto v = c->next_of("verdict", "z");
  ASSERT_TRUE(v);
  EXPECT_TRUE(is_rejected(*v, "cancelled")) << v->dump();
  EXPECT_EQ(server().stderr_text().find("failed after responding"), std::string::npos)
      << server().stderr_text();
}

TEST_F(Intake, AcceptedImagePublishesFileUploaded) {
  auto events = std::make_unique<ws_client>(port(), "/ws/events?ticket=" + ticket());
  auto c = connect();
  const auto v = c->send_file("f", "e.jpg", make_picture(13, 320, 240, "jpeg"));
  ASSERT_TRUE(v.value("accepted", false));
  auto m = events->next(5s);
  ASSERT_TRUE(m && m->contains("event")) << "no event";
  EXPECT_EQ((*m)["event"]["type"], "file.uploaded");
  EXPECT_EQ((*m)["event"]["file"]["id"], v["file"]["id"]);
}

TEST_F(Intake, UpgradeNeedsCredentialsAndAnAllowedOrigin) {
  EXPECT_THROW(intake_client(port(), "/ws/intake"), boost::system::system_error);
  EXPECT_THROW(intake_client(port(), "/ws/intake?ticket=nope"), boost::system::system_error);
  EXPECT_THROW(
      intake_client(port(), "/ws/intake?ticket=" + ticket(), {{"Origin", "http://evil.example"}}),
      boost::system::system_error);
  // The server's own origin is fine, as is no Origin (not a browser).
  const std::string own = "http://127.0.0.1:" + std::to_string(port());
  EXPECT_EQ(
      intake_client(port(), "/ws/intake?ticket=" + ticket(), {{"Origin", own}}).hello()["type"],
      "session");
  EXPECT_EQ(
      intake_client(port(), "/ws/intake", {{"Authorization", "Bearer " + key_}}).hello()["type"],
      "session");

  EXPECT_TRUE(is_problem(alice().get("/ws/intake"), 426, "websocket_required"));
  // The statuses behind the failed handshakes above, seen as plain HTTP.
  const header_list upgrade{{"Connection", "Upgrade"},
                            {"Upgrade", "websocket"},
                            {"Sec-WebSocket-Version", "13"},
                            {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  EXPECT_TRUE(is_problem(anonymous().get("/ws/intake", upgrade), 401, "unauthenticated"));
  auto evil = upgrade;
  evil.emplace_back("Origin", "http://evil.example");
  EXPECT_TRUE(is_problem(alice().get("/ws/intake", evil), 403, "origin_not_allowed"));
}

TEST_F(Intake, ThumbnailsOfOtherFiles) {
  const auto png = make_picture(14, 1000, 500, "png");
  const std::string id = created_id(alice().upload_raw("up.png", png, "image/png"));
  const auto t = alice().get("/files/" + id + "/thumbnail");
  ASSERT_TRUE(has_status(t, 200));
  EXPECT_EQ(t.header("Content-Type"), "image/webp");

  const std::string txt = created_id(alice().upload_raw("a.txt", "hello", "text/plain"));
  EXPECT_TRUE(is_problem(alice().get("/files/" + txt + "/thumbnail"), 404, "no_thumbnail"));
  const std::string fake = created_id(alice().upload_raw("fake.png", "not a png", "image/png"));
  EXPECT_TRUE(is_problem(alice().get("/files/" + fake + "/thumbnail"), 404, "no_thumbnail"));
  auto bob = make_user("bob");
  EXPECT_TRUE(is_problem(bob.get("/files/" + id + "/thumbnail"), 404, "file_not_found"));
}

}  // namespace
}  // namespace sharebox::test
