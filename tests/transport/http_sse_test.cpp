// SSE streams of the HTTP transport: framing and event ids, the standalone
// GET stream, progress on the request's own stream, replay with
// Last-Event-ID after a lost connection, JSON or SSE by timing, keep-alive
// comments, dropped notifications, and stop() with streams open.
#include "eventually.hpp"
#include "http_test_fixture.hpp"

#include <gtest/gtest.h>

namespace jobd::test::http::sse_tests {

using jobd::test::eventually;

struct HttpSse : http_fixture {
  static http_options sse_options() {
    auto o = defaults();
    o.json_window_ms = 0; // every request answered on an SSE stream
    return o;
  }
  // Waits until the server closed every connection but `keep`.
  bool settled(uint64_t keep = 0) {
    return eventually([&] { return server->stats().connections == keep; });
  }
};

TEST_F(HttpSse, ARequestsStreamCarriesItsReplyWithEventIds) {
  start(sse_options());
  auto sid = initialize();
  ASSERT_FALSE(sid.empty());
  client c{port()};
  ASSERT_TRUE(c.send(post_request(request_body("5", "echo"), sid)));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "text/event-stream");
  EXPECT_EQ(head->header("mcp-session-id"), sid);
  // The priming event (2025-11-25): an id, a retry and no data.
  auto prime = c.next_event();
  ASSERT_TRUE(prime);
  EXPECT_EQ(prime->id, "2-0");
  EXPECT_EQ(prime->retry, "1000");
  EXPECT_TRUE(prime->data.empty());
  auto ev = c.next_event();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->id, "2-1");
  EXPECT_NE(ev->data.find(R"("id":5)"), std::string::npos);
  EXPECT_FALSE(c.next_event());
  EXPECT_TRUE(c.body_ended());
  // The connection serves the next request.
  ASSERT_TRUE(c.send(post_request(request_body("6", "echo"), sid)));
  ASSERT_TRUE(c.read_head());
  EXPECT_EQ(c.next_event()->id, "3-0");
  EXPECT_EQ(c.next_event()->id, "3-1");
}

TEST_F(HttpSse, NoPrimingEventForOlderProtocolVersions) {
  start(sse_options());
  auto r = exchange(post_request(initialize_body(1, "2025-06-18")));
  ASSERT_TRUE(r);
  auto sid = r->header("mcp-session-id");
  client c{port()};
  ASSERT_TRUE(c.send(post_request(request_body("5", "echo"), sid)));
  ASSERT_TRUE(c.read_head());
  auto ev = c.next_event();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->id, "2-1");
  EXPECT_NE(ev->data.find(R"("id":5)"), std::string::npos);
}

TEST_F(HttpSse, ProgressGoesToTheRequestsStreamBeforeItsReply) {
  start(sse_options());
  auto sid = initialize();
  client c{port()};
  ASSERT_TRUE(c.send(post_request(
    request_body("8", "test/progress",
                 R"({"count":3,"ms":50,"_meta":{"progressToken":"tok"}})"),
    sid)));
  ASSERT_TRUE(c.read_head());
  std::vector<sse_event> events;
  while (auto ev = c.next_event())
    events.push_back(*ev);
  ASSERT_GE(events.size(), 3u); // priming, >= 1 progress (coalesced), reply
  EXPECT_TRUE(events.front().data.empty());
  for (size_t i = 1; i + 1 < events.size(); ++i)
    EXPECT_NE(events[i].data.find(R"("progressToken":"tok")"),
              std::string::npos);
  EXPECT_NE(events.back().data.find(R"("id":8)"), std::string::npos);
  EXPECT_NE(events.back().data.find("result"), std::string::npos);
}

TEST_F(HttpSse, TheGetStreamCarriesOtherNotifications) {
  start();
  auto sid = initialize();
  client g{port()};
  ASSERT_TRUE(g.send(get_request(sid)));
  auto head = g.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "text/event-stream");
  EXPECT_EQ(g.next_event()->id, "0-0"); // priming
  // test/notify's log message is not progress: the GET stream has it.
  auto r = exchange(post_request(request_body("4", "test/notify"), sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto ev = g.next_event();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->id, "0-1");
  EXPECT_NE(ev->data.find(R"("about":4)"), std::string::npos);
  exchange(post_request(notification_body("test/emit", R"({"count":2})"), sid));
  EXPECT_EQ(g.next_event()->id, "0-2");
  EXPECT_EQ(g.next_event()->id, "0-3");
  // One GET stream per session.
  auto second = exchange(get_request(sid));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 409);
}

