// `sharebox ls`, `share` and `rm`.
#include <algorithm>
#include <iostream>
#include <set>

#include "sharebox/client/api.hpp"
#include "sharebox/client/error.hpp"
#include "sharebox/client/format.hpp"
#include "sharebox/client/operations.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::client {

using nlohmann::json;

namespace {

constexpr std::size_t page_size = 1000;

api_session open_session(const common_options& common) {
  return api_session(make_endpoint(common.url, common.key, common.cacert));
}

// The target of the rel="next" link (RFC 8288), as a path on the server; "" if there is none.
std::string next_page(const std::string& link) {
  for (std::size_t pos = 0; (pos = link.find('<', pos)) != std::string::npos;) {
    const auto close = link.find('>', pos);
    if (close == std::string::npos) return {};
    const auto params_end = link.find('<', close);
    const std::string params = link.substr(close + 1, params_end - close - 1);
    std::string target = link.substr(pos + 1, close - pos - 1);
    if (params.find("rel=\"next\"") != std::string::npos ||
        params.find("rel=next") != std::string::npos) {
      if (const auto scheme = target.find("://"); scheme != std::string::npos) {
        const auto path = target.find('/', scheme + 3);
        target = path == std::string::npos ? "/" : target.substr(path);
      }
      return target;
    }
    pos = close;
  }
  return {};
}

json list_all(api_session& s) {
  json all = json::array();
  std::set<std::string> seen;
  std::string path = "/files?limit=" + std::to_string(page_size);
  // A server that hands out the same page twice must not keep us looping.
  while (!path.empty() && seen.insert(path).second) {
    const response r = s.send(s.make("GET", path));
    s.check(r, "listing files");
    json page = json_body(r);
    if (!page.is_array()) throw client_error("listing files: the server did not answer a list");
    for (auto& f : page)
      all.push_back(std::move(f));
    path = next_page(r.header("Link"));
  }
  return all;
}

std::string text_of(const json& f, const char* key) {
  const auto it = f.find(key);
  if (it == f.end() || it->is_null()) return {};
  return printable(it->is_string() ? it->get<std::string>() : it->dump());
}

// "2026-11-22T03:47:55.123Z" → "2026-11-22 03:47".
std::string short_time(std::string t) {
  if (t.size() >= 16 && t[10] == 'T') {
    t[10] = ' ';
    t.resize(16);
  }
  return t;
}

using row = std::vector<std::string>;

void print_table(const std::vector<row>& rows) {
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      const bool last = i + 1 == r.size();
      const bool right = i == 1;  // sizes line up on their units
      const std::string pad(last ? 0 : width[i] - r[i].size(), ' ');
      line += right ? pad : "";
      line += r[i];
      line += right ? "" : pad;
      if (!last) line += "  ";
    }
    std::cout << line << "\n";
  }
}

}  // namespace

int run_ls(const common_options& common, bool as_json) {
  auto s = open_session(common);
  const json files = list_all(s);
  if (as_json) {
    std::cout << files.dump(2) << std::endl;
    return 0;
  }
  if (files.empty()) return 0;
  std::vector<row> rows = {{"ID", "SIZE", "UPDATED (UTC)", "OWNER", "ACCESS", "NAME"}};
  for (const auto& f : files) {
    const std::string permission = text_of(f, "permission");
    rows.push_back({text_of(f, "id"), human_size(f.value("size", std::uint64_t{0})),
                    short_time(text_of(f, "updated_at")), text_of(f, "owner"),
                    permission.empty() ? "owner" : permission, text_of(f, "name")});
  }
  print_table(rows);
  std::cout << std::flush;
  return 0;
}

int run_share(const common_options& common, const std::string& id, const std::string& user,
              bool write) {
  auto s = open_session(common);
  const std::string permission = write ? "write" : "read";
  const std::string body = json{{"target_user_id", user}, {"permission", permission}}.dump();
  auto req = s.make("POST", "/shares/" + util::url_encode(id));
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = body;
  s.check(s.send(req), "sharing file " + id + " with " + user);
  std::cerr << "sharebox: shared " << id << " with " << printable(user) << " (" << permission
            << ")\n";
  return 0;
}

int run_rm(const common_options& common, const std::string& id) {
  auto s = open_session(common);
  s.check(s.send(s.make("DELETE", "/files/" + util::url_encode(id))), "file " + id);
  std::cerr << "sharebox: deleted " << id << "\n";
  return 0;
}

}  // namespace sharebox::client
