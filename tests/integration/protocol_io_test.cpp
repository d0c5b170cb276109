// MCP over stdio: lifecycle, tools/list, ids, JSON-RPC errors.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <unistd.h>

using namespace jobd_it;

namespace {

jobd_options raw() {
  jobd_options o;
  o.handshake = false;
  return o;
}

const char* const all_versions[]
  = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};

} // namespace

TEST(ProtocolIo, InitializeEchoesEachSupportedVersion) {
  for (auto* v : all_versions) {
    SCOPED_TRACE(v);
    jobd_process j(raw());
    auto doc = j.call("initialize", std::string("{\"protocolVersion\":\"") + v
                                      + "\",\"capabilities\":{},\"clientInfo\":"
                                        "{\"name\":\"t\",\"version\":\"1\"}}");
    ASSERT_TRUE(doc);
    ASSERT_TRUE(has(*doc, "result")) << to_json(*doc);
    EXPECT_EQ(str(*doc, "result.protocolVersion"), v);
    EXPECT_EQ(str(*doc, "result.serverInfo.name"), "jobd");
    EXPECT_FALSE(str(*doc, "result.serverInfo.version").empty());
    auto* tools = at(*doc, "result.capabilities.tools");
    ASSERT_TRUE(tools && tools->IsObject()) << to_json(*doc);
  }
}

TEST(ProtocolIo, InitializeUnknownVersionAnswersNewest) {
  for (const char* v : {"1999-01-01", "2025-11-26", "garbage"}) {
    SCOPED_TRACE(v);
    jobd_process j(raw());
    auto doc = j.call("initialize", std::string("{\"protocolVersion\":\"") + v
                                      + "\",\"capabilities\":{},\"clientInfo\":"
                                        "{\"name\":\"t\",\"version\":\"1\"}}");
    ASSERT_TRUE(doc);
    ASSERT_TRUE(has(*doc, "result")) << to_json(*doc);
    EXPECT_EQ(str(*doc, "result.protocolVersion"), "2025-11-25");
  }
}

TEST(ProtocolIo, ServerVersionMatchesBuild) {
  jobd_process j(raw());
  auto doc = j.call(
    "initialize",
    R"({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(str(*doc, "result.serverInfo.version"), JOBD_VERSION);
}

TEST(ProtocolIo, PingAnswersEmptyObject) {
  jobd_process j;
  auto doc = j.call("ping");
  ASSERT_TRUE(doc);
  auto* result = at(*doc, "result");
  ASSERT_TRUE(result && result->IsObject()) << to_json(*doc);
  EXPECT_EQ(result->MemberCount(), 0u);
  // With an empty params object too.
  doc = j.call("ping", "{}");
  ASSERT_TRUE(doc);
  EXPECT_TRUE(has(*doc, "result")) << to_json(*doc);
}

// Only the stdout sink writes the protocol channel: fd 1 points at stderr,
// so a library that prints on stdout (CAF's "*** unhandled down message")
// cannot put a line between two replies.
TEST(ProtocolIo, StdoutOfTheProcessIsNotTheProtocolChannel) {
  jobd_process j;
  auto link = [&](int fd) {
    auto path
      = "/proc/" + std::to_string(j.pid()) + "/fd/" + std::to_string(fd);
    char buf[256];
    auto n = ::readlink(path.c_str(), buf, sizeof buf);
    return n < 0 ? std::string{} : std::string(buf, static_cast<size_t>(n));
  };
  auto out = link(1);
  if (out.empty())
    GTEST_SKIP() << "cannot read jobd's /proc/<pid>/fd (not root?)";
  EXPECT_EQ(out, link(2));
  auto doc = j.call("ping");
  ASSERT_TRUE(doc);
  EXPECT_TRUE(has(*doc, "result")) << to_json(*doc);
}

TEST(ProtocolIo, PingBeforeInitializeIsAnswered) {
  jobd_process j(raw());
  auto doc = j.call("ping");
  ASSERT_TRUE(doc);
  EXPECT_TRUE(has(*doc, "result")) << to_json(*doc);
}

TEST(ProtocolIo, ToolsListHasEveryToolWithSchemas) {
  jobd_process j;
  std::set<std::string> names;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    auto doc = j.call("tools/list",
                      cursor.empty() ? "{}" : "{\"cursor\":" + q(cursor) + "}");
    ASSERT_TRUE(doc);
    auto* tools = at(*doc, "result.tools");
    ASSERT_TRUE(tools && tools->IsArray()) << to_json(*doc);
    for (auto& t : tools->GetArray()) {
      auto name = str(t, "name");
      SCOPED_TRACE(name);
      EXPECT_TRUE(names.insert(name).second) << "duplicate tool " << name;
      EXPECT_FALSE(str(t, "description").empty());
      auto* in = at(t, "inputSchema");
      ASSERT_TRUE(in && in->IsObject());
      EXPECT_EQ(str(*in, "type"), "object");
      auto* out = at(t, "outputSchema");
      ASSERT_TRUE(out && out->IsObject());
      EXPECT_EQ(str(*out, "type"), "object");
      // Both schemas must compile.
      rapidjson::Document copy;
      copy.CopyFrom(*in, copy.GetAllocator());
      rapidjson::SchemaDocument sd(copy);
      (void) sd;
      // Every input property is described.
      auto* props = at(*in, "properties");
      if (props && props->IsObject()) {
        for (auto& p : props->GetObject()) {
          EXPECT_TRUE(p.value.IsObject() && p.value.HasMember("description"))
            << "property " << p.name.GetString() << " of " << name
            << " has no description";
        }
      }
    }
    auto* next = at(*doc, "result.nextCursor");
    if (next == nullptr || !next->IsString())
      break;
    cursor = next->GetString();
  }
  std::set<std::string> expected{
    "console_execute_async",   "console_get_job_status",
    "console_get_job_output",  "console_cancel_job",
    "console_list_jobs",       "console_get_job_metrics",
    "console_cleanup_jobs",    "console_wait_job",
    "console_send_input",      "console_signal_job",
    "console_pause_job",       "console_resume_job",
    "console_resize_terminal", "console_restart_job",
    "console_create_schedule", "console_list_schedules",
    "console_update_schedule", "console_delete_schedule",
    "console_save_template",   "console_list_templates",
    "console_delete_template"};
  EXPECT_EQ(names, expected);
}

