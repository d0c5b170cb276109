// Running jobs: execve semantics, shell jobs, environment, working directory,
// status fields, spawn errors, unknown ids.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <set>

using namespace jobd_it;

namespace {

std::string make_temp_dir() {
  char tmpl[] = "/tmp/jobd-it-XXXXXX";
  char* d = mkdtemp(tmpl);
  return d ? std::string(d) : std::string();
}

void expect_iso(const Value& job, const char* field) {
  auto text = str(job, field);
  EXPECT_GT(parse_iso_ms(text), 0)
    << field << " is not an ISO-8601 UTC timestamp with ms: " << text;
}

} // namespace

TEST(Jobs, BothStreamsAndExitCode3) {
  jobd_process j;
  auto id = j.submit_sh("echo to-out; echo to-err >&2; exit 3");
  ASSERT_FALSE(id.empty());
  auto r = j.wait_terminal(id);
  ASSERT_TRUE(r.ok());
  const Value& job = (*r)["job"];
  EXPECT_EQ(str(job, "id"), id);
  EXPECT_EQ(str(job, "status"), "failed");
  EXPECT_EQ(num(job, "exitCode"), 3);
  EXPECT_TRUE(is_null(job, "signal")) << to_json(job);
  EXPECT_TRUE(is_null(job, "errorCode")) << to_json(job);
  auto* err = at(job, "error");
  ASSERT_TRUE(err && err->IsString()) << to_json(job);
  EXPECT_NE(std::string(err->GetString()).find('3'), std::string::npos)
    << err->GetString();
  EXPECT_GT(num(job, "pid"), 0);
  EXPECT_EQ(num(job, "output.stdoutBytes"), 7);
  EXPECT_EQ(num(job, "output.stderrBytes"), 7);
  EXPECT_EQ(num(job, "output.droppedChunks"), 0);
  EXPECT_EQ(num(job, "output.droppedBytes"), 0);
  EXPECT_EQ(num(job, "output.bufferedBytes"), 14);

  auto out = j.tool("console_get_job_output", "{\"jobId\":" + q(id) + "}");
  ASSERT_TRUE(out.ok()) << out.dump();
  EXPECT_EQ(str(*out, "jobId"), id);
  EXPECT_EQ(str(*out, "status"), "failed");
  EXPECT_TRUE(boolean(*out, "finished"));
  EXPECT_TRUE(boolean(*out, "complete"));
  EXPECT_FALSE(boolean(*out, "truncated"));
  const Value& chunks = (*out)["output"];
  ASSERT_TRUE(chunks.IsArray());
  ASSERT_GE(chunks.Size(), 2u);
  std::string so, se;
  int64_t expect_seq = 1;
  for (auto& c : chunks.GetArray()) {
    EXPECT_EQ(num(c, "sequenceNumber"), expect_seq++);
    expect_iso(c, "timestamp");
    auto type = str(c, "type");
    (type == "stdout" ? so : se) += str(c, "content");
    EXPECT_TRUE(type == "stdout" || type == "stderr") << type;
  }
  EXPECT_EQ(so, "to-out\n");
  EXPECT_EQ(se, "to-err\n");
  EXPECT_EQ(num(job, "output.lastSequence"), expect_seq - 1);
  EXPECT_EQ(num(*out, "nextSince"), expect_seq - 1);
}

TEST(Jobs, StatusFieldsOfAFinishedJob) {
  jobd_process j;
  auto id = j.submit(
    R"({"command":"true","args":[],"options":{"sessionId":"s-1","priority":7,)"
    R"("timeout":12345,"tags":{"model":"nlp","n":3,"flag":true}}})");
  auto r = j.wait_terminal(id);
  ASSERT_TRUE(r.ok());
  const Value& job = (*r)["job"];
  EXPECT_EQ(str(job, "kind"), "process");
  EXPECT_EQ(str(job, "command"), "true");
  ASSERT_TRUE(at(job, "args") && job["args"].IsArray());
  EXPECT_EQ(job["args"].Size(), 0u);
  EXPECT_FALSE(boolean(job, "shell"));
  EXPECT_EQ(str(job, "status"), "completed");
  EXPECT_EQ(str(job, "sessionId"), "s-1");
  EXPECT_FALSE(str(job, "workingDirectory").empty());
  expect_iso(job, "createdAt");
  expect_iso(job, "startedAt");
  expect_iso(job, "finishedAt");
  auto created = parse_iso_ms(str(job, "createdAt"));
  auto started = parse_iso_ms(str(job, "startedAt"));
  auto finished = parse_iso_ms(str(job, "finishedAt"));
  EXPECT_LE(created, started);
  EXPECT_LE(started, finished);
  auto dur = num(job, "durationMs");
  EXPECT_GE(dur, 0);
  EXPECT_NEAR(static_cast<double>(dur), static_cast<double>(finished - started),
              2.0);
  EXPECT_EQ(num(job, "priority"), 7);
  EXPECT_EQ(num(job, "timeout"), 12345);
  EXPECT_EQ(str(job, "tags.model"), "nlp");
  EXPECT_EQ(num(job, "tags.n"), 3);
  EXPECT_TRUE(boolean(job, "tags.flag"));
  EXPECT_EQ(num(job, "exitCode"), 0);
  EXPECT_TRUE(is_null(job, "signal")) << to_json(job);
  EXPECT_TRUE(is_null(job, "error")) << to_json(job);
  EXPECT_TRUE(is_null(job, "errorCode")) << to_json(job);
  EXPECT_GT(num(job, "pid"), 0);
  EXPECT_TRUE(is_null(job, "queuePosition")) << to_json(job);
  for (auto* f : {"stdoutBytes", "stderrBytes", "chunks", "droppedChunks",
                  "droppedBytes", "bufferedBytes", "lastSequence"})
    EXPECT_EQ(num(job, std::string("output.") + f), 0) << f;
}

