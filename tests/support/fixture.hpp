#pragma once
// Base fixture: one fresh sharebox server (and data directory) per test.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/api_client.hpp"
#include "support/server_process.hpp"

namespace sharebox::test {

class server_test : public ::testing::Test {
 protected:
  void SetUp() override { server_ = std::make_unique<server_process>(server_args()); }
  // Stop the server while the test still counts as running so failures print its logs.
  void TearDown() override { server_.reset(); }

  // Extra `sharebox serve` arguments for this fixture.
  virtual std::vector<std::string> server_args() const { return {}; }

  server_process& server() { return *server_; }
  std::uint16_t port() const { return server_->port(); }

  // Creates user `name` and returns their key. Through the running server's admin API rather
  // than `sharebox user add` (server_process::add_user, which has tests of its own): a process
  // start per user is dear under the sanitizers, and the integration suite took 224 s instead
  // of 270 against the ASan server (147 instead of 167 against gcc's). Servers that printed no
  // admin key (a data directory made earlier) fall back to the CLI.
  std::string add_user(const std::string& name) {
    if (server_->admin_key().empty()) return server_->add_user(name);
    const response r = admin().post_json("/admin/users", nlohmann::json{{"name", name}}.dump());
    if (r.status != 201)
      throw std::runtime_error("POST /admin/users for " + name + ": " + r.describe());
    return nlohmann::json::parse(r.body).at("key").at("key").get<std::string>();
  }
  // The same, as a client authenticated as them.
  api_client make_user(const std::string& name) { return api_client(port(), add_user(name)); }
  api_client client(const std::string& key, auth_style style = auth_style::bearer) {
    return api_client(port(), key, style);
  }
  api_client admin() { return client(server_->admin_key()); }
  api_client anonymous() { return client("", auth_style::none); }

  std::unique_ptr<server_process> server_;
};

// A server with one user, alice, for tests that need a single authenticated caller.
class alice_test : public server_test {
 protected:
  void SetUp() override {
    server_test::SetUp();
    key_ = add_user("alice");
  }
  header_list auth() const { return {{"Authorization", "Bearer " + key_}}; }
  api_client alice() { return api_client(port(), key_); }
  std::string key_;
};

}  // namespace sharebox::test
