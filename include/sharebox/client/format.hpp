#pragma once
// Small pure helpers for the client's input and output: sizes, rates, durations, content types,
// and making server-supplied text safe to print on a terminal.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sharebox::client {

// "512 B", "1.5 KiB", "200.0 MiB".
std::string human_size(std::uint64_t bytes);
// "0:07", "1:02:03"; "--:--" when unknown.
std::string human_duration(std::optional<std::chrono::seconds> d);
// "50M", "500k", "1.5G", "1048576", "20MiB", "10M/s": bytes per second (binary multiples).
// nullopt if malformed or zero.
std::optional<std::uint64_t> parse_rate(std::string_view text);
// A MIME type guessed from the file name's extension; application/octet-stream if unknown.
std::string guess_content_type(std::string_view filename);
// Replaces control characters (terminal escapes) with '?': names and details come from the
// server and from other users.
std::string printable(std::string_view s);
// Lowercase hex SHA-256 of a string.
std::string sha256_hex(std::string_view s);

}  // namespace sharebox::client