TEST_F(HttpSse, ALostPostStreamIsResumedWithLastEventId) {
  start(sse_options());
  auto sid = initialize();
  {
    client a{port()};
    ASSERT_TRUE(a.send(post_request(request_body("20", "test/hold"), sid)));
    ASSERT_TRUE(a.read_head());
    auto prime = a.next_event();
    ASSERT_TRUE(prime);
    EXPECT_EQ(prime->id, "2-0");
    a.reset();
  }
  ASSERT_TRUE(settled());
  // The reply comes while the client is away: kept for it.
  exchange(post_request(notification_body("test/release"), sid));
  client b{port()};
  ASSERT_TRUE(b.send(get_request(sid, "2-0")));
  auto head = b.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  auto ev = b.next_event();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->id, "2-1");
  EXPECT_NE(ev->data.find(R"("held":true)"), std::string::npos);
  // The stream ended with its reply.
  EXPECT_FALSE(b.next_event());
  EXPECT_TRUE(b.body_ended());
  // Nothing after its last event.
  auto r = exchange(get_request(sid, "2-1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  r = exchange(get_request(sid, "garbage"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(HttpSse, APendingStreamContinuesOnTheResumingConnection) {
  start(sse_options());
  auto sid = initialize();
  {
    client a{port()};
    ASSERT_TRUE(a.send(post_request(request_body("21", "test/hold"), sid)));
    ASSERT_TRUE(a.read_head());
    ASSERT_TRUE(a.next_event());
    a.reset();
  }
  ASSERT_TRUE(settled());
  client b{port()};
  ASSERT_TRUE(b.send(get_request(sid, "2-0")));
  ASSERT_TRUE(b.read_head());
  exchange(post_request(notification_body("test/release"), sid));
  auto ev = b.next_event();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->id, "2-1");
  EXPECT_NE(ev->data.find(R"("id":21)"), std::string::npos);
  EXPECT_FALSE(b.next_event());
}

TEST_F(HttpSse, TheGetStreamIsResumedWithLastEventId) {
  start();
  auto sid = initialize();
  {
    client g{port()};
    ASSERT_TRUE(g.send(get_request(sid)));
    ASSERT_TRUE(g.read_head());
    ASSERT_TRUE(g.next_event()); // priming
    exchange(
      post_request(notification_body("test/emit", R"({"count":2})"), sid));
    EXPECT_EQ(g.next_event()->id, "0-1");
    EXPECT_EQ(g.next_event()->id, "0-2");
    g.reset();
  }
  ASSERT_TRUE(settled());
  exchange(post_request(notification_body("test/emit", R"({"count":2})"), sid));
  client h{port()};
  ASSERT_TRUE(h.send(get_request(sid, "0-1")));
  ASSERT_TRUE(h.read_head());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto ev = h.next_event();
    ASSERT_TRUE(ev) << i;
    ids.push_back(ev->id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"0-2", "0-3", "0-4"}));
}