TEST(Jobs, DefaultsRecorded) {
  jobd_process j;
  auto id = j.submit("true", "[]");
  auto r = j.wait_terminal(id);
  const Value& job = (*r)["job"];
  EXPECT_EQ(str(job, "sessionId"), "default");
  EXPECT_EQ(num(job, "priority"), 5);
  EXPECT_EQ(num(job, "timeout"), 300000);
  ASSERT_TRUE(at(job, "tags") && job["tags"].IsObject());
  EXPECT_EQ(job["tags"].MemberCount(), 0u);
  char cwd[PATH_MAX];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(str(job, "workingDirectory"), cwd);
}

TEST(Jobs, JobTimeoutFlagSetsTheDefaultTimeout) {
  jobd_process j(std::vector<std::string>{"--job-timeout-ms", "4321"});
  auto id = j.submit("true", "[]");
  auto r = j.wait_terminal(id);
  EXPECT_EQ(num((*r)["job"], "timeout"), 4321);
}

TEST(Jobs, RunningJobStatus) {
  jobd_process j;
  auto id = j.submit("sleep", "[\"5\"]");
  {
    // A job reported running has a pid at once.
    auto now = j.status(id);
    if (str((*now)["job"], "status") == "running") {
      EXPECT_TRUE(at((*now)["job"], "pid") && (*now)["job"]["pid"].IsInt64())
        << "running without a pid: " << now.dump();
    }
  }
  auto r = j.wait_running(id);
  const Value& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "running");
  EXPECT_TRUE(is_null(job, "finishedAt")) << to_json(job);
  EXPECT_TRUE(is_null(job, "exitCode")) << to_json(job);
  EXPECT_TRUE(is_null(job, "signal")) << to_json(job);
  EXPECT_GT(num(job, "pid"), 0);
  auto pid = static_cast<pid_t>(num(job, "pid"));
  EXPECT_TRUE(pid_alive(pid));
  // The job leads its own process group.
  auto group = procs_in_group(pid);
  EXPECT_FALSE(group.empty())
    << "job pid " << pid << " is not a process group leader";
  sleep_ms(120);
  auto r2 = j.status(id);
  EXPECT_GE(num((*r2)["job"], "durationMs"), 100)
    << "durationMs must run to now while running";
  auto c = j.tool("console_cancel_job",
                  "{\"jobId\":" + q(id) + ",\"options\":{\"graceMs\":200}}");
  EXPECT_TRUE(c.ok()) << c.dump();
}

TEST(Jobs, ArgumentsArriveLiterally) {
  jobd_process j;
  auto id = j.submit(
    "printf",
    R"J(["%s\n","a b","$HOME",";","echo","injected","`id`","$(id)","'q'","\"dq\"","*",""])J");
  auto r = j.wait_terminal(id);
  EXPECT_EQ(str((*r)["job"], "status"), "completed") << r.dump();
  EXPECT_EQ(j.output_text(id, "stdout"),
            "a b\n$HOME\n;\necho\ninjected\n`id`\n$(id)\n'q'\n\"dq\"\n*\n\n");
  // Recorded as given.
  const Value& args = (*r)["job"]["args"];
  ASSERT_TRUE(args.IsArray());
  ASSERT_EQ(args.Size(), 12u);
  EXPECT_STREQ(args[2].GetString(), "$HOME");
}

TEST(Jobs, AbsoluteCommandPath) {
  jobd_process j;
  auto id = j.submit("/bin/echo", R"(["a b", "$HOME", ";"])");
  j.wait_terminal(id);
  EXPECT_EQ(j.output_text(id), "a b $HOME ;\n");
}

