#pragma once
// One request/response exchange as handlers see it: the parsed header, a streaming body source
// and the ways to answer. Implemented by the transport; handlers never touch sockets.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sharebox/http/beast.hpp"
#include "sharebox/http/problem.hpp"
#include "sharebox/http/request_metrics.hpp"

namespace sharebox::http {

using request_header = bhttp::request_header<>;

// A response body made of literal text and ranges of an open file, sent in order. Covers a
// whole file, one range, and multipart/byteranges.
struct body_piece {
  std::string text;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;  // bytes of the file after `text`
};

// A long-lived stream to one client (a WebSocket or Server-Sent Events). send() may be called
// from any thread: messages are queued and written on the connection's strand, in order. A slow
// client that lets its queue grow past a bound is disconnected rather than buffered forever.
class message_sink {
 public:
  virtual ~message_sink() = default;
  // `kind` is the SSE event name (ignored on WebSockets); `text` a JSON document.
  virtual void send(std::string kind, std::shared_ptr<const std::string> text) = 0;
  // Ends the stream (its connection closes); from any thread, after what is already queued is
  // dropped.
  virtual void disconnect() = 0;
};

// A two-way WebSocket conversation (image intake). Used from the handler's coroutine only, one
// call at a time; the transport answers pings and enforces the idle timeout meanwhile.
class websocket_channel {
 public:
  struct piece {
    std::size_t size = 0;
    bool binary = false;
    bool message_done = false;  // the last piece of its message
  };
  virtual ~websocket_channel() = default;
  // Reads the next piece of the incoming message, at most `size` bytes: a large message arrives
  // in several pieces and is never buffered whole. nullopt once the client has closed, vanished,
  // timed out or broken the protocol (e.g. a message over the size limit).
  virtual awaitable<std::optional<piece>> read_some(void* data, std::size_t size) = 0;
  // Sends one text message; throws if the client does not take it within the write timeout.
  virtual awaitable<void> write_text(std::string text) = 0;
  // Starts the closing handshake with `code` (RFC 6455 section 7.4).
  virtual awaitable<void> close(std::uint16_t code, std::string reason) = 0;
};

class exchange {
 public:
  virtual ~exchange() = default;

  virtual const request_header& request() const = 0;
  // The declared body length, if the request has Content-Length (nullopt when chunked).
  virtual std::optional<std::uint64_t> content_length() const = 0;
  // Reads up to `size` body bytes (sending 100 Continue first if the client asked for it).
  // Returns 0 at the end of the body. Throws boost::system::system_error on I/O errors and
  // timeouts; the connection is then unusable.
  virtual awaitable<std::size_t> read_body(void* data, std::size_t size) = 0;
  virtual bool body_complete() const = 0;

  // Sends a complete response. Headers common to all responses (request id, keep-alive,
  // Content-Length, and no body for HEAD) are handled here.
  virtual awaitable<void> send(bhttp::response<bhttp::string_body> res) = 0;
  // Sends `header` then `pieces`, reading file ranges from `fd` (not closed here). The caller
  // sets Content-Length.
  virtual awaitable<void> send_file(bhttp::response_header<> header, int fd,
                                    std::vector<body_piece> pieces) = 0;
  virtual bool response_sent() const = 0;
  // A header for whatever response this request gets, errors included (CORS, Tus-Resumable).
  virtual void add_response_header(std::string name, std::string value) = 0;

  // Completes a WebSocket upgrade of this request, calls `on_open` with the sink, and returns
  // when the client disconnects (incoming messages are ignored). The connection is then done.
  virtual awaitable<void> stream_websocket(
      std::function<void(std::shared_ptr<message_sink>)> on_open) = 0;
  // Completes a WebSocket upgrade and runs `conversation` on it; returns when it ends (the
  // connection is then done). Messages over `max_message_bytes` close the connection.
  virtual awaitable<void> converse_websocket(
      std::size_t max_message_bytes,
      std::function<awaitable<void>(websocket_channel&)> conversation) = 0;
  // Answers 200 text/event-stream and streams until the client disconnects.
  virtual awaitable<void> stream_sse(
      std::function<void(std::shared_ptr<message_sink>)> on_open) = 0;
  virtual bool is_websocket_upgrade() const = 0;

  virtual const std::string& request_id() const = 0;
  // Who made the request, for the access log.
  virtual void set_principal(std::string_view user) = 0;
  // The route the request matched, whose metrics the transport records it in (set by the router
  // before the handler runs; without it, the request counts as route="unmatched").
  virtual void set_route(route_metrics& route) = 0;
};

using request_handler = std::function<awaitable<void>(exchange&)>;

}  // namespace sharebox::http
