// GET /openapi.json and the Swagger UI page at /docs, as a client sees them from a real server:
// public, byte-stable and cacheable, with nothing loaded from anywhere but the server itself.
// (tests/unit/openapi_test.cpp checks the description against the routes; tests/e2e/docs.test.mjs
// renders the page in Chromium.)
#include <regex>

#include <gtest/gtest.h>

#include "support/api_client.hpp"
#include "support/fixture.hpp"

namespace sharebox::test {
namespace {

using nlohmann::json;

class Docs : public server_test {};

TEST_F(Docs, OpenApiJsonIsPublicStableAndCacheable) {
  const auto r = anonymous().get("/openapi.json");
  ASSERT_TRUE(has_status(r, 200));
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("Cache-Control"), "no-cache");
  const auto etag = r.header("ETag");
  ASSERT_FALSE(etag.empty());
  const auto doc = json::parse(r.body);
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  EXPECT_TRUE(doc.at("paths").contains("/files/{id}"));

  // The same bytes every time (embedded at build time), and a 304 for a client that has them.
  const auto again = anonymous().get("/openapi.json");
  EXPECT_EQ(again.body, r.body);
  EXPECT_EQ(again.header("ETag"), etag);
  const auto cached = anonymous().get("/openapi.json", {{"If-None-Match", etag}});
  EXPECT_TRUE(has_status(cached, 304));
  EXPECT_TRUE(cached.body.empty());
  EXPECT_TRUE(has_status(anonymous().send("HEAD", "/openapi.json"), 200));
}

TEST_F(Docs, PageLoadsOnlyTheServersOwnFilesUnderItsPolicy) {
  const auto page = anonymous().get("/docs");
  ASSERT_TRUE(has_status(page, 200));
  EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
  const auto csp = page.header("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(page.header("X-Content-Type-Options"), "nosniff");

  // Every file the page names is ours and is served, with the type a browser needs under
  // nosniff; the page itself has no inline script.
  const std::regex ref(R"((?:src|href)="([^"]+)\")");
  int refs = 0;
  for (std::sregex_iterator it(page.body.begin(), page.body.end(), ref), end; it != end; ++it) {
    const std::string url = (*it)[1];
    if (url == "/openapi.json") continue;  // the <noscript> link
    ASSERT_TRUE(url.starts_with("/docs/")) << url;
    const auto asset = anonymous().get(url);
    ASSERT_TRUE(has_status(asset, 200)) << url;
    EXPECT_FALSE(asset.header("ETag").empty()) << url;
    if (url.ends_with(".js")) {
      EXPECT_EQ(asset.header("Content-Type"), "text/javascript; charset=utf-8") << url;
    }
    if (url.ends_with(".css")) {
      EXPECT_EQ(asset.header("Content-Type"), "text/css; charset=utf-8") << url;
    }
    ++refs;
  }
  EXPECT_GE(refs, 4);  // Swagger UI's script and stylesheet, ours, the icon
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);
  EXPECT_NE(page.body.find("/docs/swagger-ui-bundle.js"), std::string::npos);

  // The page's script points Swagger UI at this server's description, and at nothing else.
  const auto init = anonymous().get("/docs/docs.js");
  ASSERT_TRUE(has_status(init, 200));
  EXPECT_NE(init.body.find("'/openapi.json'"), std::string::npos);
  EXPECT_NE(init.body.find("validatorUrl: null"), std::string::npos);
  EXPECT_EQ(init.body.find("http"), std::string::npos);

  // Swagger UI ships under the Apache License: its licence and notice ship with it, and the
  // bundle's third-party notices where its first line says they are.
  EXPECT_TRUE(has_status(anonymous().get("/docs/swagger-ui-license.txt"), 200));
  EXPECT_TRUE(has_status(anonymous().get("/docs/swagger-ui-notice.txt"), 200));
  const auto bundle = anonymous().get("/docs/swagger-ui-bundle.js");
  ASSERT_TRUE(has_status(bundle, 200));
  const std::string notices = "swagger-ui-bundle.js.LICENSE.txt";
  EXPECT_NE(bundle.body.substr(0, 200).find(notices), std::string::npos);
  EXPECT_TRUE(has_status(anonymous().get("/docs/" + notices), 200));
}

TEST_F(Docs, UnknownDocsFilesAre404) {
  EXPECT_TRUE(is_problem(anonymous().get("/docs/missing.js"), 404, "route_not_found"));
  EXPECT_TRUE(is_problem(anonymous().get("/docs/..%2fopenapi.yaml"), 404, "route_not_found"));
  EXPECT_TRUE(is_problem(anonymous().send("POST", "/openapi.json"), 405, "method_not_allowed"));
}

}  // namespace
}  // namespace sharebox::test
