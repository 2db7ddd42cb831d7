// Crash consistency: several client threads run a mixed workload (raw and multipart uploads,
// replaces with If-Match, chunked and tus uploads, shares, unshares, deletes, aborts) against a
// real server, which is killed with SIGKILL at a random point: after a random delay, or right
// at a chosen moment of a chosen request (its header sent, part of its body, all of it, its
// response read). The server restarts on the same data directory, and the test checks that
//   - every acknowledged change (a 2xx the client read) is there: bytes and sha256 as sent,
//     version and ETag, deletes stay deleted, shares present or absent;
//   - the request in flight at the kill is either wholly there or wholly absent, and nothing
//     else is visible; acknowledged chunks and tus bytes survive (the uploads are resumed and
//     completed, and must hash to what was sent);
//   - the data directory holds nothing but the blobs of live files and the staged files of
//     open, unexpired uploads (no temp file, no orphan blob, no metadata without its bytes), and
//     aborting the remaining uploads leaves no staged file;
//   - every committed change has its event in the run's RabbitMQ queue (at least once), and no
//     event describes a change that did not happen.
//
// Runs come five to a server (one data directory, one queue), each starting from what the runs
// before it left. A failure prints its server's seed: SHAREBOX_TEST_CRASH_SEED=N replays that
// server's runs (the same workloads and kill points; thread timing still varies).
// SHAREBOX_TEST_CRASH_RUNS=N sets the number of runs (100 by default: the CI version), and
// SHAREBOX_TEST_CRASH_VERBOSE=1 prints each run's kill point.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "support/api_client.hpp"
#include "support/fixture.hpp"
#include "support/rabbitmq.hpp"
#include "support/upload_helpers.hpp"

namespace sharebox::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr const char* alice_key = "sbx_crash_alice_7f3c9a1e5b2d4f6a8c0e2b4d6f8a0c2e";
constexpr const char* bob_key = "sbx_crash_bob_1a3c5e7g9i2k4m6o8q0s2u4w6y8a0c2";
constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t chunk_bytes = 64 * kib;  // the smallest chunk the server accepts
constexpr int default_runs = 100;
constexpr int runs_per_server = 5;  // kill runs on one data directory before a fresh one

std::optional<std::uint64_t> env_number(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::stoull(v);
}

// ---------------------------------------------------------------------------------------------
// The kill

enum class op_kind {
  raw_create,
  multipart_create,
  raw_replace,
  multipart_replace,
  remove,
  share,
  unshare,
  chunked_init,
  chunk,
  chunked_complete,
  chunked_abort,
  tus_create,
  tus_patch,
  tus_abort,
  count,
};

const char* name_of(op_kind k) {
  static constexpr const char* names[] = {"raw_create",        "multipart_create", "raw_replace",
                                          "multipart_replace", "remove",           "share",
                                          "unshare",           "chunked_init",     "chunk",
                                          "chunked_complete",  "chunked_abort",    "tus_create",
                                          "tus_patch",         "tus_abort"};
  return names[static_cast<int>(k)];
}

// Moments of one request.
enum class stage { head_sent, body_part_sent, body_sent, response_read, count };

const char* name_of(stage s) {
  static constexpr const char* names[] = {"head_sent", "body_part_sent", "body_sent",
                                          "response_read"};
  return names[static_cast<int>(s)];
}

// Kills the server's process group (SIGKILL) once: when a worker reaches the chosen moment of
// the chosen kind of request for the nth time (then after `delay`), or when the main thread
// decides to (a timed kill, or the workload's end).
class kill_switch {
 public:
  kill_switch(pid_t group, op_kind kind, stage at, int nth, std::chrono::microseconds delay)
      : group_(group), kind_(kind), stage_(at), nth_(nth), delay_(delay) {}

  void reached(op_kind k, stage s) {
    if (nth_ <= 0 || k != kind_ || s != stage_ || fired()) return;
    if (hits_.fetch_add(1) + 1 != nth_) return;
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    fire("worker trigger");
  }

  void fire(const char* why) {
    if (fired_.exchange(true)) return;
    why_.store(why);
    ::kill(-group_, SIGKILL);
  }
  bool fired() const { return fired_.load(); }
  const char* why() const { return why_.load(); }

 private:
  const pid_t group_;
  const op_kind kind_;
  const stage stage_;
  const int nth_;  // 0: no trigger, a timed kill only
  const std::chrono::microseconds delay_;
  std::atomic<int> hits_{0};
  std::atomic<bool> fired_{false};
  std::atomic<const char*> why_{""};
};

// ---------------------------------------------------------------------------------------------
// What the clients know

struct file_model {
  std::string id;
  std::string name;
  long version = 1;
  std::string sha256;
  std::uint64_t size = 0;
  std::string content_type;
  std::optional<std::string> bob;  // bob's permission
  bool deleted = false;
  bool locked = false;  // the target of an unfinished chunked replace: left alone meanwhile
};

struct chunked_model {
  std::string id;
  std::string name;
  std::string content;
  std::uint64_t chunk_count = 0;
  std::set<std::uint64_t> acked;
  std::optional<std::uint64_t> uncertain;  // sent when the server died: stored or not
  std::string replaces;                    // a file id, or "" for a new file
  bool declared_sha = false;
  bool finished = false;  // completed or aborted, acknowledged
};

struct tus_model {
  std::string id;
  std::string name;
  std::string content;
  std::uint64_t offset = 0;  // acknowledged
  bool finished = false;
};

// The request whose answer never came: its effect may or may not have committed.
struct pending_op {
  op_kind kind = op_kind::count;
  std::size_t target = 0;  // index into files, chunked or tus
  std::string name;        // creates
  std::string sha256;      // content sent (creates, replaces, final tus PATCH)
  std::uint64_t size = 0;
  std::string content_type;
  std::optional<std::string> perm;  // share
  std::uint64_t index = 0;          // chunk
  std::uint64_t length = 0;         // tus bytes sent
  bool completes = false;           // tus: these bytes finish the upload
};

struct expected_event {
  std::string type;
  std::string file_id;
  long version = 0;    // uploaded, updated
  std::string sha256;  // uploaded, updated
  std::string target;  // shared, unshared
  std::string perm;    // shared
  std::string describe() const {
    std::string s = type + " " + file_id;
    if (version) s += " v" + std::to_string(version);
    if (!sha256.empty()) s += " sha " + sha256.substr(0, 12);
    if (!target.empty()) s += " to " + target;
    if (!perm.empty()) s += " (" + perm + ")";
    return s;
  }
};

struct worker_state {
  std::vector<file_model> files;
  std::vector<chunked_model> chunked;
  std::vector<tus_model> tus;
  std::optional<pending_op> in_flight;
  std::vector<expected_event> events;
  std::vector<std::string> errors;  // wrong answers while the server was up
  std::vector<std::string> log;     // what this worker did, for failure messages
};

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint64_t v = rng();
    for (std::size_t j = 0; j < 8 && i + j < n; ++j)
      s[i + j] = static_cast<char>(v >> (8 * j));
  }
  return s;
}

std::uint64_t pick(std::mt19937_64& rng, std::uint64_t lo, std::uint64_t hi) {
  return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
}

bool chance(std::mt19937_64& rng, double p) {
  return std::bernoulli_distribution(p)(rng);
}

// Small files mostly; some large enough for a kill to land inside their body.
std::uint64_t pick_size(std::mt19937_64& rng) {
  const auto r = pick(rng, 0, 99);
  if (r < 35) return pick(rng, 0, 4 * kib);
  if (r < 85) return pick(rng, 4 * kib, 160 * kib);
  return pick(rng, 160 * kib, 1536 * kib);
}

std::string sha256_base64(std::string_view data) {
  return to_base64(raw_digest("sha256", data));
}

// ---------------------------------------------------------------------------------------------
// One client thread

class client_worker {
 public:
  // `prefix` makes the names of the files it creates unique in the server's life; `files` are
  // the ones it may change (earlier runs').
  client_worker(std::string prefix, std::uint64_t seed, std::uint16_t port, kill_switch& kill,
                const std::atomic<bool>& stop, int max_ops, std::vector<file_model> files)
      : prefix_(std::move(prefix)),
        rng_(seed),
        port_(port),
        kill_(kill),
        stop_(stop),
        max_ops_(max_ops) {
    s_.files = std::move(files);
  }