TEST(ProtocolIo, ToolAnnotations) {
  jobd_process j;
  auto doc = j.call("tools/list", "{}");
  ASSERT_TRUE(doc);
  auto* tools = at(*doc, "result.tools");
  ASSERT_TRUE(tools && tools->IsArray());
  for (auto& t : tools->GetArray()) {
    auto name = str(t, "name");
    SCOPED_TRACE(name);
    if (name == "console_get_job_status" || name == "console_get_job_output"
        || name == "console_list_jobs" || name == "console_get_job_metrics") {
      auto* ro = at(t, "annotations.readOnlyHint");
      EXPECT_TRUE(ro && ro->IsBool() && ro->GetBool())
        << to_json(t).substr(0, 300);
    }
    if (name == "console_cancel_job" || name == "console_cleanup_jobs") {
      auto* d = at(t, "annotations.destructiveHint");
      EXPECT_TRUE(d && d->IsBool() && d->GetBool())
        << to_json(t).substr(0, 300);
    }
  }
}

TEST(ProtocolIo, IdsAreEchoedExactly) {
  jobd_process j;
  struct c {
    const char* id;
  } cases[] = {{"\"7\""},
               {"7"},
               {"\"abc\""},
               {"0"},
               {"\"0\""},
               {"-5"},
               {"9007199254740993"},
               {"\"\""},
               {"\"a\\\"b\\u00e9\""}};
  for (auto& k : cases) {
    SCOPED_TRACE(k.id);
    ASSERT_TRUE(j.send_line(std::string("{\"jsonrpc\":\"2.0\",\"id\":") + k.id
                            + ",\"method\":\"ping\"}"));
    auto doc = j.read_message(3000);
    ASSERT_TRUE(doc) << "no reply";
    ASSERT_TRUE(has(*doc, "result")) << to_json(*doc);
    auto expected = parse(k.id);
    EXPECT_TRUE((*doc)["id"] == *expected)
      << "sent " << k.id << " got " << to_json((*doc)["id"]);
    // Type preserved: a string id stays a string.
    EXPECT_EQ((*doc)["id"].IsString(), expected->IsString());
  }
}

TEST(ProtocolIo, UnknownMethodIsMethodNotFound) {
  jobd_process j;
  auto doc = j.call("no/such/method", "{}");
  ASSERT_TRUE(doc);
  EXPECT_EQ(num(*doc, "error.code"), -32601) << to_json(*doc);
  // And the server keeps serving.
  doc = j.call("ping");
  ASSERT_TRUE(doc);
  EXPECT_TRUE(has(*doc, "result"));
}

TEST(ProtocolIo, UnknownToolIsInvalidParams) {
  jobd_process j;
  auto r = j.tool("console_no_such_tool", "{}");
  ASSERT_TRUE(r.response);
  EXPECT_TRUE(r.rpc_error) << r.dump();
  EXPECT_EQ(r.rpc_code, -32602) << r.dump();
}

