#pragma once
// Whether anything was committed to the metadata since an earlier look, by this process or any
// other (`sharebox key revoke` runs in its own). Unlike the other ports it never blocks and is
// meant for network threads: it lets them trust what they cached, or not.
#include <array>
#include <optional>

namespace sharebox::domain {

class commit_probe {
 public:
  // Opaque; equal stamps mean that nothing was committed in between.
  struct stamp {
    std::array<unsigned char, 48> bytes{};
    friend bool operator==(const stamp&, const stamp&) = default;
  };

  virtual ~commit_probe() = default;
  // nullopt when it cannot tell (a commit is being published right now, or the store does not
  // support probing): trust no cache then.
  virtual std::optional<stamp> now() const noexcept = 0;
};

}  // namespace sharebox::domain