  void run() {
    try {
      conn_.emplace(port_, 10s);
    } catch (const std::exception&) {
      return;  // the server is already gone
    }
    try {
      for (int n = 0; n < max_ops_ && !stop_.load() && !kill_.fired(); ++n) {
        if (!step(n)) break;
      }
    } catch (const std::exception& e) {
      s_.errors.push_back(std::string("worker stopped: ") + e.what());
    }
  }

  worker_state& state() { return s_; }

 private:
  using handler = bool (client_worker::*)(int);

  bool step(int n) {
    struct option {
      double weight;
      handler fn;
    };
    const bool have_file = live_file().has_value();
    const bool have_shared = shared_file().has_value();
    const auto open_chunked = std::count_if(s_.chunked.begin(), s_.chunked.end(),
                                            [](const auto& c) { return !c.finished; });
    const auto open_tus =
        std::count_if(s_.tus.begin(), s_.tus.end(), [](const auto& t) { return !t.finished; });
    const std::vector<option> options = {
        {3, &client_worker::raw_create},
        {2, &client_worker::multipart_create},
        {have_file ? 2.5 : 0, &client_worker::raw_replace},
        {have_file ? 1.5 : 0, &client_worker::multipart_replace},
        {have_file ? 1.0 : 0.0, &client_worker::remove},
        {have_file ? 2.0 : 0.0, &client_worker::share},
        {have_shared ? 1.0 : 0.0, &client_worker::unshare},
        {open_chunked < 2 ? 1.5 : 0, &client_worker::chunked_init},
        {open_chunked > 0 ? 4.0 : 0.0, &client_worker::chunked_step},
        {open_chunked > 0 ? 0.4 : 0, &client_worker::chunked_abort},
        {open_tus < 2 ? 1.5 : 0, &client_worker::tus_create},
        {open_tus > 0 ? 3.0 : 0.0, &client_worker::tus_patch},
        {open_tus > 0 ? 0.4 : 0, &client_worker::tus_abort},
    };
    std::vector<double> weights;
    for (const auto& o : options)
      weights.push_back(o.weight);
    const auto chosen =
        std::discrete_distribution<std::size_t>(weights.begin(), weights.end())(rng_);
    return (this->*options[chosen].fn)(n);
  }

  // --- requests

  header_list auth() const { return {{"Authorization", std::string("Bearer ") + alice_key}}; }

  // Sends one request, its body in pieces of random size with short random pauses, telling the
  // kill switch each moment; reads the response. Throws when the connection fails.
  response send(op_kind kind, std::string_view method, const std::string& target,
                header_list headers, std::string_view body) {
    conn_->ensure_connected();
    std::string head =
        std::string(method) + " " + target + " HTTP/1.1\r\nHost: " + conn_->host_header() + "\r\n";
    for (const auto& [n, v] : auth())
      head += n + ": " + v + "\r\n";
    for (const auto& [n, v] : headers)
      head += n + ": " + v + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    head += "\r\n";
    conn_->send_raw(head);
    conn_->mark_request_sent();
    kill_.reached(kind, stage::head_sent);
    std::size_t at = 0;
    while (at < body.size()) {
      const std::size_t n = std::min<std::size_t>(body.size() - at, pick(rng_, 4 * kib, 96 * kib));
      conn_->send_raw(body.substr(at, n));
      at += n;
      if (at < body.size()) {
        kill_.reached(kind, stage::body_part_sent);
        if (chance(rng_, 0.2))
          std::this_thread::sleep_for(std::chrono::microseconds(pick(rng_, 0, 1500)));
      }
    }
    kill_.reached(kind, stage::body_sent);
    response r = conn_->read_response(method == "HEAD");
    kill_.reached(kind, stage::response_read);
    return r;
  }

  // Runs `request` with `p` recorded as in flight. True with the response if one came; false
  // (p stays in flight, the worker stops) if the connection failed. A failure while the server
  // is still up is an error of its own.
  std::optional<response> attempt(const pending_op& p, const std::function<response()>& request) {
    s_.in_flight = p;
    try {
      response r = request();
      return r;
    } catch (const std::exception& e) {
      if (!kill_.fired() && !stop_.load()) {
        // The kill may be a moment away from being flagged (a trigger in another thread sleeps
        // before it fires); only a live server failing a request is wrong.
        std::this_thread::sleep_for(50ms);
        if (!kill_.fired()) {
          s_.errors.push_back(std::string(name_of(p.kind)) + ": request failed while the " +
                              "server was up: " + e.what());
        }
      }
      return std::nullopt;
    }
  }

  bool expect(const response& r, unsigned status, const std::string& what) {
    if (r.status == status) return true;
    s_.errors.push_back(what + ": expected " + std::to_string(status) + ", got:\n" + r.describe());
    return false;
  }

  void note(const std::string& line) {
    s_.log.push_back(prefix_ + " " + line);
    if (s_.log.size() > 60) s_.log.erase(s_.log.begin());
  }

  std::string unique_name(const char* what, int n) {
    return prefix_ + "-" + std::to_string(n) + "-" + what + ".bin";
  }

  std::optional<std::size_t> live_file() {
    std::vector<std::size_t> live;
    for (std::size_t i = 0; i < s_.files.size(); ++i) {
      if (!s_.files[i].deleted && !s_.files[i].locked) live.push_back(i);
    }
    if (live.empty()) return std::nullopt;
    return live[pick(rng_, 0, live.size() - 1)];
  }

  std::optional<std::size_t> shared_file() {
    std::vector<std::size_t> shared;
    for (std::size_t i = 0; i < s_.files.size(); ++i) {
      const auto& f = s_.files[i];
      if (!f.deleted && !f.locked && f.bob) shared.push_back(i);
    }
    if (shared.empty()) return std::nullopt;
    return shared[pick(rng_, 0, shared.size() - 1)];
  }

  // Checks a file object answered for a create or replace against what was sent.
  bool check_file_json(const response& r, const pending_op& p, long version,
                       const std::string& what) {
    json j;
    try {
      j = json_body(r);
    } catch (const std::exception& e) {
      s_.errors.push_back(what + ": " + e.what());
      return false;
    }
    if (j.value("sha256", "") != p.sha256 || j.value("size", std::uint64_t{0}) != p.size ||
        j.value("version", 0L) != version || r.header("ETag") != etag_for(version)) {
      s_.errors.push_back(what + ": the answer does not describe what was sent (sha256 " +
                          p.sha256 + ", " + std::to_string(p.size) + " bytes, version " +
                          std::to_string(version) + "):\n" + r.describe());
      return false;
    }
    return true;
  }

  void add_created(const pending_op& p, const std::string& id) {
    file_model f;
    f.id = id;
    f.name = p.name;
    f.sha256 = p.sha256;
    f.size = p.size;
    f.content_type = p.content_type;
    s_.files.push_back(f);
    s_.events.push_back({"file.uploaded", id, 1, p.sha256, "", ""});
  }

  // --- operations; each returns false when the worker should stop

  bool create(int n, bool multipart) {
    const auto kind = multipart ? op_kind::multipart_create : op_kind::raw_create;
    const std::string content = random_bytes(rng_, pick_size(rng_));
    pending_op p;
    p.kind = kind;
    p.name = unique_name(multipart ? "mp" : "raw", n);
    p.sha256 = sha256_hex(content);
    p.size = content.size();
    p.content_type = chance(rng_, 0.5) ? "application/octet-stream" : "text/plain";
    const auto r = attempt(p, [&] {
      if (multipart) {
        const auto mp = build_multipart({{"file", p.name, p.content_type, content}});
        return send(kind, "POST", "/files", {{"Content-Type", mp.content_type()}}, mp.body);
      }
      return send(kind, "POST", "/files?name=" + url_encode(p.name),
                  {{"Content-Type", p.content_type}}, content);
    });
    if (!r) return false;
    s_.in_flight.reset();
    note(std::string(name_of(kind)) + " " + p.name + " -> " + std::to_string(r->status));
    if (!expect(*r, 201, name_of(kind)) || !check_file_json(*r, p, 1, name_of(kind))) return false;
    add_created(p, json_body(*r)["id"]);
    return true;
  }
  bool raw_create(int n) { return create(n, false); }
  bool multipart_create(int n) { return create(n, true); }