TEST(ProtocolIo, ToolsCallWithoutNameIsInvalidParams) {
  jobd_process j;
  auto doc = j.call("tools/call", R"({"arguments":{}})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(num(*doc, "error.code"), -32602) << to_json(*doc);
}

TEST(ProtocolIo, MalformedLineThenGoodRequest) {
  jobd_process j;
  ASSERT_TRUE(j.send_line(R"({"jsonrpc":"2.0","id":1,"method":"ping")"));
  ASSERT_TRUE(j.send_line(R"({"jsonrpc":"2.0","id":2,"method":"ping"})"));
  auto first = j.read_message(3000);
  ASSERT_TRUE(first);
  EXPECT_EQ(num(*first, "error.code"), -32700) << to_json(*first);
  EXPECT_TRUE(is_null(*first, "id")) << to_json(*first);
  auto second = j.read_message(3000);
  ASSERT_TRUE(second);
  EXPECT_EQ(to_json((*second)["id"]), "2");
  EXPECT_TRUE(has(*second, "result")) << to_json(*second);
}

TEST(ProtocolIo, GarbageLinesEachAnsweredAndServingContinues) {
  jobd_process j;
  for (const char* bad : {"not json at all", "{", "}",
                          "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}}",
                          "{'jsonrpc':'2.0'}", "\x01\x02"}) {
    SCOPED_TRACE(bad);
    ASSERT_TRUE(j.send_line(bad));
    auto doc = j.read_message(3000);
    ASSERT_TRUE(doc);
    EXPECT_EQ(num(*doc, "error.code"), -32700) << to_json(*doc);
  }
  auto doc = j.call("ping");
  ASSERT_TRUE(doc);
  EXPECT_TRUE(has(*doc, "result"));
}

TEST(ProtocolIo, EmptyAndBlankLinesAreIgnoredOrRejectedButServingContinues) {
  jobd_process j;
  ASSERT_TRUE(j.send_raw("\n\r\n   \n"));
  ASSERT_TRUE(j.send_line(R"({"jsonrpc":"2.0","id":"after","method":"ping"})"));
  // Whatever jobd says about blank lines must be valid JSON-RPC (checked by the
  // harness); the ping must be answered.
  auto doc = j.await_response_raw("\"after\"", 3000);
  ASSERT_TRUE(doc);
  EXPECT_TRUE(has(*doc, "result"));
}

TEST(ProtocolIo, CrLfTerminatedLineIsServed) {
  jobd_process j;
  ASSERT_TRUE(
    j.send_raw("{\"jsonrpc\":\"2.0\",\"id\":31,\"method\":\"ping\"}\r\n"));
  auto doc = j.read_message(3000);
  ASSERT_TRUE(doc);
  EXPECT_EQ(to_json((*doc)["id"]), "31");
  EXPECT_TRUE(has(*doc, "result")) << to_json(*doc);
}

TEST(ProtocolIo, NotificationsAreNeverAnswered) {
  jobd_process j;
  ASSERT_TRUE(
    j.send_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"));
  ASSERT_TRUE(j.send_line(
    R"({"jsonrpc":"2.0","method":"notifications/unknown_thing","params":{}})"));
  ASSERT_TRUE(j.send_line(
    R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":424242}})"));
  ASSERT_TRUE(j.send_line(R"({"jsonrpc":"2.0","method":"ping"})"));
  ASSERT_TRUE(j.send_line(R"({"jsonrpc":"2.0","id":77,"method":"ping"})"));
  auto doc = j.read_message(3000);
  ASSERT_TRUE(doc);
  EXPECT_EQ(to_json((*doc)["id"]), "77")
    << "a notification was answered: " << to_json(*doc);
}

TEST(ProtocolIo, ManyPipelinedRequestsAllAnswered) {
  jobd_process j;
  std::vector<int64_t> ids;
  for (int i = 0; i < 300; ++i)
    ids.push_back(i % 3 == 0 ? j.send_request("ping")
                             : j.send_tool("console_get_job_metrics", "{}"));
  for (auto id : ids) {
    auto doc = j.await_response(id, 5000);
    ASSERT_TRUE(doc) << "no reply to id " << id;
    EXPECT_TRUE(has(*doc, "result"));
  }
}

TEST(ProtocolIo, ToolResultHasTextBlockEqualToStructuredContent) {
  // The harness checks this on every call; make sure one success and one
  // failure go through it.
  jobd_process j;
  auto ok = j.tool("console_get_job_metrics", "{}");
  EXPECT_TRUE(ok.ok()) << ok.dump();
  auto bad = j.tool("console_get_job_status", R"({"jobId":"job-0-nope"})");
  EXPECT_TRUE(bad.is_error) << bad.dump();
}

TEST(ProtocolIo, StdoutCarriesOnlyProtocolEvenWithDebugLogging) {
  jobd_process j(std::vector<std::string>{"--log-level", "debug"});
  auto id = j.submit_sh("echo hello; echo oops >&2");
  j.wait_terminal(id);
  auto doc = j.call("ping");
  ASSERT_TRUE(doc);
  EXPECT_EQ(j.bad_lines(), 0);
}
