#pragma once
// The rules of one image intake session (one browser tab's WebSocket): how many files it may
// add and which are duplicates of files it already added. Pure logic, no I/O; the protocol and
// the image decoding live elsewhere.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sharebox::domain {

struct intake_limits {
  std::uint64_t max_file_bytes = 5ull * 1024 * 1024;
  std::size_t max_files = 10;   // accepted files per session
  int max_phash_distance = 10;  // bits; at most this far apart is the same picture
  // Perceptual hashes of pictures with less large-scale structure than this (grey levels) are
  // not compared: flat or fine-textured pictures hash alike even when they differ, and refusing
  // a different picture as a duplicate is worse than letting a re-encoded copy through.
  double min_phash_structure = 3.0;
};

// Why a file was refused; `code` is the protocol's machine code.
struct intake_rejection {
  std::string code;
  std::string message;
  std::optional<std::string> duplicate_of;  // the client_file_id of the earlier file
};

class intake_session {
 public:
  explicit intake_session(intake_limits limits) : limits_(limits) {}

  // Checks an announced file before any of its bytes are sent.
  std::optional<intake_rejection> check_announce(std::string_view name,
                                                 std::optional<std::uint64_t> size) const;
  // The same bytes, or the same picture, as a file accepted earlier in this session?
  std::optional<intake_rejection> check_duplicate(std::string_view sha256, std::uint64_t phash,
                                                  double phash_structure) const;
  void accepted(std::string client_file_id, std::string name, std::string sha256,
                std::uint64_t phash, double phash_structure);
  std::size_t accepted_count() const noexcept { return accepted_.size(); }
  const intake_limits& limits() const noexcept { return limits_; }

 private:
  struct accepted_file {
    std::string client_file_id;
    std::string name;
    std::string sha256;
    std::uint64_t phash;
    double phash_structure;
  };
  intake_limits limits_;
  std::vector<accepted_file> accepted_;
};

// "5.0 MB"-style size for messages.
std::string human_size(std::uint64_t bytes);

}  // namespace sharebox::domain
