// JSON-RPC framing and the MCP lifecycle.
#include "test_util.hpp"

#include "protocol/jsonrpc.hpp"

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

const std::string ping = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";

} // namespace

TEST(jsonrpc, parse_error_has_null_id) {
  mcp_session s;
  auto doc = reply(s, "{not json");
  EXPECT_EQ(doc["error"]["code"].GetInt(), -32700);
  EXPECT_TRUE(doc["id"].IsNull());
  EXPECT_STREQ(doc["jsonrpc"].GetString(), "2.0");
  EXPECT_EQ(error_code(s, ""), -32700);
  EXPECT_EQ(error_code(s, R"({"jsonrpc":"2.0","id":1,"method":"ping"} x)"),
            -32700);
}

TEST(jsonrpc, invalid_utf8_is_parse_error) {
  mcp_session s;
  std::string line = R"({"jsonrpc":"2.0","id":1,"method":"p)";
  line += "\xff\xfe";
  line += R"("})";
  EXPECT_EQ(error_code(s, line), -32700);
  std::string overlong = R"({"jsonrpc":"2.0","id":"\xC0\xAF","method":"ping"})";
  EXPECT_EQ(error_code(s, overlong), -32700);
}

TEST(jsonrpc, deep_nesting_is_parse_error) {
  mcp_session s;
  EXPECT_EQ(error_code(s, std::string(200000, '[')), -32700);
  EXPECT_EQ(error_code(s, std::string(200000, '{')), -32700);
  // Closed deep nesting parses but is a batch.
  auto deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(error_code(s, deep), -32600);
  EXPECT_EQ(error_code(s, ping), 0);
}

TEST(jsonrpc, invalid_requests) {
  mcp_session s;
  EXPECT_EQ(error_code(s, "42"), -32600);
  EXPECT_EQ(error_code(s, R"("str")"), -32600);
  EXPECT_EQ(error_code(s, "null"), -32600);
  auto batch = reply(s, "[" + ping + "]");
  EXPECT_EQ(batch["error"]["code"].GetInt(), -32600);
  EXPECT_STREQ(batch["error"]["message"].GetString(),
               "batches are not supported");
  EXPECT_EQ(error_code(s, "[]"), -32600);
  EXPECT_EQ(error_code(s, R"({"id":1,"method":"ping"})"), -32600);
  EXPECT_EQ(error_code(s, R"({"jsonrpc":"1.0","id":1,"method":"ping"})"),
            -32600);
  EXPECT_EQ(error_code(s, R"({"jsonrpc":2.0,"id":1,"method":"ping"})"), -32600);
  EXPECT_EQ(error_code(s, R"({"jsonrpc":"2.0","id":1})"), -32600);
  EXPECT_EQ(error_code(s, R"({"jsonrpc":"2.0","id":1,"method":7})"), -32600);
  EXPECT_EQ(error_code(s, R"({"jsonrpc":"2.0","id":1,"method":"ping",)"
                          R"("params":[1]})"),
            -32600);
  EXPECT_EQ(error_code(s, R"({"jsonrpc":"2.0","id":1,"method":"ping",)"
                          R"("params":"x"})"),
            -32600);
}

TEST(jsonrpc, invalid_ids) {
  mcp_session s;
  for (auto id : {"null", "{}", "[1]", "true", "1.5", "1e400x", "2.0",
                  "123456789012345678901234567890"}) {
    auto line
      = std::string(R"({"jsonrpc":"2.0","id":)") + id + R"(,"method":"ping"})";
    auto out = feed(s, line);
    ASSERT_EQ(out.replies.size(), 1u) << id;
    auto doc = parse(out.replies[0]);
    int code = doc["error"]["code"].GetInt();
    EXPECT_TRUE(code == -32600 || code == -32700) << id;
    EXPECT_TRUE(doc["id"].IsNull()) << id;
  }
}

