#pragma once
// The client subcommands. Each returns the process exit status and reports failures by throwing
// client_error.
#include <cstdint>
#include <string>
#include <vector>

namespace sharebox::client {

struct common_options {
  std::string url = "http://127.0.0.1:8000";
  std::string key;
  std::string cacert;  // extra trusted CA (PEM) for https:// URLs
};

struct put_options {
  std::vector<std::string> files;
  unsigned parallel = 4;
  std::uint64_t chunk_size = 0;  // 0: the server's default
  std::string name;
  std::string replace;     // file id whose content the upload replaces
  std::string limit_rate;  // e.g. "50M"; empty: unlimited
  bool no_progress = false;
};

struct get_options {
  std::string id;
  std::string output;
  bool no_progress = false;
};

int run_put(const common_options& common, const put_options& options);
int run_get(const common_options& common, const get_options& options);
int run_ls(const common_options& common, bool json);
int run_share(const common_options& common, const std::string& id, const std::string& user,
              bool write);
int run_rm(const common_options& common, const std::string& id);

}  // namespace sharebox::client
