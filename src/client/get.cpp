// `sharebox get`: resumable, verified downloads. Bytes go to PATH.part; an interrupted run leaves
// it behind and the next run continues it with Range + If-Range.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <thread>

#include "sharebox/client/api.hpp"
#include "sharebox/client/error.hpp"
#include "sharebox/client/file_io.hpp"
#include "sharebox/client/format.hpp"
#include "sharebox/client/operations.hpp"
#include "sharebox/client/progress.hpp"
#include "sharebox/client/state.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::client {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int max_attempts = 8;
constexpr std::uint64_t hash_bar_threshold = std::uint64_t{64} << 20;

struct remote_file {
  std::string id;
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;
  std::string etag;
};

// What the bytes in PATH.part are: which file and which version of it.
struct part_origin {
  std::string file_id;
  std::string etag;
};

[[noreturn]] void fail_errno(const fs::path& p, std::string_view what) {
  throw client_error(p.string() + ": " + std::string(what) + ": " + std::strerror(errno));
}

remote_file fetch_meta(api_session& s, const std::string& id) {
  const json j =
      s.call_json(s.make("GET", "/files/" + util::url_encode(id) + "/meta"), "file " + id);
  try {
    return {id, j.at("name").get<std::string>(), j.at("size").get<std::uint64_t>(),
            j.at("sha256").get<std::string>(), j.at("etag").get<std::string>()};
  } catch (const json::exception&) {
    throw client_error("file " + id + ": unexpected metadata from the server: " + j.dump());
  }
}

// The server's name is only a suggestion: never let it pick a directory or escape this one.
std::string safe_file_name(const std::string& name, const std::string& id) {
  std::string base = fs::path(name).filename().string();
  for (char& c : base) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return base.empty() || base == "." || base == ".." ? id : base;
}

fs::path output_path(const std::string& option, const remote_file& f) {
  const std::string name = safe_file_name(f.name, f.id);
  if (option.empty()) return name;
  std::error_code ec;
  if (fs::is_directory(option, ec)) return fs::path(option) / name;
  return option;
}

class downloader {
 public:
  downloader(api_session& s, const remote_file& f, fs::path part, bool live)
      : session_(s),
        file_(f),
        part_(std::move(part)),
        origin_file_("downloads",
                     s.where().url.text() + "\n" + fs::absolute(part_).lexically_normal().string()),
        live_(live) {}

