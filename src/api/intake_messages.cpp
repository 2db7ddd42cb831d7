#include "sharebox/api/intake_messages.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace sharebox::api {

namespace {

using nlohmann::json;

bool valid_client_file_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  });
}

// The member `name` if it is a string, else "".
std::string string_member(const json& msg, const char* name) {
  const auto it = msg.find(name);
  if (it == msg.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

intake_message invalid(std::string complaint) {
  intake_message m;
  m.complaint = std::move(complaint);
  return m;
}

intake_message announce(const json& msg) {
  intake_message m;
  const auto id_it = msg.find("client_file_id");
  if (id_it == msg.end() || !id_it->is_string() ||
      !valid_client_file_id(id_it->get<std::string>())) {
    return invalid("\"client_file_id\" must be a string of 1-64 characters.");
  }
  m.client_file_id = id_it->get<std::string>();
  const auto size_it = msg.find("size");
  if (size_it != msg.end() && !size_it->is_null()) {
    if (!size_it->is_number_unsigned()) {
      return invalid("\"size\" must be a whole number of bytes.");
    }
    m.size = size_it->get<std::uint64_t>();
  }
  m.name = string_member(msg, "name");
  m.type = intake_message::kind::announce;
  return m;
}

}  // namespace

intake_message parse_intake_message(std::string_view text) {
  const json msg = json::parse(text, nullptr, false);
  std::string type;
  if (msg.is_object()) type = string_member(msg, "type");
  if (type == "file") return announce(msg);
  if (type == "end" || type == "cancel") {
    intake_message m;
    m.type = type == "end" ? intake_message::kind::end : intake_message::kind::cancel;
    m.client_file_id = string_member(msg, "client_file_id");
    return m;
  }
  if (type.empty()) return invalid("Messages are JSON objects with a \"type\".");
  return invalid("Unknown message type \"" + type + "\".");
}

}  // namespace sharebox::api