  bool replace(bool multipart) {
    const auto kind = multipart ? op_kind::multipart_replace : op_kind::raw_replace;
    const std::size_t i = *live_file();
    auto& f = s_.files[i];
    const std::string content = random_bytes(rng_, pick_size(rng_));
    pending_op p;
    p.kind = kind;
    p.target = i;
    p.name = f.name;
    p.sha256 = sha256_hex(content);
    p.size = content.size();
    p.content_type = f.content_type;
    const auto r = attempt(p, [&] {
      header_list h = {{"If-Match", etag_for(f.version)}};
      if (multipart) {
        const auto mp = build_multipart({{"file", f.name, f.content_type, content}});
        h.emplace_back("Content-Type", mp.content_type());
        return send(kind, "PUT", "/files/" + f.id, h, mp.body);
      }
      h.emplace_back("Content-Type", f.content_type);
      return send(kind, "PUT", "/files/" + f.id, h, content);
    });
    if (!r) return false;
    s_.in_flight.reset();
    note(std::string(name_of(kind)) + " " + f.id + " v" + std::to_string(f.version + 1) + " -> " +
         std::to_string(r->status));
    if (!expect(*r, 200, name_of(kind)) || !check_file_json(*r, p, f.version + 1, name_of(kind)))
      return false;
    f.version += 1;
    f.sha256 = p.sha256;
    f.size = p.size;
    s_.events.push_back({"file.updated", f.id, f.version, f.sha256, "", ""});
    return true;
  }
  bool raw_replace(int) { return replace(false); }
  bool multipart_replace(int) { return replace(true); }

  bool remove(int) {
    const std::size_t i = *live_file();
    auto& f = s_.files[i];
    pending_op p;
    p.kind = op_kind::remove;
    p.target = i;
    const bool conditional = chance(rng_, 0.5);
    const auto r = attempt(p, [&] {
      header_list h;
      if (conditional) h.emplace_back("If-Match", etag_for(f.version));
      return send(op_kind::remove, "DELETE", "/files/" + f.id, h, {});
    });
    if (!r) return false;
    s_.in_flight.reset();
    note("remove " + f.id + " -> " + std::to_string(r->status));
    if (!expect(*r, 204, "remove")) return false;
    f.deleted = true;
    s_.events.push_back({"file.deleted", f.id, 0, "", "", ""});
    return true;
  }

  bool share(int) {
    const std::size_t i = *live_file();
    auto& f = s_.files[i];
    pending_op p;
    p.kind = op_kind::share;
    p.target = i;
    // Always a change (an unchanged share commits nothing and has no event).
    if (!f.bob) {
      p.perm = chance(rng_, 0.5) ? "read" : "write";
    } else {
      p.perm = *f.bob == "read" ? "write" : "read";
    }
    const json body = {{"target_user_id", "bob"}, {"permission", *p.perm}};
    const auto r = attempt(p, [&] {
      return send(op_kind::share, "POST", "/shares/" + f.id, {{"Content-Type", "application/json"}},
                  body.dump());
    });
    if (!r) return false;
    s_.in_flight.reset();
    note("share " + f.id + " " + *p.perm + " -> " + std::to_string(r->status));
    if (!expect(*r, f.bob ? 200 : 201, "share")) return false;
    f.bob = p.perm;
    s_.events.push_back({"file.shared", f.id, 0, "", "bob", *p.perm});
    return true;
  }

  bool unshare(int) {
    const std::size_t i = *shared_file();
    auto& f = s_.files[i];
    pending_op p;
    p.kind = op_kind::unshare;
    p.target = i;
    const auto r = attempt(
        p, [&] { return send(op_kind::unshare, "DELETE", "/shares/" + f.id + "/bob", {}, {}); });
    if (!r) return false;
    s_.in_flight.reset();
    note("unshare " + f.id + " -> " + std::to_string(r->status));
    if (!expect(*r, 204, "unshare")) return false;
    f.bob.reset();
    s_.events.push_back({"file.unshared", f.id, 0, "", "bob", ""});
    return true;
  }

  bool chunked_init(int n) {
    chunked_model c;
    c.name = unique_name("chunked", n);
    c.content = random_bytes(rng_, pick(rng_, 1, 5 * chunk_bytes));
    c.chunk_count = (c.content.size() + chunk_bytes - 1) / chunk_bytes;
    c.declared_sha = chance(rng_, 0.5);
    json body = {{"filename", c.name}, {"size", c.content.size()}, {"chunk_size", chunk_bytes}};
    if (c.declared_sha) body["sha256"] = sha256_hex(c.content);
    if (chance(rng_, 0.3)) {
      if (const auto i = live_file()) {
        c.replaces = s_.files[*i].id;
        body["file_id"] = c.replaces;
        body["if_match"] = etag_for(s_.files[*i].version);
      }
    }
    pending_op p;
    p.kind = op_kind::chunked_init;
    const auto r = attempt(p, [&] {
      return send(op_kind::chunked_init, "POST", "/v1/uploads/init",
                  {{"Content-Type", "application/json"}}, body.dump());
    });
    if (!r) return false;
    s_.in_flight.reset();
    note("chunked_init " + c.name + " -> " + std::to_string(r->status));
    if (!expect(*r, 201, "chunked_init")) return false;
    const json j = json_body(*r);
    c.id = j.value("upload_id", "");
    if (j.value("chunk_count", std::uint64_t{0}) != c.chunk_count) {
      s_.errors.push_back("chunked_init: unexpected chunk_count:\n" + r->describe());
      return false;
    }
    for (auto& f : s_.files) {
      if (f.id == c.replaces) f.locked = true;
    }
    s_.chunked.push_back(std::move(c));
    return true;
  }

  // The index of an unfinished upload among `uploads` (chunked or tus), at random.
  template <typename Upload>
  std::size_t pick_open(const std::vector<Upload>& uploads) {
    std::vector<std::size_t> open;
    for (std::size_t i = 0; i < uploads.size(); ++i) {
      if (!uploads[i].finished) open.push_back(i);
    }
    return open[pick(rng_, 0, open.size() - 1)];
  }

  // A chunk (any order; sometimes one already stored, again), or the completion once every
  // chunk is stored.
  bool chunked_step(int) {
    const std::size_t ci = pick_open(s_.chunked);
    auto& c = s_.chunked[ci];
    std::vector<std::uint64_t> missing;
    for (std::uint64_t i = 0; i < c.chunk_count; ++i) {
      if (!c.acked.contains(i)) missing.push_back(i);
    }
    if (missing.empty() && !chance(rng_, 0.1)) return chunked_complete(ci);
    const std::uint64_t index = missing.empty() || chance(rng_, 0.1)
                                    ? pick(rng_, 0, c.chunk_count - 1)
                                    : missing[pick(rng_, 0, missing.size() - 1)];
    const std::string_view data =
        std::string_view(c.content).substr(index * chunk_bytes, chunk_bytes);
    pending_op p;
    p.kind = op_kind::chunk;
    p.target = ci;
    p.index = index;
    const bool digest = chance(rng_, 0.5);
    const auto r = attempt(p, [&] {
      header_list h = {{"Content-Type", "application/octet-stream"}};
      if (digest) h.emplace_back("Content-Digest", "sha-256=:" + sha256_base64(data) + ":");
      return send(op_kind::chunk, "PUT", "/v1/uploads/" + c.id + "/chunks/" + std::to_string(index),
                  h, data);
    });
    if (!r) return false;
    s_.in_flight.reset();
    note("chunk " + c.id + "/" + std::to_string(index) + " -> " + std::to_string(r->status));
    if (!expect(*r, 200, "chunk")) return false;
    c.acked.insert(index);
    return true;
  }

