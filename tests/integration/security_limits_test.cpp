// Issue 13, item 7: resource limits and the Landlock sandbox against real
// attacks (a fork bomb, a memory hog, a disk filler, a CPU spinner, a write
// outside the allowed directories), each also with the control off.
#include "jobd_harness.hpp"
#include "security_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

using namespace jobd_it;
using jobd_it::security::work_dir;

namespace {

namespace fs = std::filesystem;

tool_result run_sh(jobd_process& j, const std::string& script,
                   const std::string& options) {
  return j.tool("console_execute_async", "{\"command\":\"sh\",\"args\":[\"-c\","
                                           + q(script)
                                           + "],\"options\":" + options + "}");
}

/// The finished job's status object (`job`), after waiting for it.
const Value* finished(jobd_process& j, const std::string& id, tool_result& keep,
                      int timeout_ms = 30000) {
  keep = j.wait_terminal(id, timeout_ms);
  return keep.ok() ? at(*keep, "job") : nullptr;
}

bool limits_enforced(jobd_process& j, const char* name) {
  auto r = run_sh(j, "true", std::string{"{\"limits\":{\""} + name + "\":64}}");
  if (!r.ok())
    return false;
  auto s = j.status(str(*r, "jobId"));
  return s.ok() && has(*s, std::string{"job.security.limits."} + name);
}

} // namespace

