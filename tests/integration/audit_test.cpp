// --audit-log against the real binary: tool calls with their outcomes (also
// those refused before dispatch), every lifecycle event, no environment
// value ever, mode 0600; a symlinked log path stops jobd from starting.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace jobd_it;

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/jobd-audit-it-XXXXXX";
    char* d = ::mkdtemp(tmpl);
    path = d ? d : "";
  }
  ~temp_dir() {
    if (!path.empty()) {
      std::string cmd = "rm -rf '" + path + "'";
      (void) std::system(cmd.c_str());
    }
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Every line parsed; a line that is no JSON object fails the test.
std::vector<DocPtr> entries(const std::string& text) {
  std::vector<DocPtr> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto doc = parse(line);
    if (doc->HasParseError() || !doc->IsObject()) {
      ADD_FAILURE() << "not a JSON object: " << line;
      continue;
    }
    EXPECT_GT(parse_iso_ms(str(*doc, "time")), 0) << line;
    out.push_back(doc);
  }
  return out;
}

std::string field(const Value& v, const char* key) {
  auto i = v.FindMember(key);
  return i != v.MemberEnd() && i->value.IsString() ? i->value.GetString() : "";
}

/// The first entry of `type` whose `key` is `value` (and, if given, whose
/// `key2` is `value2`); nullptr if none.
const Value* find(const std::vector<DocPtr>& all, const std::string& type,
                  const char* key, const std::string& value,
                  const char* key2 = nullptr, const std::string& value2 = {}) {
  for (auto& e : all)
    if (field(*e, "type") == type && field(*e, key) == value
        && (key2 == nullptr || field(*e, key2) == value2))
      return e.get();
  return nullptr;
}

} // namespace

TEST(Audit, ToolCallsAndLifecycleEventsWithoutSecrets) {
  temp_dir dir;
  ASSERT_FALSE(dir.path.empty());
  auto log = dir.path + "/audit.jsonl";
  std::string done_id;
  std::string cancelled_id;
  {
    jobd_process j({"--audit-log", log});
    ASSERT_TRUE(j.started());
    done_id = j.submit(
      // The job sees the value (compared without spelling it out, so
      // that only the environment could bring it into the log).
      "sh", R"(["-c", "test \"$SECRET\" = \"$(printf hunt%s er2)\""])",
      R"({"sessionId": "audited", "environment": {"SECRET": "hunter2"}})");
    ASSERT_FALSE(done_id.empty());
    auto r = j.wait_terminal(done_id);
    ASSERT_TRUE(r.ok()) << r.dump();
    EXPECT_EQ(str((*r)["job"], "status"), "completed");
    cancelled_id = j.submit("sleep", R"(["30"])");
    ASSERT_FALSE(cancelled_id.empty());
    j.wait_running(cancelled_id);
    auto c = j.tool("console_cancel_job", "{\"jobId\":" + q(cancelled_id) + "}",
                    10000);
    EXPECT_TRUE(c.ok()) << c.dump();
    j.wait_terminal(cancelled_id);
    // Refused before dispatch: an unknown tool, invalid arguments.
    auto unknown = j.tool("no_such_tool", R"({"x": 1})");
    EXPECT_TRUE(unknown.rpc_error);
    auto invalid = j.tool("console_get_job_status", "{}");
    EXPECT_TRUE(invalid.is_error) << invalid.dump();
    // A tool error after dispatch.
    auto missing
      = j.tool("console_get_job_status", R"({"jobId": "job_nosuch"})");
    EXPECT_TRUE(missing.is_error) << missing.dump();
    j.close_stdin();
    auto st = j.wait_exit(10000);
    ASSERT_TRUE(st.has_value());
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
  }
  struct stat sb {};
  ASSERT_EQ(::stat(log.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0600u);
  auto text = slurp(log);
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  auto all = entries(text);
  ASSERT_GE(all.size(), 10u) << text;
  EXPECT_EQ(field(*all.front(), "type"), "server");
  EXPECT_EQ(field(*all.front(), "event"), "start");
  EXPECT_EQ(field(*all.back(), "type"), "server");
  EXPECT_EQ(field(*all.back(), "event"), "stop");
  EXPECT_NE(find(all, "session", "event", "initialize"), nullptr) << text;

  // The submit, as called: environment names kept, values redacted.
  auto submit = find(all, "tool_call", "tool", "console_execute_async",
                     "jobSession", "audited");
  ASSERT_NE(submit, nullptr) << text;
  EXPECT_EQ(field(*submit, "outcome"), "ok");
  EXPECT_FALSE(field(*submit, "session").empty());
  EXPECT_EQ(str(*submit, "arguments.options.environment.SECRET"), "[redacted]");
  EXPECT_TRUE(at(*submit, "durationMs")
              && at(*submit, "durationMs")->IsInt64());

  auto cancel = find(all, "tool_call", "tool", "console_cancel_job");
  ASSERT_NE(cancel, nullptr) << text;
  EXPECT_EQ(field(*cancel, "outcome"), "ok");
  auto unknown = find(all, "tool_call", "tool", "no_such_tool");
  ASSERT_NE(unknown, nullptr) << text;
  EXPECT_EQ(field(*unknown, "outcome"), "error");
  EXPECT_EQ(num(*unknown, "errorCode"), -32602);
  auto invalid = find(all, "tool_call", "tool", "console_get_job_status",
                      "outcome", "error");
  ASSERT_NE(invalid, nullptr) << text;
  EXPECT_EQ(field(*invalid, "errorCode"), "INVALID_ARGUMENTS");
  bool not_found = false;
  for (auto& e : all)
    not_found = not_found || field(*e, "errorCode") == "JOB_NOT_FOUND";
  EXPECT_TRUE(not_found) << text;

  // Lifecycle: created, started, finished of the first job; the second
  // cancelled; each with its session and command.
  for (auto* ev : {"created", "started", "finished"}) {
    auto e = find(all, "job", "jobId", done_id, "event", ev);
    ASSERT_NE(e, nullptr) << ev << "\n" << text;
    EXPECT_EQ(field(*e, "sessionId"), "audited");
    EXPECT_EQ(field(*e, "command"), "sh");
  }
  auto started = find(all, "job", "jobId", done_id, "event", "started");
  EXPECT_GT(num(*started, "pid"), 0);
  auto finished = find(all, "job", "jobId", done_id, "event", "finished");
  EXPECT_EQ(field(*finished, "status"), "completed");
  EXPECT_EQ(num(*finished, "exitCode"), 0);
  auto cancelled
    = find(all, "job", "jobId", cancelled_id, "event", "cancelled");
  ASSERT_NE(cancelled, nullptr) << text;
  EXPECT_EQ(field(*cancelled, "status"), "cancelled");
  EXPECT_EQ(field(*cancelled, "command"), "sleep");
}

