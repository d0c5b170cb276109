// MCP resources, subscriptions and logging opt-in, as raw JSON-RPC through
// mcp_session.
#include "protocol/resources.hpp"
#include "test_util.hpp"

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

std::string request(const std::string& method, const std::string& params,
                    int id = 1) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")"
         + method + R"(","params":)" + params + "}";
}

} // namespace

TEST(resources, job_uris) {
  std::string id;
  bool output = true;
  ASSERT_TRUE(parse_job_uri("job://job-1-abcde", id, output));
  EXPECT_EQ(id, "job-1-abcde");
  EXPECT_FALSE(output);
  ASSERT_TRUE(parse_job_uri("job://job-1-abcde/output", id, output));
  EXPECT_EQ(id, "job-1-abcde");
  EXPECT_TRUE(output);
  for (auto bad : {"job://", "job:///output", "file:///etc/passwd", "job://a/b",
                   "job://a/output/x", "JOB://a", ""})
    EXPECT_FALSE(parse_job_uri(bad, id, output)) << bad;
  EXPECT_EQ(output_uri("job-2-x"), "job://job-2-x/output");
}

TEST(resources, initialize_declares_resources) {
  mcp_session s;
  auto doc
    = reply(s, request("initialize", R"({"protocolVersion":"2025-06-18"})"));
  auto& caps = doc["result"]["capabilities"];
  EXPECT_TRUE(caps["resources"]["subscribe"].GetBool());
  EXPECT_TRUE(caps["resources"]["listChanged"].GetBool());
  EXPECT_TRUE(caps.HasMember("logging"));
}

TEST(resources, templates_list) {
  mcp_session s;
  auto doc = reply(s, request("resources/templates/list", "{}"));
  auto& t = doc["result"]["resourceTemplates"];
  ASSERT_EQ(t.Size(), 2u);
  EXPECT_STREQ(t[0]["uriTemplate"].GetString(), "job://{jobId}");
  EXPECT_STREQ(t[1]["uriTemplate"].GetString(), "job://{jobId}/output");
  EXPECT_STREQ(t[1]["mimeType"].GetString(), "text/plain");
}

TEST(resources, list_and_read_are_dispatched) {
  mcp_session s;
  auto out = feed(s, request("resources/list", R"({"cursor":"c9"})", 4));
  EXPECT_TRUE(out.replies.empty());
  auto list = std::get_if<resource_list_call>(&out.act);
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(list->id, "4");
  EXPECT_EQ(list->cursor, "c9");
  EXPECT_EQ(error_code(s, request("resources/list", R"({"cursor":7})")),
            -32602);
  out = feed(s, request("resources/read", R"({"uri":"job://job-3-q/output"})"));
  auto read = std::get_if<resource_read_call>(&out.act);
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->job_id, "job-3-q");
  EXPECT_TRUE(read->output);
  EXPECT_EQ(read->uri, "job://job-3-q/output");
}

TEST(resources, unknown_resources_are_32002_and_bad_params_32602) {
  mcp_session s;
  EXPECT_EQ(error_code(s, request("resources/read", R"({"uri":"file:///x"})")),
            -32002);
  EXPECT_EQ(
    error_code(s, request("resources/subscribe", R"({"uri":"http://x"})")),
    -32002);
  EXPECT_EQ(error_code(s, request("resources/read", R"({"uri":3})")), -32602);
  EXPECT_EQ(error_code(s, request("resources/read", "{}")), -32602);
}

TEST(resources, subscribe_and_unsubscribe) {
  mcp_session s;
  EXPECT_FALSE(s.has_subscriptions());
  auto doc = reply(s, request("resources/subscribe", R"({"uri":"job://j1"})"));
  EXPECT_TRUE(doc["result"].IsObject());
  EXPECT_TRUE(s.subscribed("job://j1"));
  EXPECT_FALSE(s.subscribed("job://j1/output"));
  reply(s, request("resources/unsubscribe", R"({"uri":"job://j1"})"));
  EXPECT_FALSE(s.subscribed("job://j1"));
  EXPECT_FALSE(s.has_subscriptions());
}

TEST(resources, logging_is_opt_in) {
  mcp_session s;
  EXPECT_FALSE(s.should_log(log_level::emergency));
  reply(s, request("logging/setLevel", R"({"level":"warning"})"));
  EXPECT_TRUE(s.should_log(log_level::warning));
  EXPECT_TRUE(s.should_log(log_level::error));
  EXPECT_FALSE(s.should_log(log_level::info));
}

TEST(resources, rendering) {
  list_page page;
  job_info job;
  job.id = "job-1-a";
  job.command = "echo";
  job.args = {"hi"};
  page.jobs.push_back(job);
  page.next_cursor = "c1";
  auto doc = parse(render_resource_list("2", page));
  auto& res = doc["result"]["resources"];
  ASSERT_EQ(res.Size(), 2u);
  EXPECT_STREQ(res[0]["uri"].GetString(), "job://job-1-a");
  EXPECT_STREQ(res[0]["mimeType"].GetString(), "application/json");
  EXPECT_STREQ(res[1]["uri"].GetString(), "job://job-1-a/output");
  EXPECT_STREQ(doc["result"]["nextCursor"].GetString(), "c1");

  output_page out;
  out.chunks.push_back({1, 0, stream_kind::out, "a\n"});
  out.chunks.push_back({2, 0, stream_kind::err, "b\n"});
  doc = parse(render_resource_output("3", "job://job-1-a/output", out));
  auto& c = doc["result"]["contents"][0];
  EXPECT_STREQ(c["text"].GetString(), "a\nb\n");
  EXPECT_STREQ(c["uri"].GetString(), "job://job-1-a/output");

  doc = parse(render_resource_status("4", "job://job-1-a", job));
  auto status = parse(doc["result"]["contents"][0]["text"].GetString());
  EXPECT_STREQ(status["job"]["id"].GetString(), "job-1-a");

  doc = parse(render_resource_updated("job://job-1-a"));
  EXPECT_STREQ(doc["method"].GetString(), "notifications/resources/updated");
  EXPECT_FALSE(doc.HasMember("id"));
}