  bool chunked_complete(std::size_t ci) {
    auto& c = s_.chunked[ci];
    pending_op p;
    p.kind = op_kind::chunked_complete;
    p.target = ci;
    p.name = c.name;
    p.sha256 = sha256_hex(c.content);
    p.size = c.content.size();
    p.content_type = "application/octet-stream";
    const bool with_sha = chance(rng_, 0.5);
    const auto r = attempt(p, [&] {
      const std::string body = with_sha ? json{{"sha256", p.sha256}}.dump() : std::string();
      header_list h;
      if (with_sha) h.emplace_back("Content-Type", "application/json");
      return send(op_kind::chunked_complete, "POST", "/v1/uploads/" + c.id + "/complete", h, body);
    });
    if (!r) return false;
    s_.in_flight.reset();
    note("chunked_complete " + c.id + " -> " + std::to_string(r->status));
    c.finished = true;
    if (c.replaces.empty()) {
      if (!expect(*r, 201, "chunked_complete") || !check_file_json(*r, p, 1, "chunked_complete")) {
        return false;
      }
      add_created(p, json_body(*r)["id"]);
      return true;
    }
    auto& f = *std::find_if(s_.files.begin(), s_.files.end(),
                            [&](const auto& m) { return m.id == c.replaces; });
    if (!expect(*r, 200, "chunked_complete (replace)") ||
        !check_file_json(*r, p, f.version + 1, "chunked_complete (replace)")) {
      return false;
    }
    f.locked = false;
    f.version += 1;
    f.sha256 = p.sha256;
    f.size = p.size;
    f.name = c.name;
    f.content_type = p.content_type;
    s_.events.push_back({"file.updated", f.id, f.version, f.sha256, "", ""});
    return true;
  }

  bool chunked_abort(int) {
    const std::size_t ci = pick_open(s_.chunked);
    auto& c = s_.chunked[ci];
    pending_op p;
    p.kind = op_kind::chunked_abort;
    p.target = ci;
    const auto r = attempt(
        p, [&] { return send(op_kind::chunked_abort, "DELETE", "/v1/uploads/" + c.id, {}, {}); });
    if (!r) return false;
    s_.in_flight.reset();
    note("chunked_abort " + c.id + " -> " + std::to_string(r->status));
    if (!expect(*r, 204, "chunked_abort")) return false;
    c.finished = true;
    for (auto& f : s_.files) {
      if (f.id == c.replaces) f.locked = false;
    }
    return true;
  }

  static header_list tus_headers() { return {{"Tus-Resumable", "1.0.0"}}; }

  bool tus_create(int n) {
    tus_model t;
    t.name = unique_name("tus", n);
    t.content = random_bytes(rng_, pick(rng_, 1, 400 * kib));
    // creation-with-upload now and then: the first bytes (or all) ride along.
    std::uint64_t first = 0;
    if (chance(rng_, 0.4))
      first = chance(rng_, 0.3) ? t.content.size() : pick(rng_, 1, t.content.size());
    pending_op p;
    p.kind = op_kind::tus_create;
    p.name = t.name;
    p.sha256 = sha256_hex(t.content);
    p.size = t.content.size();
    p.content_type = "application/octet-stream";
    p.length = first;
    p.completes = first == t.content.size();
    const auto r = attempt(p, [&] {
      header_list h = tus_headers();
      h.emplace_back("Upload-Length", std::to_string(t.content.size()));
      h.emplace_back("Upload-Metadata", "filename " + to_base64(t.name));
      if (first > 0) h.emplace_back("Content-Type", "application/offset+octet-stream");
      return send(op_kind::tus_create, "POST", "/tus/", h,
                  std::string_view(t.content).substr(0, first));
    });
    if (!r) return false;
    s_.in_flight.reset();
    note("tus_create " + t.name + " with " + std::to_string(first) + " bytes -> " +
         std::to_string(r->status));
    if (!expect(*r, 201, "tus_create")) return false;
    const std::string location = r->header("Location");
    t.id = location.substr(location.rfind('/') + 1);
    t.offset = first;
    if (!tus_answer_ok(*r, t, p, "tus_create")) return false;
    s_.tus.push_back(std::move(t));
    return true;
  }

  // A tus answer that moved the upload to t.offset must say so, and name the file when the
  // upload is complete.
  bool tus_answer_ok(const response& r, tus_model& t, const pending_op& p,
                     const std::string& what) {
    if (r.header("Upload-Offset") != std::to_string(t.offset)) {
      s_.errors.push_back(what + ": wrong Upload-Offset:\n" + r.describe());
      return false;
    }
    if (p.completes) {
      t.finished = true;
      const std::string file_id = r.header("Sharebox-File-Id");
      if (file_id.empty()) {
        s_.errors.push_back(what + ": a complete upload names no file:\n" + r.describe());
        return false;
      }
      add_created(p, file_id);
    }
    return true;
  }

  bool tus_patch(int) {
    const std::size_t ti = pick_open(s_.tus);
    auto& t = s_.tus[ti];
    const std::uint64_t left = t.content.size() - t.offset;
    const std::uint64_t len = chance(rng_, 0.4) ? left : pick(rng_, 1, left);
    const std::string_view data = std::string_view(t.content).substr(t.offset, len);
    pending_op p;
    p.kind = op_kind::tus_patch;
    p.target = ti;
    p.name = t.name;
    p.sha256 = sha256_hex(t.content);
    p.size = t.content.size();
    p.content_type = "application/octet-stream";
    p.length = len;
    p.completes = len == left;
    const bool checksum = chance(rng_, 0.3);
    const auto r = attempt(p, [&] {
      header_list h = tus_headers();
      h.emplace_back("Upload-Offset", std::to_string(t.offset));
      h.emplace_back("Content-Type", "application/offset+octet-stream");
      if (checksum) h.emplace_back("Upload-Checksum", "sha256 " + sha256_base64(data));
      return send(op_kind::tus_patch, "PATCH", "/tus/" + t.id, h, data);
    });
    if (!r) return false;
    s_.in_flight.reset();
    note("tus_patch " + t.id + " @" + std::to_string(t.offset) + "+" + std::to_string(len) +
         " -> " + std::to_string(r->status));
    if (!expect(*r, 204, "tus_patch")) return false;
    t.offset += len;
    return tus_answer_ok(*r, t, p, "tus_patch");
  }

  bool tus_abort(int) {
    const std::size_t ti = pick_open(s_.tus);
    auto& t = s_.tus[ti];
    pending_op p;
    p.kind = op_kind::tus_abort;
    p.target = ti;
    const auto r = attempt(
        p, [&] { return send(op_kind::tus_abort, "DELETE", "/tus/" + t.id, tus_headers(), {}); });
    if (!r) return false;
    s_.in_flight.reset();
    note("tus_abort " + t.id + " -> " + std::to_string(r->status));
    if (!expect(*r, 204, "tus_abort")) return false;
    t.finished = true;
    return true;
  }

  std::string prefix_;
  std::mt19937_64 rng_;
  std::uint16_t port_;
  kill_switch& kill_;
  const std::atomic<bool>& stop_;
  int max_ops_;
  std::optional<connection> conn_;
  worker_state s_;
};

// ---------------------------------------------------------------------------------------------
// After the restart

struct run_report {
  int run = 0;
  std::uint64_t seed = 0;
  std::string queue;
  std::string kill_point;
  std::string in_flight;               // the kinds of request the kill interrupted
  std::vector<expected_event> events;  // every committed change, as far as the clients can tell
  std::set<std::string> outbox_ids;    // every event the database holds
  std::vector<std::string> problems;
  std::vector<std::string> log;
  std::size_t files = 0;
  // Seconds spent under load until the kill, restarting, checking.
  double load_s = 0, restart_s = 0, check_s = 0;
};

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

std::string file_sha256(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  sha256 h;
  char buf[64 * 1024];
  while (in.read(buf, sizeof buf) || in.gcount() > 0)
    h.update(buf, static_cast<std::size_t>(in.gcount()));
  return h.hex_final();
}

// Checks one run's server after its restart, resumes and finishes its uploads, and collects the
// events it must have published.
class verifier {
 public:
  verifier(server_process& server, std::vector<worker_state>& workers, run_report& report,
           std::size_t log_offset)
      : server_(server),
        workers_(workers),
        report_(report),
        log_offset_(log_offset),
        alice_(server.port(), alice_key),
        bob_(server.port(), bob_key) {}

  void run() {
    alice_files_ = listing(alice_, "alice");
    for (auto& w : workers_)
      resolve(w);
    for (const auto& [id, j] : alice_files_) {
      if (!known(id)) problem("a file nobody was told about is listed: " + j.dump());
    }
    for (auto& w : workers_) {
      for (const auto& f : w.files)
        check_file(f);
    }
    check_bob_listing();
    // The orphan blob sweep runs in the background once the server is up; wait for it.
    if (!eventually([&] { return swept(); }, 20s)) problem("the orphan blob sweep never ended");
    account("after the restart", false);
    for (auto& w : workers_)
      resume(w);
    abort_leftover_uploads();
    account("with every upload finished or aborted", true);
    collect_events();
  }

