// The HTTP transport's guards: bearer tokens (401), Origin and Host (403),
// media types (406, 415), sizes (413, 431), the rate limit (429), slow and
// abrupt clients, malformed JSON, connection limits, and the metrics
// routes. After every refusal the next client is served.
#include "eventually.hpp"
#include "http_test_fixture.hpp"

#include <gtest/gtest.h>

namespace jobd::test::http::security_tests {

using jobd::test::eventually;

struct HttpGuard : http_fixture {
  // The server still serves a normal request.
  void expect_served() {
    auto r = exchange(post_request(initialize_body()));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
};

TEST_F(HttpGuard, MissingOrWrongTokensAre401) {
  start();
  auto r = exchange(post_request(initialize_body(), {}, ""));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->header("www-authenticate"), R"(Bearer realm="jobd")");
  EXPECT_NE(r->body.find("\"error\""), std::string::npos);
  r = exchange(post_request(initialize_body(), {}, "alice-token-012345678X"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = exchange(post_request(initialize_body(), {}, "alice-token-0123456789-"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(world->opened, 0);
  EXPECT_EQ(server->stats().unauthorized, 3u);
  expect_served();
}

TEST_F(HttpGuard, ForeignOriginsAndHostsAre403) {
  auto o = defaults();
  o.allowed_origins = {"https://app.example.com"};
  o.allowed_hosts = {"mcp.example.com"};
  start(o);
  auto h = post_headers();
  h.emplace_back("Origin", "http://evil.example.com");
  auto r = exchange(make_request("POST", "/mcp", h, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  h.back().second = "http://localhost:1234";
  r = exchange(make_request("POST", "/mcp", h, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  h.back().second = "https://app.example.com";
  r = exchange(make_request("POST", "/mcp", h, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto hh = post_headers();
  hh.emplace_back("Host", "evil.example.com");
  r = exchange(make_request("POST", "/mcp", hh, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  hh.back().second = "mcp.example.com:8765";
  r = exchange(make_request("POST", "/mcp", hh, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  hh.back().second = "[::1]:9";
  r = exchange(make_request("POST", "/mcp", hh, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Host is checked before authentication.
  headers bare{{"Host", "evil.example.com"}};
  r = exchange(make_request("GET", "/mcp", bare, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(server->stats().forbidden, 3u);
}

TEST_F(HttpGuard, MediaTypesAreChecked) {
  start();
  auto h = post_headers();
  h[1].second = "application/json";
  auto r = exchange(make_request("POST", "/mcp", h, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 406);
  h[1].second = "*/*";
  r = exchange(make_request("POST", "/mcp", h, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  h[0].second = "text/plain";
  r = exchange(make_request("POST", "/mcp", h, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  h[0].second = "application/json; charset=utf-8";
  r = exchange(make_request("POST", "/mcp", h, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  headers g{{"Authorization", std::string{"Bearer "} + alice_token},
            {"Accept", "application/json"}};
  r = exchange(make_request("GET", "/mcp", g, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 406);
  r = exchange(make_request("PUT", "/mcp", g, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  r = exchange(make_request("GET", "/nowhere", g, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(HttpGuard, MalformedJsonIs400) {
  start();
  auto r = exchange(post_request("{not json"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find(R"("id":null)"), std::string::npos);
  EXPECT_NE(r->body.find("-32700"), std::string::npos);
  r = exchange(post_request("[" + initialize_body() + "]"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("-32600"), std::string::npos);
  r = exchange(post_request(R"({"jsonrpc":"2.0","id":1.5,"method":"x"})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  expect_served();
}

TEST_F(HttpGuard, LargeBodiesAre413) {
  auto o = defaults();
  o.max_body_bytes = 1000;
  start(o);
  // By Content-Length, before the body is read.
  client c{port()};
  auto h = post_headers();
  h.emplace_back("Content-Length", "5000000");
  std::string head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (auto& [k, v] : h)
    head += k + ": " + v + "\r\n";
  ASSERT_TRUE(c.send(head + "\r\n" + std::string(2000, ' ')));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(c.wait_closed());
  // Chunked: counted as it comes.
  client d{port()};
  head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: "
         "chunked\r\n";
  for (auto& [k, v] : post_headers())
    head += k + ": " + v + "\r\n";
  std::string chunk(600, ' ');
  ASSERT_TRUE(d.send(head + "\r\n" + "258\r\n" + chunk + "\r\n" + "258\r\n"
                     + chunk + "\r\n"));
  r = d.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(server->stats().too_large, 2u);
  expect_served();
}

TEST_F(HttpGuard, LargeHeadersAre431) {
  auto o = defaults();
  o.max_header_bytes = 2048;
  start(o);
  auto h = post_headers();
  h.emplace_back("X-Filler", std::string(4000, 'x'));
  auto r = exchange(make_request("POST", "/mcp", h, initialize_body(), port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  expect_served();
}

TEST_F(HttpGuard, TheRateLimitIsPerPrincipal) {
  auto o = defaults();
  o.rate_per_second = 1;
  o.rate_burst = 3;
  start(o);
  std::vector<int> statuses;
  for (int i = 0; i < 5; ++i) {
    // A refusal closes its connection (the body was not read).
    auto r = exchange(post_request(initialize_body(i)));
    ASSERT_TRUE(r);
    statuses.push_back(r->status);
    if (r->status == 429) {
      EXPECT_EQ(r->header("retry-after"), "1");
    }
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200, 429, 429}));
  // Bob has a bucket of his own.
  auto r = exchange(post_request(initialize_body(), {}, bob_token));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server->stats().rate_limited, 2u);
}

TEST_F(HttpGuard, SlowHeadersAreCutOff) {
  auto o = defaults();
  o.request_timeout_ms = 300;
  start(o);
  client c{port()};
  ASSERT_TRUE(c.send("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  auto before = steady_clock::now();
  std::this_thread::sleep_for(100ms);
  c.send("X-Slow: 1\r\n");
  EXPECT_TRUE(c.wait_closed(1500ms));
  auto took = steady_clock::now() - before;
  EXPECT_LT(took, 1000ms);
  EXPECT_GE(took, 150ms);
  // A connection that never says anything too.
  client idle{port()};
  EXPECT_TRUE(idle.wait_closed(1500ms));
  EXPECT_EQ(server->stats().timed_out, 2u);
  expect_served();
}

TEST_F(HttpGuard, AbruptDisconnectsAreSurvived) {
  start();
  auto sid = initialize();
  for (int i = 0; i < 3; ++i) {
    client c{port()};
    auto text = post_request(
      request_body(std::to_string(i), "test/slow", R"({"ms":50})"), sid);
    c.send(text.substr(0, text.size() / 2 + i * 7));
    c.reset();
  }
  {
    client c{port()};
    c.send(post_request(request_body("9", "test/slow", R"({"ms":50})"), sid));
    c.reset();
  }
  {
    client g{port()};
    g.send(get_request(sid));
    ASSERT_TRUE(g.read_head());
    g.reset();
  }
  std::this_thread::sleep_for(150ms);
  auto r = exchange(post_request(request_body("10", "ping"), sid));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // The GET stream was freed when its client went away.
  client g{port()};
  ASSERT_TRUE(g.send(get_request(sid)));
  auto head = g.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
}

TEST_F(HttpGuard, GarbageIs400ThenClosed) {
  start();
  client c{port()};
  ASSERT_TRUE(c.send("HELLO\x01\x02 world\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.wait_closed());
  expect_served();
}

TEST_F(HttpGuard, ConnectionsBeyondTheLimitAreRefused) {
  auto o = defaults();
  o.max_connections = 2;
  start(o);
  client a{port()};
  client b{port()};
  ASSERT_TRUE(eventually([&] { return server->stats().connections == 2; }));
  client c{port()};
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(c.wait_closed());
  a.close();
  ASSERT_TRUE(eventually([&] { return server->stats().connections == 1; }));
  expect_served();
}

TEST_F(HttpGuard, MetricsAndHealthAreBehindAuth) {
  start();
  headers h{{"Authorization", std::string{"Bearer "} + alice_token}};
  auto r = exchange(make_request("GET", "/metrics", h, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r->body.find("jobd_http_requests_total"), std::string::npos);
  r = exchange(make_request("GET", "/healthz", h, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"ok"})");
  r = exchange(make_request("GET", "/metrics", {}, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST_F(HttpGuard, TheMetricsListenerServesOnlyMetricsWithoutAuth) {
  auto o = defaults();
  o.mcp = false;
  o.tokens.clear();
  start(o);
  auto r = exchange(make_request("GET", "/metrics", {}, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = exchange(make_request("GET", "/healthz", {}, {}, port()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = exchange(post_request(initialize_body()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(HttpGuard, NoAuthMeansPrincipalLocal) {
  auto o = defaults();
  o.tokens.clear();
  o.no_auth = true;
  start(o);
  auto sid = initialize("");
  ASSERT_FALSE(sid.empty());
  ASSERT_EQ(world->principals.size(), 1u);
  EXPECT_EQ(world->principals[0], "local");
}

TEST_F(HttpGuard, ExpectContinueIsAnswered) {
  start();
  auto h = post_headers();
  h.emplace_back("Expect", "100-continue");
  auto text = make_request("POST", "/mcp", h, initialize_body(), port());
  auto split = text.find("\r\n\r\n") + 4;
  client c{port()};
  ASSERT_TRUE(c.send(text.substr(0, split)));
  auto cont = c.read_head();
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(c.send(text.substr(split)));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

} // namespace jobd::test::http::security_tests
