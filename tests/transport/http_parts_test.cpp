// The HTTP transport's pieces without sockets: tokens, Origin and Host
// rules, the rate limiter, Accept matching, line routing facts, the stream
// queue's coalescing and dropping, and SSE framing.
#include "actors/transport/http_auth.hpp"
#include "actors/transport/http_events.hpp"

#include <gtest/gtest.h>

namespace jobd::test::http::parts_tests {

using namespace jobd::http_detail;

TEST(HttpParts, TokensFindTheirPrincipal) {
  token_check check{
    {{"alice", "alice-token-0123456789"}, {"bob", "bob-token-0123456789abc"}}};
  std::string who;
  EXPECT_TRUE(check.find("Bearer alice-token-0123456789", who));
  EXPECT_EQ(who, "alice");
  EXPECT_TRUE(check.find("bearer   bob-token-0123456789abc ", who));
  EXPECT_EQ(who, "bob");
  EXPECT_FALSE(check.find("Bearer alice-token-012345678", who));
  EXPECT_FALSE(check.find("Bearer alice-token-01234567890", who));
  EXPECT_FALSE(check.find("Basic alice-token-0123456789", who));
  EXPECT_FALSE(check.find("Bearer ", who));
  EXPECT_FALSE(check.find("", who));
  token_check none{{}};
  EXPECT_FALSE(none.find("Bearer x", who));
}

TEST(HttpParts, OnlyLoopbackOrListedOrigins) {
  std::vector<std::string> extra{"https://app.example.com"};
  EXPECT_TRUE(origin_allowed("http://localhost", {}));
  EXPECT_TRUE(origin_allowed("http://127.0.0.1:5173", {}));
  EXPECT_TRUE(origin_allowed("https://[::1]:8080", {}));
  EXPECT_TRUE(origin_allowed("HTTP://LOCALHOST:1", {}));
  EXPECT_FALSE(origin_allowed("http://localhost.evil.com", {}));
  EXPECT_FALSE(origin_allowed("http://127.0.0.1.evil.com", {}));
  EXPECT_FALSE(origin_allowed("http://evil.com@127.0.0.1", {}));
  EXPECT_FALSE(origin_allowed("null", {}));
  EXPECT_FALSE(origin_allowed("file://localhost", {}));
  EXPECT_TRUE(origin_allowed("https://app.example.com", extra));
  EXPECT_TRUE(origin_allowed("https://app.example.com/", extra));
  EXPECT_FALSE(origin_allowed("http://app.example.com", extra));
}

TEST(HttpParts, HostsAreLoopbackTheBoundAddressOrListed) {
  host_check hosts{"10.1.2.3", {"mcp.example.com"}, false};
  EXPECT_TRUE(hosts.allowed("localhost"));
  EXPECT_TRUE(hosts.allowed("127.0.0.1:8765"));
  EXPECT_TRUE(hosts.allowed("[::1]:8765"));
  EXPECT_TRUE(hosts.allowed("10.1.2.3:8765"));
  EXPECT_TRUE(hosts.allowed("MCP.example.com"));
  EXPECT_TRUE(hosts.allowed("mcp.example.com:443"));
  EXPECT_FALSE(hosts.allowed("evil.example.com"));
  EXPECT_FALSE(hosts.allowed(""));
  EXPECT_FALSE(hosts.allowed("localhost:port"));
  EXPECT_FALSE(hosts.allowed("::1"));
  host_check v6{"::1", {}, false};
  EXPECT_TRUE(v6.allowed("[::1]"));
  host_check any{"0.0.0.0", {}, true};
  EXPECT_TRUE(any.allowed("anything:1"));
}

TEST(HttpParts, TheRateLimiterRefillsOverTime) {
  rate_limiter rate{10, 2};
  auto t = std::chrono::steady_clock::now();
  EXPECT_EQ(rate.take("a", t), 0);
  EXPECT_EQ(rate.take("a", t), 0);
  EXPECT_EQ(rate.take("a", t), 1);
  EXPECT_EQ(rate.take("b", t), 0);
  EXPECT_EQ(rate.take("a", t + std::chrono::milliseconds{150}), 0);
  rate_limiter off{0, 0};
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(off.take("a", t), 0);
}

TEST(HttpParts, AcceptRanges) {
  EXPECT_TRUE(
    accepts("application/json, text/event-stream", "text/event-stream"));
  EXPECT_TRUE(accepts("text/*;q=0.5", "text/event-stream"));
  EXPECT_TRUE(accepts("*/*", "application/json"));
  EXPECT_FALSE(accepts("text/html", "text/event-stream"));
  EXPECT_FALSE(accepts("", "application/json"));
  EXPECT_EQ(media_type("Application/JSON; charset=utf-8"), "application/json");
  EXPECT_TRUE(http_protocol_version("2025-11-25"));
  EXPECT_TRUE(http_protocol_version("2025-03-26"));
  EXPECT_FALSE(http_protocol_version("2024-11-05"));
  EXPECT_TRUE(valid_session_id(std::string(32, 'f')));
  EXPECT_FALSE(valid_session_id(std::string(32, 'F')));
  EXPECT_FALSE(valid_session_id(std::string(31, 'f')));
}

TEST(HttpParts, FactsOfLines) {
  line_facts f;
  EXPECT_TRUE(
    read_facts(R"({"jsonrpc":"2.0","id":7,"result":{"x":[1,2]}})", f));
  EXPECT_EQ(f.id, "7");
  EXPECT_TRUE(read_facts(R"({"jsonrpc":"2.0","id":"7","result":{}})", f));
  EXPECT_EQ(f.id, R"("7")");
  EXPECT_TRUE(read_facts(R"({"jsonrpc":"2.0","id":"a\u0062","error":{}})", f));
  EXPECT_EQ(f.id, R"("ab")");
  EXPECT_TRUE(read_facts(R"({"jsonrpc":"2.0","result":{"id":3},"id":-4})", f));
  EXPECT_EQ(f.id, "-4");
  // Only the start of a reply is read.
  EXPECT_TRUE(read_facts(R"({"jsonrpc":"2.0","id":1,"result":{"a":)", f));
  EXPECT_EQ(f.id, "1");
  EXPECT_TRUE(read_facts(
    R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1,"progressToken":"t"}})",
    f));
  EXPECT_EQ(f.method, "notifications/progress");
  EXPECT_EQ(f.progress_token, R"("t")");
  EXPECT_TRUE(f.id.empty());
  EXPECT_TRUE(read_facts(
    R"({"jsonrpc":"2.0","method":"notifications/message","params":{"progressToken":"t"}})",
    f));
  EXPECT_EQ(f.method, "notifications/message");
  EXPECT_TRUE(f.progress_token.empty());
  EXPECT_FALSE(read_facts("nope", f));
}

