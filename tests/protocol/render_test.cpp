// Rendering of results and errors, and the JSON helpers behind them.
#include "test_util.hpp"

#include "protocol/json.hpp"
#include "protocol/render.hpp"
#include "protocol/resources.hpp"
#include "protocol/tools.hpp"

#include <rapidjson/schema.h>

#include <csignal>
#include <limits>

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

constexpr timestamp_ms t0 = 1795861800000; // 2026-11-28T10:30:00.000Z

job_info sample_job() {
  job_info j;
  j.id = "job-1-k3j9a";
  j.kind = "process";
  j.command = "python";
  j.args = {"train.py"};
  j.status = job_status::failed;
  j.session_id = "default";
  j.working_directory = "/srv";
  j.created_at = t0;
  j.started_at = t0 + 5;
  j.finished_at = t0 + 1525;
  j.priority = 5;
  j.timeout_ms = 300000;
  j.tags = {{"model", "\"nlp\""}, {"n", "3"}, {"ok", "true"}};
  j.exit_code = 3;
  j.error = "Exited with code 3";
  j.pid = 41231;
  j.output = {120, 14, 3, 0, 0, 134, 3};
  return j;
}

// Renders through mcp_session and checks the envelope; returns
// structuredContent, validated against the tool's output schema.
rapidjson::Document render(const tool_result& r, tool_id tool,
                           std::string_view id = "7") {
  mcp_session s;
  auto line = s.render_result(id, r);
  auto doc = parse(line);
  EXPECT_STREQ(doc["jsonrpc"].GetString(), "2.0");
  EXPECT_EQ(to_json(doc["id"]), id);
  auto& res = doc["result"];
  EXPECT_FALSE(res["isError"].GetBool());
  EXPECT_EQ(res["content"].Size(), 1u);
  EXPECT_STREQ(res["content"][0]["type"].GetString(), "text");
  auto sc_text = to_json(res["structuredContent"]);
  EXPECT_EQ(res["content"][0]["text"].GetString(), sc_text);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  rapidjson::SchemaDocument sd(default_catalog()->output_schema(tool));
  rapidjson::SchemaValidator v(sd);
  EXPECT_TRUE(res["structuredContent"].Accept(v)) << sc_text;
  return parse(sc_text);
}

} // namespace

TEST(json, iso8601) {
  EXPECT_EQ(iso8601(1), "1970-01-01T00:00:00.001Z");
  EXPECT_EQ(iso8601(t0), "2026-11-28T10:30:00.000Z");
  EXPECT_EQ(iso8601(951782400123), "2000-02-29T00:00:00.123Z");
  EXPECT_EQ(iso8601(253402300799999), "9999-12-31T23:59:59.999Z");
  // Absurd values still produce text, no crash.
  EXPECT_FALSE(iso8601(INT64_MAX).empty());
  EXPECT_FALSE(iso8601(INT64_MIN).empty());
}

TEST(json, utf8) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));         // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));     // surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80")); // > U+10FFFF
  EXPECT_FALSE(valid_utf8("\xE2\x82"));         // truncated
  // One U+FFFD per maximal invalid subpart: a truncated sequence is one.
  std::string out = "x";
  append_sanitized_utf8(out, "a\xFF"
                             "b\xE2\x82");
  EXPECT_EQ(out, "xa\xEF\xBF\xBD"
                 "b\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(valid_utf8_prefix("ab\xE2\x82"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xE2\x82"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xFF"), 3u);
  EXPECT_EQ(utf8_floor("a\xE2\x82\xAC", 2), 1u);
  EXPECT_EQ(utf8_ceil("a\xE2\x82\xAC", 2), 4u);
  EXPECT_EQ(shorten("\xE2\x82\xAC\xE2\x82\xAC", 4), "\xE2\x82\xAC...");
}

TEST(json, signal_names) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(SIGINT), "SIGINT");
  EXPECT_EQ(signal_name(63), "SIG63");
}

