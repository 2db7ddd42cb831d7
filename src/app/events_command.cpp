#include "sharebox/app/events_command.hpp"

#include <csignal>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "sharebox/events/amqp.hpp"

namespace sharebox::app {

namespace {

volatile std::sig_atomic_t interrupted = 0;

extern "C" void on_signal(int) {
  interrupted = 1;
}

std::string describe(const nlohmann::json& e) {
  const auto str = [&](const nlohmann::json& j, const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string("?");
  };
  const auto& f = e.contains("file") ? e["file"] : nlohmann::json::object();
  const std::string type = str(e, "type");
  std::string line =
      str(e, "occurred_at") + "  " + type + "  " + str(e, "actor") + "  \"" + str(f, "name") + "\"";
  if (f.contains("size") && f["size"].is_number()) {
    line += " (" + std::to_string(f["size"].get<std::uint64_t>()) + " bytes, v" +
            std::to_string(f.value("version", 0)) + ")";
  }
  if (e.contains("target_user_id")) {
    line += (type == "file.unshared" ? " from " : " with ") + str(e, "target_user_id");
    if (e.contains("permission")) line += " (" + str(e, "permission") + ")";
  }
  return line + "  file=" + str(f, "id") + "  event=" + str(e, "id");
}

}  // namespace

int run_events_command(const events_command_options& opts) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const std::string url = events::broker_url_from(opts.url, opts.host);
  try {
    events::amqp_connection conn(url, std::chrono::seconds(10));
    events::broker_config topo{url, opts.exchange, opts.queue};
    conn.declare_topology(topo);  // idempotent: the same durable topology the server declares
    const std::string queue =
        opts.bind.empty() ? opts.queue : conn.declare_private_queue(opts.exchange, opts.bind);
    conn.consume(queue, 64);
    std::cerr << "sharebox events: consuming " << queue << " (Ctrl-C to stop)\n";
    std::size_t seen = 0;
    while (!interrupted && (opts.count == 0 || seen < opts.count)) {
      auto m = conn.next_message(std::chrono::milliseconds(250));
      if (!m) continue;
      if (opts.json) {
        std::cout << m->body << "\n";
      } else {
        const auto j = nlohmann::json::parse(m->body, nullptr, false);
        std::cout << (j.is_object() ? describe(j) : "(not JSON) " + m->body) << "\n";
      }
      std::cout.flush();
      conn.ack(m->delivery_tag);  // only after the line is out
      ++seen;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sharebox events: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace sharebox::app
