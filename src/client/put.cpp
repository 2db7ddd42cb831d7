// `sharebox put`: resumable, parallel, verified uploads through the chunked upload API.
#include <algorithm>
#include <iostream>
#include <thread>

#include "sharebox/client/api.hpp"
#include "sharebox/client/chunk_sender.hpp"
#include "sharebox/client/error.hpp"
#include "sharebox/client/file_digest.hpp"
#include "sharebox/client/file_io.hpp"
#include "sharebox/client/format.hpp"
#include "sharebox/client/operations.hpp"
#include "sharebox/client/progress.hpp"
#include "sharebox/client/rate_limiter.hpp"
#include "sharebox/client/state.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::client {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int state_version = 1;
// Rounds of "complete → chunks_missing → send them" before giving up.
constexpr int max_resend_rounds = 5;
// Completion may hash part of the file on the server (all of it after a server restart).
constexpr std::chrono::seconds complete_timeout{600};

struct local_file {
  fs::path path;  // absolute
  unique_fd fd;
  file_identity identity;
};

// What a later run needs to resume: the state file's content.
struct upload_record {
  std::string server_url;
  std::string path;
  file_identity identity;
  std::string sha256;  // declared at init by older versions; now sent with /complete
  std::string filename;
  std::string content_type;
  std::string replace_file_id;
  upload_plan plan;

  json to_json() const {
    return {{"version", state_version},
            {"server_url", server_url},
            {"path", path},
            {"size", identity.size},
            {"mtime_ns", identity.mtime_ns},
            {"sha256", sha256},
            {"filename", filename},
            {"content_type", content_type},
            {"replace_file_id", replace_file_id},
            {"upload_id", plan.upload_id},
            {"chunk_size", plan.chunk_size},
            {"chunk_count", plan.chunk_count}};
  }

  static std::optional<upload_record> from_json(const json& j) {
    try {
      if (j.at("version").get<int>() != state_version) return std::nullopt;
      upload_record r;
      r.server_url = j.at("server_url").get<std::string>();
      r.path = j.at("path").get<std::string>();
      r.identity = {j.at("size").get<std::uint64_t>(), j.at("mtime_ns").get<std::int64_t>()};
      r.sha256 = j.at("sha256").get<std::string>();
      r.filename = j.at("filename").get<std::string>();
      r.content_type = j.at("content_type").get<std::string>();
      r.replace_file_id = j.at("replace_file_id").get<std::string>();
      r.plan.upload_id = j.at("upload_id").get<std::string>();
      r.plan.size = r.identity.size;
      r.plan.chunk_size = j.at("chunk_size").get<std::uint64_t>();
      r.plan.chunk_count = j.at("chunk_count").get<std::uint64_t>();
      if (r.plan.upload_id.empty() || r.plan.chunk_size == 0 ||
          (!r.sha256.empty() && r.sha256.size() != 64)) {
        return std::nullopt;
      }
      return r;
    } catch (const json::exception&) {
      return std::nullopt;
    }
  }
};

std::string path_segment(const std::string& id) {
  return util::url_encode(id);
}

class uploader {
 public:
  uploader(const put_options& options, endpoint ep, rate_limiter* limiter)
      : options_(options), ep_(std::move(ep)), session_(ep_), limiter_(limiter) {}

  // Uploads one file and returns the new (or replaced) file's id.
  std::string put(const std::string& arg) {
    local_file file = open_local(arg);
    upload_record want = describe(file);
    state_file state("uploads", ep_.url.text() + "\n" + file.path.string());
    // A resume the server no longer honours (expired, swept) starts over once.
    for (int round = 0;; ++round) {
      try {
        return put_once(arg, file, want, state);
      } catch (const upload_gone& e) {
        state.remove();
        if (round > 0) throw client_error(e.what());
        std::cerr << "sharebox: " << arg << ": the server dropped the upload; starting over\n";
      }
    }
  }

 private:
  local_file open_local(const std::string& arg) {
    local_file f;
    std::error_code ec;
    f.path = fs::absolute(arg, ec);
    if (ec) throw client_error(arg + ": " + ec.message());
    f.path = f.path.lexically_normal();
    f.fd = open_for_reading(f.path);
    f.identity = identity_of(f.fd.get(), f.path);
    return f;
  }

  upload_record describe(const local_file& f) const {
    upload_record r;
    r.server_url = ep_.url.text();
    r.path = f.path.string();
    r.identity = f.identity;
    r.filename = options_.name.empty() ? f.path.filename().string() : options_.name;
    r.content_type = guess_content_type(r.filename);
    r.replace_file_id = options_.replace;
    return r;
  }

