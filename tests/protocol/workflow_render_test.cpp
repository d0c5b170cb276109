// Rendering of the workflow fields and results (issue 12). Every render is
// validated against its tool's output schema, and every field it has must
// be declared there (the official SDK client checks structuredContent with
// Ajv; an undeclared field is a promise the schema does not make).
#include "test_util.hpp"

#include "protocol/render.hpp"
#include "protocol/resources.hpp"
#include "protocol/tools.hpp"

#include <rapidjson/schema.h>

#include <csignal>

using namespace jobd;
using namespace jobd::protocol;
using namespace jobd::protocol::testing;

namespace {

constexpr timestamp_ms t0 = 1795861800000; // 2026-11-28T10:30:00.000Z

// Fields of `value` that `schema` does not declare, as paths. An object
// schema without properties (tags, options) takes any fields; anyOf
// alternatives are tried in turn.
void undeclared(const rapidjson::Value& schema, const rapidjson::Value& value,
                const std::string& at, std::vector<std::string>& out) {
  if (schema.HasMember("anyOf")) {
    for (auto& alt : schema["anyOf"].GetArray()) {
      std::vector<std::string> found;
      undeclared(alt, value, at, found);
      rapidjson::SchemaDocument sd(alt);
      rapidjson::SchemaValidator v(sd);
      if (value.Accept(v)) {
        out.insert(out.end(), found.begin(), found.end());
        return;
      }
    }
    return;
  }
  if (value.IsObject()) {
    auto props = schema.FindMember("properties");
    auto extra = schema.FindMember("additionalProperties");
    for (auto& m : value.GetObject()) {
      auto path = at + "." + m.name.GetString();
      if (props != schema.MemberEnd() && props->value.HasMember(m.name)) {
        undeclared(props->value[m.name], m.value, path, out);
      } else if (extra != schema.MemberEnd() && extra->value.IsObject()) {
        undeclared(extra->value, m.value, path, out);
      } else if (props != schema.MemberEnd()) {
        out.push_back(path);
      }
    }
  } else if (value.IsArray() && schema.HasMember("items")) {
    for (auto& x : value.GetArray())
      undeclared(schema["items"], x, at + "[]", out);
  }
}

rapidjson::Document render(const tool_result& r, tool_id tool) {
  mcp_session s;
  auto doc = parse(s.render_result("1", r));
  auto& sc = doc["result"]["structuredContent"];
  auto& schema = default_catalog()->output_schema(tool);
  rapidjson::SchemaDocument sd(schema);
  rapidjson::SchemaValidator v(sd);
  EXPECT_TRUE(sc.Accept(v)) << to_json(sc);
  std::vector<std::string> extra;
  undeclared(schema, sc, "", extra);
  EXPECT_TRUE(extra.empty()) << tool_name(tool) << ": " << extra.front();
  EXPECT_EQ(doc["result"]["content"][0]["text"].GetString(), to_json(sc));
  return parse(to_json(sc));
}

job_info retried_job() {
  job_info j;
  j.id = "job-9-abc";
  j.kind = "process";
  j.command = "flaky";
  j.status = job_status::pending;
  j.session_id = "default";
  j.created_at = t0;
  j.pending_reason = pending_reasons::backoff;
  j.depends_on = {"job-1-a", "job-2-b"};
  j.condition = dependency_condition::finish;
  j.waiting_for = {"job-2-b"};
  j.scheduled_for = t0 + 60000;
  j.schedule_id = "sched-1-xyz";
  j.template_name = "nightly";
  j.attempt = 2;
  j.max_attempts = 5;
  j.next_attempt_at = t0 + 2000;
  attempt_record a1;
  a1.attempt = 1;
  a1.started_at = t0 + 10;
  a1.finished_at = t0 + 500;
  a1.status = "failed";
  a1.exit_code = 3;
  attempt_record a2;
  a2.attempt = 2;
  a2.started_at = t0 + 1500;
  a2.finished_at = t0 + 1600;
  a2.status = "failed";
  a2.signal = SIGKILL;
  a2.error_code = "TIMEOUT";
  j.attempts = {a1, a2};
  return j;
}

schedule_info sample_schedule() {
  schedule_info s;
  s.spec.id = "sched-1-xyz";
  s.spec.name = "hourly";
  s.spec.cron = "@hourly";
  s.spec.timezone = "Europe/Berlin";
  s.spec.job = R"({"command":"check","args":["-v"],"options":{"priority":7}})";
  s.spec.overlap = overlap_policy::cancel_previous;
  s.spec.catch_up = true;
  s.spec.created_at = t0;
  s.spec.updated_at = t0 + 1;
  s.spec.last_fired_at = t0 + 3600000;
  s.spec.last_job_id = "job-5-q";
  s.spec.fired = 4;
  s.spec.skipped = 2;
  s.spec.missed = 1;
  s.spec.last_error = "QUEUE_FULL: the queue is full";
  s.next_firings = {t0 + 7200000, t0 + 10800000};
  return s;
}

job_template sample_template() {
  job_template t;
  t.name = "deploy";
  t.description = "Deploy a build";
  t.job = R"({"command":"/usr/bin/deploy","args":["{{env}}"]})";
  t.parameters["env"] = {"where", true, "staging", "prod|staging"};
  t.parameters["bare"] = {};
  t.created_at = t0;
  t.updated_at = t0 + 5;
  return t;
}

} // namespace

