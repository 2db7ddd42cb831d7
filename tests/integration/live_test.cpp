// /ws/events and /events: each user receives, shortly after the commit, the events about files
// they can see and their own notifications, and nothing else; tickets are single-use and expire.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include <thread>

#include "support/api_client.hpp"
#include "support/fixture.hpp"
#include "support/ws_client.hpp"

namespace sharebox::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

class Live : public server_test {
 protected:
  std::vector<std::string> server_args() const override { return {"--ws-ticket-ttl", "1"}; }

  std::string ticket(api_client& c) {
    const auto r = c.send("POST", "/auth/ws-ticket");
    EXPECT_TRUE(has_status(r, 201));
    return json_body(r)["ticket"];
  }
  std::unique_ptr<ws_client> connect(api_client& c) {
    return std::make_unique<ws_client>(port(), "/ws/events?ticket=" + ticket(c));
  }
};

bool is_event(const json& m, std::string_view type) {
  return m["kind"] == "event" && m["event"]["type"] == type;
}

TEST_F(Live, EventsReachOwnerAndShareTargetButNeverAStranger) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto carol = make_user("carol");
  auto wa = connect(alice);
  auto wb = connect(bob);
  auto wc = connect(carol);

  const auto started = std::chrono::steady_clock::now();
  const std::string id = created_id(alice.upload_raw("a.txt", "x"));
  auto m = wa->next(5s);
  ASSERT_TRUE(m) << "alice got no event for her upload";
  const auto latency = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(is_event(*m, "file.uploaded")) << m->dump();
  EXPECT_EQ((*m)["event"]["file"]["id"], id);
  std::cout << "[ live ] upload request to event on the owner's WebSocket: "
            << std::chrono::duration_cast<std::chrono::microseconds>(latency).count() / 1000.0
            << " ms\n";

  ASSERT_TRUE(has_status(alice.share(id, "bob", "write"), 201));
  EXPECT_TRUE(wa->next_matching([](const json& j) { return is_event(j, "file.shared"); }, 5s));
  auto shared = wb->next_matching([](const json& j) { return is_event(j, "file.shared"); }, 5s);
  ASSERT_TRUE(shared);
  EXPECT_EQ((*shared)["event"]["target_user_id"], "bob");
  auto note = wb->next_matching([](const json& j) { return j["kind"] == "notification"; }, 5s);
  ASSERT_TRUE(note) << "bob's notification was not pushed";
  EXPECT_EQ((*note)["notification"]["type"], "file.shared");

  ASSERT_TRUE(has_status(bob.put_raw(id, "y", etag_for(1)), 200));
  EXPECT_TRUE(wa->next_matching([](const json& j) { return is_event(j, "file.updated"); }, 5s));
  EXPECT_TRUE(wb->next_matching([](const json& j) { return is_event(j, "file.updated"); }, 5s));

  ASSERT_TRUE(has_status(alice.del("/shares/" + id + "/bob"), 204));
  EXPECT_TRUE(wb->next_matching([](const json& j) { return is_event(j, "file.unshared"); }, 5s))
      << "the revoked user is told of the revocation";

  // After the revoke bob no longer sees the file's events; carol never saw any.
  ASSERT_TRUE(has_status(alice.put_raw(id, "z", etag_for(2)), 200));
  EXPECT_TRUE(wa->next_matching([](const json& j) { return is_event(j, "file.updated"); }, 5s));
  EXPECT_FALSE(wb->next_matching([](const json& j) { return j["kind"] == "event"; }, 500ms));
  EXPECT_FALSE(wc->next(500ms)) << "a stranger received something";
}