TEST(render, submit) {
  auto sc
    = render(submit_result{"job-1", job_status::running, 0, false, "", ""},
             tool_id::execute);
  EXPECT_EQ(to_json(sc),
            R"({"success":true,"jobId":"job-1","status":"running"})");
  sc = render(submit_result{"job-2", job_status::pending, 1, false, "", ""},
              tool_id::execute, R"("abc")");
  EXPECT_EQ(to_json(sc), R"({"success":true,"jobId":"job-2",)"
                         R"("status":"pending","queuePosition":1})");
}

TEST(render, job_status) {
  auto sc = render(sample_job(), tool_id::status);
  EXPECT_TRUE(sc["success"].GetBool());
  auto& j = sc["job"];
  EXPECT_STREQ(j["id"].GetString(), "job-1-k3j9a");
  EXPECT_STREQ(j["kind"].GetString(), "process");
  EXPECT_STREQ(j["command"].GetString(), "python");
  EXPECT_STREQ(j["args"][0].GetString(), "train.py");
  EXPECT_FALSE(j["shell"].GetBool());
  EXPECT_STREQ(j["status"].GetString(), "failed");
  EXPECT_STREQ(j["sessionId"].GetString(), "default");
  EXPECT_STREQ(j["workingDirectory"].GetString(), "/srv");
  EXPECT_STREQ(j["createdAt"].GetString(), "2026-11-28T10:30:00.000Z");
  EXPECT_STREQ(j["startedAt"].GetString(), "2026-11-28T10:30:00.005Z");
  EXPECT_STREQ(j["finishedAt"].GetString(), "2026-11-28T10:30:01.525Z");
  EXPECT_EQ(j["durationMs"].GetInt64(), 1520);
  EXPECT_EQ(j["priority"].GetInt(), 5);
  EXPECT_EQ(j["timeout"].GetInt(), 300000);
  EXPECT_EQ(to_json(j["tags"]), R"({"model":"nlp","n":3,"ok":true})");
  EXPECT_EQ(j["exitCode"].GetInt(), 3);
  EXPECT_TRUE(j["signal"].IsNull());
  EXPECT_STREQ(j["error"].GetString(), "Exited with code 3");
  EXPECT_TRUE(j["errorCode"].IsNull());
  EXPECT_EQ(j["pid"].GetInt(), 41231);
  EXPECT_TRUE(j["queuePosition"].IsNull());
  EXPECT_EQ(to_json(j["output"]),
            R"({"stdoutBytes":120,"stderrBytes":14,"chunks":3,)"
            R"("droppedChunks":0,"droppedBytes":0,"bufferedBytes":134,)"
            R"("lastSequence":3})");
}

TEST(render, job_nulls) {
  job_info pending;
  pending.id = "j";
  pending.queue_position = 2;
  auto sc = render(pending, tool_id::status);
  auto& j = sc["job"];
  for (auto field :
       {"createdAt", "startedAt", "finishedAt", "durationMs", "exitCode",
        "signal", "error", "errorCode", "pid", "workingDirectory"})
    EXPECT_TRUE(j[field].IsNull()) << field;
  EXPECT_EQ(j["queuePosition"].GetInt(), 2);
  job_info killed = sample_job();
  killed.exit_code = -1;
  killed.signal = SIGKILL;
  killed.error_code = "TIMEOUT";
  sc = render(killed, tool_id::status);
  EXPECT_TRUE(sc["job"]["exitCode"].IsNull());
  EXPECT_STREQ(sc["job"]["signal"].GetString(), "SIGKILL");
  EXPECT_STREQ(sc["job"]["errorCode"].GetString(), "TIMEOUT");
  killed.signal = 64;
  sc = render(killed, tool_id::status);
  EXPECT_STREQ(sc["job"]["signal"].GetString(), "SIG64");
}

TEST(render, running_duration_uses_now) {
  job_info j = sample_job();
  j.finished_at = 0;
  j.started_at = now_ms() - 10000;
  auto sc = render(j, tool_id::status);
  auto d = sc["job"]["durationMs"].GetInt64();
  EXPECT_GE(d, 10000);
  EXPECT_LT(d, 70000);
}

