// Bad input gets a clear error, changes nothing, and the next line is served.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace jobd_it;

namespace {

/// Sends `line`, expects one JSON-RPC error with a code in `codes`, then
/// checks that a ping is served.
void expect_rpc_error(jobd_process& j, const std::string& line,
                      std::set<int> codes, const char* expected_id = nullptr) {
  SCOPED_TRACE(line.substr(0, 120));
  ASSERT_TRUE(j.send_line(line));
  auto doc = j.read_message(5000);
  ASSERT_TRUE(doc) << "no reply to a bad line";
  auto* code = at(*doc, "error.code");
  ASSERT_TRUE(code && code->IsInt())
    << "expected an error, got " << to_json(*doc).substr(0, 500);
  EXPECT_TRUE(codes.count(code->GetInt()))
    << "unexpected code: " << to_json(*doc).substr(0, 500);
  if (expected_id != nullptr) {
    auto id = to_json((*doc)["id"]);
    EXPECT_TRUE(id == expected_id || id == "null")
      << "id " << id << ", expected " << expected_id;
  }
  auto ping = j.call("ping");
  ASSERT_TRUE(ping) << "jobd stopped serving after: " << line.substr(0, 120);
  EXPECT_TRUE(has(*ping, "result"));
}

void expect_invalid_args(jobd_process& j, const std::string& tool,
                         const std::string& args,
                         const std::string& field_hint = "") {
  SCOPED_TRACE(tool + " " + args.substr(0, 200));
  auto r = j.tool(tool, args);
  ASSERT_TRUE(r.response);
  EXPECT_FALSE(r.rpc_error)
    << "bad arguments must be an isError result, not a JSON-RPC error: "
    << r.dump();
  EXPECT_TRUE(r.is_error) << r.dump();
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  if (!field_hint.empty()) {
    EXPECT_NE(r.message().find(field_hint), std::string::npos)
      << "the message should name '" << field_hint << "': " << r.message();
  }
}

int64_t total_jobs(jobd_process& j) {
  auto m = j.tool("console_get_job_metrics", "{}");
  return num(*m, "metrics.totalJobs");
}

} // namespace

TEST(Hardening, LinesThatAreNotObjects) {
  jobd_process j;
  for (const char* l : {"[]", "42", "\"x\"", "null", "true", "[1,2]"})
    expect_rpc_error(j, l, {-32600}, "null");
}

TEST(Hardening, JsonrpcMissingOrWrong) {
  jobd_process j;
  expect_rpc_error(j, R"({"id":1,"method":"ping"})", {-32600}, "1");
  expect_rpc_error(j, R"({"jsonrpc":"1.0","id":2,"method":"ping"})", {-32600},
                   "2");
  expect_rpc_error(j, R"({"jsonrpc":2.0,"id":3,"method":"ping"})", {-32600},
                   "3");
  expect_rpc_error(j, R"({"jsonrpc":null,"id":4,"method":"ping"})", {-32600},
                   "4");
}

TEST(Hardening, BadIds) {
  jobd_process j;
  expect_rpc_error(j, R"({"jsonrpc":"2.0","id":null,"method":"ping"})",
                   {-32600}, "null");
  expect_rpc_error(j, R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})",
                   {-32600}, "null");
  expect_rpc_error(j, R"({"jsonrpc":"2.0","id":[1],"method":"ping"})", {-32600},
                   "null");
  expect_rpc_error(j, R"({"jsonrpc":"2.0","id":true,"method":"ping"})",
                   {-32600}, "null");
  expect_rpc_error(j, R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})",
                   {-32600});
}

TEST(Hardening, MethodMissingOrNotString) {
  jobd_process j;
  expect_rpc_error(j, R"({"jsonrpc":"2.0","id":5})", {-32600}, "5");
  expect_rpc_error(j, R"({"jsonrpc":"2.0","id":6,"method":42})", {-32600}, "6");
  expect_rpc_error(j, R"({"jsonrpc":"2.0","id":7,"method":null})", {-32600},
                   "7");
  expect_rpc_error(j, R"({"jsonrpc":"2.0","id":8,"method":["ping"]})", {-32600},
                   "8");
}