TEST(jsonrpc, invalid_request_echoes_valid_id) {
  mcp_session s;
  auto out = feed(s, R"({"jsonrpc":"1.0","id":"abc","method":"ping"})");
  ASSERT_EQ(out.replies.size(), 1u);
  EXPECT_NE(out.replies[0].find(R"("id":"abc")"), std::string::npos);
}

TEST(jsonrpc, ids_are_echoed_exactly) {
  mcp_session s;
  for (std::string id : {R"("0")", "0", R"("abc")", "9007199254740993", "-5",
                         "18446744073709551615", R"("a\"b")", R"("")"}) {
    auto out
      = feed(s, R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":"ping"})");
    ASSERT_EQ(out.replies.size(), 1u);
    EXPECT_EQ(out.replies[0],
              R"({"jsonrpc":"2.0","id":)" + id + R"(,"result":{}})");
  }
}

TEST(jsonrpc, dispatched_id_is_raw_json) {
  mcp_session s;
  auto out = feed(s, tools_call("console_get_job_status", R"({"jobId":"j"})",
                                "9007199254740993"));
  auto call = std::get_if<dispatch_call>(&out.act);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->id, "9007199254740993");
  out = feed(
    s, tools_call("console_get_job_status", R"({"jobId":"j"})", R"("0")"));
  call = std::get_if<dispatch_call>(&out.act);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->id, R"("0")");
  EXPECT_EQ(std::get<std::string>(call->request), "j");
}

TEST(jsonrpc, notifications_are_never_answered) {
  mcp_session s;
  for (auto line : {
         R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
         R"({"jsonrpc":"2.0","method":"no/such/method"})",
         R"({"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}})",
         R"({"jsonrpc":"2.0","method":"ping","params":[1]})",
         R"({"jsonrpc":"1.0","method":"ping"})",
         R"({"method":42})",
         R"({"jsonrpc":"2.0","method":"notifications/cancelled"})",
         R"({"jsonrpc":"2.0","method":"notifications/cancelled",)"
         R"("params":{"requestId":{}}})",
       }) {
    auto out = feed(s, line);
    EXPECT_TRUE(out.replies.empty()) << line;
    EXPECT_TRUE(std::holds_alternative<std::monostate>(out.act)) << line;
  }
  EXPECT_TRUE(s.client_ready());
}

TEST(jsonrpc, client_responses_are_ignored) {
  mcp_session s;
  for (auto line : {R"({"jsonrpc":"2.0","id":5,"result":{}})",
                    R"({"jsonrpc":"2.0","id":5,"error":{"code":1}})",
                    R"({"jsonrpc":"2.0","id":null,"error":{"code":1}})"}) {
    auto out = feed(s, line);
    EXPECT_TRUE(out.replies.empty()) << line;
  }
}

TEST(jsonrpc, cancelled_notification_yields_cancel_request) {
  mcp_session s;
  auto out = feed(s, R"({"jsonrpc":"2.0","method":"notifications/cancelled",)"
                     R"("params":{"requestId":"r1","reason":"x"}})");
  EXPECT_TRUE(out.replies.empty());
  auto cancel = std::get_if<cancel_request>(&out.act);
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(cancel->id, R"("r1")");
  out = feed(s, R"({"jsonrpc":"2.0","method":"notifications/cancelled",)"
                R"("params":{"requestId":17}})");
  cancel = std::get_if<cancel_request>(&out.act);
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(cancel->id, "17");
}

TEST(jsonrpc, unknown_method) {
  mcp_session s;
  auto doc = reply(s, R"({"jsonrpc":"2.0","id":3,"method":"prompts/list"})");
  EXPECT_EQ(doc["error"]["code"].GetInt(), -32601);
  EXPECT_EQ(doc["id"].GetInt(), 3);
}

TEST(jsonrpc, bad_line_then_good_line) {
  mcp_session s;
  EXPECT_EQ(error_code(s, "}{"), -32700);
  EXPECT_EQ(error_code(s, std::string("\x80\x81", 2)), -32700);
  EXPECT_EQ(error_code(s, "[1,2]"), -32600);
  auto doc = reply(s, ping);
  EXPECT_TRUE(doc["result"].IsObject());
  EXPECT_EQ(doc["id"].GetInt(), 1);
}

