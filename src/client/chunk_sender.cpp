#include "sharebox/client/chunk_sender.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

#include "sharebox/client/error.hpp"
#include "sharebox/client/file_digest.hpp"
#include "sharebox/client/mapped_range.hpp"
#include "sharebox/client/progress.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::client {

namespace {

// A digest mismatch means the bytes changed between our read and the server's check (a flaky
// disk or network): read and send again a few times, then give up.
constexpr int max_digest_attempts = 3;

// CRC-32C, not SHA-256: it catches a damaged chunk as well, and costs a tenth as much on both
// ends. The file's SHA-256, sent with /complete, is the end-to-end check.
std::string content_digest(std::string_view bytes) {
  util::hasher crc(util::hash_algorithm::crc32c);
  crc.update(bytes.data(), bytes.size());
  return "crc32c=:" + util::base64_encode(crc.finish()) + ":";
}

}  // namespace

std::uint64_t upload_plan::length(std::uint64_t index) const {
  const std::uint64_t off = offset(index);
  return off >= size ? 0 : std::min(chunk_size, size - off);
}

chunk_sender::chunk_sender(endpoint ep, retry_policy policy, chunk_source source, upload_plan plan,
                           unsigned parallel, rate_limiter* limiter, progress& meter,
                           file_digest* digest)
    : ep_(std::move(ep)),
      policy_(policy),
      source_(std::move(source)),
      plan_(std::move(plan)),
      parallel_(std::max(1u, parallel)),
      limiter_(limiter),
      meter_(meter),
      digest_(digest) {
  set_sigbus_message(source_.path);
}

void chunk_sender::send(const std::vector<std::uint64_t>& indices) {
  if (indices.empty()) return;
  stop_ = false;
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::exception_ptr first_error;
  const auto workers = static_cast<unsigned>(std::min<std::size_t>(parallel_, indices.size()));
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) {
    threads.emplace_back([&] {
      try {
        work(indices, next);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!first_error) first_error = std::current_exception();
        stop_ = true;
        if (digest_) digest_->cancel();  // a worker waiting for this one's turn would hang
      }
    });
  }
  for (auto& t : threads)
    t.join();
  if (first_error) std::rethrow_exception(first_error);
}

void chunk_sender::work(const std::vector<std::uint64_t>& indices, std::atomic<std::size_t>& next) {
  // One keep-alive connection per worker.
  api_session session(ep_, policy_);
  while (!stop_) {
    const std::size_t i = next.fetch_add(1);
    if (i >= indices.size()) return;
    send_chunk(session, indices[i]);
  }
}

void chunk_sender::send_chunk(api_session& session, std::uint64_t index) {
  if (index >= plan_.chunk_count) {
    throw client_error("the server listed chunk " + std::to_string(index) + " of an upload with " +
                       std::to_string(plan_.chunk_count) + " chunks");
  }
  const std::uint64_t length = plan_.length(index);
  const std::string context =
      source_.path.string() + ": chunk " + std::to_string(index) + " of upload " + plan_.upload_id;
  for (int attempt = 1;; ++attempt) {
    const mapped_range chunk(source_.fd, source_.path, plan_.offset(index),
                             static_cast<std::size_t>(length));
    const std::string_view bytes = chunk.bytes();
    // The file's hash takes the bytes of the first read: if a retry reads different ones, the
    // file changed, and the server's hash will say so at completion.
    if (attempt == 1 && digest_ && !digest_->add(index, bytes)) return;
    auto req =
        session.make("PUT", "/v1/uploads/" + plan_.upload_id + "/chunks/" + std::to_string(index));
    req.headers.emplace_back("Content-Type", "application/octet-stream");
    req.headers.emplace_back("Content-Digest", content_digest(bytes));
    // The mapping was read for the checksums; the body goes from the page cache by sendfile.
    // Should the file change between the two reads, the server's CRC check refuses the chunk.
    req.body_file = file_body{source_.fd, plan_.offset(index), length};
    req.expect_continue = true;

    // Progress moves as bytes leave; a failed attempt takes its bytes back.
    std::int64_t counted = 0;
    transfer_hooks hooks;
    hooks.limiter = limiter_;
    hooks.on_body_sent = [&](std::int64_t n) {
      counted += n;
      meter_.add(n);
    };
    hooks.on_retry = [&] {
      meter_.add(-counted);
      counted = 0;
    };
    response r;
    try {
      r = session.send(req, hooks);
    } catch (...) {
      meter_.add(-counted);
      throw;
    }
    if (r.status == 200) {
      meter_.add(static_cast<std::int64_t>(length) - counted);
      chunks_sent_.fetch_add(1);
      bytes_sent_.fetch_add(length);
      return;
    }
    meter_.add(-counted);
    const std::string code = problem_code(r);
    // Another run completed the upload meanwhile: completing again answers its file.
    if (r.status == 409 && code == "upload_completed") return;
    if (r.status == 404 || r.status == 410) throw upload_gone(describe_failure(r, context, true));
    if (r.status == 400 && code == "digest_mismatch" && attempt < max_digest_attempts) continue;
    session.check(r, context);
  }
}

}  // namespace sharebox::client