TEST(Jobs, ShellJob) {
  jobd_process j;
  auto id = j.submit(
    R"({"command":"echo $((1+2)); echo \"$HOME\" | grep -q . && echo expanded","options":{"shell":true}})");
  auto r = j.wait_terminal(id);
  EXPECT_EQ(str((*r)["job"], "status"), "completed");
  EXPECT_TRUE(boolean((*r)["job"], "shell"));
  EXPECT_EQ(j.output_text(id), "3\nexpanded\n");
}

TEST(Jobs, ShellJobExitCode) {
  jobd_process j;
  auto id = j.submit(R"({"command":"exit 42","options":{"shell":true}})");
  auto r = j.wait_terminal(id);
  EXPECT_EQ(str((*r)["job"], "status"), "failed");
  EXPECT_EQ(num((*r)["job"], "exitCode"), 42);
}

TEST(Jobs, KilledBySignalIsFailedWithSignalName) {
  jobd_process j;
  auto id = j.submit_sh("kill -KILL $$");
  auto r = j.wait_terminal(id);
  const Value& job = (*r)["job"];
  EXPECT_EQ(str(job, "status"), "failed");
  EXPECT_EQ(str(job, "signal"), "SIGKILL");
  EXPECT_TRUE(is_null(job, "exitCode")) << to_json(job);
  auto id2 = j.submit_sh("kill -USR1 $$");
  auto r2 = j.wait_terminal(id2);
  EXPECT_EQ(str((*r2)["job"], "signal"), "SIGUSR1");
}

TEST(Jobs, CommandNotFoundAtOnce) {
  jobd_process j;
  for (const char* cmd :
       {"jobd-it-no-such-command-xyz", "/nonexistent/dir/tool"}) {
    SCOPED_TRACE(cmd);
    auto t0 = now_ms();
    auto r = j.tool("console_execute_async",
                    std::string("{\"command\":\"") + cmd + "\"}");
    EXPECT_LT(now_ms() - t0, 1000);
    EXPECT_TRUE(r.is_error) << r.dump();
    EXPECT_EQ(r.code(), "COMMAND_NOT_FOUND") << r.dump();
    EXPECT_NE(r.message().find(cmd), std::string::npos) << r.message();
  }
}

TEST(Jobs, CommandFoundThroughJobPath) {
  // PATH given in the job's environment is the one used to look up the command.
  auto dir = make_temp_dir();
  ASSERT_FALSE(dir.empty());
  auto script = dir + "/jobd-it-tool";
  {
    std::ofstream f(script);
    f << "#!/bin/sh\necho found-me\n";
  }
  chmod(script.c_str(), 0755);
  jobd_process j;
  auto id = j.submit("jobd-it-tool", "[]",
                     "{\"environment\":{\"PATH\":" + q(dir + ":/usr/bin:/bin")
                       + "}}");
  if (!id.empty()) {
    j.wait_terminal(id);
    EXPECT_EQ(j.output_text(id), "found-me\n");
  }
  unlink(script.c_str());
  rmdir(dir.c_str());
}

TEST(Jobs, PermissionDenied) {
  auto dir = make_temp_dir();
  ASSERT_FALSE(dir.empty());
  auto file = dir + "/not-executable";
  {
    std::ofstream f(file);
    f << "#!/bin/sh\necho nope\n";
  }
  chmod(file.c_str(), 0644);
  // Even root cannot execve a file without any x bit (EACCES).
  jobd_process j;
  auto r = j.tool("console_execute_async", "{\"command\":" + q(file) + "}");
  EXPECT_TRUE(r.is_error) << r.dump();
  EXPECT_EQ(r.code(), "PERMISSION_DENIED") << r.dump();
  unlink(file.c_str());
  rmdir(dir.c_str());
}

TEST(Jobs, BadWorkingDirectory) {
  jobd_process j;
  for (const char* wd : {"/nonexistent-jobd-it-dir", "/etc/passwd"}) {
    SCOPED_TRACE(wd);
    auto r = j.tool(
      "console_execute_async",
      std::string("{\"command\":\"true\",\"options\":{\"workingDirectory\":\"")
        + wd + "\"}}");
    EXPECT_TRUE(r.is_error) << r.dump();
    EXPECT_EQ(r.code(), "INVALID_WORKING_DIRECTORY") << r.dump();
  }
}

TEST(Jobs, WorkingDirectoryHonoured) {
  auto dir = make_temp_dir();
  ASSERT_FALSE(dir.empty());
  jobd_process j;
  auto id = j.submit("pwd", "[]", "{\"workingDirectory\":" + q(dir) + "}");
  auto r = j.wait_terminal(id);
  EXPECT_EQ(str((*r)["job"], "workingDirectory"), dir);
  EXPECT_EQ(j.output_text(id), dir + "\n");
  rmdir(dir.c_str());
}