TEST(render, output_page) {
  output_page p;
  p.job_id = "j";
  p.status = job_status::running;
  p.chunks = {{1, t0, stream_kind::out, "Epoch 1/100\n"},
              {2, t0 + 1, stream_kind::err, "warn\x01\n"}};
  p.next_since = 2;
  p.dropped_chunks = 1;
  auto sc = render(p, tool_id::output);
  EXPECT_EQ(
    to_json(sc),
    R"({"success":true,"jobId":"j","status":"running","output":[)"
    R"({"content":"Epoch 1/100\n","timestamp":"2026-11-28T10:30:00.000Z",)"
    R"("sequenceNumber":1,"type":"stdout","attempt":1},)"
    R"({"content":"warn\u0001\n","timestamp":"2026-11-28T10:30:00.001Z",)"
    R"("sequenceNumber":2,"type":"stderr","attempt":1}],)"
    R"("nextSince":2,"truncated":false,"droppedChunks":1,)"
    R"("finished":false,"complete":false})");
  p.has_tail = true;
  p.tail = "last\nlines\n";
  p.finished = p.complete = true;
  sc = render(p, tool_id::output);
  EXPECT_STREQ(sc["tail"].GetString(), "last\nlines\n");
  EXPECT_TRUE(sc["complete"].GetBool());
}

TEST(render, invalid_utf8_becomes_replacement) {
  output_page p;
  p.job_id = "j";
  p.chunks = {{1, t0, stream_kind::out, std::string("a\xFF\0b", 4)}};
  auto sc = render(p, tool_id::output);
  EXPECT_EQ(std::string(sc["output"][0]["content"].GetString(),
                        sc["output"][0]["content"].GetStringLength()),
            std::string("a\xEF\xBF\xBD\0b", 6));
}

TEST(render, cancel) {
  auto sc
    = render(cancel_result{"j", job_status::cancelled, ""}, tool_id::cancel);
  EXPECT_EQ(to_json(sc), R"({"success":true,"cancelled":true,"jobId":"j",)"
                         R"("status":"cancelled",)"
                         R"("message":"Job cancelled successfully"})");
}

TEST(render, list) {
  list_page page;
  page.jobs = {sample_job()};
  page.total = 3;
  page.next_cursor = "c2";
  auto sc = render(page, tool_id::list);
  EXPECT_EQ(to_json(sc),
            R"({"success":true,"jobs":[{"id":"job-1-k3j9a","command":"python",)"
            R"("args":["train.py"],"status":"failed","sessionId":"default",)"
            R"("createdAt":"2026-11-28T10:30:00.000Z",)"
            R"("startedAt":"2026-11-28T10:30:00.005Z",)"
            R"("finishedAt":"2026-11-28T10:30:01.525Z","exitCode":3,)"
            R"("priority":5,"tags":{"model":"nlp","n":3,"ok":true},)"
            R"("workingDirectory":"/srv"}],"total":3,"nextCursor":"c2"})");
  page.next_cursor.clear();
  sc = render(page, tool_id::list);
  EXPECT_FALSE(sc.HasMember("nextCursor"));
}

