// Image intake control messages (src/api/intake_messages.cpp) and the session rules they drive
// (src/domain/intake_session.cpp). Input: one text message per line, as a browser sends them
// on /ws/intake.
//
// Properties:
//  - parsing never throws, whatever the text (a message of the wrong shape is `invalid`, with a
//    complaint for the client);
//  - an announce has a valid client_file_id (1-64 characters, no control characters) and a size
//    only when the message had a whole non-negative number;
//  - a parsed message written back as JSON parses to the same message;
//  - the session: announced names and sizes are refused exactly as the limits say, no more than
//    max_files are ever accepted, and the same bytes twice are always a duplicate.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "sharebox/api/intake_messages.hpp"
#include "sharebox/domain/intake_session.hpp"
#include "sharebox/domain/model.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"

namespace {

using namespace sharebox;
using api::intake_message;
using nlohmann::json;

bool same(const intake_message& a, const intake_message& b) {
  return a.type == b.type && a.client_file_id == b.client_file_id && a.name == b.name &&
         a.size == b.size && a.complaint == b.complaint;
}

std::string written_back(const intake_message& m) {
  json j;
  switch (m.type) {
    case intake_message::kind::announce:
      j = {{"type", "file"}, {"client_file_id", m.client_file_id}};
      if (!m.name.empty()) j["name"] = m.name;
      if (m.size) j["size"] = *m.size;
      break;
    case intake_message::kind::end:
    case intake_message::kind::cancel:
      j = {{"type", m.type == intake_message::kind::end ? "end" : "cancel"}};
      if (!m.client_file_id.empty()) j["client_file_id"] = m.client_file_id;
      break;
    case intake_message::kind::invalid:
      return {};
  }
  return j.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  domain::intake_limits limits;
  limits.max_file_bytes = 1000;
  limits.max_files = 3;
  domain::intake_session session(limits);
  std::vector<std::string> accepted_sha;

  for (const auto line : fuzz::lines(fuzz::as_text(data, size))) {
    const intake_message m = api::parse_intake_message(line);
    if (m.type == intake_message::kind::invalid) {
      FUZZ_CHECK(!m.complaint.empty());
      continue;
    }
    FUZZ_CHECK(m.complaint.empty());
    FUZZ_CHECK(same(api::parse_intake_message(written_back(m)), m));
    if (m.type != intake_message::kind::announce) continue;

    const auto& id = m.client_file_id;
    FUZZ_CHECK(!id.empty() && id.size() <= 64);
    FUZZ_CHECK(std::none_of(id.begin(), id.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    }));

    const auto before = session.accepted_count();
    const auto refused = session.check_announce(m.name, m.size);
    if (!domain::is_valid_file_name(m.name)) {
      FUZZ_CHECK(refused && refused->code == "invalid_name");
    } else if (m.size && *m.size > limits.max_file_bytes) {
      FUZZ_CHECK(refused && refused->code == "too_large");
    } else if (before >= limits.max_files) {
      FUZZ_CHECK(refused && refused->code == "session_limit");
    } else {
      FUZZ_CHECK(!refused);
    }
    if (refused) continue;
    // The file's bytes stand for its name here: the same name is the same file.
    const auto digest = util::sha256::of(m.name);
    const std::string sha = util::to_hex(digest);
    const std::uint64_t phash = digest[0] | (std::uint64_t{digest[1]} << 8);
    const auto dup = session.check_duplicate(sha, phash, 10.0);
    if (std::find(accepted_sha.begin(), accepted_sha.end(), sha) != accepted_sha.end()) {
      FUZZ_CHECK(dup && dup->code == "duplicate" && dup->duplicate_of);
    }
    if (dup) continue;
    session.accepted(id, m.name, sha, phash, 10.0);
    accepted_sha.push_back(sha);
    FUZZ_CHECK(session.accepted_count() == before + 1);
    FUZZ_CHECK(session.accepted_count() <= limits.max_files);
  }
  return 0;
}
