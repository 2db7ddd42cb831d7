// Administering users in the domain, against the real SQLite store: listing, disabling (every
// way of authenticating refuses a disabled user), the last-administrator rule, revoking keys.
#include <gtest/gtest.h>

#include "sharebox/domain/auth_service.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/storage/sqlite_store.hpp"
#include "domain_errors.hpp"
#include "temp_dir.hpp"

using namespace sharebox;
using domain::errc;

namespace {

class user_admin : public ::testing::Test {
 protected:
  temp_dir dir_;
  storage::sqlite_store meta_{dir_.path() / "sharebox.db"};
  domain::auth_service auth_{meta_};

  // The detail of the unauthenticated error `fn` throws ("" if it throws another or none).
  static std::string refusal(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const domain::error& e) {
      if (e.code() == errc::unauthenticated) return e.what();
    }
    return "";
  }
};

constexpr const char* disabled = "This account is disabled.";

TEST_F(user_admin, DisabledUsersAreRefusedByEveryCredentialUntilEnabled) {
  const auto key = auth_.create_user("alice", false).secret;
  const auto session = auth_.open_session(key, 60'000);
  ASSERT_TRUE(session);
  const auto u = auth_.update_user("alice", {true, std::nullopt});
  EXPECT_TRUE(u.disabled);
  EXPECT_EQ(refusal([&] { auth_.authenticate(key); }), disabled);
  EXPECT_EQ(refusal([&] { auth_.session_user(session->token); }), disabled);
  EXPECT_EQ(refusal([&] { auth_.open_session(key, 60'000); }), disabled);
  EXPECT_EQ(refusal([&] { auth_.trusted_user("alice"); }), disabled);
  EXPECT_EQ(refusal([&] { auth_.active_user("alice"); }), disabled);
  EXPECT_NE(refusal([&] { auth_.active_user("nobody"); }), "");
  EXPECT_FALSE(auth_.authenticate("sbx_unknown")) << "an unknown key is still just not valid";
  EXPECT_EQ(auth_.disabled_user_ids(), std::vector<std::string>{"alice"});

  EXPECT_FALSE(auth_.update_user("alice", {false, std::nullopt}).disabled);
  EXPECT_EQ(auth_.authenticate(key)->id, "alice");
  EXPECT_TRUE(auth_.session_user(session->token));
  EXPECT_EQ(auth_.active_user("alice").id, "alice");
  EXPECT_TRUE(auth_.disabled_user_ids().empty());
  EXPECT_EQ(code_of([&] {
              auth_.update_user("nobody", {true, std::nullopt});
            }),
            errc::user_not_found);
}

TEST_F(user_admin, TheLastEnabledAdministratorCannotBeDisabledOrDemoted) {
  auth_.create_user("root", true);
  auth_.create_user("alice", false);
  EXPECT_EQ(code_of([&] { auth_.update_user("root", {true, std::nullopt}); }), errc::last_admin);
  EXPECT_EQ(code_of([&] { auth_.update_user("root", {std::nullopt, false}); }), errc::last_admin);
  EXPECT_EQ(code_of([&] { auth_.update_user("root", {true, false}); }), errc::last_admin);
  // Unchanged by the refusals.
  EXPECT_TRUE(auth_.user_with_keys("root").account.is_admin);
  EXPECT_FALSE(auth_.user_with_keys("root").account.disabled);
  // Harmless changes to the last one pass.
  EXPECT_TRUE(auth_.update_user("root", {false, true}).is_admin);

  EXPECT_TRUE(auth_.update_user("alice", {std::nullopt, true}).is_admin);
  EXPECT_TRUE(auth_.update_user("root", {true, std::nullopt}).disabled);
  EXPECT_EQ(code_of([&] { auth_.update_user("alice", {std::nullopt, false}); }), errc::last_admin);
  // A disabled administrator may be demoted: the enabled ones do not change.
  EXPECT_FALSE(auth_.update_user("root", {std::nullopt, false}).is_admin);
}

TEST_F(user_admin, RequireAdmin) {
  EXPECT_EQ(code_of([] {
              domain::auth_service::require_admin(domain::user{"a", false, 0});
            }),
            errc::admin_required);
  EXPECT_NO_THROW(domain::auth_service::require_admin(domain::user{"a", true, 0}));
}

TEST_F(user_admin, ListsUsersInNameOrderByPages) {
  for (const char* n : {"carol", "alice", "erin", "bob", "dave"})
    auth_.create_user(n, false);
  std::vector<std::string> seen;
  std::optional<std::string> after;
  int pages = 0;
  do {
    const auto page = auth_.list_users(after, 2);
    EXPECT_LE(page.items.size(), 2u);
    for (const auto& u : page.items)
      seen.push_back(u.id);
    after = page.next_after;
    ++pages;
  } while (after && pages < 10);
  EXPECT_EQ(seen, (std::vector<std::string>{"alice", "bob", "carol", "dave", "erin"}));
  EXPECT_EQ(pages, 3);
  EXPECT_FALSE(auth_.list_users(std::nullopt, 5).next_after) << "exactly one full page";
  EXPECT_TRUE(auth_.list_users("erin", 5).items.empty());
}

TEST_F(user_admin, KeysAreRevokedOnlyThroughTheirOwner) {
  const auto a = auth_.create_user("alice", false, "first");
  const auto b = auth_.create_user("bob", false);
  EXPECT_EQ(a.record.label, "first");
  EXPECT_EQ(auth_.user_with_keys("alice").account.created_at, a.record.created_at);
  EXPECT_EQ(code_of([&] { auth_.revoke_key_of("alice", b.record.id); }), errc::key_not_found);
  EXPECT_EQ(code_of([&] { auth_.revoke_key_of("alice", "nope"); }), errc::key_not_found);
  EXPECT_TRUE(auth_.authenticate(b.secret));
  auth_.revoke_key_of("alice", a.record.id);
  EXPECT_FALSE(auth_.authenticate(a.secret));
  EXPECT_EQ(code_of([&] { auth_.revoke_key_of("alice", a.record.id); }), errc::key_not_found);
  const auto details = auth_.user_with_keys("alice");
  ASSERT_EQ(details.keys.size(), 1u);
  EXPECT_TRUE(details.keys[0].revoked_at);
  EXPECT_EQ(code_of([&] { auth_.user_with_keys("nobody"); }), errc::user_not_found);
}

TEST_F(user_admin, KeyLabelsAreShortPrintableText) {
  auth_.create_user("alice", false);
  EXPECT_EQ(auth_.add_key("alice", "").record.label, "");
  EXPECT_EQ(auth_.add_key("alice", "ci runner é").record.label, "ci runner é");
  EXPECT_EQ(code_of([&] { auth_.add_key("alice", "a\x1b[2Jb"); }), errc::invalid_parameter);
  EXPECT_EQ(code_of([&] { auth_.add_key("alice", std::string(201, 'x')); }),
            errc::invalid_parameter);
  EXPECT_EQ(code_of([&] { auth_.create_user("bob", false, "\n"); }), errc::invalid_parameter);
}

}  // namespace