TEST(HttpParts, TheQueueCoalescesAndDropsLikeTheStdioSink) {
  outbox q{100};
  q.push("reply-1", message_kind::reply);
  q.push("p1", message_kind::notification, "progress a");
  q.push("p2", message_kind::notification, "progress a");
  EXPECT_EQ(q.coalesced(), 1u);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.pop().line, "reply-1");
  EXPECT_EQ(q.pop().line, "p2");
  // Keyless ones beyond the bound go, oldest first; replies never.
  for (int i = 0; i < 20; ++i)
    q.push("log-" + std::string(10, 'a' + i % 26) + std::to_string(i),
           message_kind::notification);
  q.push(std::string(500, 'r'), message_kind::reply);
  EXPECT_GT(q.dropped(), 0u);
  EXPECT_EQ(q.take_drop_notice(), 0u); // still full
  std::vector<std::string> left;
  while (!q.empty())
    left.push_back(q.pop().line);
  EXPECT_EQ(left.back(), std::string(500, 'r'));
  EXPECT_EQ(left[left.size() - 2].substr(left[left.size() - 2].size() - 2),
            "19");
  EXPECT_EQ(q.take_drop_notice(), q.dropped());
  EXPECT_EQ(q.take_drop_notice(), 0u);
}

TEST(HttpParts, SseFraming) {
  EXPECT_EQ(sse_event(2, 5, R"({"a":1})"), "id: 2-5\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(sse_event(0, 1, "a\nb"), "id: 0-1\ndata: a\ndata: b\n\n");
  EXPECT_EQ(sse_priming(3, 0, 1000), "id: 3-0\nretry: 1000\ndata:\n\n");
  EXPECT_EQ(http_chunk("hello"), "5\r\nhello\r\n");
  EXPECT_EQ(http_chunk(std::string(26, 'x')).substr(0, 4), "1a\r\n");
  int stream = 0;
  uint64_t seq = 0;
  EXPECT_TRUE(parse_event_id("12-345", stream, seq));
  EXPECT_EQ(stream, 12);
  EXPECT_EQ(seq, 345u);
  EXPECT_FALSE(parse_event_id("12-", stream, seq));
  EXPECT_FALSE(parse_event_id("-1-2", stream, seq));
  EXPECT_FALSE(parse_event_id("1-2x", stream, seq));
  EXPECT_FALSE(parse_event_id("abc", stream, seq));
  EXPECT_EQ(event_id(4, 9), "4-9");
}

} // namespace jobd::test::http::parts_tests
