// HTTP sessions: initialize makes one (its id in Mcp-Session-Id), other
// requests need it, unknown and other principals' sessions are 404, DELETE
// ends one (its ENDPOINT hears its sink closed), idle sessions expire.
#include "eventually.hpp"
#include "http_test_fixture.hpp"

#include <gtest/gtest.h>

namespace jobd::test::http::session_tests {

using jobd::test::eventually;

struct HttpSession : http_fixture {};

TEST_F(HttpSession, InitializeMakesASession) {
  start();
  auto r = exchange(post_request(initialize_body()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto sid = r->header("mcp-session-id");
  EXPECT_EQ(sid.size(), 32u);
  EXPECT_EQ(sid.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(r->body.find("\"protocolVersion\":\"2025-11-25\""),
            std::string::npos);
  EXPECT_EQ(world->opened, 1);
  ASSERT_EQ(world->principals.size(), 1u);
  EXPECT_EQ(world->principals[0], "alice");
  EXPECT_EQ(world->session_ids[0], sid);
  // A quick reply is plain JSON.
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->body.find("event"), std::string::npos);
  EXPECT_EQ(server->stats().sessions, 1u);
}

TEST_F(HttpSession, RequestsNeedTheSessionHeader) {
  start();
  auto r = exchange(post_request(request_body("2", "tools/list")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("Mcp-Session-Id"), std::string::npos);
  EXPECT_EQ(world->opened, 0);
}

TEST_F(HttpSession, UnknownSessionsAre404) {
  start();
  auto r = exchange(
    post_request(request_body("2", "tools/list"), std::string(32, 'a')));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = exchange(post_request(request_body("2", "tools/list"), "not-hex"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(HttpSession, AnotherPrincipalsSessionIs404) {
  start();
  auto sid = initialize(alice_token);
  ASSERT_FALSE(sid.empty());
  auto r
    = exchange(post_request(request_body("2", "tools/list"), sid, bob_token));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = exchange(get_request(sid, {}, bob_token));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  // Its owner still uses it.
  r = exchange(post_request(request_body("3", "tools/list"), sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find(R"("id":3)"), std::string::npos);
}

TEST_F(HttpSession, RepliesGoToTheRequestWithThatExactId) {
  start();
  auto sid = initialize();
  ASSERT_FALSE(sid.empty());
  // "7" and 7 are different ids: each answer goes to its own request.
  client a{port()};
  client b{port()};
  ASSERT_TRUE(a.send(
    post_request(request_body(R"("7")", "test/slow", R"({"ms":100})"), sid)));
  ASSERT_TRUE(b.send(post_request(request_body("7", "echo"), sid)));
  auto rb = b.read_response();
  auto ra = a.read_response();
  ASSERT_TRUE(ra);
  ASSERT_TRUE(rb);
  EXPECT_NE(ra->body.find(R"("id":"7")"), std::string::npos) << ra->body;
  EXPECT_NE(rb->body.find(R"("id":7,)"), std::string::npos) << rb->body;
}

TEST_F(HttpSession, NotificationsAndResponsesAre202) {
  start();
  auto sid = initialize();
  auto r = exchange(
    post_request(notification_body("notifications/initialized"), sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_TRUE(r->body.empty());
  r = exchange(post_request(R"({"jsonrpc":"2.0","id":"s1","result":{}})", sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_TRUE(eventually([&] { return world->line_count() == 3; }));
}

TEST_F(HttpSession, DeleteEndsTheSession) {
  start();
  auto sid = initialize();
  ASSERT_FALSE(sid.empty());
  headers h{{"Authorization", std::string{"Bearer "} + alice_token},
            {"Mcp-Session-Id", sid}};
  auto r = exchange(make_request("DELETE", "/mcp", h, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE(eventually([&] { return world->closed == 1; }));
  EXPECT_EQ(server->stats().sessions, 0u);
  r = exchange(post_request(request_body("2", "tools/list"), sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = exchange(make_request("DELETE", "/mcp", h, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(HttpSession, IdleSessionsExpire) {
  auto o = defaults();
  o.session_idle_ms = 100;
  start(o);
  auto sid = initialize();
  ASSERT_FALSE(sid.empty());
  EXPECT_TRUE(eventually([&] { return world->closed == 1; }, 2000ms));
  auto r = exchange(post_request(request_body("2", "tools/list"), sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(HttpSession, AFailedInitializeEndsItsSession) {
  start();
  // The fake answers initialize {"protocolVersion": 5} without a version.
  auto r = exchange(post_request(
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":5}})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(eventually([&] { return world->closed == 1; }, 3000ms));
  EXPECT_EQ(server->stats().sessions, 0u);
}

TEST_F(HttpSession, IdleConnectionsAreClosed) {
  auto o = defaults();
  o.idle_timeout_ms = 200;
  start(o);
  client c{port()};
  ASSERT_TRUE(c.send(post_request(initialize_body())));
  ASSERT_TRUE(c.read_response());
  auto before = steady_clock::now();
  EXPECT_TRUE(c.wait_closed(1500ms));
  EXPECT_LT(steady_clock::now() - before, 1000ms);
  EXPECT_EQ(server->stats().timed_out, 0u);
}

TEST_F(HttpSession, TooManySessionsAre503) {
  auto o = defaults();
  o.max_sessions = 1;
  start(o);
  ASSERT_FALSE(initialize().empty());
  auto r = exchange(post_request(initialize_body()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(world->opened, 1);
}

TEST_F(HttpSession, ProtocolVersionHeaderIsChecked) {
  start();
  auto sid = initialize();
  auto h = post_headers(sid);
  h.emplace_back("MCP-Protocol-Version", "1999-01-01");
  auto r = exchange(
    make_request("POST", "/mcp", h, request_body("2", "ping"), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  // Any supported one is fine, not only the negotiated one.
  h.back().second = "2025-03-26";
  r = exchange(
    make_request("POST", "/mcp", h, request_body("2", "ping"), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpSession, ADuplicateIdInFlightIs400) {
  start();
  auto sid = initialize();
  client a{port()};
  ASSERT_TRUE(a.send(post_request(request_body("9", "test/hold"), sid)));
  EXPECT_TRUE(eventually([&] { return world->line_count() == 2; }));
  auto r = exchange(post_request(request_body("9", "ping"), sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  exchange(post_request(notification_body("test/release"), sid));
  auto ra = a.read_response();
  ASSERT_TRUE(ra);
  EXPECT_NE(ra->body.find(R"("held":true)"), std::string::npos);
}

TEST_F(HttpSession, KeepAliveServesManyRequests) {
  start();
  auto sid = initialize();
  client c{port()};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
      c.send(post_request(request_body(std::to_string(10 + i), "ping"), sid)));
    auto r = c.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("\"id\":" + std::to_string(10 + i)),
              std::string::npos);
  }
}

} // namespace jobd::test::http::session_tests