  // Fills PATH.part with the file's current content; returns the ETag of the version received.
  std::string run() {
    fd_ = unique_fd(::open(part_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (fd_.get() < 0) fail_errno(part_, "cannot open");
    etag_ = resume_etag();
    std::uint64_t have = identity_of(fd_.get(), part_).size;
    if (etag_.empty() || have > file_.size) have = 0;
    // Fetch at least the last byte again, so If-Range confirms even a complete .part's version.
    from_ = file_.size == 0 ? 0 : std::min(have, file_.size - 1);
    if (from_ == 0) etag_ = file_.etag;
    truncate_to(from_);
    origin_file_.save({{"file_id", file_.id}, {"etag", etag_}});

    progress meter(file_.name, file_.size, from_, live_);
    meter_ = &meter;
    fetch_with_retries();
    if (::fsync(fd_.get()) != 0) fail_errno(part_, "fsync");
    meter.finish("sharebox: " + printable(file_.name) + ": received " + human_size(received_) +
                 " of " + human_size(file_.size) + " in " +
                 human_duration(std::chrono::duration_cast<std::chrono::seconds>(meter.elapsed())));
    meter_ = nullptr;
    return etag_;
  }

  int fd() const { return fd_.get(); }
  void forget_origin() { origin_file_.remove(); }

 private:
  // The ETag of the version PATH.part holds, or "" to start over. A .part this client did not
  // write is assumed to be the current version; the final hash check catches a wrong guess.
  std::string resume_etag() const {
    const auto saved = origin_file_.load();
    if (!saved) return file_.etag;
    if (saved->value("file_id", "") != file_.id) return {};
    return saved->value("etag", file_.etag);
  }

  void truncate_to(std::uint64_t size) {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) fail_errno(part_, "truncate");
    if (::lseek(fd_.get(), static_cast<off_t>(size), SEEK_SET) < 0) fail_errno(part_, "seek");
    written_ = size;
    flushed_ = size;
  }

  request make_request() const {
    auto req = session_.make("GET", "/files/" + util::url_encode(file_.id));
    if (from_ > 0) {
      req.headers.emplace_back("Range", "bytes=" + std::to_string(from_) + "-");
      req.headers.emplace_back("If-Range", etag_);
    }
    return req;
  }

  // Decides where the body goes once the status is known.
  bool start_body(const response& head) {
    if (head.status == 206) {
      const std::string expected = "bytes " + std::to_string(from_) + "-";
      if (head.header("Content-Range").rfind(expected, 0) != 0) {
        throw client_error("file " + file_.id + ": the server sent another range than asked (" +
                           printable(head.header("Content-Range")) + ")");
      }
      truncate_to(from_);
      return true;
    }
    if (head.status != 200) return false;
    // The whole file: either we asked for it, or it changed and If-Range said so.
    truncate_to(0);
    from_ = 0;
    meter_->reset(0);
    etag_ = head.header("ETag");
    origin_file_.save({{"file_id", file_.id}, {"etag", etag_}});
    return true;
  }

  void fetch_with_retries() {
    transfer_hooks hooks;
    hooks.stream_body = [this](const response& head) { return start_body(head); };
    hooks.write_body = [this](std::string_view bytes) {
      write_all(fd_.get(), part_, bytes.data(), bytes.size());
      written_ += bytes.size();
      // Start writeback as we go, so the final fsync has little left to do.
      if (written_ - flushed_ >= writeback_step) {
        ::sync_file_range(fd_.get(), static_cast<off_t>(flushed_),
                          static_cast<off_t>(written_ - flushed_), SYNC_FILE_RANGE_WRITE);
        flushed_ = written_;
      }
      received_ += bytes.size();
      meter_->add(static_cast<std::int64_t>(bytes.size()));
    };
    const std::string context = "file " + file_.id;
    for (int attempt = 1;; ++attempt) {
      std::chrono::milliseconds delay;
      try {
        const response r = session_.conn().send(make_request(), hooks);
        if (r.status == 200 || r.status == 206) return;
        if (!is_transient(r.status) || attempt >= max_attempts) session_.check(r, context);
        delay = retry_after(r).value_or(backoff(attempt, session_.policy()));
      } catch (const transport_error& e) {
        if (attempt >= max_attempts) {
          throw transport_error(
              "gave up after " + std::to_string(attempt) + " attempts: " + e.what(), false);
        }
        delay = backoff(attempt, session_.policy());
      }
      // Continue after what arrived, from the version that arrived.
      from_ = file_.size == 0 ? 0 : std::min(written_, file_.size - 1);
      meter_->reset(from_);
      std::this_thread::sleep_for(delay);
    }
  }

  api_session& session_;
  const remote_file& file_;
  fs::path part_;
  state_file origin_file_;
  bool live_;
  unique_fd fd_;
  std::string etag_;
  std::uint64_t from_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t flushed_ = 0;  // written back (sync_file_range) up to here
  static constexpr std::uint64_t writeback_step = 8 << 20;
  std::uint64_t received_ = 0;
  progress* meter_ = nullptr;
};

std::string hash_file(int fd, const fs::path& p, std::uint64_t size, bool live) {
  progress meter("verifying", size, 0, live && size >= hash_bar_threshold);
  std::string digest = sha256_of(fd, p, &meter);
  meter.finish({});
  return digest;
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec)
    throw client_error("cannot rename " + from.string() + " to " + to.string() + ": " +
                       ec.message());
}

}  // namespace

int run_get(const common_options& common, const get_options& options) {
  api_session session(make_endpoint(common.url, common.key, common.cacert));
  remote_file file = fetch_meta(session, options.id);
  const fs::path out = output_path(options.output, file);
  const fs::path part = out.string() + ".part";
  const bool live = progress::want_live(options.no_progress);

  downloader d(session, file, part, live);
  const std::string etag = d.run();
  if (etag != file.etag) {
    // The file was replaced between the metadata and the content: check against the new one.
    file = fetch_meta(session, options.id);
    if (file.etag != etag) {
      throw client_error("file " + options.id + " changed during the download; run again");
    }
  }
  const std::string local = hash_file(d.fd(), part, file.size, live);
  d.forget_origin();
  if (local == file.sha256) {
    rename_or_throw(part, out);
    std::cout << "OK" << std::endl;
    return 0;
  }
  const fs::path bad = out.string() + ".bad";
  rename_or_throw(part, bad);
  std::cout << "BAD" << std::endl;
  std::cerr << "sharebox: " << out.string() << ": SHA-256 mismatch (server "
            << printable(file.sha256) << ", received " << local << "); the bytes are kept in "
            << bad.string() << "\n";
  return 1;
}

}  // namespace sharebox::client