TEST(workflow_render, a_job_with_every_workflow_field) {
  auto job = retried_job();
  auto sc = render(job, tool_id::status);
  auto& j = sc["job"];
  EXPECT_STREQ(j["pendingReason"].GetString(), "retry_backoff");
  EXPECT_EQ(to_json(j["dependsOn"]), R"(["job-1-a","job-2-b"])");
  EXPECT_STREQ(j["dependencyCondition"].GetString(), "finish");
  EXPECT_EQ(to_json(j["waitingFor"]), R"(["job-2-b"])");
  EXPECT_STREQ(j["scheduledFor"].GetString(), "2026-11-28T10:31:00.000Z");
  EXPECT_STREQ(j["scheduleId"].GetString(), "sched-1-xyz");
  EXPECT_STREQ(j["template"].GetString(), "nightly");
  EXPECT_EQ(j["attempt"].GetInt(), 2);
  EXPECT_EQ(j["maxAttempts"].GetInt(), 5);
  EXPECT_STREQ(j["nextAttemptAt"].GetString(), "2026-11-28T10:30:02.000Z");
  ASSERT_EQ(j["attempts"].Size(), 2u);
  EXPECT_EQ(to_json(j["attempts"][0]),
            R"({"attempt":1,"startedAt":"2026-11-28T10:30:00.010Z",)"
            R"("finishedAt":"2026-11-28T10:30:00.500Z","status":"failed",)"
            R"("exitCode":3,"signal":null,"errorCode":null})");
  EXPECT_STREQ(j["attempts"][1]["signal"].GetString(), "SIGKILL");
  EXPECT_STREQ(j["attempts"][1]["errorCode"].GetString(), "TIMEOUT");
  EXPECT_TRUE(j["attempts"][1]["exitCode"].IsNull());
  // The same in a list, a wait, a multi-wait and a resource.
  list_page page;
  page.jobs = {job};
  page.total = 1;
  sc = render(page, tool_id::list);
  EXPECT_EQ(sc["jobs"][0]["attempts"].Size(), 2u);
  EXPECT_STREQ(sc["jobs"][0]["pendingReason"].GetString(), "retry_backoff");
  wait_result w;
  w.job = job;
  w.reason = "timeout";
  sc = render(w, tool_id::wait);
  EXPECT_EQ(to_json(sc["job"]["waitingFor"]), R"(["job-2-b"])");
  wait_many_result many;
  many.jobs = {job};
  many.reason = "timeout";
  sc = render(many, tool_id::wait);
  EXPECT_STREQ(sc["jobs"][0]["template"].GetString(), "nightly");
  auto doc = parse(render_resource_status("4", "job://job-9-abc", job));
  auto status = parse(doc["result"]["contents"][0]["text"].GetString());
  EXPECT_EQ(status["job"]["maxAttempts"].GetInt(), 5);
}