TEST(Jobs, EnvironmentAddedToServers) {
  jobd_options o;
  o.env = {{"IT_PARENT", "from-server"}, {"JOBD_IT_OVERRIDE", "server"}};
  jobd_process j(o);
  auto id = j.submit_sh(
    "echo \"$JOBD_IT_VAR|$IT_PARENT|$JOBD_IT_OVERRIDE|$JOBD_IT_EMPTY.\"",
    R"({"environment":{"JOBD_IT_VAR":"hello world; $HOME","JOBD_IT_OVERRIDE":"job","JOBD_IT_EMPTY":""}})");
  j.wait_terminal(id);
  EXPECT_EQ(j.output_text(id), "hello world; $HOME|from-server|job|.\n");
}

TEST(Jobs, StdinIsDevNull) {
  jobd_process j;
  // cat must see EOF at once and must not steal the protocol stream.
  auto id = j.submit("cat", "[]");
  auto r = j.wait_terminal(id, 3000);
  EXPECT_EQ(str((*r)["job"], "status"), "completed");
  EXPECT_EQ(j.output_text(id), "");
  auto doc = j.call("ping");
  ASSERT_TRUE(doc);
}

TEST(Jobs, NoServerDescriptorsLeakIntoJobs) {
  jobd_process j;
  auto id = j.submit("ls", "[\"/proc/self/fd\"]");
  j.wait_terminal(id);
  // ls opens the directory itself as fd 3.
  auto text = j.output_text(id);
  EXPECT_TRUE(text == "0\n1\n2\n3\n" || text == "0\n1\n2\n")
    << "job inherited descriptors:\n"
    << text;
}

TEST(Jobs, UnknownJobIdIsJobNotFound) {
  jobd_process j;
  const std::string bogus = "job-999-nope";
  std::vector<std::pair<std::string, std::string>> calls = {
    {"console_get_job_status", "{\"jobId\":" + q(bogus) + "}"},
    {"console_get_job_output", "{\"jobId\":" + q(bogus) + "}"},
    {"console_cancel_job", "{\"jobId\":" + q(bogus) + "}"},
    {"console_wait_job", "{\"jobId\":" + q(bogus) + ",\"timeoutMs\":100}"},
  };
  for (auto& c : calls) {
    SCOPED_TRACE(c.first);
    auto r = j.tool(c.first, c.second);
    EXPECT_TRUE(r.is_error) << r.dump();
    EXPECT_EQ(r.code(), "JOB_NOT_FOUND") << r.dump();
    EXPECT_EQ(str(*r, "details.jobId"), bogus) << r.dump();
    EXPECT_GT(parse_iso_ms(str(*r, "details.timestamp")), 0) << r.dump();
    EXPECT_NE(r.message().find(bogus), std::string::npos) << r.message();
  }
}

TEST(Jobs, JobIdsAreUniqueAndSequencesPerJob) {
  jobd_process j;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(j.submit_sh("echo a; echo b >&2"));
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size());
  for (auto& id : ids) {
    j.wait_terminal(id);
    auto out = j.tool("console_get_job_output", "{\"jobId\":" + q(id) + "}");
    ASSERT_TRUE(out.ok());
    ASSERT_GE((*out)["output"].Size(), 1u);
    EXPECT_EQ(num((*out)["output"][0], "sequenceNumber"), 1)
      << "sequence numbers must be per job";
  }
}

TEST(Jobs, ExecuteReplyShape) {
  jobd_process j;
  auto r
    = j.tool("console_execute_async", R"({"command":"sleep","args":["0.2"]})");
  ASSERT_TRUE(r.ok()) << r.dump();
  EXPECT_EQ(str(*r, "status"), "running");
  auto id = str(*r, "jobId");
  EXPECT_EQ(id.rfind("job-", 0), 0u) << id;
  j.wait_terminal(id);
}

TEST(Jobs, FastExitingJobsHaveExitRecorded) {
  jobd_process j(std::vector<std::string>{
    "--max-concurrent-jobs", "20", "--max-concurrent-jobs-per-session", "20"});
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i)
    ids.push_back(j.submit_sh("exit " + std::to_string(i % 4)));
  for (size_t i = 0; i < ids.size(); ++i) {
    auto r = j.wait_terminal(ids[i]);
    EXPECT_EQ(num((*r)["job"], "exitCode"), static_cast<int64_t>(i % 4));
    EXPECT_EQ(str((*r)["job"], "status"), i % 4 == 0 ? "completed" : "failed");
  }
}