TEST(jsonrpc, tools_call_invalid_params) {
  mcp_session s;
  auto call = [&](const std::string& params) {
    return error_code(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/call",)"
                         R"("params":)"
                           + params + "}");
  };
  EXPECT_EQ(call("{}"), -32602);
  EXPECT_EQ(call(R"({"name":7})"), -32602);
  EXPECT_EQ(call(R"({"name":"no_such_tool"})"), -32602);
  EXPECT_EQ(call(R"({"name":"console_get_job_metrics","arguments":[]})"),
            -32602);
  EXPECT_EQ(call(R"({"name":"console_get_job_metrics","arguments":"x"})"),
            -32602);
  EXPECT_EQ(error_code(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/call"})"),
            -32602);
  // No arguments at all is an empty object.
  auto out = feed(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/call",)"
                     R"("params":{"name":"console_get_job_metrics"}})");
  EXPECT_TRUE(out.replies.empty());
  EXPECT_TRUE(std::holds_alternative<dispatch_call>(out.act));
}

TEST(jsonrpc, progress_token_is_raw) {
  mcp_session s;
  auto out = feed(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/call",)"
                     R"("params":{"name":"console_get_job_metrics",)"
                     R"("arguments":{},"_meta":{"progressToken":"tok"}}})");
  auto call = std::get_if<dispatch_call>(&out.act);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->progress_token, R"("tok")");
  out = feed(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/call",)"
                R"("params":{"name":"console_get_job_metrics",)"
                R"("_meta":{"progressToken":42}}})");
  call = std::get_if<dispatch_call>(&out.act);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->progress_token, "42");
  out = feed(s, tools_call("console_get_job_metrics", "{}"));
  call = std::get_if<dispatch_call>(&out.act);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->progress_token, "");
}

class initialize_version : public ::testing::TestWithParam<std::string> {};

TEST_P(initialize_version, is_echoed) {
  mcp_session s;
  auto doc = reply(s, R"({"jsonrpc":"2.0","id":0,"method":"initialize",)"
                      R"("params":{"protocolVersion":")"
                        + GetParam()
                        + R"(","capabilities":{},)"
                          R"("clientInfo":{"name":"t","version":"1"}}})");
  auto& r = doc["result"];
  EXPECT_EQ(r["protocolVersion"].GetString(), GetParam());
  EXPECT_EQ(s.protocol_version(), GetParam());
  EXPECT_TRUE(s.initialized());
}

INSTANTIATE_TEST_SUITE_P(all, initialize_version,
                         ::testing::Values("2024-11-05", "2025-03-26",
                                           "2025-06-18", "2025-11-25"));

TEST(lifecycle, initialize_unknown_version_gets_newest) {
  mcp_session s({"jobd", "9.9.9"});
  EXPECT_FALSE(s.initialized());
  auto doc = reply(s, R"({"jsonrpc":"2.0","id":0,"method":"initialize",)"
                      R"("params":{"protocolVersion":"2099-01-01"}})");
  auto& r = doc["result"];
  EXPECT_STREQ(r["protocolVersion"].GetString(), "2025-11-25");
  EXPECT_FALSE(r["capabilities"]["tools"]["listChanged"].GetBool());
  EXPECT_TRUE(r["capabilities"]["logging"].IsObject());
  EXPECT_STREQ(r["serverInfo"]["name"].GetString(), "jobd");
  EXPECT_STREQ(r["serverInfo"]["version"].GetString(), "9.9.9");
  EXPECT_STREQ(r["serverInfo"]["title"].GetString(), "jobd background jobs");
  std::string instr = r["instructions"].GetString();
  EXPECT_NE(instr.find("console_wait_job"), std::string::npos);
  EXPECT_NE(instr.find("nextSince"), std::string::npos);
  auto doc2 = reply(s, R"({"jsonrpc":"2.0","id":1,"method":"initialize"})");
  EXPECT_STREQ(doc2["result"]["protocolVersion"].GetString(), "2025-11-25");
}

