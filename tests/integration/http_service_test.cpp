// jobd as an HTTP service (issue 14), end to end: the real binary with
// --http on 127.0.0.1:0 and a token file, driven by a raw-socket client
// (tests/integration/http_harness.hpp). Every refused or broken request is
// followed by one that is served.
#include "http_harness.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace http_service_t {

using namespace jobd_it;

const char* const kInit
  = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
    "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{"
    "\"name\":\"raw\",\"version\":\"1\"}}}";

std::string host_line(uint16_t port) {
  return "Host: 127.0.0.1:" + std::to_string(port);
}

/// A raw POST /mcp of `body` with the given header lines (Host, Accept and
/// Content-Type added unless `bare`).
http_response raw_post(uint16_t port, std::vector<std::string> headers,
                       const std::string& body, bool bare = false) {
  if (!bare) {
    headers.insert(headers.begin(), host_line(port));
    headers.push_back("Content-Type: application/json");
    headers.push_back("Accept: application/json, text/event-stream");
  }
  http_conn c(port);
  http_response r;
  if (!c.send_all(http_request("POST", "/mcp", headers, body))
      || !c.read_head(r, 10000))
    return r;
  // An SSE answer: read until the first event with data.
  c.read_body(r, 10000, [](const std::string& b) {
    return b.find("data:") != std::string::npos
           && b.find("\n\n", b.find("data:")) != std::string::npos;
  });
  return r;
}

/// A request that must be served: ping on a fresh session of alice.
void expect_served(http_jobd& j, const std::string& after) {
  mcp_http c(j.port(), j.token("alice"));
  ASSERT_TRUE(c.initialize()) << "not served after " << after;
  auto r = c.request("ping");
  ASSERT_TRUE(r) << "no ping reply after " << after;
  EXPECT_TRUE(has(*r, "result")) << to_json(*r);
}

/// Starts jobd with `args` expecting it to refuse: exit 2 within 10 s.
std::string expect_exit_2(const std::vector<std::string>& args) {
  jobd_options o;
  o.args = args;
  o.args.push_back("--ephemeral");
  o.handshake = false;
  o.protocol_stdout = false;
  jobd_process p(o);
  auto st = p.wait_exit(10000);
  if (!st) {
    ADD_FAILURE() << "jobd did not exit with args ending in " << args.back();
    p.kill_signal(SIGKILL);
    p.wait_exit(5000);
    return p.stderr_text();
  }
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 2)
    << "status " << *st << "; stderr: " << p.stderr_text();
  return p.stderr_text();
}

std::string write_file(const std::string& dir, const std::string& name,
                       const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream f(path);
  f << text;
  return path;
}

