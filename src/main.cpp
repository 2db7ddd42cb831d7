// sharebox: the server and its administrative commands.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "sharebox/app/config.hpp"
#include "sharebox/app/events_command.hpp"
#include "sharebox/app/json_log_formatter.hpp"
#include "sharebox/app/log_output.hpp"
#include "sharebox/app/server.hpp"
#include "sharebox/client/commands.hpp"
#include "sharebox/domain/auth_service.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/storage/sqlite_store.hpp"
#include "sharebox/transport/access_log.hpp"
#include "sharebox/util/time.hpp"

namespace {

using sharebox::app::config;

void add_data_dir(CLI::App* cmd, std::filesystem::path& dir) {
  cmd->add_option("--data-dir", dir, "Directory holding the database and the file blobs")
      ->envname("SHAREBOX_DATA_DIR")
      ->capture_default_str();
}

void add_serve_options(CLI::App* cmd, config& c) {
  add_data_dir(cmd, c.data_dir);
  cmd->add_option("--listen", c.listen, "Address and port to listen on (port 0 picks a free one)")
      ->envname("SHAREBOX_LISTEN")
      ->capture_default_str();
  cmd->add_option("--tls-cert", c.tls_cert,
                  "PEM certificate chain (leaf first): serve HTTPS and WSS on --listen (with "
                  "--tls-key)")
      ->envname("SHAREBOX_TLS_CERT");
  cmd->add_option("--tls-key", c.tls_key, "PEM private key (unencrypted) of --tls-cert")
      ->envname("SHAREBOX_TLS_KEY");
  cmd->add_option("--threads", c.threads, "Network threads (default: one per core)")
      ->envname("SHAREBOX_THREADS");
  cmd->add_option("--workers", c.workers,
                  "Worker threads for blocking work: SQLite, fsync, hashing (default: 2 x cores, "
                  "at least 4)")
      ->envname("SHAREBOX_WORKERS");
  cmd->add_option("--max-file-size", c.max_file_size,
                  "Largest accepted file, e.g. 500M or 10G; larger uploads get 413 before their "
                  "body is read")
      ->envname("SHAREBOX_MAX_FILE_SIZE")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->add_option("--max-header-size", c.max_header_size,
                  "Largest request header block in bytes (larger: 431)")
      ->envname("SHAREBOX_MAX_HEADER_SIZE")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->add_option("--header-timeout", c.header_timeout_s,
                  "Seconds a new connection has to send a complete request header")
      ->envname("SHAREBOX_HEADER_TIMEOUT")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", c.idle_timeout_s,
                  "Seconds an idle keep-alive connection is kept open")
      ->envname("SHAREBOX_IDLE_TIMEOUT")
      ->capture_default_str();
  cmd->add_option("--read-timeout", c.read_timeout_s,
                  "Seconds a request body may stall before the connection is closed")
      ->envname("SHAREBOX_READ_TIMEOUT")
      ->capture_default_str();
  cmd->add_option("--write-timeout", c.write_timeout_s,
                  "Seconds a client may stall reading a response before it is dropped")
      ->envname("SHAREBOX_WRITE_TIMEOUT")
      ->capture_default_str();
  cmd->add_option("--shutdown-timeout", c.shutdown_timeout_s,
                  "Seconds in-flight requests get to finish after SIGTERM/SIGINT")
      ->envname("SHAREBOX_SHUTDOWN_TIMEOUT")
      ->capture_default_str();
  cmd->add_flag("--trust-user-header", c.trust_user_header,
                "Accept X-User-Id as the caller's identity (only behind an authenticating proxy)")
      ->envname("SHAREBOX_TRUST_USER_HEADER");
  cmd->add_option("--ws-ticket-ttl", c.ws_ticket_ttl_s,
                  "Seconds a single-use ticket from POST /auth/ws-ticket stays valid")
      ->envname("SHAREBOX_WS_TICKET_TTL")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--api-key-mappings", c.api_key_mappings,
                  "Provision keys at start: key:user,key2:user2")
      ->envname("API_KEY_MAPPINGS");
  cmd->add_option("--cors-origins", c.cors_origins,
                  "Comma-separated origins whose browser pages may call the API, or '*'")
      ->envname("SHAREBOX_CORS_ORIGINS");
  cmd->add_option("--metrics-key", c.metrics_key,
                  "Key GET /metrics wants as 'Authorization: Bearer KEY' (default: public, like "
                  "/health)")
      ->envname("SHAREBOX_METRICS_KEY");
  cmd->add_option("--rate-limit", c.rate_limit,
                  "Requests a second per API key, browser session or proxied user (0: no limit); "
                  "beyond it 429 with Retry-After")
      ->envname("SHAREBOX_RATE_LIMIT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--rate-limit-burst", c.rate_limit_burst,
                  "Requests a credential may make at once before --rate-limit applies (0: twice "
                  "the rate, at least 1)")
      ->envname("SHAREBOX_RATE_LIMIT_BURST")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--chunk-size", c.chunk_size,
                  "Default chunk size of the chunked upload API (clients may ask for another "
                  "between 64K and 64M)")
      ->envname("CHUNK_SIZE_BYTES")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->add_option("--max-inflight-chunks-per-upload", c.max_inflight_chunks_per_upload,
                  "Chunks of one upload received at once; more get 429 with Retry-After")
      ->envname("MAX_INFLIGHT_CHUNKS_PER_UPLOAD")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-inflight-chunks-per-user", c.max_inflight_chunks_per_user,
                  "Chunks (and tus PATCHes) of one user received at once")
      ->envname("MAX_INFLIGHT_CHUNKS_PER_USER")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-global-inflight-chunks", c.max_global_inflight_chunks,
                  "Chunks (and tus PATCHes) received at once by the whole server")
      ->envname("MAX_GLOBAL_INFLIGHT_CHUNKS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-open-uploads-per-user", c.max_open_uploads_per_user,
                  "Unfinished resumable uploads one user may have")
      ->envname("SHAREBOX_MAX_OPEN_UPLOADS_PER_USER")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--upload-ttl", c.upload_ttl_s,
                  "Seconds an unfinished upload is kept after its last activity")
      ->envname("SHAREBOX_UPLOAD_TTL")
      ->check(CLI::Range(1.0, 365.0 * 24 * 3600))
      ->capture_default_str();
  cmd->add_option("--upload-sweep-interval", c.upload_sweep_interval_s,
                  "Seconds between sweeps that reclaim expired uploads")
      ->envname("SHAREBOX_UPLOAD_SWEEP_INTERVAL")
      ->check(CLI::Range(0.05, 86400.0))
      ->capture_default_str();
  cmd->add_option("--session-ttl", c.session_ttl_s,
                  "Seconds a browser sign-in (POST /auth/session) lasts")
      ->envname("SHAREBOX_SESSION_TTL")
      ->check(CLI::Range(60.0, 365.0 * 24 * 3600))
      ->capture_default_str();
  cmd->add_option("--intake-max-file-size", c.intake_max_file_size,
                  "Largest image /ws/intake accepts")
      ->envname("SHAREBOX_INTAKE_MAX_FILE_SIZE")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->add_option("--intake-max-files", c.intake_max_files, "Images one /ws/intake session may add")
      ->envname("SHAREBOX_INTAKE_MAX_FILES")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--intake-phash-distance", c.intake_phash_distance,
                  "Perceptual hashes at most this many bits apart (of 64) are the same picture")
      ->envname("SHAREBOX_INTAKE_PHASH_DISTANCE")
      ->check(CLI::Range(0, 32))
      ->capture_default_str();
  cmd->add_option("--intake-max-pixels", c.intake_max_pixels,
                  "Largest picture (width x height) decoded; bounds memory per decode")
      ->envname("SHAREBOX_INTAKE_MAX_PIXELS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--image-workers", c.image_workers,
                  "Threads that decode images (0: one per core)")
      ->envname("SHAREBOX_IMAGE_WORKERS")
      ->capture_default_str();
  cmd->add_option("--events", c.events,
                  "Publish file events to RabbitMQ: on or off (off keeps them in the outbox)")
      ->envname("SHAREBOX_EVENTS")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_option("--rabbitmq-url", c.rabbitmq_url,
                  "Broker URL amqp://user:pass@host:port/vhost (default amqp://guest:guest@"
                  "localhost:5672/)")
      ->envname("RABBITMQ_URL");
  cmd->add_option("--rabbitmq-host", c.rabbitmq_host, "Broker host, when no URL is given")
      ->envname("RABBITMQ_HOST");
  cmd->add_option("--rabbitmq-queue", c.rabbitmq_queue, "Durable queue bound to file.*")
      ->envname("RABBITMQ_QUEUE")
      ->capture_default_str();
  cmd->add_option("--events-exchange", c.events_exchange, "Durable topic exchange for events")
      ->envname("SHAREBOX_EVENTS_EXCHANGE")
      ->capture_default_str();
  cmd->add_option("--outbox-retention-hours", c.outbox_retention_hours,
                  "How long published events stay in the outbox before they are pruned")
      ->envname("SHAREBOX_OUTBOX_RETENTION_HOURS")
      ->capture_default_str();
  cmd->add_option("--log-level", c.log_level, "trace, debug, info, warn, error or off")
      ->envname("SHAREBOX_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  cmd->add_option("--log-format", c.log_format,
                  "text, or json: one JSON object per line (access lines have their own fields)")
      ->envname("SHAREBOX_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

int fail(const std::string& message) {
  std::cerr << "sharebox: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sharebox: a file-sharing server"};
  app.require_subcommand(1);

  config cfg;
  auto* serve = app.add_subcommand("serve", "Run the server");
  add_serve_options(serve, cfg);

  std::filesystem::path data_dir = "./data";
  std::string name;
  std::string label = "cli";
  bool admin = false;

  auto* user = app.add_subcommand("user", "Manage users");
  user->require_subcommand(1);
  auto* user_add = user->add_subcommand("add", "Create a user; prints its API key alone on stdout");
  user_add->add_option("name", name, "User name: a-z, 0-9, '.', '_', '-'")->required();
  user_add->add_flag("--admin", admin, "Give the user the admin role");
  add_data_dir(user_add, data_dir);
  // These run in another process than the server, which still refuses the user at their next
  // request: any commit empties its download cache (download_cache.hpp), and sessions and
  // tickets are checked against the database. Their open live streams end at the server's next
  // sweep (--upload-sweep-interval, 60 s by default); PATCH /admin/users ends them at once.
  auto* user_disable = user->add_subcommand(
      "disable", "Refuse every key, session and ticket of a user until enabled again");
  user_disable->add_option("name", name, "User name")->required();
  add_data_dir(user_disable, data_dir);
  auto* user_enable = user->add_subcommand("enable", "Let a disabled user in again");
  user_enable->add_option("name", name, "User name")->required();
  add_data_dir(user_enable, data_dir);

  auto* key = app.add_subcommand("key", "Manage API keys");
  key->require_subcommand(1);
  auto* key_add = key->add_subcommand("add", "Issue another key for a user; prints it alone");
  key_add->add_option("user", name, "User name")->required();
  key_add->add_option("--label", label, "A note to recognise the key by");
  add_data_dir(key_add, data_dir);
  auto* key_list = key->add_subcommand("list", "List a user's keys (ids, never the secrets)");
  key_list->add_option("user", name, "User name")->required();
  add_data_dir(key_list, data_dir);
  std::string key_or_id;
  auto* key_revoke = key->add_subcommand("revoke", "Revoke a key, given its id or the key");
  key_revoke->add_option("key", key_or_id, "Key id (from `key list`) or the key itself")
      ->required();
  add_data_dir(key_revoke, data_dir);

  sharebox::app::events_command_options ev;
  auto* events = app.add_subcommand(
      "events", "Consume file events from RabbitMQ and print one line per event");
  events->add_option("--rabbitmq-url", ev.url, "Broker URL amqp://user:pass@host:port/vhost")
      ->envname("RABBITMQ_URL");
  events->add_option("--rabbitmq-host", ev.host, "Broker host, when no URL is given")
      ->envname("RABBITMQ_HOST");
  events->add_option("--queue", ev.queue, "Queue to consume")
      ->envname("RABBITMQ_QUEUE")
      ->capture_default_str();
  events->add_option("--exchange", ev.exchange, "Events exchange")->capture_default_str();
  events->add_option("--bind", ev.bind,
                     "Consume a private queue bound to this pattern (e.g. 'file.shared') instead");
  events->add_flag("--json", ev.json, "Print each event's raw JSON body");
  events->add_option("--count", ev.count, "Exit after this many events");

  auto client_commands = sharebox::client::add_commands(app);
  CLI11_PARSE(app, argc, argv);
  if (auto status = client_commands->run()) return *status;
  if (*events) return sharebox::app::run_events_command(ev);

  auto log_sink = std::make_shared<sharebox::app::log_output>();
  auto logger = std::make_shared<spdlog::logger>("sharebox", log_sink);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");

  try {
    if (*serve) {
      spdlog::set_level(spdlog::level::from_str(cfg.log_level));
      if (cfg.log_format == "json") {
        log_sink->set_formatter(std::make_unique<sharebox::app::json_log_formatter>());
        // Access lines go through their own logger so the formatter can give them their fields.
        auto access = std::make_shared<spdlog::logger>("access", log_sink);
        access->set_level(logger->level());
        access->flush_on(spdlog::level::warn);
        sharebox::transport::configure_access_log(std::move(access),
                                                  sharebox::transport::log_format::json);
      }
      return sharebox::app::serve(cfg);
    }
    spdlog::set_level(spdlog::level::warn);
    std::filesystem::create_directories(data_dir);
    sharebox::storage::sqlite_store store(data_dir / "sharebox.db");
    sharebox::domain::auth_service auth(store);
    if (*user_add) {
      std::cout << auth.create_user(name, admin).secret << std::endl;
    } else if (*user_disable || *user_enable) {
      const bool disable = static_cast<bool>(*user_disable);
      auth.update_user(name, {disable, std::nullopt});
      std::cerr << (disable ? "disabled\n" : "enabled\n");
    } else if (*key_add) {
      std::cout << auth.add_key(name, label).secret << std::endl;
    } else if (*key_list) {
      for (const auto& k : auth.keys(name)) {
        std::cout << k.id << "  " << sharebox::util::format_rfc3339(k.created_at) << "  "
                  << (k.revoked_at ? "revoked" : "active ") << "  " << k.label << "\n";
      }
    } else if (*key_revoke) {
      if (!auth.revoke(key_or_id)) return fail("no active key matches");
      std::cerr << "revoked\n";
    }
    return 0;
  } catch (const sharebox::domain::error& e) {
    return fail(e.what());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
