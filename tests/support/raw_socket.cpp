#include <utility>

#include "support/raw_socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace sharebox::test {

namespace {

namespace bhttp = boost::beast::http;
using steady = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

// Waits for `events` on `fd` until `deadline`: 1 ready, 0 timed out.
int wait_until(int fd, short events, steady::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::max<milliseconds::rep>(0, left.count())));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_errno("poll");
    return r;
  }
}

}  // namespace

std::string_view to_string(peer_end e) {
  switch (e) {
    case peer_end::open:
      return "still open";
    case peer_end::fin:
      return "closed (FIN)";
    case peer_end::reset:
      return "reset (RST)";
  }
  return "?";
}

raw_socket::raw_socket(std::uint16_t port, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw_errno("socket");
  if (receive_buffer > 0 &&
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) != 0) {
    throw_errno("setsockopt(SO_RCVBUF)");
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd_);
    errno = err;
    throw_errno("connect");
  }
}

raw_socket::~raw_socket() {
  if (fd_ >= 0) ::close(fd_);
}

bool raw_socket::send(std::string_view bytes, milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_until(fd_, POLLOUT, deadline) == 0) return false;
      continue;
    }
    return false;  // EPIPE, ECONNRESET: the peer is gone
  }
  return true;
}

void raw_socket::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

void raw_socket::reset() {
  const linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd_);
  fd_ = -1;
}

std::size_t raw_socket::read_some(milliseconds timeout, std::size_t max) {
  if (end_ != peer_end::open) return 0;
  if (wait_until(fd_, POLLIN, steady::now() + timeout) == 0) return 0;
  std::array<char, 64 * 1024> buf;
  for (;;) {
    const ssize_t n = ::recv(fd_, buf.data(), std::min(max, buf.size()), MSG_DONTWAIT);
    if (n > 0) {
      received_.append(buf.data(), static_cast<std::size_t>(n));
      return static_cast<std::size_t>(n);
    }
    if (n == 0) {
      end_ = peer_end::fin;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    end_ = peer_end::reset;
    return 0;
  }
}

peer_end raw_socket::read_until_close(milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (end_ == peer_end::open) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
    if (left.count() <= 0) break;
    read_some(left);
  }
  return end_;
}

bool raw_socket::read_at_least(std::size_t n, milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (received_.size() < n && end_ == peer_end::open) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
    if (left.count() <= 0) break;
    read_some(left);
  }
  return received_.size() >= n;
}

bool raw_socket::read_until(std::string_view needle, milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (received_.find(needle) == std::string::npos && end_ == peer_end::open) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
    if (left.count() <= 0) break;
    read_some(left);
  }
  return received_.find(needle) != std::string::npos;
}

// ---- HTTP ----------------------------------------------------------------------------------

split_responses parse_responses(std::string_view raw) {
  split_responses out;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.header_limit(1u << 20);
    parser.eager(true);
    std::size_t used = 0;
    boost::system::error_code ec;
    while (!parser.is_done() && pos + used < raw.size()) {
      const std::size_t n =
          parser.put(boost::asio::buffer(raw.data() + pos + used, raw.size() - pos - used), ec);
      used += n;
      if (ec || n == 0) break;
    }
    if (!parser.is_done()) break;
    auto& msg = parser.get();
    response r;
    r.status = msg.result_int();
    for (const auto& f : msg.base())
      r.headers.add(std::string(f.name_string()), std::string(f.value()));
    r.body = std::move(msg.body());
    out.responses.push_back(std::move(r));
    pos += used;
  }
  out.rest = std::string(raw.substr(pos));
  return out;
}

// ---- WebSocket -----------------------------------------------------------------------------