 private:
  void problem(std::string what) { report_.problems.push_back(std::move(what)); }
  std::filesystem::path db() const { return server_.data_dir() / "sharebox.db"; }

  std::map<std::string, json> listing(api_client& c, const std::string& who) {
    std::map<std::string, json> out;
    const response r = c.get("/files?limit=1000");
    if (r.status != 200) {
      problem("GET /files as " + who + " failed:\n" + r.describe());
      return out;
    }
    for (const auto& f : json_body(r))
      out.emplace(f["id"].get<std::string>(), f);
    return out;
  }

  bool known(const std::string& id) const {
    for (const auto& w : workers_) {
      for (const auto& f : w.files) {
        if (f.id == id && !f.deleted) return true;
      }
    }
    return false;
  }

  // --- the request in flight at the kill: which way did it go?

  void resolve(worker_state& w) {
    if (!w.in_flight) return;
    const pending_op p = *w.in_flight;
    switch (p.kind) {
      case op_kind::raw_create:
      case op_kind::multipart_create:
        resolve_create(w, p);
        break;
      case op_kind::tus_create:
        if (p.completes) resolve_create(w, p);
        break;
      case op_kind::raw_replace:
      case op_kind::multipart_replace:
        resolve_replace(w, p);
        break;
      case op_kind::remove:
        resolve_remove(w, p);
        break;
      case op_kind::share:
      case op_kind::unshare:
        resolve_share(w, p);
        break;
      case op_kind::chunk:
        w.chunked[p.target].uncertain = p.index;
        break;
      case op_kind::chunked_complete:
        resolve_chunked_complete(w, p);
        break;
      case op_kind::chunked_abort:
        resolve_abort(w.chunked[p.target], "/v1/uploads/");
        break;
      case op_kind::tus_patch:
        resolve_tus_patch(w, p);
        break;
      case op_kind::tus_abort:
        resolve_abort(w.tus[p.target], "/tus/");
        break;
      case op_kind::chunked_init:  // an upload nobody knows of, at most: it expires
      case op_kind::count:
        break;
    }
  }

  void add_file(worker_state& w, const pending_op& p, const std::string& id) {
    file_model f;
    f.id = id;
    f.name = p.name;
    f.sha256 = p.sha256;
    f.size = p.size;
    f.content_type = p.content_type;
    w.files.push_back(f);
    report_.events.push_back({"file.uploaded", id, 1, p.sha256, "", ""});
  }

  void resolve_create(worker_state& w, const pending_op& p) {
    std::vector<const json*> found;
    for (const auto& [id, j] : alice_files_) {
      if (j["name"] == p.name) found.push_back(&j);
    }
    if (found.empty()) return;  // it never happened
    const json& j = *found.front();
    if (found.size() > 1 || j["sha256"] != p.sha256 || j["size"] != p.size || j["version"] != 1) {
      problem("an unacknowledged " + std::string(name_of(p.kind)) + " of " + p.name + " (" +
              std::to_string(p.size) + " bytes, sha256 " + p.sha256 +
              ") is visible, but not as sent: " + j.dump());
      return;
    }
    add_file(w, p, j["id"]);
  }

  std::optional<json> meta(const std::string& id, bool may_be_gone) {
    const response r = alice_.get("/files/" + id + "/meta");
    if (r.status == 404 && may_be_gone) return std::nullopt;
    if (r.status != 200) {
      problem("GET /files/" + id + "/meta:\n" + r.describe());
      return std::nullopt;
    }
    return json_body(r);
  }

  void resolve_replace(worker_state& w, const pending_op& p) {
    auto& f = w.files[p.target];
    const auto m = meta(f.id, false);
    if (!m) return;
    if ((*m)["version"] == f.version + 1) {
      f.version += 1;
      f.sha256 = p.sha256;
      f.size = p.size;
      report_.events.push_back({"file.updated", f.id, f.version, f.sha256, "", ""});
    } else if ((*m)["version"] != f.version) {
      problem("file " + f.id + " was at version " + std::to_string(f.version) +
              " with one replace in flight, and is now " + m->dump());
    }
  }

  void resolve_remove(worker_state& w, const pending_op& p) {
    auto& f = w.files[p.target];
    if (alice_files_.contains(f.id)) return;  // checked in full later
    if (meta(f.id, true)) {
      problem("file " + f.id + " is not listed, but answers");
      return;
    }
    f.deleted = true;
    report_.events.push_back({"file.deleted", f.id, 0, "", "", ""});
  }

  std::optional<std::string> bob_permission(const std::string& file_id) {
    const auto it = alice_files_.find(file_id);
    if (it == alice_files_.end()) return std::nullopt;
    for (const auto& s : it->second.value("shared_with", json::array())) {
      if (s["user_id"] == "bob") return s["permission"].get<std::string>();
    }
    return std::nullopt;
  }

  void resolve_share(worker_state& w, const pending_op& p) {
    auto& f = w.files[p.target];
    const auto now = bob_permission(f.id);
    if (now == f.bob) return;  // it never happened
    if (now != p.perm) {
      problem("file " + f.id + ": bob's permission was " + f.bob.value_or("none") + ", " +
              name_of(p.kind) + " " + p.perm.value_or("none") + " was in flight, and it is now " +
              now.value_or("none"));
      return;
    }
    if (p.kind == op_kind::share) {
      report_.events.push_back({"file.shared", f.id, 0, "", "bob", *p.perm});
    } else {
      report_.events.push_back({"file.unshared", f.id, 0, "", "bob", ""});
    }
    f.bob = now;
  }

  void resolve_chunked_complete(worker_state& w, const pending_op& p) {
    auto& c = w.chunked[p.target];
    const response r = alice_.get("/v1/uploads/" + c.id);
    if (r.status != 200) {
      problem("GET /v1/uploads/" + c.id + " (its completion was in flight):\n" + r.describe());
      return;
    }
    const json j = json_body(r);
    if (j["state"] == "open") return;  // resumed later
    if (j["state"] != "completed") {
      problem("upload " + c.id + " is " + j.dump());
      return;
    }
    c.finished = true;
    const std::string file_id = j.value("file_id", "");
    if (c.replaces.empty()) {
      add_file(w, p, file_id);
      return;
    }
    auto& f = *std::find_if(w.files.begin(), w.files.end(),
                            [&](const auto& m) { return m.id == c.replaces; });
    if (file_id != f.id) problem("upload " + c.id + " replaced " + f.id + " but names " + file_id);
    f.locked = false;
    f.version += 1;
    f.sha256 = p.sha256;
    f.size = p.size;
    f.name = c.name;
    f.content_type = p.content_type;
    report_.events.push_back({"file.updated", f.id, f.version, f.sha256, "", ""});
  }

  template <class Upload>
  void resolve_abort(Upload& u, const std::string& prefix) {
    const bool tus = prefix == "/tus/";
    const response r =
        tus ? alice_.head(prefix + u.id, {{"Tus-Resumable", "1.0.0"}}) : alice_.get(prefix + u.id);
    if (r.status == 404) {
      u.finished = true;
      if constexpr (std::is_same_v<Upload, chunked_model>) {
        for (auto& w : workers_) {
          for (auto& f : w.files) {
            if (f.id == u.replaces) f.locked = false;
          }
        }
      }
    } else if (r.status != 200) {
      problem("upload " + u.id + " (its abort was in flight):\n" + r.describe());
    }
  }

  void resolve_tus_patch(worker_state& w, const pending_op& p) {
    auto& t = w.tus[p.target];
    const response r = alice_.head("/tus/" + t.id, {{"Tus-Resumable", "1.0.0"}});
    if (r.status != 200) {
      problem("HEAD /tus/" + t.id + " (a PATCH was in flight):\n" + r.describe());
      return;
    }
    const std::uint64_t offset = std::stoull(r.header("Upload-Offset"));
    const std::string file_id = r.header("Sharebox-File-Id");
    if (offset < t.offset || offset > t.offset + p.length || (!file_id.empty() && !p.completes) ||
        (!file_id.empty() && offset != t.content.size())) {
      problem("tus upload " + t.id + " acknowledged " + std::to_string(t.offset) + " bytes, " +
              std::to_string(p.length) + " more were in flight, and it is now at " +
              std::to_string(offset) + (file_id.empty() ? "" : " (complete: " + file_id + ")"));
      return;
    }
    t.offset = offset;
    if (!file_id.empty()) {
      t.finished = true;
      add_file(w, p, file_id);
    }
  }

