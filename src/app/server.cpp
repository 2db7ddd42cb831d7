#include "sharebox/app/server.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "sharebox/api/context.hpp"
#include "sharebox/api/download_cache.hpp"
#include "sharebox/api/live_hub.hpp"
#include "sharebox/api/metrics.hpp"
#include "sharebox/api/rate_limiter.hpp"
#include "sharebox/app/live_feed.hpp"
#include "sharebox/app/log_output.hpp"
#include "sharebox/events/relay.hpp"
#include "sharebox/images/image_probe.hpp"
#include "sharebox/http/beast.hpp"
#include "sharebox/storage/fs_blob_store.hpp"
#include "sharebox/storage/fs_upload_staging.hpp"
#include "sharebox/storage/sqlite_commit_probe.hpp"
#include "sharebox/storage/sqlite_store.hpp"
#include "sharebox/transport/connection_registry.hpp"
#include "sharebox/transport/http_session.hpp"
#include "sharebox/transport/listener.hpp"
#include "sharebox/util/metrics.hpp"
#include "sharebox/transport/tls.hpp"
#include "sharebox/util/time.hpp"

namespace sharebox::app {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

milliseconds to_ms(double seconds) {
  return duration_cast<milliseconds>(std::chrono::duration<double>(seconds));
}

tcp::endpoint parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--listen must be HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  const int port = std::stoi(listen.substr(colon + 1));
  if (port < 0 || port > 65535) throw std::invalid_argument("--listen port out of range");
  return {asio::ip::make_address(host), static_cast<unsigned short>(port)};
}

