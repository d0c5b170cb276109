// Issue 13, tried as an attacker would: each control of docs/security.md
// against the real binary, and each attack once with the control off, so
// that a test shows the control (not the machine) stops it.
#include "jobd_harness.hpp"
#include "security_util.hpp"
#include "workflow_util.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

using namespace jobd_it;
using jobd_it::security::work_dir;

namespace {

namespace fs = std::filesystem;

std::string opts_in(const std::string& dir, const std::string& more = "") {
  return "{\"workingDirectory\":" + q(dir) + more + "}";
}

tool_result execute(jobd_process& j, const std::string& command,
                    const std::string& args, const std::string& options) {
  return j.tool("console_execute_async", "{\"command\":" + q(command)
                                           + ",\"args\":" + args
                                           + ",\"options\":" + options + "}");
}

/// The status the job ends with (waits up to 20 s; "" if it did not end).
std::string final_status(jobd_process& j, const std::string& id) {
  auto r = j.wait_terminal(id, 20000);
  return r.ok() ? str(*r, "job.status") : "";
}

/// jobd with `args` refuses to start: exit code 2; its stderr.
std::string refused_start(std::vector<std::string> args) {
  jobd_options o;
  o.args = std::move(args);
  o.handshake = false;
  o.protocol_stdout = false;
  jobd_process j(o);
  auto st = j.wait_exit(5000);
  EXPECT_TRUE(st.has_value());
  EXPECT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 2);
  return j.stderr_text();
}

} // namespace

// -- allowed directories
// --------------------------------------------------------

TEST(Security, WorkingDirectoryOutsideTheAllowedOnesIsRefused) {
  work_dir allowed{"jobd-sec-allowed"};
  work_dir outside{"jobd-sec-outside"};
  fs::create_directory(allowed / "sub");
  fs::create_directory_symlink(outside.path, allowed / "link");
  jobd_options o;
  o.args = {"--allow-dir", allowed.path};
  jobd_process j(o);
  // Inside: runs.
  auto in = execute(j, "pwd", "[]", opts_in(allowed / "sub"));
  ASSERT_TRUE(in.ok()) << in.dump();
  auto id = str(*in, "jobId");
  EXPECT_EQ(final_status(j, id), "completed");
  EXPECT_EQ(j.output_text(id), allowed / "sub" + "\n");
  // `..` and a symlink out, and the plain outside path: refused, with the
  // resolved path.
  const auto dotdot
    = allowed / "sub/../../" + fs::path(outside.path).filename().string();
  for (const std::string& dir :
       std::vector<std::string>{dotdot, allowed / "link", outside.path}) {
    SCOPED_TRACE(dir);
    auto r = execute(j, "pwd", "[]", opts_in(dir));
    ASSERT_TRUE(r.is_error) << r.dump();
    EXPECT_EQ(r.code(), "PATH_NOT_ALLOWED");
    EXPECT_EQ(str(*r, "details.workingDirectory"), outside.path) << r.dump();
  }
  // No workingDirectory: the server's own directory, outside too.
  auto none = j.tool("console_execute_async", R"({"command":"pwd"})");
  EXPECT_EQ(none.code(), "PATH_NOT_ALLOWED") << none.dump();
  // Through a template or schedule the same check applies (one place).
  auto saved = j.tool("console_save_template",
                      "{\"name\":\"out\",\"job\":{\"command\":\"pwd\","
                      "\"options\":{\"workingDirectory\":"
                        + q(outside.path) + "}}}");
  if (saved.ok()) {
    auto r = j.tool("console_execute_async", R"({"template":"out"})");
    EXPECT_EQ(r.code(), "PATH_NOT_ALLOWED") << r.dump();
  }
}