TEST(render, metrics) {
  metrics_snapshot m;
  m.total_jobs = 25;
  m.running_jobs = 3;
  m.completed_jobs = 20;
  m.failed_jobs = 1;
  m.cancelled_jobs = 1;
  m.queue_size = 2;
  m.concurrency_current = 3;
  m.concurrency_maximum = 10;
  m.average_execution_ms = 45000;
  m.system_load = 0.65;
  m.uptime_ms = 120000;
  m.retained_jobs = 25;
  m.sessions = {{"default", 25, 2, 3, 18, 1, 1, 5, {}}};
  auto sc = render(m, tool_id::metrics);
  auto& x = sc["metrics"];
  EXPECT_EQ(x["totalJobs"].GetInt(), 25);
  EXPECT_EQ(x["queueSize"].GetInt(), 2);
  EXPECT_EQ(x["concurrency"]["current"].GetInt(), 3);
  EXPECT_EQ(x["concurrency"]["maximum"].GetInt(), 10);
  EXPECT_EQ(x["averageExecutionTime"].GetDouble(), 45000);
  EXPECT_EQ(x["systemLoad"].GetDouble(), 0.65);
  EXPECT_EQ(x["uptimeMs"].GetInt(), 120000);
  EXPECT_EQ(x["retainedJobs"].GetInt(), 25);
  auto& session = x["sessions"][0];
  ASSERT_TRUE(session.HasMember("usage"));
  session.RemoveMember("usage");
  EXPECT_EQ(to_json(session),
            R"({"sessionId":"default","totalJobs":25,"pendingJobs":2,)"
            R"("runningJobs":3,"completedJobs":18,"failedJobs":1,)"
            R"("cancelledJobs":1,"limit":5})");
  m.system_load = std::numeric_limits<double>::quiet_NaN();
  sc = render(m, tool_id::metrics);
  EXPECT_TRUE(sc["metrics"]["systemLoad"].IsNull());
}

TEST(render, cleanup) {
  auto sc = render(cleanup_result{15, 10}, tool_id::cleanup);
  EXPECT_EQ(to_json(sc), R"({"success":true,"cleaned":15,"remaining":10})");
}

TEST(render, wait) {
  wait_result w;
  w.job = sample_job();
  w.reason = "exit";
  w.output.chunks = {{4, t0, stream_kind::out, "done\n"}};
  w.output.next_since = 4;
  w.output.finished = w.output.complete = true;
  auto sc = render(w, tool_id::wait);
  EXPECT_STREQ(sc["reason"].GetString(), "exit");
  EXPECT_STREQ(sc["job"]["id"].GetString(), "job-1-k3j9a");
  EXPECT_EQ(sc["job"]["durationMs"].GetInt(), 1520);
  EXPECT_STREQ(sc["output"][0]["content"].GetString(), "done\n");
  EXPECT_EQ(sc["nextSince"].GetInt(), 4);
  EXPECT_FALSE(sc["truncated"].GetBool());
  EXPECT_EQ(sc["droppedChunks"].GetInt(), 0);
  EXPECT_TRUE(sc["finished"].GetBool());
  EXPECT_TRUE(sc["complete"].GetBool());
  EXPECT_FALSE(sc.HasMember("jobId"));
}

TEST(render, error) {
  mcp_session s;
  tool_error err{codes::job_not_found,
                 "Job not found: job-7-x1y2",
                 {{"jobId", "\"job-7-x1y2\""}, {"bad", "not json"}}};
  auto doc = parse(s.render_error("\"q\"", err));
  EXPECT_STREQ(doc["id"].GetString(), "q");
  auto& res = doc["result"];
  EXPECT_TRUE(res["isError"].GetBool());
  auto& sc = res["structuredContent"];
  EXPECT_EQ(res["content"][0]["text"].GetString(), to_json(sc));
  EXPECT_FALSE(sc["success"].GetBool());
  EXPECT_STREQ(sc["error"].GetString(), "Job not found: job-7-x1y2");
  EXPECT_STREQ(sc["code"].GetString(), "JOB_NOT_FOUND");
  EXPECT_STREQ(sc["details"]["jobId"].GetString(), "job-7-x1y2");
  // A detail that is not valid JSON is kept as a string.
  EXPECT_STREQ(sc["details"]["bad"].GetString(), "not json");
  std::string ts = sc["details"]["timestamp"].GetString();
  EXPECT_EQ(ts.size(), 24u);
  EXPECT_EQ(ts.back(), 'Z');
}

TEST(render, error_conforms_to_every_output_schema) {
  // Clients validate the structuredContent of isError results too.
  mcp_session s;
  tool_error err{codes::job_not_found, "Job not found: x", {}};
  auto doc = parse(s.render_error("1", err));
  for (size_t i = 0; i < tool_count; ++i) {
    auto tool = static_cast<tool_id>(i);
    rapidjson::SchemaDocument sd(default_catalog()->output_schema(tool));
    rapidjson::SchemaValidator v(sd);
    EXPECT_TRUE(doc["result"]["structuredContent"].Accept(v))
      << tool_name(tool);
  }
}

