#pragma once
// The text messages a browser sends on the image intake WebSocket (docs/ws-intake.md), parsed
// apart from the conversation (src/api/intake_api.cpp) so that tests/fuzz can drive them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sharebox::api {

struct intake_message {
  enum class kind {
    announce,  // {"type":"file","client_file_id":ID,"name"?:NAME,"size"?:BYTES}
    end,       // {"type":"end","client_file_id":ID}
    cancel,    // {"type":"cancel","client_file_id":ID}
    invalid,   // anything else: `complaint` says what is wrong
  };
  kind type = kind::invalid;
  // announce: 1-64 characters, no control characters. end and cancel: as sent, or "" when absent
  // or not a string (which names no file: announced ids are never empty).
  std::string client_file_id;
  std::string name;                   // announce: "" when absent or not a string
  std::optional<std::uint64_t> size;  // announce: absent or null: not declared
  std::string complaint;              // invalid: the "bad_message" error's text
};

// Never throws for any text (a message the client got wrong is `invalid`, answered with an
// error and counted towards the session's limit of malformed messages).
intake_message parse_intake_message(std::string_view text);

}  // namespace sharebox::api