TEST_F(HttpSse, QuickRepliesAreJsonSlowOnesSse) {
  auto o = defaults();
  o.json_window_ms = 100;
  start(o);
  auto sid = initialize();
  auto r = exchange(post_request(request_body("1", "ping"), sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-type"), "application/json");
  r = exchange(
    post_request(request_body("2", "test/slow", R"({"ms":400})"), sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  EXPECT_NE(r->body.find(R"(data: {"jsonrpc":"2.0","id":2,)"),
            std::string::npos)
    << r->body;
  // Progress makes it SSE at once.
  client c{port()};
  ASSERT_TRUE(c.send(post_request(
    request_body("3", "test/progress",
                 R"({"count":1,"ms":0,"_meta":{"progressToken":5}})"),
    sid)));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("content-type"), "text/event-stream");
}

TEST_F(HttpSse, KeepAliveComments) {
  auto o = defaults();
  o.sse_keepalive_ms = 50;
  start(o);
  auto sid = initialize();
  client g{port()};
  ASSERT_TRUE(g.send(get_request(sid)));
  ASSERT_TRUE(g.read_head());
  EXPECT_TRUE(g.saw_comment(1000ms));
}

TEST_F(HttpSse, CancellingARequestEndsItsStream) {
  start(sse_options());
  auto sid = initialize();
  client a{port()};
  ASSERT_TRUE(a.send(post_request(request_body("30", "test/hold"), sid)));
  ASSERT_TRUE(a.read_head());
  ASSERT_TRUE(a.next_event()); // priming
  auto r = exchange(post_request(
    notification_body("notifications/cancelled", R"({"requestId":30})"), sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_FALSE(a.next_event());
  EXPECT_TRUE(a.body_ended());
}

TEST_F(HttpSse, NotificationsNobodyReadsAreDroppedAndTold) {
  auto o = defaults();
  o.notification_high_bytes = 2000;
  start(o);
  auto sid = initialize();
  // No GET stream: they queue, bounded.
  exchange(
    post_request(notification_body("test/emit", R"({"count":500})"), sid));
  ASSERT_TRUE(eventually([&] { return world->line_count() == 2; }));
  std::this_thread::sleep_for(50ms);
  client g{port()};
  ASSERT_TRUE(g.send(get_request(sid)));
  ASSERT_TRUE(g.read_head());
  std::vector<sse_event> events;
  while (auto ev = g.next_event(300ms))
    events.push_back(*ev);
  ASSERT_GE(events.size(), 3u);
  EXPECT_LT(events.size(), 100u);
  // The newest survived; the notice says how many went.
  EXPECT_NE(events[events.size() - 2].data.find(R"("n":499)"),
            std::string::npos);
  EXPECT_NE(events.back().data.find(R"("dropped":)"), std::string::npos);
}

TEST_F(HttpSse, ProgressOfALostPostStreamGoesToTheGetStream) {
  start(sse_options());
  auto sid = initialize();
  client g{port()};
  ASSERT_TRUE(g.send(get_request(sid)));
  ASSERT_TRUE(g.read_head());
  ASSERT_TRUE(g.next_event()); // priming
  {
    client a{port()};
    ASSERT_TRUE(a.send(post_request(
      request_body("50", "test/hold", R"({"_meta":{"progressToken":"p50"}})"),
      sid)));
    ASSERT_TRUE(a.read_head());
    ASSERT_TRUE(a.next_event());
    a.reset();
  }
  ASSERT_TRUE(settled(1)); // only the GET stream
  auto sink = world->sink(0);
  ASSERT_TRUE(sink);
  sink->send(fake_progress(R"("p50")", 1), message_kind::notification,
             "progress p50");
  auto ev = g.next_event();
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->data.find(R"("progressToken":"p50")"), std::string::npos);
  // Progress for a token nobody waits on is dropped.
  sink->send(fake_progress(R"("nobody")", 1), message_kind::notification,
             "progress nobody");
  sink->send(fake_log_line("1"), message_kind::notification);
  ev = g.next_event();
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->data.find("notifications/message"), std::string::npos);
}

TEST_F(HttpSse, AStalledWriteClosesTheConnection) {
  auto o = defaults();
  o.write_stall_ms = 200;
  start(o);
  auto sid = initialize();
  client g{port(), 4096};
  ASSERT_TRUE(g.send(get_request(sid)));
  ASSERT_TRUE(g.read_head());
  auto sink = world->sink(0);
  std::string big(64 * 1024, 'x');
  // More than the socket buffers take: the write stalls, what comes
  // meanwhile is dropped, and the stall ends the connection.
  auto deadline = steady_clock::now() + 3000ms;
  while (server->stats().timed_out == 0 && steady_clock::now() < deadline) {
    for (int i = 0; i < 16; ++i)
      sink->send(fake_log_line("\"" + big + "\""), message_kind::notification);
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(server->stats().timed_out, 1u);
  // The session lives on: another GET stream may open.
  client h{port()};
  ASSERT_TRUE(h.send(get_request(sid)));
  auto head = h.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
}

TEST_F(HttpSse, Http10StreamsEndWithTheConnection) {
  start(sse_options());
  auto sid = initialize();
  client c{port()};
  auto text = post_request(request_body("60", "echo"), sid);
  text.replace(text.find("HTTP/1.1"), 8, "HTTP/1.0");
  ASSERT_TRUE(c.send(text));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->header("transfer-encoding").empty());
  EXPECT_NE(r->body.find(R"("id":60)"), std::string::npos);
}

TEST_F(HttpSse, StopWithOpenStreamsReturnsPromptly) {
  start(sse_options());
  auto sid = initialize();
  client g{port()};
  ASSERT_TRUE(g.send(get_request(sid)));
  ASSERT_TRUE(g.read_head());
  client a{port()};
  ASSERT_TRUE(a.send(post_request(request_body("40", "test/hold"), sid)));
  ASSERT_TRUE(a.read_head());
  auto before = steady_clock::now();
  server->stop();
  EXPECT_LT(steady_clock::now() - before, 1000ms);
  EXPECT_TRUE(eventually([&] { return world->closed == 1; }));
  EXPECT_TRUE(g.wait_closed(1000ms));
  EXPECT_TRUE(a.wait_closed(1000ms));
  server->stop(); // idempotent
}

} // namespace jobd::test::http::sse_tests
