// Issue 11 at the protocol layer: the new tools and options, their parsing
// into requests, and the rendering of their results against the output
// schemas.
#include "test_util.hpp"

#include "protocol/render.hpp"
#include "protocol/tools.hpp"

#include <rapidjson/schema.h>

#include <csignal>

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

constexpr timestamp_ms t0 = 1795861800000; // 2026-11-28T10:30:00.000Z

const std::string t_wait = "console_wait_job";
const std::string t_input = "console_send_input";
const std::string t_signal = "console_signal_job";
const std::string t_pause = "console_pause_job";
const std::string t_resume = "console_resume_job";
const std::string t_resize = "console_resize_terminal";
const std::string t_restart = "console_restart_job";

job_spec spec_of(const std::string& options) {
  auto r = dispatched(t_exec, R"({"command":"x","options":)" + options + "}");
  auto spec = std::get_if<job_spec>(&r);
  return spec ? *spec : job_spec{};
}

job_info running_job() {
  job_info j;
  j.id = "job-1-k3j9a";
  j.kind = "process";
  j.command = "python";
  j.status = job_status::running;
  j.created_at = t0;
  j.started_at = t0 + 5;
  j.pid = 41231;
  return j;
}

// structuredContent of `r` as tool `tool` answers it, checked against its
// output schema and against the text block.
rapidjson::Document render(const tool_result& r, tool_id tool) {
  mcp_session s;
  auto doc = parse(s.render_result("1", r));
  auto& res = doc["result"];
  EXPECT_FALSE(res["isError"].GetBool());
  auto text = to_json(res["structuredContent"]);
  EXPECT_EQ(res["content"][0]["text"].GetString(), text);
  rapidjson::SchemaDocument sd(default_catalog()->output_schema(tool));
  rapidjson::SchemaValidator v(sd);
  EXPECT_TRUE(res["structuredContent"].Accept(v)) << tool_name(tool) << text;
  return parse(text);
}

const rapidjson::Value& tool_entry(const rapidjson::Document& list,
                                   const std::string& name) {
  for (auto& t : list["result"]["tools"].GetArray())
    if (name == t["name"].GetString())
      return t;
  ADD_FAILURE() << name;
  return list;
}

} // namespace