TEST(Hardening, ParamsNotObject) {
  jobd_process j;
  expect_rpc_error(
    j, R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":[1,2]})",
    {-32600, -32602}, "9");
  expect_rpc_error(
    j, R"({"jsonrpc":"2.0","id":10,"method":"tools/call","params":"x"})",
    {-32600, -32602}, "10");
  expect_rpc_error(
    j, R"({"jsonrpc":"2.0","id":11,"method":"tools/call","params":42})",
    {-32600, -32602}, "11");
  expect_rpc_error(
    j,
    R"({"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"console_list_jobs","arguments":[1]}})",
    {-32602}, "12");
  expect_rpc_error(
    j,
    R"({"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":42,"arguments":{}}})",
    {-32602}, "13");
}

TEST(Hardening, NumbersOutOfRange) {
  jobd_process j;
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"true","options":{"priority":11}})",
                      "priority");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"true","options":{"priority":0}})",
                      "priority");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"true","options":{"priority":-3}})",
                      "priority");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"true","options":{"priority":5.5}})",
                      "priority");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"true","options":{"priority":"5"}})",
                      "priority");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"true","options":{"timeout":-1}})",
                      "timeout");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"true","options":{"killGraceMs":-1}})",
                      "killGraceMs");
  expect_invalid_args(
    j, "console_execute_async",
    R"({"command":"true","options":{"outputByteLimit":1000}})",
    "outputByteLimit");
  expect_invalid_args(
    j, "console_execute_async",
    R"({"command":"true","options":{"timeout":99999999999999999999999}})",
    "timeout");
  // 1e400 does not fit a double: a parse error or an invalid argument, never a
  // job.
  ASSERT_TRUE(j.send_line(
    R"({"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"console_execute_async","arguments":{"command":"true","options":{"priority":1e400}}}})"));
  auto doc = j.read_message(3000);
  ASSERT_TRUE(doc);
  auto* code = at(*doc, "error.code");
  auto* is_err = at(*doc, "result.isError");
  EXPECT_TRUE((code && (code->GetInt() == -32700 || code->GetInt() == -32602))
              || (is_err && is_err->IsBool() && is_err->GetBool()))
    << to_json(*doc);
  EXPECT_EQ(total_jobs(j), 0) << "a rejected request must not create a job";
}

TEST(Hardening, OtherToolArgumentsOutOfRange) {
  jobd_process j;
  auto id = j.submit("true", "[]");
  j.wait_terminal(id);
  auto jid = q(id);
  expect_invalid_args(j, "console_get_job_output",
                      "{\"jobId\":" + jid + ",\"options\":{\"since\":-1}}",
                      "since");
  expect_invalid_args(j, "console_get_job_output",
                      "{\"jobId\":" + jid + ",\"options\":{\"limit\":0}}",
                      "limit");
  expect_invalid_args(j, "console_get_job_output",
                      "{\"jobId\":" + jid + ",\"options\":{\"maxBytes\":0}}",
                      "maxBytes");
  expect_invalid_args(j, "console_get_job_output",
                      "{\"jobId\":" + jid + ",\"options\":{\"tail\":0}}",
                      "tail");
  expect_invalid_args(
    j, "console_get_job_output",
    "{\"jobId\":" + jid + ",\"options\":{\"stream\":\"stdin\"}}", "stream");
  expect_invalid_args(
    j, "console_get_job_output",
    "{\"jobId\":" + jid + ",\"options\":{\"latest\":\"yes\"}}", "latest");
  expect_invalid_args(j, "console_cancel_job",
                      "{\"jobId\":" + jid + ",\"options\":{\"graceMs\":-1}}",
                      "graceMs");
  expect_invalid_args(j, "console_wait_job",
                      "{\"jobId\":" + jid + ",\"timeoutMs\":-1}", "timeoutMs");
  expect_invalid_args(j, "console_wait_job",
                      "{\"jobId\":" + jid + ",\"until\":\"forever\"}", "until");
  expect_invalid_args(j, "console_wait_job",
                      "{\"jobId\":" + jid
                        + ",\"until\":\"output\",\"pattern\":\"(\"}",
                      "pattern");
  expect_invalid_args(j, "console_wait_job",
                      "{\"jobId\":" + jid + ",\"since\":-2}", "since");
  expect_invalid_args(j, "console_get_job_status", "{}", "jobId");
  expect_invalid_args(j, "console_get_job_status", "{\"jobId\":7}", "jobId");
  expect_invalid_args(j, "console_cancel_job", "{}", "jobId");
  expect_invalid_args(j, "console_wait_job", "{}", "jobId");
}

