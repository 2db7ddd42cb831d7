#pragma once
// Admission control for upload bodies, held while bytes are being received: in-flight limits
// (per upload, per user, global) so that many parallel chunk streams cannot exhaust the worker
// pool or the disk queue, and exclusion so that no two requests write the same bytes at once.
// In memory: it guards this process's connections, and nothing is in flight after a restart.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "sharebox/domain/errors.hpp"

namespace sharebox::domain {

class upload_gate {
 public:
  struct limits {
    std::size_t per_upload = 8;
    std::size_t per_user = 16;
    std::size_t global = 64;
  };

  // Held while a request works on an upload; releases on destruction.
  class pass {
   public:
    pass() = default;
    pass(pass&& o) noexcept;
    pass& operator=(pass&& o) noexcept;
    pass(const pass&) = delete;
    pass& operator=(const pass&) = delete;
    ~pass();

   private:
    friend class upload_gate;
    upload_gate* gate_ = nullptr;
    std::string upload_;
    std::string user_;
    std::optional<std::uint64_t> chunk_;  // a chunk pass; otherwise exclusive
    bool counted_ = false;                // counts towards the in-flight limits
    void release() noexcept;
  };

  explicit upload_gate(limits l) : limits_(l) {}

  // One chunk of `upload`: refused (too_many_inflight_chunks, with a retry hint) when a limit
  // is reached, the same chunk is already in flight, or the upload is held exclusively.
  pass enter_chunk(std::string_view upload, std::string_view user, std::uint64_t index);
  // The whole upload, with no chunk in flight: refused with `when_busy` if anything else holds
  // it. `counted` requests (a tus PATCH, which carries bytes) also respect the in-flight limits.
  pass enter_exclusive(std::string_view upload, std::string_view user, bool counted,
                       errc when_busy);
  std::optional<pass> try_enter_exclusive(std::string_view upload);

  std::size_t in_flight() const;

 private:
  struct upload_state {
    std::size_t counted = 0;
    bool exclusive = false;
    std::set<std::uint64_t> chunks;
  };
  [[noreturn]] static void refuse(std::string detail);
  void check_limits(const upload_state& u, std::string_view user) const;
  void release(pass& p) noexcept;
  pass make_pass(std::string_view upload, std::string_view user, std::optional<std::uint64_t> chunk,
                 bool counted);

  limits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, upload_state, std::less<>> uploads_;
  std::map<std::string, std::size_t, std::less<>> users_;
  std::size_t global_ = 0;
};

}  // namespace sharebox::domain