  // --- acknowledged state

  // `listed`: the file existed when the listings were taken (not one finished since).
  void check_file(const file_model& f, bool listed = true) {
    const std::string target = "/files/" + f.id;
    if (f.deleted) {
      const response r = alice_.get(target);
      if (r.status != 404) problem("deleted file " + f.id + " answers:\n" + r.describe());
      if (alice_files_.contains(f.id)) problem("deleted file " + f.id + " is listed");
      return;
    }
    ++report_.files;
    const auto it = alice_files_.find(f.id);
    if (!listed) {
    } else if (it == alice_files_.end()) {
      problem("file " + f.id + " (" + f.name + ", version " + std::to_string(f.version) +
              ") is not listed");
    } else {
      const json& j = it->second;
      if (j["version"] != f.version || j["sha256"] != f.sha256 || j["size"] != f.size ||
          j["name"] != f.name || j["etag"] != etag_for(f.version)) {
        problem("file " + f.id + " should be version " + std::to_string(f.version) + " (" +
                std::to_string(f.size) + " bytes, sha256 " + f.sha256 + ", " + f.name +
                ") but is listed as " + j.dump());
      }
    }
    const response r = alice_.get(target);
    if (r.status != 200 || sha256_hex(r.body) != f.sha256 ||
        r.header("ETag") != etag_for(f.version)) {
      problem("GET " + target + " should be version " + std::to_string(f.version) + " (sha256 " +
              f.sha256 + "), got sha256 " + sha256_hex(r.body) + ":\n" + r.describe());
    }
    if (listed && bob_permission(f.id) != f.bob) {
      problem("file " + f.id + ": bob's permission should be " + f.bob.value_or("none") +
              ", the owner's listing says " + bob_permission(f.id).value_or("none"));
    }
    if (f.bob) {
      const response b = bob_.get(target);
      if (b.status != 200 || sha256_hex(b.body) != f.sha256) {
        problem("bob cannot read " + f.id + " shared with him:\n" + b.describe());
      }
    }
  }

  void check_bob_listing() {
    const auto listed = listing(bob_, "bob");
    std::set<std::string> expected;
    for (const auto& w : workers_) {
      for (const auto& f : w.files) {
        if (f.deleted || !f.bob) continue;
        expected.insert(f.id);
        const auto it = listed.find(f.id);
        if (it == listed.end()) {
          problem("file " + f.id + " is shared with bob but not in his listing");
        } else if (it->second.value("permission", "") != *f.bob) {
          problem("bob's listing has " + f.id + " with the wrong permission: " + it->second.dump());
        }
      }
    }
    for (const auto& [id, j] : listed) {
      if (!expected.contains(id)) problem("bob sees a file not shared with him: " + j.dump());
    }
  }

  // --- the data directory

  bool swept() const {
    const std::string log = server_.stderr_text();
    return log.find("orphan blob sweep took", log_offset_) != std::string::npos;
  }

  // Every file in the data directory belongs to a live file or an open upload, and every live
  // file and open upload has its bytes.
  void account(const std::string& when, bool no_uploads) {
    const fs::path dir = server_.data_dir();
    std::map<std::string, std::pair<std::uint64_t, std::string>> blobs;  // blob -> size, sha256
    for (const auto& row :
         query_column(db(), "SELECT blob || ' ' || size || ' ' || sha256 FROM files")) {
      const auto w = split_words(row);
      blobs[w.at(0)] = {std::stoull(w.at(1)), w.at(2)};
    }
    std::map<std::string, std::int64_t> open;  // upload id -> expires_at
    for (const auto& row :
         query_column(db(), "SELECT id || ' ' || expires_at FROM uploads WHERE state = 'open'")) {
      const auto w = split_words(row);
      open[w.at(0)] = std::stoll(w.at(1));
    }
    const std::set<std::string> database_files = {"sharebox.db", "sharebox.db-wal",
                                                  "sharebox.db-shm"};
    std::set<std::string> blobs_seen;
    std::set<std::string> staged_seen;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const fs::path rel = fs::relative(it->path(), dir);
      const std::string top = rel.begin()->string();
      const std::string name = rel.filename().string();
      const auto parts = std::distance(rel.begin(), rel.end());
      if (parts == 1 && database_files.contains(name)) continue;
      if (top == "blobs" && parts == 3 && blobs.contains(name) &&
          rel.parent_path().filename() == name.substr(0, 2)) {
        blobs_seen.insert(name);
        const auto& [size, sha] = blobs[name];
        if (fs::file_size(it->path()) != size || file_sha256(it->path()) != sha) {
          problem(when + ": blob " + rel.string() + " does not hold what its file's metadata says");
        }
        continue;
      }
      if (top == "uploads" && parts == 2 && open.contains(name) && !no_uploads) {
        staged_seen.insert(name);
        if (open[name] <= now_ms()) problem(when + ": upload " + name + " has expired");
        continue;
      }
      problem(when + ": " + rel.string() + " (" + std::to_string(fs::file_size(it->path())) +
              " bytes) belongs to no file and no open upload");
    }
    for (const auto& [blob, info] : blobs) {
      if (!blobs_seen.contains(blob)) problem(when + ": a file's blob " + blob + " is missing");
    }
    if (!no_uploads) {
      for (const auto& [id, expiry] : open) {
        if (!staged_seen.contains(id)) problem(when + ": open upload " + id + " has no file");
      }
    }
  }

  // --- finishing the uploads: what was acknowledged must still be there

  void resume(worker_state& w) {
    for (auto& c : w.chunked) {
      if (!c.finished && !c.id.empty()) resume_chunked(w, c);
    }
    for (auto& t : w.tus) {
      if (!t.finished && !t.id.empty()) resume_tus(w, t);
    }
  }

  void finished_file(worker_state& w, const std::string& name, const std::string& content,
                     const response& r, const std::string& replaces) {
    const json j = json_body(r);
    const std::string sha = sha256_hex(content);
    if (j.value("sha256", "") != sha || j.value("size", std::uint64_t{0}) != content.size()) {
      problem("upload " + name + " resumed after the restart does not hold what was sent:\n" +
              r.describe());
      return;
    }
    if (replaces.empty()) {
      pending_op p;
      p.name = name;
      p.sha256 = sha;
      p.size = content.size();
      p.content_type = "application/octet-stream";
      add_file(w, p, j["id"]);
      check_file(w.files.back(), false);
      return;
    }
    auto& f = *std::find_if(w.files.begin(), w.files.end(),
                            [&](const auto& m) { return m.id == replaces; });
    f.locked = false;
    f.version += 1;
    f.sha256 = sha;
    f.size = content.size();
    f.name = name;
    f.content_type = "application/octet-stream";
    if (j.value("version", 0L) != f.version) problem("replace by upload " + name + ": " + j.dump());
    report_.events.push_back({"file.updated", f.id, f.version, f.sha256, "", ""});
    check_file(f, false);
  }

  void resume_chunked(worker_state& w, chunked_model& c) {
    const response m = alice_.get("/v1/uploads/" + c.id + "/missing-chunks");
    if (m.status != 200) {
      problem("upload " + c.id + " is gone after the restart:\n" + m.describe());
      return;
    }
    const json missing = json_body(m)["missing"];
    for (const auto& index : missing) {
      const std::uint64_t i = index.get<std::uint64_t>();
      if (c.acked.contains(i) && c.uncertain != i) {
        problem("upload " + c.id + ": acknowledged chunk " + std::to_string(i) + " is missing");
      }
      const std::string data(std::string_view(c.content).substr(i * chunk_bytes, chunk_bytes));
      const response r = alice_.send("PUT", "/v1/uploads/" + c.id + "/chunks/" + std::to_string(i),
                                     {{"Content-Type", "application/octet-stream"}}, data);
      if (r.status != 200)
        problem("chunk " + std::to_string(i) + " after the restart:\n" + r.describe());
    }
    const std::string body = json{{"sha256", sha256_hex(c.content)}}.dump();
    const response r = alice_.post_json("/v1/uploads/" + c.id + "/complete", body);
    if (r.status != (c.replaces.empty() ? 201u : 200u)) {
      problem("completing upload " + c.id +
              " after the restart (an acknowledged chunk is not as "
              "sent?):\n" +
              r.describe());
      return;
    }
    c.finished = true;
    finished_file(w, c.name, c.content, r, c.replaces);
  }

  void resume_tus(worker_state& w, tus_model& t) {
    const header_list tus = {{"Tus-Resumable", "1.0.0"}};
    const response h = alice_.head("/tus/" + t.id, tus);
    if (h.status != 200 || h.header("Upload-Offset") != std::to_string(t.offset)) {
      problem("tus upload " + t.id + " should be at " + std::to_string(t.offset) +
              " after the restart:\n" + h.describe());
      return;
    }
    header_list hl = tus;
    hl.emplace_back("Upload-Offset", std::to_string(t.offset));
    hl.emplace_back("Content-Type", "application/offset+octet-stream");
    const response r =
        alice_.send("PATCH", "/tus/" + t.id, hl, std::string_view(t.content).substr(t.offset));
    const std::string file_id = r.header("Sharebox-File-Id");
    if (r.status != 204 || file_id.empty()) {
      problem("finishing tus upload " + t.id + " after the restart:\n" + r.describe());
      return;
    }
    t.finished = true;
    const response f = alice_.get("/files/" + file_id + "/meta");
    finished_file(w, t.name, t.content, f, "");
  }

  // Uploads whose creation was in flight (nobody knows their id) and any left open.
  void abort_leftover_uploads() {
    for (const auto& row :
         query_column(db(), "SELECT id || ' ' || protocol FROM uploads WHERE state = 'open'")) {
      const auto w = split_words(row);
      const bool tus = w.at(1) == "tus";
      const response r = tus ? alice_.del("/tus/" + w[0], {{"Tus-Resumable", "1.0.0"}})
                             : alice_.del("/v1/uploads/" + w[0]);
      if (r.status != 204) problem("aborting upload " + w[0] + ":\n" + r.describe());
    }
  }

  void collect_events() {
    const bool published = eventually(
        [&] {
          return query_column(db(), "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") ==
                 std::vector<std::string>{"0"};
        },
        30s);
    if (!published) problem("the outbox was not published within 30 s of the restart");
    for (auto& id : query_column(db(), "SELECT id FROM outbox"))
      report_.outbox_ids.insert(std::move(id));
    for (const auto& w : workers_)
      report_.events.insert(report_.events.end(), w.events.begin(), w.events.end());
  }

  server_process& server_;
  std::vector<worker_state>& workers_;
  run_report& report_;
  std::size_t log_offset_;
  api_client alice_;
  api_client bob_;
  std::map<std::string, json> alice_files_;
};

