#pragma once
// A bare TCP client for hostile-input tests: bytes go out exactly as given (no HTTP or WebSocket
// library adds, fixes or reorders anything), every wait has a deadline, and the way the peer
// ended the connection (FIN or RST) is reported. Also: splitting what came back into whole HTTP
// responses, and building and parsing raw WebSocket frames.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.hpp"

namespace sharebox::test {

enum class peer_end {
  open,   // still open when the deadline passed
  fin,    // orderly close
  reset,  // RST (or another socket error)
};

std::string_view to_string(peer_end e);

class raw_socket {
 public:
  // Connects to 127.0.0.1:port. `receive_buffer` > 0 sets SO_RCVBUF before connecting, which
  // bounds the TCP window: how a slow reader looks to the server.
  explicit raw_socket(std::uint16_t port, int receive_buffer = 0);
  ~raw_socket();
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  // Sends all of `bytes` (waiting at most `timeout` for room). False if the peer has ended the
  // connection or the deadline passed; never raises SIGPIPE.
  bool send(std::string_view bytes, milliseconds timeout = milliseconds(5000));
  // Half-close: no more bytes from us, the peer sees EOF.
  void shutdown_write();
  // RST instead of FIN when closed (SO_LINGER 0), then close.
  void reset();

  // Reads what is there or arrives within `timeout`, at most `max` bytes, appending to
  // received(). Returns the number of bytes read (0 on timeout or end).
  std::size_t read_some(milliseconds timeout, std::size_t max = 64 * 1024);
  // Reads until the peer ends the connection or `timeout` passes.
  peer_end read_until_close(milliseconds timeout);
  // Reads until received() holds at least `n` bytes (false on timeout or end).
  bool read_at_least(std::size_t n, milliseconds timeout);
  // Reads until received() contains `needle` (false on timeout or end).
  bool read_until(std::string_view needle, milliseconds timeout);

  // Everything read so far (consume() drops a prefix of it).
  const std::string& received() const { return received_; }
  void consume(std::size_t n) { received_.erase(0, n); }
  // How the peer ended the connection, as far as reads have seen.
  peer_end end() const { return end_; }

 private:
  int fd_ = -1;
  std::string received_;
  peer_end end_ = peer_end::open;
};

// ---- HTTP ----------------------------------------------------------------------------------

struct split_responses {
  std::vector<response> responses;  // whole responses, in order
  std::string rest;                 // bytes after the last whole response
};
// Splits `raw` into the HTTP/1.1 responses it holds. Interim (1xx) responses are kept too.
split_responses parse_responses(std::string_view raw);

// ---- WebSocket (RFC 6455) ----------------------------------------------------------------------

namespace ws_op {
inline constexpr std::uint8_t continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9,
                              pong = 0xa;
}

struct ws_frame_spec {
  std::uint8_t opcode = ws_op::text;
  std::string payload;
  bool fin = true;
  bool masked = true;    // clients must mask; false breaks the protocol on purpose
  std::uint8_t rsv = 0;  // RSV1-3 bits (0-7); anything but 0 breaks it without an extension
  std::optional<std::uint64_t> declared_length;  // a length other than the payload's
};
std::string ws_frame(const ws_frame_spec& spec);
// A masked, final frame.
std::string ws_frame(std::uint8_t opcode, std::string_view payload);
// A close frame's payload: the code, big-endian, then the reason.
std::string ws_close_payload(std::uint16_t code, std::string_view reason = {});

struct ws_frame_in {
  bool fin = false;
  std::uint8_t opcode = 0;
  std::string payload;
  // For close frames with a payload: the status code.
  std::optional<std::uint16_t> close_code() const;
};
// Takes the whole (unmasked, server-sent) frames off the front of `buffer`.
std::vector<ws_frame_in> take_ws_frames(std::string& buffer);

// Opens a WebSocket on `target` with the extra `headers` (credentials, Origin). Returns the
// server's answer to the upgrade; on a 101 the frames that follow stay in sock.received().
response ws_upgrade(raw_socket& sock, std::uint16_t port, std::string_view target,
                    const header_list& headers);

}  // namespace sharebox::test