TEST(Security, WithoutAllowDirTheSameDirectoriesRun) {
  work_dir allowed{"jobd-sec-allowed"};
  work_dir outside{"jobd-sec-outside"};
  fs::create_directory(allowed / "sub");
  fs::create_directory_symlink(outside.path, allowed / "link");
  jobd_process j;
  // The control off: the symlink, `..` and the plain path out all run,
  // outside (the refusals above are the control's, not the machine's).
  const auto dotdot
    = allowed / "sub/../../" + fs::path(outside.path).filename().string();
  for (const std::string& dir :
       std::vector<std::string>{allowed / "link", dotdot, outside.path}) {
    SCOPED_TRACE(dir);
    auto r = execute(j, "pwd", "[]", opts_in(dir));
    ASSERT_TRUE(r.ok()) << r.dump();
    auto id = str(*r, "jobId");
    EXPECT_EQ(final_status(j, id), "completed");
    EXPECT_EQ(
      fs::canonical(j.output_text(id).substr(0, j.output_text(id).find('\n'))),
      fs::path(outside.path));
  }
}

TEST(Security, AnAllowDirThatDoesNotExistIsAStartUpError) {
  auto err = refused_start({"--allow-dir", "/nonexistent/jobd-sec"});
  EXPECT_NE(err.find("--allow-dir"), std::string::npos) << err;
}

// -- command policy
// -------------------------------------------------------------

TEST(Security, ADeniedCommandNeverStarts) {
  work_dir dir{"jobd-sec-cmd"};
  std::ofstream{dir / "victim"} << "x";
  // Control off: the attack works.
  {
    jobd_process j;
    auto r = execute(j, "rm", "[" + q(dir / "victim") + "]", opts_in(dir.path));
    ASSERT_TRUE(r.ok()) << r.dump();
    EXPECT_EQ(final_status(j, str(*r, "jobId")), "completed");
    EXPECT_FALSE(fs::exists(dir / "victim"));
  }
  std::ofstream{dir / "victim"} << "x";
  fs::create_symlink(fs::canonical("/bin/rm"), dir / "innocent");
  jobd_options o;
  o.args = {"--deny-command", "*/rm", "--no-shell"};
  jobd_process j(o);
  // By name, by a path through a symlinked directory, by a symlink named
  // otherwise, and through a shell: none starts.
  for (const std::string& cmd :
       std::vector<std::string>{"rm", "/bin/rm", dir / "innocent"}) {
    SCOPED_TRACE(cmd);
    auto r = execute(j, cmd, "[" + q(dir / "victim") + "]", opts_in(dir.path));
    ASSERT_TRUE(r.is_error) << r.dump();
    EXPECT_EQ(r.code(), "COMMAND_NOT_ALLOWED");
  }
  auto sh = j.tool("console_execute_async",
                   "{\"command\":" + q("rm " + dir / "victim")
                     + ",\"options\":{\"shell\":true}}");
  EXPECT_EQ(sh.code(), "COMMAND_NOT_ALLOWED") << sh.dump();
  EXPECT_TRUE(fs::exists(dir / "victim"));
  // Others still run.
  auto ok = execute(j, "true", "[]", "{}");
  EXPECT_TRUE(ok.ok()) << ok.dump();
}

TEST(Security, AnAllowListLetsOnlyItsCommandsRun) {
  jobd_options o;
  o.args = {"--allow-command", "/usr/bin/echo", "--allow-command",
            "re:/usr/bin/(true|false)"};
  jobd_process j(o);
  for (std::string cmd : {"echo", "/bin/echo", "true", "false"}) {
    auto r = execute(j, cmd, "[]", "{}");
    EXPECT_TRUE(r.ok()) << cmd << ": " << r.dump();
  }
  for (std::string cmd : {"ls", "sh", "/usr/bin/env"}) {
    auto r = execute(j, cmd, "[]", "{}");
    EXPECT_EQ(r.code(), "COMMAND_NOT_ALLOWED") << cmd << ": " << r.dump();
  }
  // A shell job runs /bin/sh, which is not allowed.
  auto sh = j.tool("console_execute_async",
                   R"({"command":"echo hi","options":{"shell":true}})");
  EXPECT_EQ(sh.code(), "COMMAND_NOT_ALLOWED") << sh.dump();
}