TEST(render, tracking_is_shown_when_known) {
  auto job = sample_job();
  auto sc = render(job, tool_id::status);
  EXPECT_FALSE(sc["job"].HasMember("tracking")) << "kinds without processes";
  for (auto how : {"cgroup", "pgroup"}) {
    job.tracking = how;
    sc = render(job, tool_id::status);
    EXPECT_STREQ(sc["job"]["tracking"].GetString(), how);
    list_page page;
    page.jobs = {job};
    page.total = 1;
    sc = render(page, tool_id::list);
    EXPECT_STREQ(sc["jobs"][0]["tracking"].GetString(), how);
    wait_result w;
    w.job = job;
    w.reason = "timeout";
    sc = render(w, tool_id::wait);
    EXPECT_STREQ(sc["job"]["tracking"].GetString(), how);
    auto doc = parse(render_resource_status("4", "job://job-1-k3j9a", job));
    auto status = parse(doc["result"]["contents"][0]["text"].GetString());
    EXPECT_STREQ(status["job"]["tracking"].GetString(), how);
  }
}

TEST(render, output_schemas_describe_tracking) {
  for (auto tool : {tool_id::status, tool_id::wait}) {
    auto& job
      = default_catalog()->output_schema(tool)["anyOf"][0]["properties"]["job"];
    EXPECT_EQ(to_json(job["properties"]["tracking"]["enum"]),
              R"(["cgroup","pgroup","slurm"])");
  }
  auto& item = default_catalog()->output_schema(
    tool_id::list)["anyOf"][0]["properties"]["jobs"]["items"];
  EXPECT_EQ(to_json(item["properties"]["tracking"]["enum"]),
            R"(["cgroup","pgroup","slurm"])");
  // Something else than these is not what the schema promises.
  auto job = sample_job();
  job.tracking = "container";
  mcp_session s;
  auto doc = parse(s.render_result("1", tool_result{job}));
  rapidjson::SchemaDocument sd(
    default_catalog()->output_schema(tool_id::status));
  rapidjson::SchemaValidator v(sd);
  EXPECT_FALSE(doc["result"]["structuredContent"].Accept(v));
}

TEST(render, new_error_codes_conform_to_every_output_schema) {
  mcp_session s;
  for (auto code : {codes::queue_full, codes::internal}) {
    tool_error err{code, "refused", {{"limit", "10000"}}};
    auto doc = parse(s.render_error("1", err));
    auto& sc = doc["result"]["structuredContent"];
    EXPECT_STREQ(sc["code"].GetString(), code);
    for (size_t i = 0; i < tool_count; ++i) {
      rapidjson::SchemaDocument sd(
        default_catalog()->output_schema(static_cast<tool_id>(i)));
      rapidjson::SchemaValidator v(sd);
      EXPECT_TRUE(sc.Accept(v)) << code << " " << i;
    }
  }
  // A job that died ends failed with errorCode INTERNAL.
  auto job = sample_job();
  job.error_code = codes::internal;
  job.error = "The job's actor stopped unexpectedly";
  auto sc = render(job, tool_id::status);
  EXPECT_STREQ(sc["job"]["errorCode"].GetString(), "INTERNAL");
}

TEST(render, duration_prefers_the_steady_run_time) {
  auto job = sample_job(); // wall clock: 1520 ms from start to finish
  EXPECT_EQ(render(job, tool_id::status)["job"]["durationMs"].GetInt64(), 1520);
  job.run_ms = 1500; // the wall clock jumped meanwhile
  EXPECT_EQ(render(job, tool_id::status)["job"]["durationMs"].GetInt64(), 1500);
  job.finished_at = job.started_at - 60000; // jumped back a minute
  EXPECT_EQ(render(job, tool_id::status)["job"]["durationMs"].GetInt64(), 1500);
  job.run_ms = 0;
  EXPECT_EQ(render(job, tool_id::status)["job"]["durationMs"].GetInt64(), 0);
}