struct svc_temp_dir {
  std::string path;
  svc_temp_dir() {
    char tmpl[] = "/tmp/jobd-http-svc-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr)
      path = tmpl;
  }
  ~svc_temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TEST(HttpService, StartupErrorsExit2) {
  svc_temp_dir d;
  auto good
    = write_file(d.path, "good", "alice:alice-token-0123456789abcdef\n");
  auto err = expect_exit_2({"--http", "127.0.0.1:0", "--no-stdio"});
  EXPECT_NE(err.find("--auth-token-file"), std::string::npos) << err;
  expect_exit_2({"--http", "127.0.0.1:0", "--no-stdio", "--auth-token-file",
                 d.path + "/missing"});
  expect_exit_2({"--http", "0.0.0.0:0", "--no-stdio", "--http-no-auth",
                 "--http-allow-remote"});
  expect_exit_2(
    {"--http", "0.0.0.0:0", "--no-stdio", "--auth-token-file", good});
  // A bad line names its number, never a token.
  auto bad = write_file(d.path, "bad",
                        "# tokens\nalice:alice-token-0123456789abcdef\n"
                        "bob:short\n");
  err = expect_exit_2(
    {"--http", "127.0.0.1:0", "--no-stdio", "--auth-token-file", bad});
  EXPECT_NE(err.find("3"), std::string::npos) << err;
  EXPECT_EQ(err.find("alice-token-0123456789abcdef"), std::string::npos) << err;
  auto dup = write_file(d.path, "dup",
                        "alice:same-token-0123456789abcdef\n"
                        "bob:same-token-0123456789abcdef\n");
  err = expect_exit_2(
    {"--http", "127.0.0.1:0", "--no-stdio", "--auth-token-file", dup});
  EXPECT_EQ(err.find("same-token-0123456789abcdef"), std::string::npos) << err;
  auto badname
    = write_file(d.path, "badname", "not a principal:token-0123456789abcdef\n");
  expect_exit_2(
    {"--http", "127.0.0.1:0", "--no-stdio", "--auth-token-file", badname});
}

TEST(HttpService, BadTokensAre401WithWwwAuthenticate) {
  http_jobd j;
  ASSERT_TRUE(j.ready());
  for (const std::vector<std::string>& auth :
       std::vector<std::vector<std::string>>{
         {},
         {"Authorization: Bearer wrong-token-0123456789abcdef"},
         {"Authorization: Bearer " + j.token("alice") + "x"},
         {"Authorization: Basic YWxpY2U6eA=="},
         {"Authorization: Bearer"}}) {
    auto r = raw_post(j.port(), auth, kInit);
    EXPECT_EQ(r.status, 401) << (auth.empty() ? "no header" : auth[0]);
    EXPECT_NE(r.header("www-authenticate").find("Bearer"), std::string::npos);
    EXPECT_NE(r.header("www-authenticate").find("realm=\"jobd\""),
              std::string::npos)
      << r.header("www-authenticate");
    EXPECT_NE(r.body.find('{'), std::string::npos) << "no JSON body";
    EXPECT_TRUE(r.header("mcp-session-id").empty());
  }
  expect_served(j, "bad tokens");
  // /metrics and /healthz are behind the same authentication.
  http_conn c(j.port());
  auto m = c.exchange(http_request("GET", "/metrics", {host_line(j.port())}));
  EXPECT_EQ(m.status, 401);
}

TEST(HttpService, BadOriginAndHostAre403) {
  http_jobd j;
  ASSERT_TRUE(j.ready());
  std::string auth = "Authorization: Bearer " + j.token("alice");
  auto r = raw_post(j.port(), {auth, "Origin: http://evil.example.com"}, kInit);
  EXPECT_EQ(r.status, 403);
  r = raw_post(j.port(), {auth, "Origin: null"}, kInit);
  EXPECT_EQ(r.status, 403);
  r = raw_post(j.port(),
               {"Host: evil.example.com", auth,
                "Content-Type: application/json",
                "Accept: application/json, text/event-stream"},
               kInit, true);
  EXPECT_EQ(r.status, 403);
  r = raw_post(j.port(),
               {"Host: evil.example.com:" + std::to_string(j.port()), auth,
                "Content-Type: application/json",
                "Accept: application/json, text/event-stream"},
               kInit, true);
  EXPECT_EQ(r.status, 403);
  // The Host/Origin check comes before authentication.
  r = raw_post(j.port(), {"Origin: http://evil.example.com"}, kInit);
  EXPECT_EQ(r.status, 403);
  // Loopback origins and hosts are fine.
  for (auto origin :
       {"http://localhost:3000", "http://127.0.0.1", "https://[::1]:8443"}) {
    r = raw_post(j.port(), {auth, std::string("Origin: ") + origin}, kInit);
    EXPECT_EQ(r.status, 200) << origin;
  }
  r = raw_post(j.port(),
               {"Host: localhost:" + std::to_string(j.port()), auth,
                "Content-Type: application/json",
                "Accept: application/json, text/event-stream"},
               kInit, true);
  EXPECT_EQ(r.status, 200);
  expect_served(j, "bad origins and hosts");
}

TEST(HttpService, OversizedBodyIs413BeforeItIsSent) {
  http_jobd_options o;
  o.args = {"--max-line-bytes", "65536"}; // the body limit
  http_jobd j(o);
  ASSERT_TRUE(j.ready());
  http_conn c(j.port());
  // 17 MiB announced, nothing sent: the answer must not wait for it.
  std::string head = http_request(
    "POST", "/mcp",
    {host_line(j.port()), "Authorization: Bearer " + j.token("alice"),
     "Content-Type: application/json",
     "Accept: application/json, text/event-stream",
     "Content-Length: 17825792"});
  ASSERT_TRUE(c.send_all(head));
  http_response r;
  ASSERT_TRUE(c.read_head(r, 5000));
  EXPECT_EQ(r.status, 413);
  c.close();
  // Chunked, without a length: counted as it arrives.
  http_conn c2(j.port());
  ASSERT_TRUE(c2.send_all(http_request(
    "POST", "/mcp",
    {host_line(j.port()), "Authorization: Bearer " + j.token("alice"),
     "Content-Type: application/json",
     "Accept: application/json, text/event-stream",
     "Transfer-Encoding: chunked"})));
  std::string chunk(1 << 20, ' ');
  char size_line[32];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
  http_response r2;
  bool answered = false;
  for (int i = 0; i < 20 && !answered; ++i) {
    if (!c2.send_all(size_line + chunk + "\r\n", 5000))
      break; // the server closed while we sent: fine, check the status
  }
  answered = c2.read_head(r2, 5000);
  if (answered)
    EXPECT_EQ(r2.status, 413);
  else
    EXPECT_TRUE(c2.wait_closed(5000)) << "20 MiB chunked body neither "
                                         "refused nor closed";
  c2.close();
  // A whole body just over the limit, with its length.
  {
    http_conn c3(j.port());
    std::string big = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
                      "\"params\":{\"pad\":\""
                      + std::string(70000, 'x') + "\"}}";
    auto r3 = c3.exchange(
      http_request("POST", "/mcp",
                   {host_line(j.port()),
                    "Authorization: Bearer " + j.token("alice"),
                    "Content-Type: application/json",
                    "Accept: application/json, text/event-stream"},
                   big),
      5000);
    EXPECT_TRUE(r3.status == 413 || r3.status == 0) << r3.status;
  }
  expect_served(j, "oversized bodies");
}

TEST(HttpService, SlowHeadersAreCutOff) {
  http_jobd_options o;
  o.args = {"--http-request-timeout-ms", "500"};
  http_jobd j(o);
  ASSERT_TRUE(j.ready());
  // Headers that never end.
  http_conn c(j.port());
  ASSERT_TRUE(
    c.send_all("POST /mcp HTTP/1.1\r\n" + host_line(j.port()) + "\r\n"));
  int64_t t0 = now_ms();
  EXPECT_TRUE(c.wait_closed(5000)) << "a stalled request was kept open";
  int64_t took = now_ms() - t0;
  EXPECT_GE(took, 300);
  EXPECT_LE(took, 4000);
  // A trickle: one byte every 100 ms never gets a full request through.
  http_conn t(j.port());
  std::string req = http_request(
    "POST", "/mcp",
    {host_line(j.port()), "Authorization: Bearer " + j.token("alice"),
     "Content-Type: application/json",
     "Accept: application/json, text/event-stream"},
    kInit);
  t0 = now_ms();
  bool cut = false;
  for (char ch : req) {
    if (!t.send_all(std::string(1, ch), 1000)) {
      cut = true;
      break;
    }
    sleep_ms(100);
    if (now_ms() - t0 > 4000)
      break;
  }
  EXPECT_TRUE(cut || t.wait_closed(2000)) << "a trickling client held on";
  EXPECT_LE(now_ms() - t0, 5000);
  // A slow body after quick headers is cut off too.
  http_conn b(j.port());
  ASSERT_TRUE(b.send_all(http_request(
    "POST", "/mcp",
    {host_line(j.port()), "Authorization: Bearer " + j.token("alice"),
     "Content-Type: application/json",
     "Accept: application/json, text/event-stream", "Content-Length: 500"})));
  EXPECT_TRUE(b.wait_closed(5000)) << "a missing body was waited for";
  expect_served(j, "slow requests");
}

TEST(HttpService, MalformedJsonIs400ParseError) {
  http_jobd j;
  ASSERT_TRUE(j.ready());
  auto alice = j.client("alice");
  std::vector<std::string> h = alice->headers();
  for (std::string body : {"{\"jsonrpc\":\"2.0\",\"id\":1,", "not json", "",
                           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\""
                           "}}"}) {
    auto r = raw_post(j.port(),
                      std::vector<std::string>(h.begin() + 1, h.end()), body);
    EXPECT_EQ(r.status, 400) << body;
    auto d = parse(r.body);
    ASSERT_FALSE(d->HasParseError()) << r.body;
    EXPECT_EQ(num(*d, "error.code"), -32700) << r.body;
    EXPECT_TRUE(is_null(*d, "id")) << r.body;
  }
  // A batch (a JSON array) is 400 with a JSON-RPC error.
  auto r = raw_post(j.port(), std::vector<std::string>(h.begin() + 1, h.end()),
                    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(has(*parse(r.body), "error")) << r.body;
  // The session is still fine.
  auto p = alice->request("ping");
  ASSERT_TRUE(p);
  EXPECT_TRUE(has(*p, "result"));
  expect_served(j, "malformed JSON");
}

TEST(HttpService, TransportRules) {
  http_jobd j;
  ASSERT_TRUE(j.ready());
  std::string auth = "Authorization: Bearer " + j.token("alice");
  std::string ping = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}";
  // Without a session only initialize.
  EXPECT_EQ(raw_post(j.port(), {auth}, ping).status, 400);
  EXPECT_EQ(raw_post(j.port(),
                     {auth, "Mcp-Session-Id: 0123456789abcdef0123456789abcdef"},
                     ping)
              .status,
            404);
  auto alice = j.client("alice");
  EXPECT_EQ(alice->session().size(), 32u);
  EXPECT_EQ(alice->session().find_first_not_of("0123456789abcdef"),
            std::string::npos)
    << alice->session();
  auto bob = j.client("bob");
  EXPECT_NE(alice->session(), bob->session());
  // Alice's session with bob's token: 404.
  EXPECT_EQ(raw_post(j.port(),
                     {"Authorization: Bearer " + j.token("bob"),
                      "Mcp-Session-Id: " + alice->session()},
                     ping)
              .status,
            404);
  // Protocol versions.
  auto sid = "Mcp-Session-Id: " + alice->session();
  EXPECT_EQ(
    raw_post(j.port(), {auth, sid, "MCP-Protocol-Version: 1999-01-01"}, ping)
      .status,
    400);
  for (auto v : {"2025-11-25", "2025-06-18", "2025-03-26"})
    EXPECT_EQ(raw_post(j.port(),
                       {auth, sid, std::string("MCP-Protocol-Version: ") + v},
                       ping)
                .status,
              200)
      << v;
  EXPECT_EQ(raw_post(j.port(), {auth, sid}, ping).status, 200);
  // Accept and Content-Type.
  EXPECT_EQ(
    raw_post(j.port(),
             {host_line(j.port()), auth, sid, "Content-Type: application/json",
              "Accept: application/json"},
             ping, true)
      .status,
    406);
  EXPECT_EQ(raw_post(j.port(),
                     {host_line(j.port()), auth, sid,
                      "Content-Type: application/json", "Accept: */*"},
                     ping, true)
              .status,
            200);
  EXPECT_EQ(
    raw_post(j.port(),
             {host_line(j.port()), auth, sid, "Content-Type: text/plain",
              "Accept: application/json, text/event-stream"},
             ping, true)
      .status,
    415);
  // A notification and a response: 202 without a body.
  auto n = alice->post(
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
    "{\"requestId\":12345}}");
  EXPECT_EQ(n.http.status, 202);
  EXPECT_TRUE(n.http.body.empty());
  // GET needs text/event-stream; one standalone stream per session.
  http_conn g1(j.port());
  auto gh = alice->headers();
  auto get_lines = gh;
  get_lines.push_back("Accept: text/event-stream");
  ASSERT_TRUE(g1.send_all(http_request("GET", "/mcp", get_lines)));
  http_response gr;
  ASSERT_TRUE(g1.read_head(gr, 5000));
  EXPECT_EQ(gr.status, 200);
  EXPECT_NE(gr.header("content-type").find("text/event-stream"),
            std::string::npos);
  http_conn g2(j.port());
  auto second = g2.exchange(http_request("GET", "/mcp", get_lines), 5000);
  EXPECT_EQ(second.status, 409);
  http_conn g3(j.port());
  gh.push_back("Accept: application/json");
  auto wrong = g3.exchange(http_request("GET", "/mcp", gh), 5000);
  EXPECT_TRUE(wrong.status == 405 || wrong.status == 406) << wrong.status;
  // Unknown paths.
  http_conn u(j.port());
  auto nf = u.exchange(
    http_request("GET", "/nothing", {host_line(j.port()), auth}), 5000);
  EXPECT_EQ(nf.status, 404);
  expect_served(j, "transport errors");
}

TEST(HttpService, AbruptDisconnectsThenServed) {
  http_jobd j;
  ASSERT_TRUE(j.ready());
  auto alice = j.client("alice");
  auto h = alice->headers();
  h.push_back("Content-Type: application/json");
  h.push_back("Accept: application/json, text/event-stream");
  // 1. Half a request body, then a reset.
  {
    http_conn c(j.port());
    std::string body = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}";
    auto hl = h;
    hl.push_back("Content-Length: 200");
    std::string req = http_request("POST", "/mcp", hl);
    ASSERT_TRUE(c.send_all(req + body.substr(0, 10)));
    sleep_ms(50);
    c.reset();
  }
  // 2. Half the headers, then a reset.
  {
    http_conn c(j.port());
    ASSERT_TRUE(c.send_all("POST /mcp HTTP/1.1\r\nHost: 127.0"));
    c.reset();
  }
  // 3. Mid-stream: a wait that streams progress, dropped while it waits.
  std::string id = alice->submit(
    "{\"command\":\"sh\",\"args\":[\"-c\",\"for i in 1 2 3 4 5 6; do echo "
    "tick$i; sleep 0.2; done\"]}");
  ASSERT_FALSE(id.empty());
  {
    http_conn c(j.port());
    ASSERT_TRUE(c.send_all(http_request(
      "POST", "/mcp", h,
      "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"tools/call\",\"params\":{"
      "\"name\":\"console_wait_job\",\"arguments\":{\"jobId\":"
        + q(id)
        + ",\"timeoutMs\":10000},\"_meta\":{\"progressToken\":\"p77\"}}}")));
    http_response r;
    ASSERT_TRUE(c.read_head(r, 5000));
    EXPECT_EQ(r.status, 200);
    c.read_body(r, 600, [](const std::string&) { return false; });
    c.reset();
  }
  // 4. A GET stream, dropped.
  {
    http_conn c(j.port());
    auto gl = alice->headers();
    gl.push_back("Accept: text/event-stream");
    ASSERT_TRUE(c.send_all(http_request("GET", "/mcp", gl)));
    http_response r;
    ASSERT_TRUE(c.read_head(r, 5000));
    EXPECT_EQ(r.status, 200);
    c.reset();
  }
  // 5. A reset right after connecting, and one after a whole request.
  {
    http_conn c(j.port());
    c.reset();
    http_conn d(j.port());
    ASSERT_TRUE(d.send_all(
      http_request("POST", "/mcp", h,
                   "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}")));
    d.reset();
  }
  // The same session still works; the job ran to its end; a new GET stream
  // can be opened (the dropped one was let go).
  auto w = alice->tool("console_wait_job",
                       "{\"jobId\":" + q(id) + ",\"timeoutMs\":10000}", 15000);
  ASSERT_TRUE(w.ok()) << w.dump();
  EXPECT_EQ(str(*w, "reason"), "exit");
  EXPECT_EQ(str(*w, "job.status"), "completed");
  int64_t deadline = now_ms() + 5000;
  int status = 0;
  while (now_ms() < deadline) {
    http_conn c(j.port());
    auto gl = alice->headers();
    gl.push_back("Accept: text/event-stream");
    ASSERT_TRUE(c.send_all(http_request("GET", "/mcp", gl)));
    http_response r;
    ASSERT_TRUE(c.read_head(r, 5000));
    status = r.status;
    if (status == 200)
      break;
    sleep_ms(100);
  }
  EXPECT_EQ(status, 200) << "the dropped GET stream was never let go";
  expect_served(j, "abrupt disconnects");
}