bool event_matches(const json& body, const expected_event& e) {
  if (!body.is_object() || body.value("type", "") != e.type || !body.contains("file") ||
      body["file"].value("id", "") != e.file_id) {
    return false;
  }
  if (e.version != 0 && body["file"].value("version", 0L) != e.version) return false;
  if (!e.sha256.empty() && body["file"].value("sha256", "") != e.sha256) return false;
  if (!e.target.empty() && body.value("target_user_id", "") != e.target) return false;
  if (!e.perm.empty() && body.value("permission", "") != e.perm) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------

// One server's life: a fresh data directory and queue, then several kill runs in a row, each
// starting from what the runs before it left (their files are the next workload's to change).
struct session {
  std::uint64_t seed = 0;
  std::string queue;
  std::unique_ptr<server_process> server;
  std::vector<file_model> files;
};

class CrashConsistency : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { broker_ = new rabbitmq_broker(); }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }

  static session open_session(std::uint64_t seed) {
    session s;
    s.seed = seed;
    s.queue = "crash.q." + std::to_string(seed);
    s.server = std::make_unique<server_process>(std::vector<std::string>{
        "--api-key-mappings", std::string(alice_key) + ":alice," + bob_key + ":bob", "--log-level",
        "debug", "--rabbitmq-url", broker_->url(), "--events-exchange",
        "crash.ex." + std::to_string(seed), "--rabbitmq-queue", s.queue});
    return s;
  }

  // One run: load, kill, restart, check. Problems land in the report; the caller fails the test
  // (while the server still exists, so that its log is printed).
  static void crash_run(session& ses, run_report& report) {
    std::mt19937_64 rng(report.seed);
    server_process& server = *ses.server;
    report.queue = ses.queue;

    // Where the kill lands: a moment of a kind of request (the nth time a worker reaches it,
    // then after a short delay), or a random time.
    op_kind kind = op_kind::count;
    stage at = stage::count;
    int nth = 0;
    std::chrono::microseconds delay{0};
    const auto timed = std::chrono::milliseconds(pick(rng, 0, 300));
    if (chance(rng, 0.75)) {
      kind = static_cast<op_kind>(pick(rng, 0, static_cast<int>(op_kind::count) - 1));
      at = static_cast<stage>(pick(rng, 0, static_cast<int>(stage::count) - 1));
      // Kinds a workload sends a few times at most: the first one.
      const bool rare = kind == op_kind::chunked_complete || kind == op_kind::chunked_abort ||
                        kind == op_kind::tus_abort || kind == op_kind::unshare ||
                        kind == op_kind::remove;
      nth = rare ? 1 : static_cast<int>(pick(rng, 1, 3));
      if (chance(rng, 0.5)) delay = std::chrono::microseconds(pick(rng, 0, 3000));
      report.kill_point = std::string(name_of(kind)) + "/" + name_of(at) + " #" +
                          std::to_string(nth) + " +" + std::to_string(delay.count()) + "us";
    } else {
      report.kill_point = "at " + std::to_string(timed.count()) + " ms";
    }
    kill_switch kill(server.pid(), kind, at, nth, delay);

    auto phase = steady::now();
    const int worker_count = static_cast<int>(pick(rng, 2, 4));
    std::vector<std::vector<file_model>> owned(static_cast<std::size_t>(worker_count));
    for (std::size_t i = 0; i < ses.files.size(); ++i)
      owned[i % owned.size()].push_back(std::move(ses.files[i]));
    ses.files.clear();
    std::atomic<bool> stop{false};
    std::atomic<int> done{0};
    std::vector<std::unique_ptr<client_worker>> workers;
    for (int i = 0; i < worker_count; ++i) {
      workers.push_back(std::make_unique<client_worker>(
          "r" + std::to_string(report.run) + "w" + std::to_string(i), rng(), server.port(), kill,
          stop, static_cast<int>(pick(rng, 10, 40)),
          std::move(owned[static_cast<std::size_t>(i)])));
    }
    std::vector<std::thread> threads;
    for (auto& w : workers) {
      threads.emplace_back([&done, w = w.get()] {
        w->run();
        done.fetch_add(1);
      });
    }
    // A triggered kill that has not happened in time (its kind of request was not sent, or not
    // often enough) falls back to a timed one; a workload that ends first is killed idle.
    const auto deadline = phase + (nth > 0 ? timed + 100ms : timed);
    while (!kill.fired() && done.load() < worker_count && steady::now() < deadline)
      std::this_thread::sleep_for(200us);
    if (!kill.fired()) kill.fire(done.load() == worker_count ? "workload done" : "timer");
    stop = true;
    for (auto& t : threads)
      t.join();
    report.kill_point += std::string(" (") + kill.why() + ")";

    server.kill9();
    const auto exit = server.last_exit();
    if (!exit || exit->signal != SIGKILL) {
      report.problems.push_back("the server died on its own: " +
                                (exit ? exit->describe() : std::string("?")));
    }
    std::vector<worker_state> states;
    for (auto& w : workers) {
      auto& s = w->state();
      if (s.in_flight) {
        report.in_flight +=
            std::string(report.in_flight.empty() ? "" : " ") + name_of(s.in_flight->kind);
      }
      for (auto& e : s.errors)
        report.problems.push_back("during the workload: " + e);
      report.log.insert(report.log.end(), s.log.begin(), s.log.end());
      states.push_back(std::move(s));
    }
    report.load_s = seconds_since(phase);
    if (!report.problems.empty()) return;

    phase = steady::now();
    const std::size_t log_offset = server.stderr_text().size();
    server.restart();
    report.restart_s = seconds_since(phase);
    phase = steady::now();
    try {
      verifier(server, states, report, log_offset).run();
    } catch (const std::exception& e) {
      report.problems.push_back(std::string("verification stopped: ") + e.what());
    }
    report.check_s = seconds_since(phase);
    // Every upload is finished or aborted now: the files are all the next run inherits.
    for (auto& s : states) {
      for (auto& f : s.files) {
        f.locked = false;
        ses.files.push_back(std::move(f));
      }
    }
  }

  static std::string describe(const run_report& r, std::uint64_t session_seed) {
    std::string s =
        "run " + std::to_string(r.run) + " (seed " + std::to_string(r.seed) +
        "; replay its server's runs with SHAREBOX_TEST_CRASH_SEED=" + std::to_string(session_seed) +
        "), kill " + r.kill_point +
        ", in flight: " + (r.in_flight.empty() ? "nothing" : r.in_flight) + "\n";
    for (const auto& p : r.problems)
      s += "  - " + p + "\n";
    s += "  workload (last requests of each worker):\n";
    for (const auto& l : r.log)
      s += "    " + l + "\n";
    return s;
  }

  // Every committed change has its event in its server's queue, every event in the database
  // was delivered, and no event tells of a change that did not happen.
  static void check_events(const std::vector<run_report>& reports) {
    std::vector<std::string> queues;
    std::map<std::string, std::vector<const run_report*>> runs_of;
    for (const auto& r : reports) {
      if (!runs_of.contains(r.queue)) queues.push_back(r.queue);
      runs_of[r.queue].push_back(&r);
    }
    if (queues.empty()) return;
    std::map<std::string, std::vector<json>> by_queue;
    for (const auto& line : drain_with_pika(broker_->url(), queues, 120s)) {
      json m = json::parse(line);
      by_queue[m["queue"].get<std::string>()].push_back(std::move(m));
    }
    for (const auto& queue : queues) {
      const auto& messages = by_queue[queue];
      std::vector<expected_event> expected;
      std::set<std::string> outbox_ids;
      for (const auto* r : runs_of[queue]) {
        expected.insert(expected.end(), r->events.begin(), r->events.end());
        outbox_ids.insert(r->outbox_ids.begin(), r->outbox_ids.end());
      }
      std::vector<std::string> problems;
      for (const auto& e : expected) {
        if (std::none_of(messages.begin(), messages.end(),
                         [&](const json& m) { return event_matches(m["body"], e); })) {
          problems.push_back("no event " + e.describe());
        }
      }
      std::set<std::string> delivered;
      for (const auto& m : messages) {
        delivered.insert(m["properties"].value("message_id", ""));
        if (std::none_of(expected.begin(), expected.end(),
                         [&](const expected_event& e) { return event_matches(m["body"], e); })) {
          problems.push_back("an event of a change that did not happen: " + m["body"].dump());
        }
      }
      for (const auto& id : outbox_ids) {
        if (!delivered.contains(id)) problems.push_back("outbox event " + id + " never arrived");
      }
      if (!problems.empty()) {
        std::string text;
        for (const auto& p : problems)
          text += "  - " + p + "\n";
        ADD_FAILURE() << "queue " << queue << " (runs " << runs_of[queue].front()->run << " to "
                      << runs_of[queue].back()->run << "), " << expected.size()
                      << " changes committed, " << messages.size() << " events delivered:\n"
                      << text;
      }
    }
  }

  static rabbitmq_broker* broker_;
};