// Prints on stdout, flushed at once: scripts and tests wait for these lines.
void announce(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Before serving: temp files are few (uploads in flight at the last stop), and new uploads
// write there.
void remove_temp_files(storage::fs_blob_store& blobs) {
  if (const auto n = blobs.remove_temp_files()) {
    spdlog::info("removed {} temp file(s) of uploads that were never acknowledged", n);
  }
}

// After the server is ready, on the worker pool: this visits every blob, so at start it would
// make start time grow with the data (about 1 s for 100k files, measured). The blob store
// never takes a blob made since it opened for an orphan, so serving meanwhile is safe.
void sweep_orphan_blobs(storage::fs_blob_store& blobs, storage::sqlite_store& meta) {
  try {
    const auto started = std::chrono::steady_clock::now();
    const auto orphans = blobs.remove_unreferenced(
        [&](std::string_view shard) { return meta.blobs_with_prefix(shard); });
    const auto ms = duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
    if (orphans) spdlog::info("removed {} blob(s) whose metadata commit never happened", orphans);
    spdlog::debug("orphan blob sweep took {} ms", ms.count());
  } catch (const std::exception& e) {
    spdlog::warn("orphan blob sweep failed: {}", e.what());
  }
}

// Whether a file can be created, written and made durable at `path` (then removed): a full
// disk, a read-only remount or lost permissions show here. Empty on success.
std::string write_probe(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return std::strerror(errno);
  static constexpr char probe[] = "ready\n";
  int err = 0;
  if (::write(fd, probe, sizeof probe - 1) != static_cast<ssize_t>(sizeof probe - 1) ||
      ::fdatasync(fd) != 0) {
    err = errno != 0 ? errno : EIO;
  }
  ::close(fd);
  ::unlink(path.c_str());
  return err != 0 ? std::strerror(err) : std::string();
}

api::readiness check_readiness(storage::sqlite_store& meta, storage::fs_blob_store& blobs) {
  api::readiness r;
  r.ready = true;
  try {
    const int at = meta.schema_version();
    const int latest = storage::sqlite_store::latest_schema_version();
    if (at == latest) {
      r.checks["database"] = "ok";
    } else {
      r.ready = false;
      r.checks["database"] =
          "schema at version " + std::to_string(at) + ", expected " + std::to_string(latest);
    }
  } catch (const std::exception& e) {
    r.ready = false;
    r.checks["database"] = std::string("cannot read: ") + e.what();
  }
  if (const auto failure = write_probe(blobs.scratch_path()); failure.empty()) {
    r.checks["data_dir"] = "ok";
  } else {
    r.ready = false;
    r.checks["data_dir"] = "not writable: " + failure;
  }
  return r;
}

// /ready needs no credentials, and each check is a write and an fdatasync: a burst of probes
// must not become a burst of disk flushes, nor, on a disk that hangs, a pile of pool threads
// waiting behind one check. One check runs at a time and its result answers for a second;
// while a check runs, callers get the previous result (only the very first waits for it).
class readiness_probe {
 public:
  readiness_probe(storage::sqlite_store& meta, storage::fs_blob_store& blobs)
      : meta_(meta), blobs_(blobs) {}

  api::readiness operator()() {
    {
      std::unique_lock lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      if (checked_ && (running_ || now - checked_at_ < std::chrono::seconds(1))) return last_;
      if (running_) {
        done_.wait(lock, [&] { return checked_; });
        return last_;
      }
      running_ = true;
    }
    api::readiness r;
    try {
      r = check_readiness(meta_, blobs_);
    } catch (const std::exception& e) {  // e.g. no memory: still a result, and the flag resets
      r.checks["error"] = e.what();
    }
    std::lock_guard lock(mutex_);
    last_ = r;
    checked_at_ = std::chrono::steady_clock::now();
    checked_ = true;
    running_ = false;
    done_.notify_all();
    return r;
  }

 private:
  storage::sqlite_store& meta_;
  storage::fs_blob_store& blobs_;
  std::mutex mutex_;
  std::condition_variable done_;
  std::chrono::steady_clock::time_point checked_at_;
  bool checked_ = false;
  bool running_ = false;
  api::readiness last_;
};

// The cores this process may run on (its affinity mask, e.g. one under `taskset -c 0`).
unsigned usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return std::max(1u, std::thread::hardware_concurrency());
  return std::max(1, CPU_COUNT(&set));
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= s.size()) {
    const auto comma = s.find(',', at);
    std::string item = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    while (!item.empty() && item.front() == ' ')
      item.erase(item.begin());
    while (!item.empty() && item.back() == ' ')
      item.pop_back();
    if (!item.empty()) out.push_back(std::move(item));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

domain::upload_options upload_options_from(const config& cfg) {
  domain::upload_options o;
  o.max_file_size = cfg.max_file_size;
  o.default_chunk_size = cfg.chunk_size;
  o.ttl = to_ms(cfg.upload_ttl_s);
  o.max_open_per_user = cfg.max_open_uploads_per_user;
  o.inflight = {cfg.max_inflight_chunks_per_upload, cfg.max_inflight_chunks_per_user,
                cfg.max_global_inflight_chunks};
  return o;
}

// Expired uploads (and ended browser sessions) are reclaimed on the pool, one sweep at a time,
// between timer ticks. Each sweep also ends the live streams of disabled users: PATCH
// /admin/users ends them at once, but `sharebox user disable` runs in another process, so
// streams it should end last at most one interval longer.
class upload_sweeper {
 public:
  upload_sweeper(asio::io_context& ioc, asio::thread_pool& pool, domain::upload_service& uploads,
                 domain::auth_service& auth, api::live_hub& hub, milliseconds interval)
      : timer_(ioc), pool_(pool), uploads_(uploads), auth_(auth), hub_(hub), interval_(interval) {}
  void start() { arm(); }
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

 private:
  void arm() {
    timer_.expires_after(interval_);
    timer_.async_wait([this](error_code ec) {
      if (ec || stopped_) return;
      asio::post(pool_, [this] {
        try {
          const auto r = uploads_.sweep(util::now_ms());
          if (r.expired) spdlog::info("expired {} unfinished upload(s)", r.expired);
          auth_.purge_sessions();
          if (hub_.subscribers() != 0) {
            for (const auto& id : auth_.disabled_user_ids())
              hub_.disconnect(id);
          }
        } catch (const std::exception& e) {
          spdlog::warn("upload sweep failed: {}", e.what());
        }
        asio::post(timer_.get_executor(), [this] {
          if (!stopped_) arm();
        });
      });
    });
  }

  asio::steady_timer timer_;
  asio::thread_pool& pool_;
  domain::upload_service& uploads_;
  domain::auth_service& auth_;
  api::live_hub& hub_;
  milliseconds interval_;
  std::atomic<bool> stopped_ = false;
};

// While it lives, the default logger's lines (if it writes through a log_output) are written
// once per batch of ready handlers on `ioc` instead of once per line; afterwards, and at once
// when it ends, every line is written.
class batched_logging {
 public:
  explicit batched_logging(asio::io_context& ioc) {
    for (const auto& sink : spdlog::default_logger()->sinks()) {
      if (auto out = std::dynamic_pointer_cast<log_output>(sink)) {
        output_ = out;
        out->batch_with([&ioc, weak = std::weak_ptr<log_output>(out)] {
          asio::post(ioc, [weak] {
            if (auto o = weak.lock()) o->flush();
          });
        });
      }
    }
  }
  ~batched_logging() {
    if (output_) output_->batch_with(nullptr);
  }
  batched_logging(const batched_logging&) = delete;
  batched_logging& operator=(const batched_logging&) = delete;

 private:
  std::shared_ptr<log_output> output_;
};

// The figures GET /metrics reads at scrape time from other components: the outbox (a count in
// the database; the relay's own counters), open resumable uploads, open connections.
void add_scrape_time_metrics(util::metrics::registry& metrics, storage::sqlite_store& meta,
                             const events::relay* relay,
                             const transport::connection_registry& connections) {
  metrics.add_collector([&meta, relay, &connections](util::metrics::text_writer& w) {
    w.family("sharebox_open_connections", "gauge",
             "Open client connections, WebSocket and SSE streams included.");
    w.sample("sharebox_open_connections", {}, static_cast<std::int64_t>(connections.size()));
    w.family("sharebox_resumable_uploads_open", "gauge",
             "Unfinished resumable uploads (chunked API and tus) in the database, by protocol.");
    for (const auto& [protocol, n] : meta.open_uploads_by_protocol())
      w.sample("sharebox_resumable_uploads_open", {{"protocol", protocol}}, n);
    w.family("sharebox_outbox_backlog", "gauge",
             "Events committed to the outbox and not yet published to the broker.");
    w.sample("sharebox_outbox_backlog", {}, meta.backlog());
    events::relay_status s;
    if (relay) s = relay->status();
    w.family("sharebox_outbox_published_total", "counter",
             "Events published to the broker and confirmed by it, since the server started.");
    w.sample("sharebox_outbox_published_total", {}, s.published);
    w.family("sharebox_outbox_publish_failures_total", "counter",
             "Failed attempts to publish to the broker (unreachable, or a publish or its "
             "confirmation failed), each retried later, since the server started.");
    w.sample("sharebox_outbox_publish_failures_total", {}, s.failures);
    w.family("sharebox_broker_connected", "gauge",
             "1 while the events relay is connected to the broker, else 0 (also with --events "
             "off).");
    w.sample("sharebox_broker_connected", {}, static_cast<std::int64_t>(s.connected ? 1 : 0));
  });
}

// The TLS context when --tls-cert and --tls-key are given (both or neither), built before
// anything else so that a bad file stops the start at once.
std::unique_ptr<asio::ssl::context> tls_context_from(const config& cfg) {
  if (cfg.tls_cert.empty() && cfg.tls_key.empty()) return nullptr;
  if (cfg.tls_cert.empty() || cfg.tls_key.empty()) {
    throw std::invalid_argument(
        "--tls-cert and --tls-key (SHAREBOX_TLS_CERT, SHAREBOX_TLS_KEY) go together: give both "
        "for HTTPS, or neither for plain HTTP");
  }
  auto ctx = transport::make_tls_context(cfg.tls_cert, cfg.tls_key);
  bool expired = false;
  const std::string cert = transport::describe_certificate(*ctx, expired);
  spdlog::info("TLS on (HTTPS and WSS on the listen port): certificate {}", cert);
  if (expired) spdlog::warn("the TLS certificate {} has expired", cfg.tls_cert.string());
  return ctx;
}

}  // namespace