TEST(HttpService, PrincipalsAreIsolatedAdminSeesAll) {
  http_jobd_options o;
  o.args = {"--admin", "root"};
  http_jobd j(o);
  ASSERT_TRUE(j.ready());
  auto alice = j.client("alice");
  auto bob = j.client("bob");
  auto root = j.client("root");
  std::string a = alice->submit(
    "{\"command\":\"sleep\",\"args\":[\"30\"],\"options\":{\"sessionId\":"
    "\"build\"}}");
  std::string b = bob->submit(
    "{\"command\":\"sleep\",\"args\":[\"30\"],\"options\":{\"sessionId\":"
    "\"build\"}}");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  auto st = alice->tool("console_get_job_status", "{\"jobId\":" + q(a) + "}");
  ASSERT_TRUE(st.ok()) << st.dump();
  EXPECT_EQ(str(*st, "job.sessionId"), "alice/build");
  for (auto [name, args] : std::vector<std::pair<std::string, std::string>>{
         {"console_get_job_status", "{\"jobId\":" + q(b) + "}"},
         {"console_get_job_output", "{\"jobId\":" + q(b) + "}"},
         {"console_cancel_job", "{\"jobId\":" + q(b) + "}"},
         {"console_wait_job", "{\"jobId\":" + q(b) + ",\"timeoutMs\":50}"},
         {"console_wait_job",
          "{\"jobIds\":[" + q(a) + "," + q(b) + "],\"timeoutMs\":50}"},
         {"console_signal_job", "{\"jobId\":" + q(b) + ",\"signal\":\"TERM\"}"},
         {"console_restart_job", "{\"jobId\":" + q(b) + "}"}}) {
    auto r = alice->tool(name, args);
    EXPECT_TRUE(r.is_error) << name << ": " << r.dump();
    EXPECT_EQ(r.code(), "JOB_NOT_FOUND") << name << ": " << r.dump();
  }
  auto list = alice->tool("console_list_jobs", "{\"options\":{\"limit\":100}}");
  ASSERT_TRUE(list.ok()) << list.dump();
  auto jobs = at(*list, "jobs");
  ASSERT_TRUE(jobs && jobs->IsArray());
  ASSERT_EQ(jobs->Size(), 1u) << list.dump();
  EXPECT_EQ(str((*jobs)[0], "id"), a);
  // bob's filter by his own session name shows only his.
  auto bl
    = bob->tool("console_list_jobs", "{\"options\":{\"sessionId\":\"build\"}}");
  ASSERT_TRUE(bl.ok());
  EXPECT_EQ(num(*bl, "total"), 1);
  EXPECT_EQ(str((*at(*bl, "jobs"))[0], "id"), b);
  // resources/read of another's job: not found.
  auto rr
    = alice->request("resources/read", "{\"uri\":" + q("job://" + b) + "}");
  ASSERT_TRUE(rr);
  EXPECT_EQ(num(*rr, "error.code"), -32002) << to_json(*rr);
  // The admin sees both, and can act on them.
  auto all = root->tool("console_list_jobs", "{\"options\":{\"limit\":100}}");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(num(*all, "total"), 2) << all.dump();
  auto rs = root->tool("console_get_job_status", "{\"jobId\":" + q(b) + "}");
  ASSERT_TRUE(rs.ok()) << rs.dump();
  EXPECT_EQ(str(*rs, "job.sessionId"), "bob/build");
  // Bob's job still runs after alice's attempts.
  auto bs = bob->tool("console_get_job_status", "{\"jobId\":" + q(b) + "}");
  ASSERT_TRUE(bs.ok());
  EXPECT_EQ(str(*bs, "job.status"), "running");
  auto rc = root->tool("console_cancel_job", "{\"jobId\":" + q(b) + "}");
  EXPECT_TRUE(rc.ok()) << rc.dump();
  auto ac = alice->tool("console_cancel_job", "{\"jobId\":" + q(a) + "}");
  EXPECT_TRUE(ac.ok()) << ac.dump();
}

