#include "sharebox/client/file_digest.hpp"

#include "sharebox/client/error.hpp"
#include "sharebox/client/file_io.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::client {

file_digest::file_digest(chunk_source source, upload_plan plan)
    : source_(std::move(source)), plan_(std::move(plan)), expected_(plan_.chunk_count, false) {}

void file_digest::expect(const std::vector<std::uint64_t>& indices) {
  std::lock_guard lock(mu_);
  for (const auto i : indices) {
    if (i < expected_.size()) expected_[i] = true;
  }
}

bool file_digest::add(std::uint64_t index, std::string_view bytes) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (cancelled_) return false;
    if (index < next_) return true;
    if (index == next_) break;
    if (!expected_[next_]) {
      hash_from_file(next_);  // a gap no worker will fill
      continue;
    }
    turn_.wait(lock);
  }
  if (bytes.size() != plan_.length(index)) {
    throw client_error(source_.path.string() + ": chunk " + std::to_string(index) +
                       " has the wrong length");
  }
  hash_.update(bytes.data(), bytes.size());
  ++next_;
  turn_.notify_all();
  return true;
}

void file_digest::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  turn_.notify_all();
}

std::string file_digest::finish() {
  std::lock_guard lock(mu_);
  if (cancelled_) throw client_error(source_.path.string() + ": hashing was cancelled");
  while (next_ < plan_.chunk_count)
    hash_from_file(next_);
  return util::to_hex(hash_.finish());
}

void file_digest::hash_from_file(std::uint64_t index) {
  std::string buffer(plan_.length(index), '\0');
  read_at(source_.fd, source_.path, plan_.offset(index), buffer.data(), buffer.size());
  hash_.update(buffer.data(), buffer.size());
  ++next_;
  turn_.notify_all();
}

}  // namespace sharebox::client