  std::string put_once(const std::string& arg, const local_file& file, upload_record want,
                       const state_file& state) {
    std::vector<std::uint64_t> todo;
    std::optional<upload_record> record = resumable(want, state);
    if (record) {
      todo = missing_chunks(record->plan);
    } else {
      want.plan = init(arg, want);
      state.save(want.to_json());
      record = want;
      todo.resize(record->plan.chunk_count);
      for (std::uint64_t i = 0; i < todo.size(); ++i)
        todo[i] = i;
    }
    const upload_plan& plan = record->plan;
    const std::uint64_t already = plan.size - bytes_of(plan, todo);

    progress meter(want.filename, plan.size, already, progress::want_live(options_.no_progress));
    // The file's SHA-256 comes from the chunks as they are read for sending, not from a pass
    // over the file before: the file is read once, and hashing overlaps the transfer.
    // Ascending, as file_digest needs: a worker waits only for chunks handed out before its own.
    std::sort(todo.begin(), todo.end());
    file_digest digest({file.fd.get(), file.path}, plan);
    digest.expect(todo);
    chunk_sender sender(ep_, session_.policy(), {file.fd.get(), file.path}, plan, options_.parallel,
                        limiter_, meter, &digest);
    sender.send(todo);
    ensure_unchanged(arg, file, *record, state);
    const std::string sha256 = digest.finish();
    if (!record->sha256.empty() && record->sha256 != sha256) {
      state.remove();
      abort_upload(plan.upload_id);
      throw client_error(arg + ": the file changed since the upload began; run the command again");
    }
    json f = complete(arg, plan, sender, state, sha256);
    verify(arg, sha256, f);
    state.remove();

    meter.finish(summary(want.filename, plan, todo.size(), sender, meter));
    return f.at("id").get<std::string>();
  }

  // The saved upload for this file, if it is still the same file and the same request.
  std::optional<upload_record> resumable(const upload_record& want, const state_file& state) {
    const auto saved = state.load();
    if (!saved) return std::nullopt;
    auto r = upload_record::from_json(*saved);
    if (r && r->server_url == want.server_url && r->path == want.path &&
        r->identity == want.identity && r->filename == want.filename &&
        r->replace_file_id == want.replace_file_id) {
      return r;
    }
    // Stale: the file or the command changed. Free the server's space for the old upload.
    if (r) abort_upload(r->plan.upload_id);
    state.remove();
    return std::nullopt;
  }

  std::vector<std::uint64_t> missing_chunks(const upload_plan& plan) {
    const auto r = session_.send(
        session_.make("GET", "/v1/uploads/" + path_segment(plan.upload_id) + "/missing-chunks"));
    if (r.status == 404 || r.status == 410) {
      throw upload_gone("upload " + plan.upload_id + " is gone from the server");
    }
    session_.check(r, "upload " + plan.upload_id);
    const json j = json_body(r);
    if (!j.contains("missing") || !j["missing"].is_array()) {
      throw client_error("upload " + plan.upload_id + ": unexpected answer: " + j.dump());
    }
    std::vector<std::uint64_t> missing;
    for (const auto& v : j["missing"])
      missing.push_back(v.get<std::uint64_t>());
    return missing;
  }

  std::string current_etag(const std::string& id) {
    const json meta = session_.call_json(
        session_.make("GET", "/files/" + path_segment(id) + "/meta"), "file " + id);
    return meta.at("etag").get<std::string>();
  }

  upload_plan init(const std::string& arg, const upload_record& r) {
    json body = {
        {"filename", r.filename}, {"size", r.identity.size}, {"content_type", r.content_type}};
    if (options_.chunk_size > 0) body["chunk_size"] = options_.chunk_size;
    if (!r.replace_file_id.empty()) {
      body["file_id"] = r.replace_file_id;
      body["if_match"] = current_etag(r.replace_file_id);
    }
    const std::string text = body.dump();
    auto req = session_.make("POST", "/v1/uploads/init");
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = text;
    const json j = session_.call_json(req, arg);
    upload_plan plan;
    try {
      plan.upload_id = j.at("upload_id").get<std::string>();
      plan.size = r.identity.size;
      plan.chunk_size = j.at("chunk_size").get<std::uint64_t>();
      plan.chunk_count = j.at("chunk_count").get<std::uint64_t>();
    } catch (const json::exception&) {
      throw client_error(arg + ": unexpected answer to POST /v1/uploads/init: " + j.dump());
    }
    if (plan.chunk_size == 0 || plan.upload_id.empty()) {
      throw client_error(arg + ": the server proposed an unusable upload: " + j.dump());
    }
    return plan;
  }