// The stream is one-way: what a client sends is read and dropped in small pieces, without
// disturbing the events it receives; a message over the size limit still ends the connection.
TEST_F(Live, ClientMessagesAreDroppedButOversizedOnesClose) {
  auto alice = make_user("alice");
  auto w = connect(alice);
  w->text(std::string(10'000, 'a'));  // many times the server's discard buffer
  w->binary(std::string(3'000, 'b'), 1'000);
  const std::string id = created_id(alice.upload_raw("a.txt", "x"));
  auto m = w->next_matching([](const json& j) { return is_event(j, "file.uploaded"); }, 5s);
  ASSERT_TRUE(m) << "the stream stopped after client messages";
  EXPECT_EQ((*m)["event"]["file"]["id"], id);

  try {
    w->text(std::string(100 * 1024, 'c'));  // over the 64 KiB message limit
  } catch (const boost::system::system_error&) {
    // The server may close before the whole message is written.
  }
  EXPECT_FALSE(w->next(5s));
  EXPECT_TRUE(w->closed()) << "an oversized message did not close the stream";
}

TEST_F(Live, TicketsAreSingleUseAndExpire) {
  auto alice = make_user("alice");
  const std::string t = ticket(alice);
  ws_client first(port(), "/ws/events?ticket=" + t);
  EXPECT_THROW(ws_client(port(), "/ws/events?ticket=" + t), beast::system_error)
      << "a ticket must not open a second connection";
  const std::string stale = ticket(alice);
  std::this_thread::sleep_for(1500ms);  // --ws-ticket-ttl 1
  EXPECT_THROW(ws_client(port(), "/ws/events?ticket=" + stale), beast::system_error);
  EXPECT_THROW(ws_client(port(), "/ws/events?ticket=tkt_made_up"), beast::system_error);
  EXPECT_THROW(ws_client(port(), "/ws/events"), beast::system_error);
  EXPECT_TRUE(
      is_problem(alice.get("/ws/events?ticket=" + ticket(alice)), 426, "websocket_required"));
  EXPECT_TRUE(is_problem(anonymous().send("POST", "/auth/ws-ticket"), 401, "unauthenticated"));
}

TEST_F(Live, ServerSentEventsForCurl) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  connection sa(port(), 10s);
  sa.send_raw("GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice.credential() +
              "\r\n\r\n");
  connection sb(port(), 10s);
  sb.send_raw("GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + bob.credential() +
              "\r\n\r\n");
  const auto denied = raw_exchange(port(), "GET /events HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
  EXPECT_NE(denied.data.find("401"), std::string::npos) << denied.data;

  // Wait until both streams are open (the server sends a comment line first).
  const auto await_text = [](connection& c, std::string_view needle,
                             std::chrono::milliseconds within = 5s) {
    std::string seen;
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (seen.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      const auto r = c.read_until_close(200ms);
      seen += r.data;
      if (r.closed) break;
    }
    return seen;
  };
  EXPECT_NE(await_text(sa, ": stream open").find("text/event-stream"), std::string::npos);
  await_text(sb, ": stream open");

  const std::string id = created_id(alice.upload_raw("s.txt", "x"));
  const std::string got = await_text(sa, "\n\n");
  EXPECT_NE(got.find("event: file.uploaded\ndata: {"), std::string::npos) << got;
  EXPECT_NE(got.find(id), std::string::npos);
  EXPECT_EQ(await_text(sb, "event:", 1s).find("event:"), std::string::npos)
      << "bob must not see alice's private upload";
}

// GET /health's live_subscribers counts the streams open now: one that ended stops counting at
// once, even if its user never gets another event (ended streams used to be counted until then).
TEST_F(Live, HealthCountsOnlyOpenStreams) {
  auto alice = make_user("alice");
  const auto subscribers = [&] {
    return json_body(anonymous().get("/health"))["live_subscribers"].get<int>();
  };
  const auto settles_at = [&](int want) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (subscribers() != want && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    return subscribers();
  };
  {
    auto first = connect(alice);
    auto second = connect(alice);
    connection sse(port(), 10s);
    sse.send_raw("GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice.credential() +
                 "\r\n\r\n");
    EXPECT_EQ(settles_at(3), 3);
    first->vanish();
    EXPECT_EQ(settles_at(2), 2);
  }
  EXPECT_EQ(settles_at(0), 0) << "streams that ended are still counted as live";
}

}  // namespace
}  // namespace sharebox::test
