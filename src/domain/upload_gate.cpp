#include "sharebox/domain/upload_gate.hpp"

namespace sharebox::domain {

upload_gate::pass::pass(pass&& o) noexcept
    : gate_(std::exchange(o.gate_, nullptr)),
      upload_(std::move(o.upload_)),
      user_(std::move(o.user_)),
      chunk_(o.chunk_),
      counted_(o.counted_) {}

upload_gate::pass& upload_gate::pass::operator=(pass&& o) noexcept {
  if (this != &o) {
    release();
    gate_ = std::exchange(o.gate_, nullptr);
    upload_ = std::move(o.upload_);
    user_ = std::move(o.user_);
    chunk_ = o.chunk_;
    counted_ = o.counted_;
  }
  return *this;
}

upload_gate::pass::~pass() {
  release();
}

void upload_gate::pass::release() noexcept {
  if (gate_) std::exchange(gate_, nullptr)->release(*this);
}

void upload_gate::refuse(std::string detail) {
  // One second is about what a chunk takes at disk speed: long enough for one to finish.
  throw error(errc::too_many_inflight_chunks, std::move(detail),
              {{"retry_after", std::int64_t{1}}});
}

void upload_gate::check_limits(const upload_state& u, std::string_view user) const {
  if (global_ >= limits_.global) {
    refuse("The server is receiving as many chunks as it allows; retry shortly.");
  }
  const auto it = users_.find(user);
  if (it != users_.end() && it->second >= limits_.per_user) {
    refuse("You are sending as many chunks at once as one user may; retry shortly.");
  }
  if (u.counted >= limits_.per_upload) {
    refuse("This upload is receiving as many chunks at once as it may; retry shortly.");
  }
}

upload_gate::pass upload_gate::enter_chunk(std::string_view upload, std::string_view user,
                                           std::uint64_t index) {
  std::lock_guard lock(mutex_);
  auto it = uploads_.find(upload);
  const upload_state empty;
  const upload_state& u = it == uploads_.end() ? empty : it->second;
  if (u.exclusive) refuse("The upload is being completed or changed; retry shortly.");
  if (u.chunks.contains(index)) {
    refuse("Chunk " + std::to_string(index) + " is being received on another connection.");
  }
  check_limits(u, user);
  if (it == uploads_.end()) it = uploads_.emplace(std::string(upload), upload_state{}).first;
  it->second.chunks.insert(index);
  it->second.counted += 1;
  users_[std::string(user)] += 1;
  global_ += 1;
  return make_pass(upload, user, index, true);
}

upload_gate::pass upload_gate::enter_exclusive(std::string_view upload, std::string_view user,
                                               bool counted, errc when_busy) {
  std::lock_guard lock(mutex_);
  auto it = uploads_.find(upload);
  if (it != uploads_.end() && (it->second.exclusive || !it->second.chunks.empty())) {
    throw error(when_busy, "Another request is working on this upload.");
  }
  if (counted) check_limits(upload_state{}, user);
  if (it == uploads_.end()) it = uploads_.emplace(std::string(upload), upload_state{}).first;
  it->second.exclusive = true;
  if (counted) {
    it->second.counted += 1;
    users_[std::string(user)] += 1;
    global_ += 1;
  }
  return make_pass(upload, user, std::nullopt, counted);
}

std::optional<upload_gate::pass> upload_gate::try_enter_exclusive(std::string_view upload) {
  try {
    return enter_exclusive(upload, {}, false, errc::upload_busy);
  } catch (const error&) {
    return std::nullopt;
  }
}

upload_gate::pass upload_gate::make_pass(std::string_view upload, std::string_view user,
                                         std::optional<std::uint64_t> chunk, bool counted) {
  pass p;
  p.gate_ = this;
  p.upload_ = upload;
  p.user_ = user;
  p.chunk_ = chunk;
  p.counted_ = counted;
  return p;
}

std::size_t upload_gate::in_flight() const {
  std::lock_guard lock(mutex_);
  return global_;
}

void upload_gate::release(pass& p) noexcept {
  std::lock_guard lock(mutex_);
  const auto it = uploads_.find(p.upload_);
  if (it == uploads_.end()) return;
  auto& u = it->second;
  if (p.chunk_) {
    u.chunks.erase(*p.chunk_);
  } else {
    u.exclusive = false;
  }
  if (p.counted_) {
    u.counted -= 1;
    global_ -= 1;
    if (const auto ut = users_.find(p.user_); ut != users_.end() && --ut->second == 0) {
      users_.erase(ut);
    }
  }
  if (!u.exclusive && u.chunks.empty() && u.counted == 0) uploads_.erase(it);
}

}  // namespace sharebox::domain