TEST(Security, AnInvalidCommandPatternIsAStartUpError) {
  auto err = refused_start({"--deny-command", "re:(unclosed"});
  EXPECT_NE(err.find("--deny-command"), std::string::npos) << err;
}

// -- environments
// ---------------------------------------------------------------

namespace {

std::string env_of_job(jobd_process& j, const std::string& environment = "{}") {
  auto r = execute(j, "env", "[]", "{\"environment\":" + environment + "}");
  EXPECT_TRUE(r.ok()) << r.dump();
  auto id = str(*r, "jobId");
  EXPECT_EQ(final_status(j, id), "completed");
  return "\n" + j.output_text(id);
}

bool has_var(const std::string& env, const std::string& name) {
  return env.find("\n" + name + "=") != std::string::npos;
}

} // namespace

TEST(Security, JobdsOwnSettingsAndSecretsNeverReachAJob) {
  jobd_options o;
  o.env = {{"JOBD_AUDIT_LOG", ""},
           {"JOBD_SECRET_TOKEN", "s3cret"},
           {"MAX_CONCURRENT_JOBS", "7"},
           {"LOG_LEVEL", "info"},
           {"SEC_TEST_APP", "app-value"}};
  jobd_process j(o);
  auto env = env_of_job(j);
  EXPECT_FALSE(has_var(env, "JOBD_SECRET_TOKEN")) << env;
  EXPECT_EQ(env.find("s3cret"), std::string::npos) << env;
  EXPECT_FALSE(has_var(env, "MAX_CONCURRENT_JOBS")) << env;
  EXPECT_FALSE(has_var(env, "LOG_LEVEL")) << env;
  // Everything else of jobd's environment is inherited.
  EXPECT_TRUE(has_var(env, "SEC_TEST_APP")) << env;
  EXPECT_TRUE(has_var(env, "PATH")) << env;
  // The call's own variables always reach it.
  env = env_of_job(j, R"({"JOBD_CALLER":"mine"})");
  EXPECT_TRUE(has_var(env, "JOBD_CALLER")) << env;
}

TEST(Security, ACleanEnvironmentPassesOnlyTheBasics) {
  jobd_options o;
  o.args = {"--env-policy", "clean"};
  o.env = {{"SEC_TEST_APP", "app-value"},
           {"LC_TIME", "C"},
           {"AWS_SECRET_ACCESS_KEY", "k"}};
  jobd_process j(o);
  auto env = env_of_job(j, R"({"MINE":"1"})");
  EXPECT_FALSE(has_var(env, "SEC_TEST_APP")) << env;
  EXPECT_FALSE(has_var(env, "AWS_SECRET_ACCESS_KEY")) << env;
  EXPECT_TRUE(has_var(env, "LC_TIME")) << env;
  EXPECT_TRUE(has_var(env, "PATH")) << env;
  EXPECT_TRUE(has_var(env, "MINE")) << env;
}

TEST(Security, AnAllowListAddsItsNamesAndPrefixes) {
  jobd_options o;
  o.args = {"--env-policy", "allowlist",   "--env-allow",
            "SEC_KEEP",     "--env-allow", "SEC_PREFIX_*"};
  o.env = {{"SEC_KEEP", "1"},
           {"SEC_PREFIX_A", "2"},
           {"SEC_PREFIX", "3"},
           {"SEC_DROP", "4"}};
  jobd_process j(o);
  auto env = env_of_job(j);
  EXPECT_TRUE(has_var(env, "SEC_KEEP")) << env;
  EXPECT_TRUE(has_var(env, "SEC_PREFIX_A")) << env;
  EXPECT_FALSE(has_var(env, "SEC_PREFIX")) << env;
  EXPECT_FALSE(has_var(env, "SEC_DROP")) << env;
}

TEST(Security, EnvAllowWithoutTheAllowlistPolicyIsAStartUpError) {
  auto err = refused_start({"--env-allow", "X"});
  EXPECT_NE(err.find("--env-policy"), std::string::npos) << err;
}