TEST(control_schemas, new_tools_and_options_are_listed) {
  mcp_session s;
  auto doc = reply(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  for (auto& name :
       {t_input, t_signal, t_pause, t_resume, t_resize, t_restart}) {
    auto& t = tool_entry(doc, name);
    EXPECT_TRUE(t["inputSchema"]["properties"].HasMember("jobId")) << name;
    EXPECT_TRUE(
      t["outputSchema"]["anyOf"][0]["properties"].HasMember("success"))
      << name;
  }
  auto& opts = tool_entry(
    doc, t_exec)["inputSchema"]["properties"]["options"]["properties"];
  for (auto name : {"stdin", "tty", "cols", "rows", "idempotencyKey",
                    "progressPattern", "waitMs", "waitOutput"})
    EXPECT_TRUE(opts.HasMember(name)) << name;
  EXPECT_EQ(to_json(opts["stdin"]["enum"]), R"(["null","pipe"])");
  EXPECT_EQ(opts["waitMs"]["maximum"].GetInt(), 60000);
  EXPECT_EQ(opts["idempotencyKey"]["maxLength"].GetInt(), 128);
  EXPECT_EQ(opts["progressPattern"]["maxLength"].GetInt(), 1024);
  auto& sig = tool_entry(doc, t_signal)["inputSchema"]["properties"]["signal"];
  EXPECT_EQ(sig["enum"].Size(), 16u);
  auto& wait = tool_entry(doc, t_wait)["inputSchema"];
  EXPECT_EQ(wait["properties"]["jobIds"]["maxItems"].GetInt(), 1000);
  EXPECT_FALSE(wait.HasMember("required"));
  // The job schema shows the new fields.
  auto& job = tool_entry(
    doc, "console_get_job_status")["outputSchema"]["anyOf"][0]["properties"]
                                  ["job"]["properties"];
  for (auto name :
       {"stdin", "stdinOpen", "terminal", "paused", "pausedAt", "pausedMs",
        "restartOf", "idempotencyKey", "progress", "usage"})
    EXPECT_TRUE(job.HasMember(name)) << name;
  // The descriptions say what the error codes mean.
  std::string input_text = tool_entry(doc, t_input)["description"].GetString();
  for (auto code : {"STDIN_FULL", "STDIN_NOT_OPEN", "STDIN_CLOSED"})
    EXPECT_NE(input_text.find(code), std::string::npos) << code;
  EXPECT_NE(input_text.find("1048576"), std::string::npos) << input_text;
}

TEST(control_schemas, server_caps_fill_the_schemas) {
  server_options o;
  o.max_wait_ms = 5000;
  o.max_stdin_bytes = 4096;
  auto catalog = std::make_shared<const tool_catalog>(o);
  auto& wait_ms = catalog->input_schema(
    tool_id::execute)["properties"]["options"]["properties"]["waitMs"];
  EXPECT_EQ(wait_ms["maximum"].GetInt(), 5000);
  mcp_session s(catalog);
  auto doc = reply(s, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  std::string text = tool_entry(doc, t_input)["description"].GetString();
  EXPECT_NE(text.find("4096"), std::string::npos) << text;
  auto err
    = rejected(s, t_exec, R"({"command":"x","options":{"waitMs":5001}})");
  EXPECT_EQ(err, "options.waitMs must be at most 5000");
}

TEST(control_args, execute_options) {
  auto spec = spec_of("{}");
  EXPECT_EQ(spec.input, stdin_mode::null);
  EXPECT_EQ(spec.cols, 80);
  EXPECT_EQ(spec.rows, 24);
  EXPECT_EQ(spec.wait_ms, 0);
  EXPECT_EQ(spec.wait_tail_lines, 50u);
  EXPECT_EQ(spec.wait_max_bytes, 16384u);
  EXPECT_EQ(spec_of(R"({"stdin":"pipe"})").input, stdin_mode::pipe);
  EXPECT_EQ(spec_of(R"({"stdin":"null"})").input, stdin_mode::null);
  // tty wins over stdin.
  spec = spec_of(R"({"tty":true,"stdin":"pipe","cols":132,"rows":50})");
  EXPECT_EQ(spec.input, stdin_mode::tty);
  EXPECT_EQ(spec.cols, 132);
  EXPECT_EQ(spec.rows, 50);
  // cols and rows without tty: accepted, no terminal.
  spec = spec_of(R"({"cols":100})");
  EXPECT_EQ(spec.input, stdin_mode::null);
  spec = spec_of(R"({"idempotencyKey":"build-42",)"
                 R"("progressPattern":"(?P<percent>\\d+)pct",)"
                 R"("waitMs":1500,"waitOutput":{"tail":10,"maxBytes":99}})");
  EXPECT_EQ(spec.idempotency_key, "build-42");
  EXPECT_EQ(spec.progress_pattern, "(?P<percent>\\d+)pct");
  EXPECT_EQ(spec.wait_ms, 1500);
  EXPECT_EQ(spec.wait_tail_lines, 10u);
  EXPECT_EQ(spec.wait_max_bytes, 99u);
}

TEST(control_args, execute_options_refused) {
  std::string field;
  auto exec = [&](const std::string& options) {
    field.clear();
    return rejected(t_exec, R"({"command":"x","options":)" + options + "}",
                    &field);
  };
  EXPECT_EQ(exec(R"({"stdin":"tty"})"),
            "options.stdin must be one of null, pipe");
  EXPECT_EQ(exec(R"({"stdin":"file"})"),
            "options.stdin must be one of null, pipe");
  EXPECT_EQ(exec(R"({"tty":"yes"})"), "options.tty must be a boolean");
  EXPECT_EQ(exec(R"({"idempotencyKey":""})"),
            "options.idempotencyKey must not be empty");
  EXPECT_EQ(exec(R"({"idempotencyKey":")" + std::string(129, 'k') + "\"}"),
            "options.idempotencyKey must have at most 128 characters");
  EXPECT_EQ(field, "options.idempotencyKey");
  EXPECT_EQ(spec_of(R"({"idempotencyKey":")" + std::string(128, 'k') + "\"}")
              .idempotency_key.size(),
            128u);
  EXPECT_EQ(exec(R"({"progressPattern":")" + std::string(1025, 'a') + "\"}"),
            "options.progressPattern must have at most 1024 characters");
  auto msg = exec(R"({"progressPattern":"\\d+"})");
  EXPECT_EQ(field, "options.progressPattern");
  EXPECT_NE(msg.find("named group"), std::string::npos) << msg;
  msg = exec(R"({"progressPattern":"(?P<percent>\\d+"})");
  EXPECT_EQ(field, "options.progressPattern");
  msg = exec(R"x({"progressPattern":"(?P<eta>\\d+)"})x");
  EXPECT_EQ(field, "options.progressPattern");
  EXPECT_EQ(exec(R"({"waitOutput":{"lines":3}})"),
            "unknown field options.waitOutput.lines");
  EXPECT_EQ(field, "options.waitOutput.lines");
}