TEST(Hardening, ExecuteArgumentShapes) {
  jobd_process j;
  expect_invalid_args(j, "console_execute_async", "{}", "command");
  expect_invalid_args(j, "console_execute_async", R"({"command":""})",
                      "command");
  expect_invalid_args(j, "console_execute_async", R"({"command":42})",
                      "command");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"echo","args":"a b"})", "args");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"echo","args":[1,2]})", "args");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"echo","options":{"shell":"yes"}})",
                      "shell");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"echo","options":{"sessionId":5}})",
                      "sessionId");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"echo","options":{"environment":{"A":5}}})",
                      "environment");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"echo","options":{"environment":["A=1"]}})",
                      "environment");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"echo","options":{"tags":{"a":{"b":1}}}})",
                      "tags");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"echo","options":{"tags":{"a":[1]}}})",
                      "tags");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"echo","options":"fast"})", "options");
  EXPECT_EQ(total_jobs(j), 0) << "rejected requests must not create jobs";
}

TEST(Hardening, NulBytesInStrings) {
  jobd_process j;
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"echo","args":["a\u0000b"]})", "args");
  expect_invalid_args(j, "console_execute_async", R"({"command":"ec\u0000ho"})",
                      "command");
  expect_invalid_args(
    j, "console_execute_async",
    R"({"command":"echo","options":{"environment":{"A":"x\u0000y"}}})",
    "environment");
  expect_invalid_args(
    j, "console_execute_async",
    R"({"command":"echo","options":{"environment":{"A\u0000B":"x"}}})",
    "environment");
  expect_invalid_args(
    j, "console_execute_async",
    R"({"command":"pwd","options":{"workingDirectory":"/tmp\u0000/etc"}})",
    "workingDirectory");
  expect_invalid_args(
    j, "console_execute_async",
    R"({"command":"echo","options":{"sessionId":"a\u0000b"}})", "sessionId");
  expect_invalid_args(
    j, "console_execute_async",
    R"({"command":"echo $X","options":{"shell":true,"environment":{"X":"\u0000"}}})",
    "environment");
  EXPECT_EQ(total_jobs(j), 0);
}

TEST(Hardening, EnvironmentNames) {
  jobd_process j;
  expect_invalid_args(
    j, "console_execute_async",
    R"({"command":"env","options":{"environment":{"A=B":"x"}}})",
    "environment");
  expect_invalid_args(
    j, "console_execute_async",
    R"({"command":"env","options":{"environment":{"=A":"x"}}})", "environment");
  expect_invalid_args(j, "console_execute_async",
                      R"({"command":"env","options":{"environment":{"":"x"}}})",
                      "environment");
  EXPECT_EQ(total_jobs(j), 0);
  // A value may contain '='.
  auto id = j.submit_sh("printf '%s' \"$JOBD_IT_EQ\"",
                        R"({"environment":{"JOBD_IT_EQ":"a=b=c"}})");
  j.wait_terminal(id);
  EXPECT_EQ(j.output_text(id), "a=b=c");
}