  json complete(const std::string& arg, const upload_plan& plan, chunk_sender& sender,
                const state_file& state, const std::string& sha256) {
    int resends = 0;
    int busy = 0;
    const std::string body = json{{"sha256", sha256}}.dump();
    for (;;) {
      auto req = session_.make("POST", "/v1/uploads/" + path_segment(plan.upload_id) + "/complete");
      req.headers.emplace_back("Content-Type", "application/json");
      req.body = body;
      req.timeout = complete_timeout;
      const response r = session_.send(req);
      if (r.status == 200 || r.status == 201) return json_body(r);
      const std::string code = problem_code(r);
      if (r.status == 404 || r.status == 410) throw upload_gone(describe_failure(r, arg, true));
      if (r.status == 409 && code == "chunks_missing" && ++resends < max_resend_rounds) {
        std::vector<std::uint64_t> missing;
        for (const auto& v : problem_of(r).value("missing", json::array()))
          missing.push_back(v.get<std::uint64_t>());
        sender.send(missing);
        continue;
      }
      // Chunks still arriving, e.g. from a killed earlier run the server has not noticed yet.
      if (r.status == 409 && code == "upload_busy" && ++busy < session_.policy().max_attempts) {
        std::this_thread::sleep_for(backoff(busy, session_.policy()));
        continue;
      }
      if (r.status == 422 && code == "checksum_mismatch") {
        // The bytes on the server are not the file we hashed: resuming cannot fix that.
        state.remove();
        abort_upload(plan.upload_id);
        throw client_error(arg + ": the uploaded bytes do not match the file's SHA-256 (was it " +
                           "modified during the upload?); run the command again to start over");
      }
      session_.check(r, arg);
      throw client_error(arg + ": unexpected answer HTTP " + std::to_string(r.status));
    }
  }

  void ensure_unchanged(const std::string& arg, const local_file& file, const upload_record& record,
                        const state_file& state) {
    if (identity_of(file.fd.get(), file.path) == record.identity) return;
    state.remove();
    abort_upload(record.plan.upload_id);
    throw client_error(arg + ": the file changed during the upload; run the command again");
  }

  void verify(const std::string& arg, const std::string& sha256, const json& f) {
    const std::string remote = f.value("sha256", "");
    if (remote != sha256 || !f.contains("id")) {
      throw client_error(arg + ": the server stored different content (sha256 " +
                         printable(remote) + ", local " + sha256 + ")");
    }
  }

  // Best effort: an abandoned upload would otherwise hold its space until it expires.
  void abort_upload(const std::string& upload_id) {
    try {
      session_.conn().send(session_.make("DELETE", "/v1/uploads/" + path_segment(upload_id)));
    } catch (const client_error&) {
    }
  }

  static std::uint64_t bytes_of(const upload_plan& plan, const std::vector<std::uint64_t>& idx) {
    std::uint64_t n = 0;
    for (auto i : idx)
      n += plan.length(i);
    return std::min(n, plan.size);
  }

  static std::string summary(const std::string& name, const upload_plan& plan, std::size_t todo,
                             const chunk_sender& sender, const progress& meter) {
    const double secs = std::chrono::duration<double>(meter.elapsed()).count();
    char timing[64];
    std::snprintf(timing, sizeof timing, "%.1f s", secs);
    return "sharebox: " + printable(name) + ": sent " + std::to_string(sender.chunks_sent()) +
           " of " + std::to_string(plan.chunk_count) + " chunks (" +
           std::to_string(plan.chunk_count - std::min<std::uint64_t>(todo, plan.chunk_count)) +
           " already on the server), " + human_size(sender.bytes_sent()) + " in " + timing + ", " +
           human_size(static_cast<std::uint64_t>(meter.average_speed())) + "/s";
  }

  const put_options& options_;
  endpoint ep_;
  api_session session_;
  rate_limiter* limiter_;
};

}  // namespace

int run_put(const common_options& common, const put_options& options) {
  if (options.files.size() > 1 && (!options.name.empty() || !options.replace.empty())) {
    throw client_error("--name and --replace take a single FILE");
  }
  std::optional<rate_limiter> limiter;
  if (!options.limit_rate.empty()) {
    const auto rate = parse_rate(options.limit_rate);
    if (!rate) {
      throw client_error("--limit-rate: '" + options.limit_rate +
                         "' is not a rate (e.g. 500K, 50M, 1G bytes per second)");
    }
    limiter.emplace(*rate);
  }
  endpoint ep = make_endpoint(common.url, common.key, common.cacert);
  uploader up(options, ep, limiter ? &*limiter : nullptr);
  int status = 0;
  for (const auto& arg : options.files) {
    try {
      std::cout << up.put(arg) << std::endl;
    } catch (const std::exception& e) {
      // One file failing does not stop the others.
      std::cerr << "sharebox: " << e.what() << "\n";
      status = 1;
    }
  }
  return status;
}

}  // namespace sharebox::client
