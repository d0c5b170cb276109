// Principal names and their session namespaces (protocol/principal.hpp).
#include "protocol/principal.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace jobd::protocol;

TEST(Principal, ValidNames) {
  EXPECT_TRUE(valid_principal("alice"));
  EXPECT_TRUE(valid_principal("a"));
  EXPECT_TRUE(valid_principal("9lives"));
  EXPECT_TRUE(valid_principal("ci-bot_2.x@corp"));
  EXPECT_TRUE(valid_principal(std::string(64, 'a')));
  EXPECT_FALSE(valid_principal(""));
  EXPECT_FALSE(valid_principal(std::string(65, 'a')));
  EXPECT_FALSE(valid_principal("-alice"));
  EXPECT_FALSE(valid_principal(".alice"));
  EXPECT_FALSE(valid_principal("al/ice"));
  EXPECT_FALSE(valid_principal("al ice"));
  EXPECT_FALSE(valid_principal("al:ice"));
}

TEST(Principal, NamespacesRoundTrip) {
  EXPECT_EQ(session_prefix("alice"), "alice/");
  EXPECT_EQ(scoped_session("alice", "build"), "alice/build");
  EXPECT_EQ(scoped_session("alice", "a/b"), "alice/a/b");
  EXPECT_EQ(unscoped_session("alice", "alice/build"), "build");
  EXPECT_EQ(unscoped_session("alice", "alice/a/b"), "a/b");
  // Not in that namespace: as it is.
  EXPECT_EQ(unscoped_session("alice", "bob/build"), "bob/build");
  EXPECT_EQ(unscoped_session("alice", "alicia/build"), "alicia/build");
  EXPECT_EQ(unscoped_session("alice", "alice"), "alice");
  EXPECT_EQ(unscoped_session("alice", "build"), "build");
}

TEST(Principal, OwnerOfASession) {
  EXPECT_EQ(principal_of("alice/build"), "alice");
  EXPECT_EQ(principal_of("alice/a/b"), "alice");
  EXPECT_EQ(principal_of("alice/"), "alice");
  // No namespace: jobs made while only stdio was served are local's.
  EXPECT_EQ(principal_of("default"), local_principal);
  EXPECT_EQ(principal_of("/x"), local_principal);
  EXPECT_EQ(principal_of(""), local_principal);
}