TEST(control_args, wait_many) {
  auto r = dispatched(t_wait, R"({"jobIds":["a","b"],"mode":"all",)"
                              R"("timeoutMs":500})");
  auto& q = std::get<wait_many_query>(r);
  EXPECT_EQ(q.job_ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(q.all);
  EXPECT_EQ(q.timeout_ms, 500);
  r = dispatched(t_wait, R"({"jobIds":["a"],"until":"exit"})");
  EXPECT_FALSE(std::get<wait_many_query>(r).all);
  EXPECT_EQ(std::get<wait_many_query>(r).timeout_ms, use_default);
  // One job still answers a wait_query; mode is harmless there.
  r = dispatched(t_wait, R"({"jobId":"a","mode":"all"})");
  EXPECT_EQ(std::get<wait_query>(r).job_id, "a");
  std::string ids = "[";
  for (int i = 0; i < 1000; ++i)
    ids += (i ? ",\"j" : "\"j") + std::to_string(i) + "\"";
  r = dispatched(t_wait, R"({"jobIds":)" + ids + "]}");
  EXPECT_EQ(std::get<wait_many_query>(r).job_ids.size(), 1000u);
}

TEST(control_args, wait_many_refused) {
  std::string field;
  auto wait = [&](const std::string& args) {
    field.clear();
    return rejected(t_wait, args, &field);
  };
  EXPECT_EQ(wait("{}"),
            "jobId is required (or jobIds, to wait for several jobs)");
  EXPECT_EQ(field, "jobId");
  EXPECT_EQ(wait(R"({"jobId":"a","jobIds":["b"]})"),
            "give either jobId or jobIds, not both");
  EXPECT_EQ(field, "jobIds");
  EXPECT_EQ(wait(R"({"jobIds":[]})"), "jobIds must have at least 1 items");
  EXPECT_EQ(field, "jobIds");
  EXPECT_EQ(wait(R"({"jobIds":["a","b","a"]})"),
            "jobIds[2] repeats an earlier item (items must differ)");
  EXPECT_EQ(field, "jobIds[2]");
  std::string ids = "[";
  for (int i = 0; i < 1001; ++i)
    ids += (i ? ",\"j" : "\"j") + std::to_string(i) + "\"";
  EXPECT_EQ(wait(R"({"jobIds":)" + ids + "]}"),
            "jobIds must have at most 1000 items");
  EXPECT_EQ(wait(R"({"jobIds":[""]})"), "jobIds[0] must not be empty");
  EXPECT_EQ(wait(R"({"jobIds":[3]})"), "jobIds[0] must be a string");
  EXPECT_EQ(wait(R"({"jobIds":["a"],"until":"output"})"),
            "until output is only allowed with jobId, not jobIds");
  EXPECT_EQ(field, "until");
  EXPECT_EQ(wait(R"({"jobIds":["a"],"pattern":"x"})"),
            "pattern is only allowed with jobId, not jobIds");
  EXPECT_EQ(field, "pattern");
  EXPECT_EQ(wait(R"({"jobIds":["a"],"since":0})"),
            "since is only allowed with jobId, not jobIds");
  EXPECT_EQ(field, "since");
  EXPECT_EQ(wait(R"({"jobIds":["a"],"mode":"first"})"),
            "mode must be one of any, all");
}

TEST(control_args, send_input) {
  auto r = dispatched(t_input, R"({"jobId":"j","text":"yes"})");
  auto& in = std::get<input_request>(r);
  EXPECT_EQ(in.job_id, "j");
  EXPECT_EQ(in.text, "yes");
  EXPECT_FALSE(in.close);
  r = dispatched(t_input, R"({"jobId":"j","text":"yes","appendNewline":true})");
  EXPECT_EQ(std::get<input_request>(r).text, "yes\n");
  r = dispatched(t_input, R"({"jobId":"j","text":"","closeStdin":true})");
  EXPECT_EQ(std::get<input_request>(r).text, "");
  EXPECT_TRUE(std::get<input_request>(r).close);
  r = dispatched(t_input, R"({"jobId":"j","text":"","appendNewline":true})");
  EXPECT_EQ(std::get<input_request>(r).text, "\n");
  r = dispatched(t_input, R"({"jobId":"j","text":"\u0003"})");
  EXPECT_EQ(std::get<input_request>(r).text, "\x03");
  std::string at_max(1048576, 'a');
  r = dispatched(t_input, R"({"jobId":"j","text":")" + at_max + "\"}");
  EXPECT_EQ(std::get<input_request>(r).text.size(), 1048576u);
  std::string field;
  EXPECT_EQ(
    rejected(t_input, R"({"jobId":"j","text":")" + at_max + "a\"}", &field),
    "text must have at most 1048576 characters");
  EXPECT_EQ(field, "text");
  EXPECT_EQ(rejected(t_input, R"({"jobId":"j","text":""})", &field),
            "text must not be empty unless closeStdin or appendNewline is "
            "true");
  EXPECT_EQ(field, "text");
  EXPECT_EQ(rejected(t_input, R"({"jobId":"j"})"), "text is required");
  EXPECT_EQ(rejected(t_input, R"({"text":"a"})"), "jobId is required");
  EXPECT_EQ(rejected(t_input, R"({"jobId":"j","text":"a\u0000b"})"),
            "text must not contain NUL bytes");
  EXPECT_EQ(rejected(t_input, R"({"jobId":"j","text":"a","closeStdin":1})"),
            "closeStdin must be a boolean");
}