TEST(workflow_render, fields_only_when_they_say_something) {
  job_info job;
  job.id = "job-1";
  job.status = job_status::pending;
  auto sc = render(job, tool_id::status);
  for (auto name : {"pendingReason", "dependsOn", "dependencyCondition",
                    "waitingFor", "scheduledFor", "scheduleId", "template",
                    "attempt", "maxAttempts", "nextAttemptAt", "attempts"})
    EXPECT_FALSE(sc["job"].HasMember(name)) << name;
  // Once it ran and ended: no pending reason, no waitingFor, no next
  // attempt, but its dependencies and attempts stay.
  job = retried_job();
  job.status = job_status::completed;
  sc = render(job, tool_id::status);
  for (auto name : {"pendingReason", "waitingFor", "nextAttemptAt"})
    EXPECT_FALSE(sc["job"].HasMember(name)) << name;
  EXPECT_TRUE(sc["job"].HasMember("dependsOn"));
  EXPECT_TRUE(sc["job"].HasMember("attempts"));
  // Without retries (maxAttempts 1) no attempt fields.
  job.max_attempts = 1;
  sc = render(job, tool_id::status);
  EXPECT_FALSE(sc["job"].HasMember("attempt"));
  EXPECT_FALSE(sc["job"].HasMember("attempts"));
}

TEST(workflow_render, chunks_carry_their_attempt) {
  output_page page;
  page.job_id = "j";
  page.status = job_status::running;
  output_chunk c;
  c.sequence = 4;
  c.timestamp = t0;
  c.content = "x\n";
  c.attempt = 3;
  page.chunks = {c};
  auto sc = render(page, tool_id::output);
  EXPECT_EQ(sc["output"][0]["attempt"].GetInt(), 3);
  wait_result w;
  w.job = retried_job();
  w.output = page;
  w.reason = "output";
  sc = render(w, tool_id::wait);
  EXPECT_EQ(sc["output"][0]["attempt"].GetInt(), 3);
}

TEST(workflow_render, metrics_have_workflow_counters) {
  metrics_snapshot m;
  m.retries = 7;
  m.dependency_failures = 2;
  m.schedule_firings = 30;
  m.schedule_skips = 3;
  m.schedule_misses = 1;
  auto sc = render(m, tool_id::metrics);
  EXPECT_EQ(to_json(sc["metrics"]["workflows"]),
            R"({"retries":7,"dependencyFailures":2,"scheduleFirings":30,)"
            R"("scheduleSkips":3,"scheduleMisses":1})");
}

TEST(workflow_render, a_schedule) {
  auto s = sample_schedule();
  for (auto tool : {tool_id::create_schedule, tool_id::update_schedule}) {
    auto sc = render(s, tool);
    EXPECT_EQ(
      to_json(sc["schedule"]),
      R"({"scheduleId":"sched-1-xyz","name":"hourly","cron":"@hourly",)"
      R"("timezone":"Europe/Berlin","command":"check","args":["-v"],)"
      R"("options":{"priority":7},"overlap":"cancel_previous",)"
      R"("catchUp":true,"enabled":true,)"
      R"("createdAt":"2026-11-28T10:30:00.000Z",)"
      R"("updatedAt":"2026-11-28T10:30:00.001Z",)"
      R"("lastFiredAt":"2026-11-28T11:30:00.000Z","lastJobId":"job-5-q",)"
      R"("fired":4,"skipped":2,"missed":1,)"
      R"("lastError":"QUEUE_FULL: the queue is full",)"
      R"("nextFirings":["2026-11-28T12:30:00.000Z",)"
      R"("2026-11-28T13:30:00.000Z"]})");
  }
  // A new one: empty optional fields left out, times null, options {}.
  schedule_info fresh;
  fresh.spec.id = "sched-2-a";
  fresh.spec.cron = "0 * * * *";
  fresh.spec.job = R"({"command":"x"})";
  auto sc = render(fresh, tool_id::create_schedule);
  auto& x = sc["schedule"];
  for (auto name : {"name", "lastJobId", "lastError"})
    EXPECT_FALSE(x.HasMember(name)) << name;
  EXPECT_TRUE(x["lastFiredAt"].IsNull());
  EXPECT_EQ(to_json(x["args"]), "[]");
  EXPECT_EQ(to_json(x["options"]), "{}");
  EXPECT_EQ(to_json(x["nextFirings"]), "[]");
  EXPECT_STREQ(x["overlap"].GetString(), "skip");
  schedule_list list;
  list.schedules = {s, fresh};
  sc = render(list, tool_id::list_schedules);
  EXPECT_EQ(sc["total"].GetInt(), 2);
  EXPECT_EQ(sc["schedules"].Size(), 2u);
  list.schedules.clear();
  sc = render(list, tool_id::list_schedules);
  EXPECT_EQ(sc["total"].GetInt(), 0);
}