TEST(Hardening, DeepNesting) {
  jobd_process j;
  const int depth = 100000;
  // Unbalanced: a parse error.
  expect_rpc_error(j, std::string(depth, '['), {-32700, -32600});
  // Balanced but absurd: not a request.
  expect_rpc_error(j, std::string(depth, '[') + std::string(depth, ']'),
                   {-32700, -32600});
  // Deep inside an otherwise valid request.
  std::string deep = "{\"jsonrpc\":\"2.0\",\"id\":\"deep\",\"method\":\"tools/"
                     "call\",\"params\":{\"name\":\"console_list_jobs\","
                     "\"arguments\":{\"options\":{\"tags\":{\"x\":"
                     + std::string(depth, '[') + std::string(depth, ']')
                     + "}}}}}";
  ASSERT_TRUE(j.send_line(deep));
  auto doc = j.read_message(5000);
  ASSERT_TRUE(doc) << "no reply to a deeply nested request";
  auto* deep_err = at(*doc, "result.isError");
  EXPECT_TRUE(has(*doc, "error")
              || (deep_err && deep_err->IsBool() && deep_err->GetBool()))
    << "a tag value that is an array must be rejected: "
    << to_json(*doc).substr(0, 300);
  auto ping = j.call("ping");
  ASSERT_TRUE(ping);
  std::string deep_obj;
  for (int i = 0; i < depth; ++i)
    deep_obj += "{\"a\":";
  deep_obj += "1";
  deep_obj += std::string(depth, '}');
  // Valid JSON, just deep: an error or the ping's result, and serving goes on.
  ASSERT_TRUE(j.send_line(
    "{\"jsonrpc\":\"2.0\",\"id\":\"o\",\"method\":\"ping\",\"params\":"
    + deep_obj + "}"));
  doc = j.read_message(5000);
  ASSERT_TRUE(doc) << "no reply to a deeply nested ping";
  EXPECT_EQ(to_json((*doc)["id"]), "\"o\"");
  ping = j.call("ping");
  ASSERT_TRUE(ping);
}

TEST(Hardening, LineOverMaximumSize) {
  jobd_options o;
  o.args = {"--max-line-bytes", "1000000"};
  jobd_process j(o);
  auto rss0 = vm_rss_kib(j.pid());
  std::string big = "{\"jsonrpc\":\"2.0\",\"id\":\"big\",\"method\":\"ping\","
                    "\"params\":{\"x\":\""
                    + std::string(2000000, 'a') + "\"}}";
  expect_rpc_error(j, big, {-32600, -32700});
  // Twenty more: memory must not grow with them.
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(j.send_line(big));
  for (int i = 0; i < 20; ++i) {
    auto doc = j.read_message(5000);
    ASSERT_TRUE(doc);
    EXPECT_TRUE(has(*doc, "error"));
  }
  auto ping = j.call("ping");
  ASSERT_TRUE(ping);
  auto rss1 = vm_rss_kib(j.pid());
  if (!under_asan) {
    EXPECT_LT(rss1 - rss0, 100 * 1024)
      << "jobd grew by " << (rss1 - rss0) << " KiB";
  }
  // A line just under the limit is still served.
  std::string ok = "{\"jsonrpc\":\"2.0\",\"id\":\"ok\",\"method\":\"ping\","
                   "\"params\":{\"x\":\""
                   + std::string(900000, 'a') + "\"}}";
  ASSERT_TRUE(j.send_line(ok));
  auto doc = j.read_message(5000);
  ASSERT_TRUE(doc);
  EXPECT_TRUE(has(*doc, "result")) << to_json(*doc).substr(0, 300);
}

