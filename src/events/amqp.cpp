#include "sharebox/events/amqp.hpp"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <set>
#include <vector>

namespace sharebox::events {

namespace {

using clock = std::chrono::steady_clock;

timeval to_timeval(std::chrono::milliseconds ms) {
  if (ms.count() < 0) ms = std::chrono::milliseconds(0);
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

amqp_bytes_t bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

std::string text(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

std::string close_reason(const amqp_method_t& m) {
  if (m.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* c = static_cast<amqp_connection_close_t*>(m.decoded);
    return "connection closed by broker: " + text(c->reply_text);
  }
  if (m.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* c = static_cast<amqp_channel_close_t*>(m.decoded);
    return "channel closed by broker: " + text(c->reply_text);
  }
  return "unexpected method from broker";
}

void check(amqp_rpc_reply_t r, const std::string& what) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return;
    case AMQP_RESPONSE_NONE:
      throw amqp_error(what + ": no reply");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      throw amqp_error(what + ": " + amqp_error_string2(r.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      throw amqp_error(what + ": " + close_reason(r.reply));
  }
  throw amqp_error(what + ": unknown reply");
}

}  // namespace

std::string broker_url_from(const std::string& url, const std::string& host) {
  if (!url.empty()) return url;
  if (!host.empty()) return "amqp://guest:guest@" + host + ":5672/";
  return broker_config{}.url;
}

// Owns the librabbitmq connection, so that a constructor that throws part-way (broker down,
// login refused) frees it too: ~amqp_connection does not run then, and every failed attempt of
// the relay's retry loop leaked the connection's buffers (found by LeakSanitizer).
struct amqp_connection::state {
  amqp_connection_state_t conn = nullptr;
  bool healthy = false;
  std::set<std::uint64_t> acked_out_of_order;

  state() = default;
  state(const state&) = delete;
  state& operator=(const state&) = delete;
  ~state() {
    if (!conn) return;
    if (healthy) {
      amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
      amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(conn);
  }
};

amqp_connection::amqp_connection(const std::string& url, std::chrono::milliseconds timeout)
    : s_(std::make_unique<state>()) {
  std::string buffer = url;  // amqp_parse_url points into and edits this buffer
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
    throw amqp_error("invalid broker URL (expected amqp://user:pass@host:port/vhost)");
  }
  // "amqp://host:5672/" parses to an empty vhost, which RabbitMQ never has; the seed's URLs and
  // pika read it as the default vhost "/", and so do we.
  if (info.vhost == nullptr || info.vhost[0] == '\0') info.vhost = const_cast<char*>("/");
  s_->conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(s_->conn);
  if (!socket) throw amqp_error("cannot create socket");
  timeval tv = to_timeval(timeout);
  const int rc = amqp_socket_open_noblock(socket, info.host, info.port, &tv);
  const std::string where = std::string(info.host) + ":" + std::to_string(info.port);
  if (rc != AMQP_STATUS_OK) throw amqp_error("connect to " + where + ": " + amqp_error_string2(rc));
  amqp_set_rpc_timeout(s_->conn, &tv);
  // Heartbeats are off: librabbitmq only answers them while reading, and the relay sits idle for
  // long stretches. A dead broker shows up on the next poll_alive or publish instead.
  check(amqp_login(s_->conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user,
                   info.password),
        "login to " + where);
  amqp_channel_open(s_->conn, 1);
  check(amqp_get_rpc_reply(s_->conn), "channel.open");
  s_->healthy = true;
}

amqp_connection::~amqp_connection() = default;

void amqp_connection::declare_topology(const broker_config& cfg) {
  amqp_exchange_declare(s_->conn, 1, bytes(cfg.exchange), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                        amqp_empty_table);
  check(amqp_get_rpc_reply(s_->conn), "exchange.declare " + cfg.exchange);
  amqp_queue_declare(s_->conn, 1, bytes(cfg.queue), 0, 1, 0, 0, amqp_empty_table);
  check(amqp_get_rpc_reply(s_->conn), "queue.declare " + cfg.queue);
  amqp_queue_bind(s_->conn, 1, bytes(cfg.queue), bytes(cfg.exchange), amqp_cstring_bytes("file.*"),
                  amqp_empty_table);
  check(amqp_get_rpc_reply(s_->conn), "queue.bind");
}

void amqp_connection::enable_confirms() {
  amqp_confirm_select(s_->conn, 1);
  check(amqp_get_rpc_reply(s_->conn), "confirm.select");
}

std::uint64_t amqp_connection::publish(const std::string& exchange, const std::string& routing_key,
                                       const std::string& body, const std::string& message_id,
                                       const std::string& type, std::int64_t timestamp_s) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                 AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = 2;  // persistent
  props.message_id = bytes(message_id);
  props.type = bytes(type);
  props.timestamp = static_cast<uint64_t>(timestamp_s);
  const int rc = amqp_basic_publish(s_->conn, 1, bytes(exchange), bytes(routing_key), 0, 0, &props,
                                    bytes(body));
  if (rc != AMQP_STATUS_OK) {
    s_->healthy = false;
    throw amqp_error(std::string("publish: ") + amqp_error_string2(rc));
  }
  return next_tag_++;
}

void amqp_connection::wait_confirms(std::uint64_t last_tag, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  while (confirmed_ < last_tag) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    timeval tv = to_timeval(left);
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(s_->conn, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) throw amqp_error("broker did not confirm in time");
    if (rc != AMQP_STATUS_OK) {
      s_->healthy = false;
      throw amqp_error(std::string("waiting for confirms: ") + amqp_error_string2(rc));
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const auto& m = frame.payload.method;
    if (m.id == AMQP_BASIC_ACK_METHOD) {
      const auto* ack = static_cast<amqp_basic_ack_t*>(m.decoded);
      if (ack->multiple) {
        confirmed_ = std::max<std::uint64_t>(confirmed_, ack->delivery_tag);
      } else {
        s_->acked_out_of_order.insert(ack->delivery_tag);
      }
      auto& pending = s_->acked_out_of_order;
      while (!pending.empty() && *pending.begin() <= confirmed_ + 1) {
        confirmed_ = std::max<std::uint64_t>(confirmed_, *pending.begin());
        pending.erase(pending.begin());
      }
    } else if (m.id == AMQP_BASIC_NACK_METHOD) {
      throw amqp_error("broker refused a message (nack)");
    } else if (m.id == AMQP_CHANNEL_CLOSE_METHOD || m.id == AMQP_CONNECTION_CLOSE_METHOD) {
      s_->healthy = false;
      throw amqp_error(close_reason(m));
    }
  }
  amqp_maybe_release_buffers(s_->conn);
}

void amqp_connection::poll_alive(std::chrono::milliseconds timeout) {
  timeval tv = to_timeval(timeout);
  amqp_frame_t frame;
  const int rc = amqp_simple_wait_frame_noblock(s_->conn, &frame, &tv);
  if (rc == AMQP_STATUS_TIMEOUT) return;
  if (rc != AMQP_STATUS_OK) {
    s_->healthy = false;
    throw amqp_error(std::string("broker connection lost: ") + amqp_error_string2(rc));
  }
  if (frame.frame_type == AMQP_FRAME_METHOD &&
      (frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
       frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD)) {
    s_->healthy = false;
    throw amqp_error(close_reason(frame.payload.method));
  }
}

std::string amqp_connection::declare_private_queue(const std::string& exchange,
                                                   const std::string& pattern) {
  auto* ok = amqp_queue_declare(s_->conn, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
  check(amqp_get_rpc_reply(s_->conn), "queue.declare (private)");
  std::string name = text(ok->queue);
  amqp_queue_bind(s_->conn, 1, bytes(name), bytes(exchange), bytes(pattern), amqp_empty_table);
  check(amqp_get_rpc_reply(s_->conn), "queue.bind " + pattern);
  return name;
}

void amqp_connection::consume(const std::string& queue, std::uint16_t prefetch) {
  amqp_basic_qos(s_->conn, 1, 0, prefetch, 0);
  check(amqp_get_rpc_reply(s_->conn), "basic.qos");
  amqp_basic_consume(s_->conn, 1, bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  check(amqp_get_rpc_reply(s_->conn), "basic.consume " + queue);
}

std::optional<delivered_message> amqp_connection::next_message(std::chrono::milliseconds timeout) {
  amqp_maybe_release_buffers(s_->conn);
  timeval tv = to_timeval(timeout);
  amqp_envelope_t env;
  const amqp_rpc_reply_t r = amqp_consume_message(s_->conn, &env, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
    return std::nullopt;
  }
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    poll_alive(std::chrono::milliseconds(0));  // a method frame arrived: throws if it is a close
    return std::nullopt;
  }
  check(r, "consume");
  delivered_message m;
  m.body = text(env.message.body);
  m.routing_key = text(env.routing_key);
  if (env.message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
    m.message_id = text(env.message.properties.message_id);
  }
  if (env.message.properties._flags & AMQP_BASIC_TYPE_FLAG)
    m.type = text(env.message.properties.type);
  m.delivery_tag = env.delivery_tag;
  amqp_destroy_envelope(&env);
  return m;
}

void amqp_connection::ack(std::uint64_t delivery_tag) {
  if (amqp_basic_ack(s_->conn, 1, delivery_tag, 0) != AMQP_STATUS_OK) {
    s_->healthy = false;
    throw amqp_error("basic.ack failed");
  }
}

}  // namespace sharebox::events