TEST(HttpService, PerPrincipalLimitWithoutHeadOfLineBlocking) {
  http_jobd_options o;
  o.args = {"--max-concurrent-jobs",
            "4",
            "--max-concurrent-jobs-per-principal",
            "1",
            "--admin",
            "root"};
  http_jobd j(o);
  ASSERT_TRUE(j.ready());
  auto alice = j.client("alice");
  auto bob = j.client("bob");
  std::vector<std::string> mine;
  for (int i = 0; i < 3; ++i)
    mine.push_back(alice->submit(
      "{\"command\":\"sleep\",\"args\":[\"0.4\"],\"options\":{\"sessionId\":"
      "\"s"
      + std::to_string(i) + "\"}}"));
  // Bob's job starts at once though alice's two wait in the queue.
  std::string b = bob->submit("{\"command\":\"sleep\",\"args\":[\"0.4\"]}");
  int64_t deadline = now_ms() + 2000;
  std::string bob_status;
  while (now_ms() < deadline) {
    auto s = bob->tool("console_get_job_status", "{\"jobId\":" + q(b) + "}");
    bob_status = str(*s, "job.status");
    if (bob_status != "pending")
      break;
    sleep_ms(20);
  }
  EXPECT_NE(bob_status, "pending") << "bob waited behind alice's queue";
  // Alice never has two running.
  int max_alice = 0;
  deadline = now_ms() + 8000;
  bool done = false;
  while (!done && now_ms() < deadline) {
    auto l = alice->tool("console_list_jobs",
                         "{\"options\":{\"status\":\"running\"}}");
    ASSERT_TRUE(l.ok()) << l.dump();
    max_alice = std::max<int>(max_alice, static_cast<int>(num(*l, "total")));
    auto p
      = alice->tool("console_list_jobs",
                    "{\"options\":{\"status\":[\"pending\",\"running\"]}}");
    done = num(*p, "total") == 0;
    sleep_ms(30);
  }
  EXPECT_TRUE(done) << "alice's jobs did not finish";
  EXPECT_EQ(max_alice, 1);
  for (auto& id : mine) {
    auto s = alice->tool("console_get_job_status", "{\"jobId\":" + q(id) + "}");
    EXPECT_EQ(str(*s, "job.status"), "completed") << s.dump();
  }
}