TEST(control_args, signal) {
  struct {
    const char* name;
    int number;
  } cases[]
    = {{"SIGINT", SIGINT},   {"INT", SIGINT},      {"SIGTERM", SIGTERM},
       {"TERM", SIGTERM},    {"SIGHUP", SIGHUP},   {"HUP", SIGHUP},
       {"SIGQUIT", SIGQUIT}, {"QUIT", SIGQUIT},    {"SIGUSR1", SIGUSR1},
       {"USR1", SIGUSR1},    {"SIGUSR2", SIGUSR2}, {"USR2", SIGUSR2},
       {"SIGKILL", SIGKILL}, {"KILL", SIGKILL},    {"SIGWINCH", SIGWINCH},
       {"WINCH", SIGWINCH}};
  for (auto& c : cases) {
    auto r = dispatched(t_signal, R"({"jobId":"j","signal":")"
                                    + std::string(c.name) + "\"}");
    auto& sig = std::get<signal_request>(r);
    EXPECT_EQ(sig.signal, c.number) << c.name;
    EXPECT_TRUE(sig.whole_tree);
  }
  auto r
    = dispatched(t_signal, R"({"jobId":"j","signal":"INT","target":"leader"})");
  EXPECT_FALSE(std::get<signal_request>(r).whole_tree);
  r = dispatched(t_signal, R"({"jobId":"j","signal":"INT","target":"tree"})");
  EXPECT_TRUE(std::get<signal_request>(r).whole_tree);
  std::string field;
  for (auto bad : {"sigint", "SIGSTOP", "STOP", "9", "SIGCONT", ""}) {
    auto msg = rejected(t_signal,
                        R"({"jobId":"j","signal":")" + std::string(bad) + "\"}",
                        &field);
    EXPECT_EQ(field, "signal") << bad;
    EXPECT_EQ(msg.rfind("signal must be one of SIGINT, SIGTERM", 0), 0u) << msg;
  }
  EXPECT_EQ(rejected(t_signal, R"({"jobId":"j","signal":15})"),
            "signal must be a string");
  EXPECT_EQ(
    rejected(t_signal, R"({"jobId":"j","signal":"INT","target":"group"})"),
    "target must be one of tree, leader");
  EXPECT_EQ(rejected(t_signal, R"({"jobId":"j"})"), "signal is required");
}