int serve(const config& cfg) {
  const auto tls = tls_context_from(cfg);
  // A client that disconnects during sendfile(2) must cost an EPIPE on its own connection, not
  // a SIGPIPE that kills the whole server (Asio's own sends use MSG_NOSIGNAL; sendfile cannot).
  std::signal(SIGPIPE, SIG_IGN);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned threads = cfg.threads ? cfg.threads : cores;
  const unsigned workers = cfg.workers ? cfg.workers : std::max(4u, 2 * cores);
  if (cfg.trust_user_header) {
    spdlog::warn(
        "--trust-user-header is on: X-User-Id is trusted as the caller's identity. Only run "
        "this behind a proxy that authenticates users and sets that header itself.");
  }

  // First: it outlives everything that records into it (connections, the store, the relay).
  util::metrics::registry metrics;
  metrics
      .add_gauge("sharebox_build_info", "The running sharebox's version (always 1).",
                 {{"version", SHAREBOX_VERSION}})
      .set(1);
  util::metrics::add_process_metrics(metrics);
  api::api_metrics api_metrics(metrics);
  auto& commit_time = metrics.add_histogram(
      "sharebox_sqlite_commit_duration_seconds",
      "Time to commit a write transaction to SQLite (WAL, synchronous=FULL: the fsync included).",
      util::metrics::duration_buckets());

  std::filesystem::create_directories(cfg.data_dir);
  // Made after the store (whose connections create the WAL index it maps) but destroyed after it
  // too: its descriptor of "-shm" must stay open while SQLite's connections hold their locks.
  std::optional<storage::sqlite_commit_probe> probe;
  storage::sqlite_store meta(cfg.data_dir / "sharebox.db");
  meta.observe_commits(&commit_time);
  if (meta.migrations_applied()) spdlog::info("applied {} migration(s)", meta.migrations_applied());
  const auto& commits = probe.emplace(cfg.data_dir / "sharebox.db");
  if (!commits.unavailable().empty()) {
    spdlog::warn("downloads are not cached in memory: {}", commits.unavailable());
  }
  api::download_cache downloads(commits);
  storage::fs_blob_store blobs(cfg.data_dir);
  remove_temp_files(blobs);

  domain::auth_service auth(meta);
  if (auto admin = auth.bootstrap_admin()) {
    announce("sharebox: initial admin API key: " + admin->secret);
    announce("sharebox: (shown once; create more users with `sharebox user add NAME`)");
  }
  if (!cfg.api_key_mappings.empty()) auth.provision(cfg.api_key_mappings);
  domain::file_service files(meta, blobs, {cfg.trust_user_header});
  storage::fs_upload_staging staging(cfg.data_dir, blobs);
  domain::upload_service uploads(meta, staging, blobs, files, upload_options_from(cfg));
  if (const auto n = uploads.recover()) {
    spdlog::info("removed {} staged upload file(s) left by a crash after completion", n);
  }

  std::unique_ptr<events::relay> relay;
  if (cfg.events == "on") {
    events::broker_config broker{events::broker_url_from(cfg.rabbitmq_url, cfg.rabbitmq_host),
                                 cfg.events_exchange, cfg.rabbitmq_queue};
    events::relay_options ro;
    ro.retention = std::chrono::hours(static_cast<long>(cfg.outbox_retention_hours));
    relay = std::make_unique<events::relay>(meta, broker, ro);
    relay->start();
  }
  api::live_hub hub;
  api::ticket_store tickets(std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::duration<double>(cfg.ws_ticket_ttl_s)));
  live_feed feed(meta, hub);
  feed.start();
  meta.on_events_committed([r = relay.get(), &feed, &downloads] {
    if (r) r->notify();
    feed.notify();
    downloads.clear();
  });
  asio::io_context ioc(static_cast<int>(threads));
  const batched_logging log_batches(ioc);
  asio::thread_pool pool(workers);
  const unsigned read_workers = std::min(workers, usable_cores());
  asio::thread_pool read_pool(read_workers);
  images::initialize();
  asio::thread_pool image_pool(cfg.image_workers ? cfg.image_workers : cores);
  domain::notification_service notifications(meta);
  auto health_details = [r = relay.get(), &hub, &uploads]() -> nlohmann::json {
    nlohmann::json events{{"broker", "disabled"}};
    if (r) {
      const auto s = r->status();
      events = {{"broker", s.connected ? "connected" : "disconnected"},
                {"outbox_backlog", s.backlog},
                {"published", s.published},
                {"publish_failures", s.failures}};
      if (!s.connected && !s.last_error.empty()) events["last_error"] = s.last_error;
    }
    return {{"events", events},
            {"live_subscribers", hub.subscribers()},
            {"upload_requests_in_flight", uploads.gate().in_flight()}};
  };
  readiness_probe readiness(meta, blobs);
  api::options api_opts;
  api_opts.max_file_size = cfg.max_file_size;
  api_opts.trust_user_header = cfg.trust_user_header;
  api_opts.cors_origins = split_list(cfg.cors_origins);
  api_opts.session_ttl_ms = static_cast<std::int64_t>(cfg.session_ttl_s * 1000);
  api_opts.metrics_key = cfg.metrics_key;
  api_opts.secure_cookies = tls != nullptr;
  api_opts.intake.session.max_file_bytes = cfg.intake_max_file_size;
  api_opts.intake.session.max_files = cfg.intake_max_files;
  api_opts.intake.session.max_phash_distance = cfg.intake_phash_distance;
  api_opts.intake.max_pixels = cfg.intake_max_pixels;
  api::rate_limiter limiter({cfg.rate_limit, cfg.rate_limit_burst});
  if (limiter.enabled()) {
    spdlog::info("rate limit: {:g} requests a second per credential, bursts of {:g}",
                 limiter.rate(), limiter.burst());
  }
  api::services svc{
      files,      auth,      notifications, uploads,        blobs,
      pool,       read_pool, image_pool,    api_opts,       hub,
      tickets,    downloads, limiter,       health_details, [&readiness] { return readiness(); },
      api_metrics};
  auto handler = std::make_shared<const http::request_handler>(api::make_api(svc));

  transport::limits lim;
  lim.max_header_bytes = cfg.max_header_size;
  lim.header_timeout = to_ms(cfg.header_timeout_s);
  lim.idle_timeout = to_ms(cfg.idle_timeout_s);
  lim.read_timeout = to_ms(cfg.read_timeout_s);
  lim.write_timeout = to_ms(cfg.write_timeout_s);

  transport::connection_registry registry;
  add_scrape_time_metrics(metrics, meta, relay.get(), registry);
  auto acceptor = std::make_shared<transport::listener>(
      ioc, parse_listen(cfg.listen),
      [&](tcp::socket socket) {
        if (tls) {
          std::make_shared<transport::http_session<transport::tls_stream>>(
              transport::tls_stream(std::move(socket), *tls), lim, handler, registry,
              api_metrics.requests())
              ->start();
        } else {
          std::make_shared<transport::http_session<transport::plain_stream>>(
              transport::plain_stream(std::move(socket)), lim, handler, registry,
              api_metrics.requests())
              ->start();
        }
      },
      threads == 1);
  upload_sweeper sweeper(ioc, pool, uploads, auth, hub, to_ms(cfg.upload_sweep_interval_s));
  sweeper.start();
  // Installed before the ready line: a SIGTERM right after it must mean a graceful stop.
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  acceptor->start();
  const auto ep = acceptor->local_endpoint();
  spdlog::info("serving {} with {} network thread(s) and {} worker(s), data in {}",
               ep.address().to_string() + ":" + std::to_string(ep.port()), threads, workers,
               cfg.data_dir.string());
  announce(std::string("sharebox: listening on ") + (tls ? "https://" : "http://") +
           ep.address().to_string() + ":" + std::to_string(ep.port()));
  asio::post(pool, [&blobs, &meta] { sweep_orphan_blobs(blobs, meta); });

  // Graceful shutdown: stop accepting, let connections finish their current request, and stop
  // the loop when none is left or the deadline passes.
  asio::steady_timer drain(ioc);
  const auto deadline = std::chrono::steady_clock::now();
  std::function<void()> poll_drain;
  auto stop_deadline = std::make_shared<std::chrono::steady_clock::time_point>(deadline);
  poll_drain = [&] {
    if (registry.size() == 0 || std::chrono::steady_clock::now() >= *stop_deadline) {
      if (registry.size() != 0) {
        spdlog::warn("shutdown deadline passed with {} connection(s) open", registry.size());
      }
      ioc.stop();
      return;
    }
    drain.expires_after(milliseconds(20));
    drain.async_wait([&](error_code) { poll_drain(); });
  };
  signals.async_wait([&](const error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: no longer accepting; finishing {} connection(s)", signo,
                 registry.size());
    *stop_deadline = std::chrono::steady_clock::now() + to_ms(cfg.shutdown_timeout_s);
    acceptor->stop();
    sweeper.stop();
    registry.shutdown_all();
    poll_drain();
  });

  std::vector<std::thread> runners;
  for (unsigned i = 1; i < threads; ++i)
    runners.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : runners)
    t.join();
  pool.join();
  read_pool.join();
  image_pool.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace sharebox::app