TEST(HttpService, DeleteEndsASessionJobdKeepsServing) {
  http_jobd j;
  ASSERT_TRUE(j.ready());
  auto alice = j.client("alice");
  std::string id = alice->submit(
    "{\"command\":\"sh\",\"args\":[\"-c\",\"sleep 0.3; echo after\"],"
    "\"options\":{\"sessionId\":\"gone\"}}");
  ASSERT_FALSE(id.empty());
  std::string old = alice->session();
  EXPECT_EQ(alice->end_session(), 204);
  EXPECT_EQ(alice->end_session(), 404);
  auto r = alice->post("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
  EXPECT_EQ(r.http.status, 404);
  // A new session of alice still owns the job, which ran to its end.
  auto again = j.client("alice");
  EXPECT_NE(again->session(), old);
  auto w = again->tool("console_wait_job",
                       "{\"jobId\":" + q(id) + ",\"timeoutMs\":5000}", 10000);
  ASSERT_TRUE(w.ok()) << w.dump();
  EXPECT_EQ(str(*w, "job.status"), "completed");
  EXPECT_EQ(str(*w, "job.sessionId"), "alice/gone");
  expect_served(j, "DELETE");
}

TEST(HttpService, SigtermWithOpenStreamsExitsCleanly) {
  auto j = std::make_unique<http_jobd>();
  ASSERT_TRUE(j->ready());
  auto alice = j->client("alice");
  std::string id = alice->submit("{\"command\":\"sleep\",\"args\":[\"30\"]}");
  http_conn get(j->port());
  auto gl = alice->headers();
  gl.push_back("Accept: text/event-stream");
  ASSERT_TRUE(get.send_all(http_request("GET", "/mcp", gl)));
  http_response gr;
  ASSERT_TRUE(get.read_head(gr, 5000));
  EXPECT_EQ(gr.status, 200);
  http_conn wait(j->port());
  auto h = alice->headers();
  h.push_back("Content-Type: application/json");
  h.push_back("Accept: application/json, text/event-stream");
  ASSERT_TRUE(wait.send_all(http_request(
    "POST", "/mcp", h,
    "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{"
    "\"name\":\"console_wait_job\",\"arguments\":{\"jobId\":"
      + q(id) + ",\"timeoutMs\":20000}}}")));
  sleep_ms(200);
  int64_t t0 = now_ms();
  auto st = j->terminate();
  ASSERT_TRUE(st) << "jobd did not exit within 10 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st;
  EXPECT_LE(now_ms() - t0, 8000);
  EXPECT_TRUE(get.wait_closed(2000)) << "the GET stream outlived jobd";
  EXPECT_TRUE(wait.wait_closed(2000)) << "the POST stream outlived jobd";
  j.reset();
}

TEST(HttpService, MetricsAndHealthz) {
  http_jobd_options o;
  o.metrics_listen = true;
  http_jobd j(o);
  ASSERT_TRUE(j.ready());
  ASSERT_NE(j.metrics_port(), 0);
  auto alice = j.client("alice");
  std::string id = alice->submit("{\"command\":\"echo\",\"args\":[\"hi\"]}");
  auto w = alice->tool("console_wait_job",
                       "{\"jobId\":" + q(id) + ",\"timeoutMs\":5000}", 10000);
  ASSERT_TRUE(w.ok()) << w.dump();
  auto get = [&](uint16_t port, const std::string& path, bool auth) {
    http_conn c(port);
    std::vector<std::string> h{host_line(port)};
    if (auth)
      h.push_back("Authorization: Bearer " + j.token("alice"));
    return c.exchange(http_request("GET", path, h), 5000);
  };
  EXPECT_EQ(get(j.port(), "/metrics", false).status, 401);
  EXPECT_EQ(get(j.port(), "/healthz", false).status, 401);
  auto m = get(j.port(), "/metrics", true);
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.header("content-type").find("text/plain"), std::string::npos)
    << m.header("content-type");
  EXPECT_NE(m.header("content-type").find("version=0.0.4"), std::string::npos)
    << m.header("content-type");
  for (auto name :
       {"# TYPE jobd_jobs ", "jobd_jobs{state=\"running\"}",
        "jobd_tool_call_seconds_bucket", "jobd_tool_call_seconds_count",
        "jobd_jobs_created_total", "jobd_mcp_sessions", "jobd_uptime_seconds",
        "jobd_http_requests_total", "jobd_queue_length",
        "jobd_concurrency_limit"})
    EXPECT_NE(m.body.find(name), std::string::npos) << name << " in\n"
                                                    << m.body.substr(0, 3000);
  EXPECT_NE(m.body.find("tool=\"console_wait_job\""), std::string::npos);
  EXPECT_GE(prometheus_value(m.body, "jobd_jobs_created_total"), 1);
  auto h = get(j.port(), "/healthz", true);
  ASSERT_EQ(h.status, 200);
  auto hd = parse(h.body);
  ASSERT_FALSE(hd->HasParseError()) << h.body;
  EXPECT_EQ(str(*hd, "status"), "ok");
  EXPECT_EQ(str(*hd, "store"), "ephemeral");
  // --metrics-listen: without authentication, and no /mcp there.
  auto lm = get(j.metrics_port(), "/metrics", false);
  EXPECT_EQ(lm.status, 200);
  EXPECT_NE(lm.body.find("jobd_jobs"), std::string::npos);
  EXPECT_EQ(get(j.metrics_port(), "/healthz", false).status, 200);
  http_conn c(j.metrics_port());
  auto mcp = c.exchange(
    http_request("POST", "/mcp",
                 {host_line(j.metrics_port()), "Content-Type: application/json",
                  "Accept: application/json, text/event-stream"},
                 kInit),
    5000);
  EXPECT_EQ(mcp.status, 404);
}

} // namespace http_service_t
