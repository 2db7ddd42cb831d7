// The API description that the binary serves (docs/openapi.yaml, embedded as JSON) against the
// routes the server really registers: every route described, every described route registered.
// (tests/ops/openapi_problem_codes.py checks the problem codes against the sources; redocly
// lints the description itself.)
#include <cctype>
#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sharebox/api/context.hpp"
#include "sharebox/api/docs_assets.hpp"

namespace {

using sharebox::api::openapi_json;
using sharebox::api::registered_routes;

// "GET /files/{id}"
using route = std::pair<std::string, std::string>;

const nlohmann::json& description() {
  static const nlohmann::json doc = nlohmann::json::parse(openapi_json());
  return doc;
}

std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::set<route> described_routes() {
  static const std::set<std::string> methods{"get",  "put",     "post",  "delete",
                                             "head", "options", "patch", "trace"};
  std::set<route> out;
  for (const auto& [path, item] : description().at("paths").items()) {
    for (const auto& [key, _] : item.items()) {
      if (methods.contains(key)) out.emplace(upper(key), path);
    }
  }
  return out;
}

std::set<route> server_routes() {
  std::set<route> out;
  for (const auto& r : registered_routes())
    out.emplace(std::string(sharebox::bhttp::to_string(r.method)), r.pattern);
  return out;
}

std::string listing(const std::set<route>& routes) {
  std::string out;
  for (const auto& [method, path] : routes)
    out += "\n  " + method + " " + path;
  return out;
}

TEST(OpenApi, IsTheJsonOfAnOpenApi31Description) {
  const auto& doc = description();
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  EXPECT_EQ(doc.at("servers").at(0).at("url"), "/") << "\"try it out\" targets the same origin";
  EXPECT_FALSE(doc.at("paths").empty());
}

TEST(OpenApi, DescribesEveryRegisteredRoute) {
  const auto described = described_routes();
  std::set<route> missing;
  for (const auto& r : server_routes()) {
    if (!described.contains(r)) missing.insert(r);
  }
  EXPECT_TRUE(missing.empty()) << "registered by the server (src/api/api.cpp build_routes) but "
                                  "not described in docs/openapi.yaml:"
                               << listing(missing);
}

TEST(OpenApi, DescribesNoRouteTheServerLacks) {
  const auto registered = server_routes();
  std::set<route> extra;
  for (const auto& r : described_routes()) {
    // HEAD is answered by every GET route (the router), so it may be described where GET is.
    const bool served =
        registered.contains(r) || (r.first == "HEAD" && registered.contains({"GET", r.second}));
    if (!served) extra.insert(r);
  }
  EXPECT_TRUE(extra.empty()) << "described in docs/openapi.yaml but not registered by the "
                                "server (src/api/api.cpp build_routes):"
                             << listing(extra);
}

TEST(OpenApi, RegisteredRoutesAreReadableOnTheirOwn) {
  // The listing the tests above rely on: patterns as written in build_routes().
  const auto routes = server_routes();
  EXPECT_TRUE(routes.contains({"GET", "/"}));
  EXPECT_TRUE(routes.contains({"GET", "/files/{id}"}));
  EXPECT_TRUE(routes.contains({"POST", "/tus/"}));
  EXPECT_TRUE(routes.contains({"POST", "/tus"}));
  EXPECT_TRUE(routes.contains({"GET", "/openapi.json"}));
}

TEST(OpenApi, AuthenticatedRoutesAreNotDescribedAsPublic) {
  // (The other way round has exceptions: the streams and the session routes pass the router
  // without authentication and authenticate themselves, so they list their own `security`.)
  const auto& paths = description().at("paths");
  for (const auto& r : registered_routes()) {
    std::string method(sharebox::bhttp::to_string(r.method));
    for (auto& c : method)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!paths.contains(r.pattern) || !paths.at(r.pattern).contains(method)) continue;
    const auto& op = paths.at(r.pattern).at(method);
    const bool open = op.contains("security") && op.at("security").empty();
    if (!r.public_route) {
      EXPECT_FALSE(open) << method << " " << r.pattern << " requires credentials";
    }
  }
}

}  // namespace