TEST(Hardening, LineOverMaximumSizeWithoutNewlineForAWhile) {
  // An endless line must be rejected without holding it all: send 50 MB in
  // pieces against a 1 MB limit, then a newline and a ping.
  jobd_options o;
  o.args = {"--max-line-bytes", "1000000"};
  jobd_process j(o);
  std::string piece(1 << 20, 'z');
  const long rss0 = vm_rss_kib(j.pid());
  long max_rss = rss0;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(j.send_raw(piece));
    if (i % 10 == 0)
      max_rss = std::max(max_rss, vm_rss_kib(j.pid()));
  }
  ASSERT_TRUE(j.send_raw("\n"));
  auto doc = j.read_message(5000);
  ASSERT_TRUE(doc);
  EXPECT_TRUE(has(*doc, "error"));
  auto ping = j.call("ping");
  ASSERT_TRUE(ping);
  max_rss = std::max(max_rss, vm_rss_kib(j.pid()));
  if (!under_asan) {
    EXPECT_LT(max_rss - rss0, 30 * 1024)
      << "jobd seems to hold the oversized line (VmRSS " << rss0 << " -> "
      << max_rss << " KiB)";
  }
}

TEST(Hardening, InvalidUtf8InRequest) {
  jobd_process j;
  expect_rpc_error(j,
                   "{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"ping\","
                   "\"params\":{\"x\":\"\xff\xfe\"}}",
                   {-32700, -32600});
  // Inside tool arguments: rejected, no job.
  ASSERT_TRUE(j.send_line("{\"jsonrpc\":\"2.0\",\"id\":22,\"method\":\"tools/"
                          "call\",\"params\":{\"name\":"
                          "\"console_execute_async\",\"arguments\":{"
                          "\"command\":\"echo\",\"args\":[\"\xc3\x28\"]}}}"));
  auto doc = j.read_message(3000);
  ASSERT_TRUE(doc);
  auto* code = at(*doc, "error.code");
  auto* is_err = at(*doc, "result.isError");
  EXPECT_TRUE((code
               && (code->GetInt() == -32700 || code->GetInt() == -32600
                   || code->GetInt() == -32602))
              || (is_err && is_err->IsBool() && is_err->GetBool()))
    << to_json(*doc);
  // Lone surrogate escapes are not valid text either.
  ASSERT_TRUE(j.send_line(
    R"({"jsonrpc":"2.0","id":23,"method":"tools/call","params":{"name":"console_execute_async","arguments":{"command":"echo","args":["\ud800"]}}})"));
  doc = j.read_message(3000);
  ASSERT_TRUE(doc);
  code = at(*doc, "error.code");
  is_err = at(*doc, "result.isError");
  EXPECT_TRUE((code && code->IsInt())
              || (is_err && is_err->IsBool() && is_err->GetBool()))
    << to_json(*doc);
  EXPECT_EQ(total_jobs(j), 0);
}

TEST(Hardening, UnknownArgumentsAreRejectedOrIgnoredButNeverCrash) {
  jobd_process j;
  auto r = j.tool("console_get_job_metrics", R"({"bogus":1})");
  ASSERT_TRUE(r.response);
  EXPECT_FALSE(r.rpc_error && r.rpc_code != -32602) << r.dump();
  auto ping = j.call("ping");
  ASSERT_TRUE(ping);
}

TEST(Hardening, GarbageStormThenNormalWork) {
  jobd_process j;
  std::vector<std::string> lines = {
    "{",
    "[]",
    "{\"jsonrpc\":\"2.0\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"x\"}",
    "\xff\xff\xff",
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/"
    "call\",\"params\":{\"name\":\"console_execute_async\"}}",
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/"
    "call\",\"params\":{\"name\":\"console_execute_async\",\"arguments\":null}"
    "}",
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\",\"params\":{}}",
    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/"
    "list\",\"params\":{\"cursor\":42}}",
  };
  for (int round = 0; round < 20; ++round)
    for (auto& l : lines)
      ASSERT_TRUE(j.send_line(l));
  auto id = j.submit_sh("echo still-working");
  j.wait_terminal(id);
  EXPECT_EQ(j.output_text(id), "still-working\n");
}