TEST(Audit, SymlinkedLogPathStopsTheStart) {
  temp_dir dir;
  auto target = dir.path + "/target";
  { std::ofstream{target} << "precious\n"; }
  auto log = dir.path + "/audit.jsonl";
  ASSERT_EQ(::symlink(target.c_str(), log.c_str()), 0);
  jobd_options o;
  o.handshake = false;
  o.protocol_stdout = false;
  o.args = {"--audit-log", log};
  jobd_process j(o);
  auto st = j.wait_exit(5000);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 2) << j.stderr_text();
  EXPECT_NE(j.stderr_text().find("symbolic link"), std::string::npos)
    << j.stderr_text();
  EXPECT_EQ(slurp(target), "precious\n");
}

TEST(Audit, SchedulesAndTemplatesCarryNoEnvironmentValue) {
  temp_dir dir;
  ASSERT_FALSE(dir.path.empty());
  auto log = dir.path + "/audit.jsonl";
  {
    jobd_process j({"--audit-log", log});
    auto r = j.tool("console_create_schedule",
                    R"({"name":"nightly","cron":"@daily","command":"env",)"
                    R"("options":{"environment":{"TOKEN":"hunter2"}}})");
    ASSERT_TRUE(r.ok()) << r.dump();
    r = j.tool("console_save_template",
               R"({"name":"t","command":"env",)"
               R"("options":{"environment":{"TOKEN":"hunter2"}}})");
    EXPECT_TRUE(r.response != nullptr) << r.dump();
    j.close_stdin();
    ASSERT_TRUE(j.wait_exit(10000).has_value());
  }
  auto text = slurp(log);
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  auto all = entries(text);
  auto schedule = find(all, "tool_call", "tool", "console_create_schedule");
  ASSERT_NE(schedule, nullptr) << text;
  EXPECT_EQ(field(*schedule, "outcome"), "ok");
  EXPECT_EQ(str(*schedule, "arguments.options.environment.TOKEN"),
            "[redacted]");
  EXPECT_NE(find(all, "tool_call", "tool", "console_save_template"), nullptr)
    << text;
}
