// Clients that go away in the middle of a response cost their own connection only: the server
// goes on serving everyone else (no SIGPIPE from sendfile(2), no leaked state).
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

class Disconnects : public alice_test {};

TEST_F(Disconnects, ClientsVanishingMidDownloadDoNotTakeTheServerDown) {
  // Large enough that the response is still being sent (sendfile) when the client leaves.
  const std::string big(48u << 20, 'x');
  const std::string id = created_id(alice().upload_raw("big.bin", big));
  asio::io_context ioc;
  for (int i = 0; i < 6; ++i) {
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port()));
    const std::string req =
        "GET /files/" + id + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key_ + "\r\n\r\n";
    asio::write(s, asio::buffer(req));
    char buf[64 * 1024];
    std::size_t got = 0;
    while (got < 256 * 1024)
      got += s.read_some(asio::buffer(buf));
    // Half of them reset the connection, half close it with unread data (also a reset).
    if (i % 2 == 0) s.set_option(asio::socket_base::linger(true, 0));
    s.close();
    std::this_thread::sleep_for(50ms);  // the server is then writing into a dead socket
  }
  ASSERT_TRUE(server().running()) << "the server died";
  EXPECT_TRUE(has_status(alice().get("/health"), 200));
  const auto again = alice().get("/files/" + id);
  ASSERT_TRUE(has_status(again, 200));
  EXPECT_EQ(again.body.size(), big.size());
}

}  // namespace
}  // namespace sharebox::test
