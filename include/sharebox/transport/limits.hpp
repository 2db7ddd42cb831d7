#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace sharebox::transport {

struct limits {
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{30'000};  // first byte to complete request header
  std::chrono::milliseconds idle_timeout{60'000};    // wait for a request to begin
  std::chrono::milliseconds read_timeout{30'000};    // longest wait for the next body bytes
  std::chrono::milliseconds write_timeout{60'000};   // longest a client may stall a response
};

}  // namespace sharebox::transport