TEST(control_args, pause_resume_resize_restart) {
  auto r = dispatched(t_pause, R"({"jobId":"j"})");
  EXPECT_EQ(std::get<pause_request>(r).job_id, "j");
  EXPECT_TRUE(std::get<pause_request>(r).pause);
  r = dispatched(t_resume, R"({"jobId":"j"})");
  EXPECT_FALSE(std::get<pause_request>(r).pause);
  EXPECT_EQ(rejected(t_pause, "{}"), "jobId is required");
  EXPECT_EQ(rejected(t_resume, R"({"jobId":"j","x":1})"), "unknown field x");
  r = dispatched(t_resize, R"({"jobId":"j","cols":120,"rows":40})");
  EXPECT_EQ(std::get<resize_request>(r).cols, 120);
  EXPECT_EQ(std::get<resize_request>(r).rows, 40);
  EXPECT_EQ(rejected(t_resize, R"({"jobId":"j","cols":120})"),
            "rows is required");
  r = dispatched(t_restart, R"({"jobId":"j"})");
  EXPECT_EQ(std::get<restart_request>(r).job_id, "j");
  EXPECT_FALSE(std::get<restart_request>(r).replace);
  r = dispatched(t_restart, R"({"jobId":"j","replace":true})");
  EXPECT_TRUE(std::get<restart_request>(r).replace);
}

TEST(control_render, submit_reply) {
  submit_reply x;
  x.result = {"job-2", job_status::running, 0, false, "", ""};
  auto sc = render(x, tool_id::execute);
  EXPECT_EQ(to_json(sc),
            R"({"success":true,"jobId":"job-2","status":"running"})");
  x.result.deduplicated = true;
  sc = render(x, tool_id::execute);
  EXPECT_TRUE(sc["deduplicated"].GetBool());
  EXPECT_FALSE(sc.HasMember("finished"));
  // Waited, and it ended.
  x.waited = true;
  x.job = running_job();
  x.job.id = "job-2";
  x.job.status = job_status::completed;
  x.job.finished_at = t0 + 1005;
  x.job.exit_code = 0;
  x.result.status = job_status::completed;
  x.output.tail = "line 1\nline 2\n";
  x.output.next_since = 2;
  sc = render(x, tool_id::execute);
  EXPECT_TRUE(sc["finished"].GetBool());
  EXPECT_EQ(sc["exitCode"].GetInt(), 0);
  EXPECT_TRUE(sc["signal"].IsNull());
  EXPECT_TRUE(sc["error"].IsNull());
  EXPECT_TRUE(sc["errorCode"].IsNull());
  EXPECT_EQ(sc["durationMs"].GetInt(), 1000);
  EXPECT_EQ(to_json(sc["output"]),
            R"({"tail":"line 1\nline 2\n","truncated":false,"nextSince":2})");
  EXPECT_STREQ(sc["job"]["status"].GetString(), "completed");
  EXPECT_FALSE(sc.HasMember("message"));
  // Waited, still running: it says so.
  x.job.status = x.result.status = job_status::running;
  x.job.finished_at = 0;
  x.job.exit_code = -1;
  x.output.truncated = true;
  sc = render(x, tool_id::execute);
  EXPECT_FALSE(sc["finished"].GetBool());
  EXPECT_TRUE(sc["exitCode"].IsNull());
  EXPECT_TRUE(sc["output"]["truncated"].GetBool());
  EXPECT_NE(std::string(sc["message"].GetString()).find("still running"),
            std::string::npos);
  // A timeout.
  x.job.status = job_status::failed;
  x.job.finished_at = t0 + 2005;
  x.job.signal = SIGKILL;
  x.job.error = "Timed out";
  x.job.error_code = codes::timeout;
  sc = render(x, tool_id::execute);
  EXPECT_STREQ(sc["signal"].GetString(), "SIGKILL");
  EXPECT_STREQ(sc["errorCode"].GetString(), "TIMEOUT");
}