TEST(Limits, AForkBombStaysUnderMaxProcesses) {
  jobd_process j;
  if (!limits_enforced(j, "maxProcesses"))
    GTEST_SKIP() << "no pids cgroup controller on this machine";
  // Control off, bounded: 60 sleepers all start.
  const std::string sleepers
    = "i=0; while [ $i -lt 60 ]; do sleep 3 & i=$((i+1)); done; wait";
  auto count_group = [&](const std::string& id, int ms) {
    auto st = j.wait_running(id);
    auto pid = static_cast<pid_t>(num(*st, "job.pid"));
    size_t most = 0;
    for (auto end = now_ms() + ms; now_ms() < end;) {
      most = std::max(most, procs_in_group(pid).size());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return most;
  };
  auto off = run_sh(j, sleepers, "{}");
  ASSERT_TRUE(off.ok()) << off.dump();
  EXPECT_GT(count_group(str(*off, "jobId"), 1500), 50u);
  j.tool("console_cancel_job",
         "{\"jobId\":" + q(str(*off, "jobId")) + ",\"graceMs\":0}");
  // Control on: the same, and a real recursive fork bomb.
  auto on = run_sh(j, sleepers, R"({"limits":{"maxProcesses":20}})");
  ASSERT_TRUE(on.ok()) << on.dump();
  EXPECT_LE(count_group(str(*on, "jobId"), 1500), 20u);
  // It ends by itself (exit 1, or sooner if even `sleep` cannot fork), so
  // that its end is judged by its limits, not by a timeout.
  auto bomb = run_sh(j, "b() { b | b & }; b; sleep 3; exit 1",
                     R"({"limits":{"maxProcesses":30},"timeout":20000})");
  ASSERT_TRUE(bomb.ok()) << bomb.dump();
  auto id = str(*bomb, "jobId");
  EXPECT_LE(count_group(id, 2000), 30u);
  tool_result keep;
  auto job = finished(j, id, keep);
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(str(*job, "status"), "failed");
  EXPECT_EQ(str(*job, "errorCode"), "LIMIT_EXCEEDED") << to_json(*job);
  EXPECT_EQ(str(*job, "usage.limitExceeded"), "maxProcesses") << to_json(*job);
  // The machine is still fine: another job runs.
  auto after = run_sh(j, "echo ok", "{}");
  ASSERT_TRUE(after.ok());
  tool_result k2;
  auto a = finished(j, str(*after, "jobId"), k2);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(str(*a, "status"), "completed");
}

TEST(Limits, AMemoryHogIsStoppedAtMemoryBytes) {
  jobd_process j;
  if (!limits_enforced(j, "memoryBytes"))
    GTEST_SKIP() << "memory limits are not enforced here";
  // tail keeps a whole "line" of 300 MiB of zeros in memory; the shell
  // reports how tail ended.
  const std::string hog = "head -c 314572800 /dev/zero | tail -n 1 >/dev/null";
  auto off = run_sh(j, hog, "{}");
  ASSERT_TRUE(off.ok());
  tool_result k1;
  auto a = finished(j, str(*off, "jobId"), k1);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(str(*a, "status"), "completed") << to_json(*a);
  auto on = run_sh(j, hog, R"({"limits":{"memoryBytes":67108864}})");
  ASSERT_TRUE(on.ok());
  tool_result k2;
  auto b = finished(j, str(*on, "jobId"), k2);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(str(*b, "status"), "failed") << to_json(*b);
  EXPECT_EQ(str(*b, "errorCode"), "LIMIT_EXCEEDED") << to_json(*b);
  EXPECT_EQ(str(*b, "usage.limitExceeded"), "memoryBytes") << to_json(*b);
}

TEST(Limits, ADiskFillerIsStoppedAtFileSizeBytes) {
  work_dir dir{"jobd-limits-disk"};
  jobd_process j;
  const std::string fill = "head -c 10485760 /dev/zero > big";
  auto opts = [&](const std::string& more) {
    return "{\"workingDirectory\":" + q(dir.path) + more + "}";
  };
  auto off = run_sh(j, fill, opts(""));
  ASSERT_TRUE(off.ok());
  tool_result k1;
  ASSERT_NE(finished(j, str(*off, "jobId"), k1), nullptr);
  EXPECT_EQ(fs::file_size(dir / "big"), 10485760u);
  fs::remove(dir / "big");
  auto on = run_sh(j, fill, opts(R"(,"limits":{"fileSizeBytes":1048576})"));
  ASSERT_TRUE(on.ok()) << on.dump();
  tool_result k2;
  auto b = finished(j, str(*on, "jobId"), k2);
  ASSERT_NE(b, nullptr);
  EXPECT_LE(fs::file_size(dir / "big"), 1048576u);
  EXPECT_EQ(str(*b, "status"), "failed") << to_json(*b);
  EXPECT_EQ(str(*b, "errorCode"), "LIMIT_EXCEEDED") << to_json(*b);
  EXPECT_EQ(str(*b, "usage.limitExceeded"), "fileSizeBytes") << to_json(*b);
  EXPECT_EQ(str(*b, "security.limits.fileSizeBytes.enforcedBy"), "rlimit");
}

TEST(Limits, ACpuSpinnerIsStoppedAtCpuSeconds) {
  jobd_process j;
  auto on = run_sh(j, "while :; do :; done",
                   R"({"limits":{"cpuSeconds":1},"timeout":20000})");
  ASSERT_TRUE(on.ok()) << on.dump();
  tool_result keep;
  auto b = finished(j, str(*on, "jobId"), keep);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(str(*b, "errorCode"), "LIMIT_EXCEEDED") << to_json(*b);
  EXPECT_EQ(str(*b, "usage.limitExceeded"), "cpuSeconds") << to_json(*b);
}

TEST(Limits, ALimitOverTheServersMaximumIsRefused) {
  jobd_options o;
  o.args
    = {"--limit-memory-bytes-max", "1073741824", "--limit-open-files", "256"};
  jobd_process j(o);
  auto r = run_sh(j, "true", R"({"limits":{"memoryBytes":1073741825}})");
  ASSERT_TRUE(r.is_error) << r.dump();
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  EXPECT_NE(r.message().find("options.limits.memoryBytes"), std::string::npos)
    << r.dump();
  // The defaults apply when a call sets none, and status says so.
  auto ok = run_sh(j, "ulimit -n; ulimit -c", "{}");
  ASSERT_TRUE(ok.ok()) << ok.dump();
  auto id = str(*ok, "jobId");
  tool_result keep;
  auto b = finished(j, id, keep);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(j.output_text(id), "256\n0\n");
  EXPECT_EQ(num(*b, "security.limits.openFiles.value"), 256);
  EXPECT_EQ(num(*b, "security.limits.memoryBytes.value"), 1073741824);
}

// -- the Landlock sandbox
// ---------------------------------------------------------

TEST(Sandbox, AWriteOutsideTheAllowedDirectoriesFails) {
  work_dir allowed{"jobd-sandbox-allowed"};
  work_dir outside{"jobd-sandbox-outside"};
  const std::string attack = "echo pwned > " + outside / "x" + "; echo ok > "
                             + allowed / "y" + "; cat " + outside / "x";
  auto opts = "{\"workingDirectory\":" + q(allowed.path) + "}";
  // Control off: the write lands.
  {
    jobd_options o;
    o.args = {"--allow-dir", allowed.path};
    jobd_process j(o);
    auto r = run_sh(j, attack, opts);
    ASSERT_TRUE(r.ok()) << r.dump();
    tool_result keep;
    ASSERT_NE(finished(j, str(*r, "jobId"), keep), nullptr);
    EXPECT_TRUE(fs::exists(outside / "x"));
    fs::remove(outside / "x");
    fs::remove(allowed / "y");
  }
  jobd_options o;
  o.args = {"--allow-dir", allowed.path, "--sandbox-fs"};
  jobd_process j(o);
  if (!j.started() || j.exited())
    JOBD_IT_SKIP_WITHOUT_LANDLOCK(j.stderr_text());
  auto r
    = run_sh(j, attack + "; touch /tmp/jobd-sandbox-tmp-$$ && echo tmp", opts);
  ASSERT_TRUE(r.ok()) << r.dump();
  auto id = str(*r, "jobId");
  tool_result keep;
  auto b = finished(j, id, keep);
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(fs::exists(outside / "x"));
  EXPECT_TRUE(fs::exists(allowed / "y"));
  EXPECT_NE(j.output_text(id).find("tmp"), std::string::npos)
    << j.output_text(id);
  EXPECT_TRUE(boolean(*b, "security.sandbox.enabled")) << to_json(*b);
  // Reading stays possible everywhere (no --allow-read).
  auto rd = run_sh(j, "cat /etc/hostname >/dev/null && echo read", opts);
  ASSERT_TRUE(rd.ok());
  tool_result k2;
  ASSERT_NE(finished(j, str(*rd, "jobId"), k2), nullptr);
  EXPECT_EQ(j.output_text(str(*rd, "jobId")), "read\n");
  for (auto& e : fs::directory_iterator("/tmp"))
    if (e.path().filename().string().rfind("jobd-sandbox-tmp-", 0) == 0)
      fs::remove(e.path());
}

TEST(Sandbox, AllowReadKeepsReadsInsideAndProgramsRunning) {
  work_dir allowed{"jobd-sandbox-allowed"};
  work_dir secret{"jobd-sandbox-secret"};
  std::ofstream{secret / "key"} << "top-secret";
  std::ofstream{allowed / "data"} << "fine";
  jobd_options o;
  o.args = {"--allow-dir", allowed.path, "--sandbox-fs", "--allow-read",
            allowed.path};
  jobd_process j(o);
  if (!j.started() || j.exited())
    JOBD_IT_SKIP_WITHOUT_LANDLOCK(j.stderr_text());
  auto r = run_sh(j, "cat data; cat " + secret / "key" + " || echo denied",
                  "{\"workingDirectory\":" + q(allowed.path) + "}");
  ASSERT_TRUE(r.ok()) << r.dump();
  auto id = str(*r, "jobId");
  tool_result keep;
  ASSERT_NE(finished(j, id, keep), nullptr);
  auto out = j.output_text(id, "stdout");
  EXPECT_EQ(out.find("top-secret"), std::string::npos) << out;
  EXPECT_NE(out.find("fine"), std::string::npos) << out;
  EXPECT_NE(out.find("denied"), std::string::npos) << out;
}

TEST(Sandbox, OptionsSandboxConfinesOneJob) {
  work_dir dir{"jobd-sandbox-one"};
  work_dir outside{"jobd-sandbox-outside"};
  jobd_process j;
  auto r
    = run_sh(j, "echo x > " + outside / "x",
             "{\"workingDirectory\":" + q(dir.path) + ",\"sandbox\":true}");
  if (r.code() == "NOT_SUPPORTED")
    JOBD_IT_SKIP_WITHOUT_LANDLOCK(r.dump());
  ASSERT_TRUE(r.ok()) << r.dump();
  tool_result keep;
  auto b = finished(j, str(*r, "jobId"), keep);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(str(*b, "status"), "failed");
  EXPECT_FALSE(fs::exists(outside / "x"));
}