TEST(lifecycle, ping_and_requests_before_initialize) {
  mcp_session s;
  auto doc = reply(s, R"({"jsonrpc":"2.0","id":"p","method":"ping"})");
  EXPECT_TRUE(doc["result"].IsObject());
  EXPECT_EQ(doc["result"].MemberCount(), 0u);
  auto out = feed(s, tools_call("console_get_job_status", R"({"jobId":"x"})"));
  EXPECT_TRUE(std::holds_alternative<dispatch_call>(out.act));
}

TEST(lifecycle, logging_set_level) {
  mcp_session s;
  EXPECT_EQ(s.logging_level(), log_level::info);
  const char* levels[] = {"debug", "info",     "notice", "warning",
                          "error", "critical", "alert",  "emergency"};
  for (size_t i = 0; i < 8; ++i) {
    auto doc
      = reply(s, R"({"jsonrpc":"2.0","id":1,"method":"logging/setLevel",)"
                 R"("params":{"level":")"
                   + std::string(levels[i]) + R"("}})");
    EXPECT_TRUE(doc["result"].IsObject()) << levels[i];
    EXPECT_EQ(s.logging_level(), static_cast<log_level>(i));
    EXPECT_STREQ(to_string(s.logging_level()), levels[i]);
  }
  EXPECT_TRUE(s.should_log(log_level::emergency));
  EXPECT_FALSE(s.should_log(log_level::alert));
  auto set = [&](const std::string& params) {
    return error_code(s, R"({"jsonrpc":"2.0","id":1,)"
                         R"("method":"logging/setLevel","params":)"
                           + params + "}");
  };
  EXPECT_EQ(set(R"({"level":"verbose"})"), -32602);
  EXPECT_EQ(set(R"({"level":3})"), -32602);
  EXPECT_EQ(set("{}"), -32602);
  EXPECT_EQ(error_code(s, R"({"jsonrpc":"2.0","id":1,)"
                          R"("method":"logging/setLevel"})"),
            -32602);
  EXPECT_EQ(s.logging_level(), log_level::emergency);
}

TEST(notifications, render_lines) {
  auto n = parse(render_notification("notifications/tools/list_changed", ""));
  EXPECT_STREQ(n["method"].GetString(), "notifications/tools/list_changed");
  EXPECT_FALSE(n.HasMember("params"));
  EXPECT_FALSE(n.HasMember("id"));
  auto p = parse(render_progress(R"("tok")", 3, 10, "three"));
  EXPECT_STREQ(p["method"].GetString(), "notifications/progress");
  EXPECT_STREQ(p["params"]["progressToken"].GetString(), "tok");
  EXPECT_EQ(p["params"]["progress"].GetDouble(), 3.0);
  EXPECT_EQ(p["params"]["total"].GetDouble(), 10.0);
  EXPECT_STREQ(p["params"]["message"].GetString(), "three");
  auto p2 = parse(render_progress("7", 1));
  EXPECT_EQ(p2["params"]["progressToken"].GetInt(), 7);
  EXPECT_FALSE(p2["params"].HasMember("total"));
  auto m = parse(
    render_log_message(log_level::warning, "scheduler", R"({"msg":"x"})"));
  EXPECT_STREQ(m["method"].GetString(), "notifications/message");
  EXPECT_STREQ(m["params"]["level"].GetString(), "warning");
  EXPECT_STREQ(m["params"]["logger"].GetString(), "scheduler");
  EXPECT_STREQ(m["params"]["data"]["msg"].GetString(), "x");
  auto e = parse(render_rpc_error("", -32603, "boom"));
  EXPECT_TRUE(e["id"].IsNull());
  EXPECT_EQ(e["error"]["code"].GetInt(), -32603);
  EXPECT_STREQ(e["error"]["message"].GetString(), "boom");
  auto e2 = parse(render_rpc_error(R"("x")", rpc_code::internal_error, "b"));
  EXPECT_STREQ(e2["id"].GetString(), "x");
}