TEST(control_render, restart) {
  auto sc = render(
    submit_result{"job-3", job_status::pending, 2, false, "job-1-k3j9a", ""},
    tool_id::restart);
  EXPECT_EQ(to_json(sc),
            R"({"success":true,"jobId":"job-3","status":"pending",)"
            R"("queuePosition":2,"restartOf":"job-1-k3j9a"})");
}

TEST(control_render, job_fields) {
  auto j = running_job();
  auto sc = render(j, tool_id::status);
  auto& job = sc["job"];
  EXPECT_STREQ(job["stdin"].GetString(), "null");
  EXPECT_FALSE(job["stdinOpen"].GetBool());
  EXPECT_FALSE(job.HasMember("terminal"));
  EXPECT_FALSE(job["paused"].GetBool());
  EXPECT_TRUE(job["pausedAt"].IsNull());
  EXPECT_EQ(job["pausedMs"].GetInt(), 0);
  for (auto absent : {"restartOf", "idempotencyKey", "progress", "usage"})
    EXPECT_FALSE(job.HasMember(absent)) << absent;
  j.input = stdin_mode::tty;
  j.stdin_open = true;
  j.cols = 132;
  j.rows = 50;
  j.paused = true;
  j.paused_at = t0 + 1000;
  j.paused_ms = 250;
  j.restart_of = "job-0-aaaaa";
  j.idempotency_key = "k";
  j.progress = {true, 45, 45, 100, " 45%|####| 45/100", t0 + 900};
  j.usage = {true, 1200, 300, 51200};
  for (auto tool :
       {tool_id::status, tool_id::pause, tool_id::resume, tool_id::resize}) {
    sc = render(j, tool);
    auto& k = sc["job"];
    EXPECT_STREQ(k["stdin"].GetString(), "tty");
    EXPECT_TRUE(k["stdinOpen"].GetBool());
    EXPECT_EQ(to_json(k["terminal"]), R"({"cols":132,"rows":50})");
    EXPECT_TRUE(k["paused"].GetBool());
    EXPECT_STREQ(k["pausedAt"].GetString(), "2026-11-28T10:30:01.000Z");
    EXPECT_EQ(k["pausedMs"].GetInt(), 250);
    EXPECT_STREQ(k["restartOf"].GetString(), "job-0-aaaaa");
    EXPECT_STREQ(k["idempotencyKey"].GetString(), "k");
    EXPECT_EQ(to_json(k["progress"]),
              R"({"percent":45,"current":45,"total":100,)"
              R"("text":" 45%|####| 45/100","at":"2026-11-28T10:30:00.900Z"})");
    EXPECT_EQ(to_json(k["usage"]),
              R"({"cpuUserMs":1200,"cpuSystemMs":300,"maxRssKb":51200})");
  }
  // A percentage alone: current and total are null.
  j.progress = {true, 7, -1, -1, "7%", t0};
  sc = render(j, tool_id::status);
  EXPECT_TRUE(sc["job"]["progress"]["current"].IsNull());
  EXPECT_TRUE(sc["job"]["progress"]["total"].IsNull());
  // Lists carry paused, restartOf, progress and usage.
  list_page page;
  page.jobs = {j};
  page.total = 1;
  sc = render(page, tool_id::list);
  auto& item = sc["jobs"][0];
  EXPECT_TRUE(item["paused"].GetBool());
  EXPECT_STREQ(item["restartOf"].GetString(), "job-0-aaaaa");
  EXPECT_EQ(item["progress"]["percent"].GetDouble(), 7);
  EXPECT_EQ(item["usage"]["maxRssKb"].GetInt(), 51200);
  j.paused = false;
  page.jobs = {j};
  EXPECT_FALSE(render(page, tool_id::list)["jobs"][0].HasMember("paused"));
}

TEST(control_render, wait_many) {
  wait_many_result x;
  auto a = running_job();
  auto b = running_job();
  b.id = "job-2";
  b.status = job_status::completed;
  b.finished_at = t0 + 100;
  b.exit_code = 0;
  x.jobs = {a, b};
  x.ended = {"job-2"};
  x.reason = "any";
  auto sc = render(x, tool_id::wait);
  EXPECT_STREQ(sc["mode"].GetString(), "any");
  EXPECT_STREQ(sc["reason"].GetString(), "any");
  EXPECT_EQ(to_json(sc["ended"]), R"(["job-2"])");
  EXPECT_EQ(sc["jobs"].Size(), 2u);
  EXPECT_STREQ(sc["jobs"][1]["status"].GetString(), "completed");
  EXPECT_FALSE(sc["allEnded"].GetBool());
  EXPECT_TRUE(sc["anyEnded"].GetBool());
  EXPECT_FALSE(sc.HasMember("job"));
  x.all = true;
  x.ended = {};
  x.reason = "timeout";
  sc = render(x, tool_id::wait);
  EXPECT_STREQ(sc["mode"].GetString(), "all");
  EXPECT_FALSE(sc["anyEnded"].GetBool());
  x.ended = {"job-1-k3j9a", "job-2"};
  x.reason = "all";
  EXPECT_TRUE(render(x, tool_id::wait)["allEnded"].GetBool());
}

TEST(control_render, input_and_signal) {
  auto sc = render(input_result{"j", 4, 10, true}, tool_id::send_input);
  EXPECT_EQ(to_json(sc), R"({"success":true,"jobId":"j","bytes":4,)"
                         R"("queued":10,"closed":true})");
  sc = render(signal_result{"j", SIGINT, true, true}, tool_id::signal);
  EXPECT_EQ(to_json(sc), R"({"success":true,"jobId":"j","signal":"SIGINT",)"
                         R"("target":"tree","delivered":true})");
  sc = render(signal_result{"j", SIGUSR1, false, false}, tool_id::signal);
  EXPECT_STREQ(sc["target"].GetString(), "leader");
  EXPECT_FALSE(sc["delivered"].GetBool());
}

TEST(control_render, metrics_usage) {
  metrics_snapshot m;
  session_metrics s;
  s.session_id = "default";
  s.usage = {4, 3000, 1000, 90000, 8000, 200000};
  m.sessions = {s};
  m.usage = {10, 6000, 2000, 90000, 16000, 400000};
  auto sc = render(m, tool_id::metrics);
  auto& u = sc["metrics"]["usage"];
  EXPECT_EQ(u["jobs"].GetInt(), 10);
  EXPECT_EQ(u["cpuMs"].GetInt(), 8000);
  EXPECT_EQ(u["maxRssKb"].GetInt(), 90000);
  EXPECT_EQ(u["avgCpuMs"].GetDouble(), 800);
  EXPECT_EQ(u["avgMaxRssKb"].GetDouble(), 40000);
  EXPECT_EQ(u["cpuPerRunSecond"].GetDouble(), 0.5);
  auto& su = sc["metrics"]["sessions"][0]["usage"];
  EXPECT_EQ(su["avgCpuMs"].GetDouble(), 1000);
  EXPECT_EQ(su["avgMaxRssKb"].GetDouble(), 50000);
  // No finished jobs yet: no averages.
  sc = render(metrics_snapshot{}, tool_id::metrics);
  EXPECT_TRUE(sc["metrics"]["usage"]["avgCpuMs"].IsNull());
  EXPECT_TRUE(sc["metrics"]["usage"]["cpuPerRunSecond"].IsNull());
}

TEST(control_render, new_error_codes_conform) {
  mcp_session s;
  for (auto code :
       {codes::stdin_full, codes::stdin_not_open, codes::stdin_closed,
        codes::job_not_running, codes::not_supported}) {
    auto doc = parse(s.render_error("1", tool_error{code, "refused", {}}));
    auto& sc = doc["result"]["structuredContent"];
    for (size_t i = 0; i < tool_count; ++i) {
      rapidjson::SchemaDocument sd(
        default_catalog()->output_schema(static_cast<tool_id>(i)));
      rapidjson::SchemaValidator v(sd);
      EXPECT_TRUE(sc.Accept(v)) << code << " " << i;
    }
  }
}