std::string ws_frame(const ws_frame_spec& spec) {
  std::string out;
  out.push_back(
      static_cast<char>((spec.fin ? 0x80 : 0) | ((spec.rsv & 7) << 4) | (spec.opcode & 0x0f)));
  const std::uint64_t len = spec.declared_length.value_or(spec.payload.size());
  const char mask_bit = spec.masked ? static_cast<char>(0x80) : 0;
  if (len < 126) {
    out.push_back(static_cast<char>(mask_bit | static_cast<char>(len)));
  } else if (len <= 0xffff) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xff));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((len >> shift) & 0xff));
  }
  static constexpr std::array<char, 4> key{0x12, 0x34, 0x56, 0x78};
  if (spec.masked) out.append(key.data(), key.size());
  for (std::size_t i = 0; i < spec.payload.size(); ++i)
    out.push_back(spec.masked ? static_cast<char>(spec.payload[i] ^ key[i % 4]) : spec.payload[i]);
  return out;
}

std::string ws_frame(std::uint8_t opcode, std::string_view payload) {
  ws_frame_spec spec;
  spec.opcode = opcode;
  spec.payload = std::string(payload);
  return ws_frame(spec);
}

std::string ws_close_payload(std::uint16_t code, std::string_view reason) {
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xff));
  out += reason;
  return out;
}

std::optional<std::uint16_t> ws_frame_in::close_code() const {
  if (opcode != ws_op::close || payload.size() < 2) return std::nullopt;
  return static_cast<std::uint16_t>(static_cast<unsigned char>(payload[0]) << 8 |
                                    static_cast<unsigned char>(payload[1]));
}

std::vector<ws_frame_in> take_ws_frames(std::string& buffer) {
  std::vector<ws_frame_in> frames;
  for (;;) {
    if (buffer.size() < 2) break;
    const auto b0 = static_cast<unsigned char>(buffer[0]);
    const auto b1 = static_cast<unsigned char>(buffer[1]);
    std::size_t at = 2;
    std::uint64_t len = b1 & 0x7f;
    if (len == 126) {
      if (buffer.size() < 4) break;
      len = static_cast<unsigned char>(buffer[2]) << 8 | static_cast<unsigned char>(buffer[3]);
      at = 4;
    } else if (len == 127) {
      if (buffer.size() < 10) break;
      len = 0;
      for (std::size_t i = 2; i < 10; ++i)
        len = len << 8 | static_cast<unsigned char>(buffer[i]);
      at = 10;
    }
    const bool masked = (b1 & 0x80) != 0;
    std::array<char, 4> key{};
    if (masked) {
      if (buffer.size() < at + 4) break;
      std::memcpy(key.data(), buffer.data() + at, 4);
      at += 4;
    }
    if (buffer.size() - at < len) break;
    ws_frame_in f;
    f.fin = (b0 & 0x80) != 0;
    f.opcode = b0 & 0x0f;
    f.payload = buffer.substr(at, static_cast<std::size_t>(len));
    if (masked) {
      for (std::size_t i = 0; i < f.payload.size(); ++i)
        f.payload[i] = static_cast<char>(f.payload[i] ^ key[i % 4]);
    }
    buffer.erase(0, at + static_cast<std::size_t>(len));
    frames.push_back(std::move(f));
  }
  return frames;
}

response ws_upgrade(raw_socket& sock, std::uint16_t port, std::string_view target,
                    const header_list& headers) {
  std::string req = "GET " + std::string(target) +
                    " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  for (const auto& [name, value] : headers)
    req += name + ": " + value + "\r\n";
  req += "\r\n";
  if (!sock.send(req)) throw std::runtime_error("ws_upgrade: could not send the request");
  const auto deadline = steady::now() + milliseconds(10'000);
  for (;;) {
    auto split = parse_responses(sock.received());
    if (!split.responses.empty()) {
      sock.consume(sock.received().size() - split.rest.size());
      // Frames right behind a 101 do not parse as a second response: they stay in `rest`.
      if (split.responses.size() > 1) throw std::runtime_error("ws_upgrade: two responses");
      return std::move(split.responses.front());
    }
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
    if (left.count() <= 0 || sock.end() != peer_end::open) {
      throw std::runtime_error("ws_upgrade: no answer to the upgrade; got: " + sock.received());
    }
    sock.read_some(left);
  }
}

}  // namespace sharebox::test