rabbitmq_broker* CrashConsistency::broker_ = nullptr;

// Found by the test below: a process that opened the database while the server ran (the test
// reading it, as `sharebox user add` or a backup would) took itself for the WAL index's first
// user, truncated "-shm" and rebuilt it under the server, which then died of SIGBUS. The server
// had dropped SQLite's lock on the file by closing a descriptor of it (POSIX record locks are
// the process's, and any close releases them all). Another process must see that lock.
class WalIndex : public server_test {};

TEST_F(WalIndex, ServerKeepsSqlitesLockWhileOtherProcessesOpenTheDatabase) {
  ASSERT_TRUE(has_status(admin().list(), 200));  // downloads' commit probe is in use
  const fs::path shm = server().data_dir() / "sharebox.db-shm";
  const int fd = ::open(shm.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << shm;
  // SQLite's "DMS" byte (os_unix.c): each process using the WAL index holds a read lock on it.
  constexpr off_t dms_byte = 128;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = dms_byte;
  lock.l_len = 1;
  ASSERT_EQ(::fcntl(fd, F_GETLK, &lock), 0) << std::strerror(errno);
  ::close(fd);
  EXPECT_EQ(lock.l_type, F_RDLCK) << "nobody holds the WAL index's lock";
  EXPECT_EQ(lock.l_pid, server().pid());
  // And so another process's connection leaves the server's WAL index alone.
  EXPECT_EQ(query_column(server().data_dir() / "sharebox.db", "SELECT COUNT(*) FROM users"),
            std::vector<std::string>{"1"});
  EXPECT_TRUE(has_status(admin().list(), 200));
  EXPECT_TRUE(server().running());
}

TEST_F(CrashConsistency, SigkillDuringMixedWorkloadLosesNothingAndLeaksNothing) {
  const auto replay = env_number("SHAREBOX_TEST_CRASH_SEED");
  const int runs = static_cast<int>(
      env_number("SHAREBOX_TEST_CRASH_RUNS").value_or(replay ? runs_per_server : default_runs));
  const bool verbose = env_number("SHAREBOX_TEST_CRASH_VERBOSE").value_or(0) != 0;
  // Session seeds are multiples of 1000; a run's seed is its session's plus its place in it.
  const std::uint64_t base =
      replay ? *replay : std::random_device{}() % 1'000'000'000ULL * 1'000'000ULL;
  std::cout << "[ crash    ] " << runs << " kill run(s), " << runs_per_server
            << " per server; server seeds " << base << ", " << base + 1000 << ", ..." << std::endl;
  const auto started = steady::now();
  std::vector<run_report> reports;
  std::map<std::string, int> interrupted;
  std::size_t files = 0;
  double start_s = 0, load_s = 0, restart_s = 0, check_s = 0;
  bool failed = false;
  for (int i = 0; i < runs && !failed;) {
    const std::uint64_t session_seed =
        base + static_cast<std::uint64_t>(i / runs_per_server) * 1000;
    auto phase = steady::now();
    session ses = open_session(session_seed);
    start_s += seconds_since(phase);
    for (int j = 0; j < runs_per_server && i < runs && !failed; ++j, ++i) {
      run_report r;
      r.run = i;
      r.seed = session_seed + static_cast<std::uint64_t>(j);
      crash_run(ses, r);
      files += r.files;
      load_s += r.load_s;
      restart_s += r.restart_s;
      check_s += r.check_s;
      for (const auto& kind : split_words(r.in_flight.empty() ? "nothing" : r.in_flight))
        interrupted[kind] += 1;
      failed = !r.problems.empty();
      if (failed) ADD_FAILURE() << describe(r, session_seed);  // while the server's log exists
      if (verbose) {
        std::cout << "[ crash    ] run " << r.run << " seed " << r.seed << ": kill " << r.kill_point
                  << ", in flight: " << (r.in_flight.empty() ? "nothing" : r.in_flight) << ", "
                  << r.files << " files" << std::endl;
      }
      reports.push_back(std::move(r));
    }
  }
  const auto events_started = steady::now();
  check_events(reports);
  std::cout << "[ crash    ] " << reports.size() << " run(s) in " << seconds_since(started)
            << " s (first starts " << start_s << " s, workloads " << load_s << " s, restarts "
            << restart_s << " s, checks " << check_s << " s, events "
            << seconds_since(events_started) << " s), " << files
            << " files checked; requests in flight at the kills:";
  for (const auto& [what, n] : interrupted)
    std::cout << " " << what << " " << n;
  std::cout << std::endl;
}

}  // namespace
}  // namespace sharebox::test
