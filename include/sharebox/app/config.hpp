#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace sharebox::app {

struct config {
  std::string listen = "127.0.0.1:8000";
  std::filesystem::path data_dir = "./data";
  unsigned threads = 0;  // network threads; 0 = one per core
  unsigned workers = 0;  // blocking-work pool; 0 = max(4, 2 x cores)
  std::uint64_t max_file_size = 10ull << 30;
  std::size_t max_header_size = 16 * 1024;
  double header_timeout_s = 30;
  double idle_timeout_s = 60;
  double read_timeout_s = 30;
  double write_timeout_s = 60;
  double shutdown_timeout_s = 30;
  bool trust_user_header = false;
  double ws_ticket_ttl_s = 30;  // lifetime of a single-use /auth/ws-ticket
  std::string api_key_mappings;
  std::string cors_origins;     // comma separated; "*" for any
  std::string metrics_key;      // GET /metrics wants it as a bearer token when set
  double rate_limit = 0;        // requests a second per credential; 0: no limit
  double rate_limit_burst = 0;  // bucket size; 0: max(1, 2 x rate_limit)
  // TLS on the listen port (HTTPS and WSS), when both are set: PEM certificate chain and key.
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;

  // Resumable uploads (the seed's names are honoured as environment variables).
  std::uint64_t chunk_size = 8ull << 20;  // CHUNK_SIZE_BYTES
  std::size_t max_inflight_chunks_per_upload = 8;
  std::size_t max_inflight_chunks_per_user = 16;
  std::size_t max_global_inflight_chunks = 64;
  std::int64_t max_open_uploads_per_user = 100;
  double upload_ttl_s = 24 * 3600;
  double upload_sweep_interval_s = 60;
  std::string log_level = "info";
  std::string log_format = "text";  // or "json"

  // Browser app and image intake.
  double session_ttl_s = 7 * 24 * 3600;  // sign-in cookie lifetime
  std::uint64_t intake_max_file_size = 5ull << 20;
  std::size_t intake_max_files = 10;
  int intake_phash_distance = 10;
  std::uint64_t intake_max_pixels = 40'000'000;
  unsigned image_workers = 0;  // decoding threads; 0 = one per core

  // Events (RabbitMQ). Kept in the outbox until a broker is reachable.
  std::string events = "on";  // "on" or "off"
  std::string rabbitmq_url;   // RABBITMQ_URL, amqp://user:pass@host:port/vhost
  std::string rabbitmq_host;  // RABBITMQ_HOST (the seed's), used when no URL is given
  std::string rabbitmq_queue = "file_alerts";
  std::string events_exchange = "sharebox.events";
  double outbox_retention_hours = 24 * 7;
};

}  // namespace sharebox::app