TEST(workflow_render, a_template) {
  auto t = sample_template();
  auto sc = render(t, tool_id::save_template);
  EXPECT_EQ(to_json(sc["template"]),
            R"({"name":"deploy","description":"Deploy a build",)"
            R"("command":"/usr/bin/deploy","args":["{{env}}"],"options":{},)"
            R"("parameters":{"bare":{},"env":{"description":"where",)"
            R"("default":"staging","pattern":"prod|staging"}},)"
            R"("createdAt":"2026-11-28T10:30:00.000Z",)"
            R"("updatedAt":"2026-11-28T10:30:00.005Z"})");
  template_list list;
  list.templates = {t, t};
  sc = render(list, tool_id::list_templates);
  EXPECT_EQ(sc["total"].GetInt(), 2);
  EXPECT_EQ(sc["templates"].Size(), 2u);
}

TEST(workflow_render, deletes_name_what_they_deleted) {
  auto sc = render(delete_result{"sched-1-xyz", true, true},
                   tool_id::delete_schedule);
  EXPECT_EQ(to_json(sc), R"({"success":true,"scheduleId":"sched-1-xyz",)"
                         R"("deleted":true})");
  sc = render(delete_result{"deploy", true, false}, tool_id::delete_template);
  EXPECT_EQ(to_json(sc), R"({"success":true,"name":"deploy","deleted":true})");
}

TEST(workflow_render, errors_conform_to_the_new_output_schemas) {
  mcp_session s;
  for (auto code : {codes::schedule_not_found, codes::template_not_found,
                    codes::dependency_failed}) {
    auto doc = parse(s.render_error("1", tool_error{code, "no", {}}));
    for (size_t i = 0; i < tool_count; ++i) {
      rapidjson::SchemaDocument sd(
        default_catalog()->output_schema(static_cast<tool_id>(i)));
      rapidjson::SchemaValidator v(sd);
      EXPECT_TRUE(doc["result"]["structuredContent"].Accept(v)) << code;
    }
  }
}

TEST(workflow_render, the_older_renders_declare_every_field) {
  // The declared-field check over the renders the earlier tests make.
  job_info job;
  job.id = "j";
  job.tracking = "cgroup";
  job.owner_instance = "i";
  job.input = stdin_mode::tty;
  job.progress.known = true;
  job.usage.known = true;
  job.restart_of = "r";
  job.idempotency_key = "k";
  job.paused = true;
  render(job, tool_id::status);
  list_page page;
  page.jobs = {job, retried_job()};
  page.next_cursor = "c";
  render(page, tool_id::list);
  wait_result w;
  w.job = job;
  w.output.chunks.resize(1);
  w.output.has_tail = true;
  w.reason = "exit";
  render(w, tool_id::wait);
  output_page out = w.output;
  render(out, tool_id::output);
  submit_result restarted;
  restarted.restart_of = "old";
  restarted.queue_position = 1;
  render(restarted, tool_id::restart);
  submit_reply reply;
  reply.waited = true;
  reply.job = job;
  reply.result.queue_position = 2;
  reply.result.deduplicated = true;
  render(reply, tool_id::execute);
  metrics_snapshot m;
  m.sessions.resize(1);
  m.persistence_error = "x";
  render(m, tool_id::metrics);
  render(cleanup_result{}, tool_id::cleanup);
  render(cancel_result{}, tool_id::cancel);
  render(input_result{}, tool_id::send_input);
  render(signal_result{"j", 15, true, true}, tool_id::signal);
}

TEST(workflow_render, the_declared_field_check_finds_undeclared_fields) {
  auto& schema = default_catalog()->output_schema(tool_id::status);
  auto doc = parse(R"({"success":true,"job":{"id":"j","status":"pending",)"
                   R"("attempts":[{"attempt":1,"bogus":2}],"tags":{"a":1}},)"
                   R"("extra":1})");
  std::vector<std::string> extra;
  undeclared(schema, doc, "", extra);
  EXPECT_EQ(extra,
            (std::vector<std::string>{".job.attempts[].bogus", ".extra"}));
}
