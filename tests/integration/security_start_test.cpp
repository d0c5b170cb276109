// The security checks a job meets again when it starts (docs/security.md):
// a job that waits (a start time, dependencies, a free slot) must not run
// what its command or working directory was swapped for after submission.
// Also: jobd's own process is not readable by its jobs, and --sandbox-fs
// without --allow-dir warns. Each attack once with the control off.
#include "jobd_harness.hpp"
#include "security_util.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <cstdlib>
#include <unistd.h>

using namespace jobd_it;
using jobd_it::security::work_dir;

namespace {

namespace fs = std::filesystem;

/// Submits `command args` to start in 1.5 s in `dir`.
tool_result submit_delayed(jobd_process& j, const std::string& command,
                           const std::string& args_json,
                           const std::string& dir) {
  return j.tool("console_execute_async",
                "{\"command\":" + q(command) + ",\"args\":" + args_json
                  + ",\"options\":{\"workingDirectory\":" + q(dir)
                  + ",\"delayMs\":1500}}");
}

/// Points the symlink `link` at `target` in one step (rename over it).
void repoint(const std::string& link, const std::string& target) {
  fs::create_symlink(target, link + ".new");
  fs::rename(link + ".new", link);
}

/// The finished job's status (`job`), or null.
const Value* finished_job(jobd_process& j, const std::string& id,
                          tool_result& keep) {
  keep = j.wait_terminal(id, 20000);
  return keep.ok() ? at(*keep, "job") : nullptr;
}

/// Does jobd's stderr (so far) contain `text`? Waits up to 2 s for it.
bool stderr_says(jobd_process& j, const std::string& text) {
  for (auto end = now_ms() + 2000; now_ms() < end;) {
    if (j.stderr_text().find(text) != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

} // namespace

// -- the command policy at start
// --------------------------------------------------------

TEST(SecurityAtStart, ACommandSwappedWhileItsJobWaitedIsCheckedAgain) {
  work_dir dir{"jobd-start-cmd"};
  const auto victim = dir / "victim";
  const auto tool = dir / "tool";
  // Submitted as `true`, swapped for `rm` before it starts.
  auto attack = [&](jobd_process& j, tool_result& keep) -> const Value* {
    std::ofstream{victim} << "x";
    std::error_code ec;
    fs::remove(tool, ec);
    fs::create_symlink(fs::canonical("/bin/true"), tool);
    auto r = submit_delayed(j, tool, "[" + q(victim) + "]", dir.path);
    EXPECT_TRUE(r.ok()) << r.dump();
    if (!r.ok())
      return nullptr;
    repoint(tool, fs::canonical("/bin/rm"));
    return finished_job(j, str(*r, "jobId"), keep);
  };
  // Control off: the swapped-in program runs.
  {
    jobd_process j;
    tool_result keep;
    auto job = attack(j, keep);
    ASSERT_NE(job, nullptr);
    EXPECT_EQ(str(*job, "status"), "completed") << to_json(*job);
    EXPECT_FALSE(fs::exists(victim));
  }
  jobd_options o;
  o.args = {"--deny-command", "*/rm"};
  jobd_process j(o);
  tool_result keep;
  auto job = attack(j, keep);
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(str(*job, "status"), "failed") << to_json(*job);
  EXPECT_EQ(str(*job, "errorCode"), "COMMAND_NOT_ALLOWED") << to_json(*job);
  EXPECT_TRUE(fs::exists(victim));
  // Unswapped, the same job runs.
  repoint(tool, fs::canonical("/bin/true"));
  auto r = submit_delayed(j, tool, "[]", dir.path);
  ASSERT_TRUE(r.ok()) << r.dump();
  tool_result k2;
  auto fine = finished_job(j, str(*r, "jobId"), k2);
  ASSERT_NE(fine, nullptr);
  EXPECT_EQ(str(*fine, "status"), "completed") << to_json(*fine);
}

// -- the working directory at start
// -----------------------------------------------------

TEST(SecurityAtStart, AWorkingDirectorySwappedWhileItsJobWaitedIsCheckedAgain) {
  work_dir allowed{"jobd-start-allowed"};
  work_dir outside{"jobd-start-outside"};
  const auto work = allowed / "work";
  // Submitted in a real directory inside, which is then replaced by a
  // symlink to `target` before the job starts.
  auto attack = [&](jobd_process& j, const std::string& target,
                    tool_result& keep) -> const Value* {
    std::error_code ec;
    fs::remove_all(work, ec);
    fs::remove_all(allowed / "work.old", ec);
    fs::create_directory(work);
    auto r = submit_delayed(j, "touch", "[\"marker\"]", work);
    EXPECT_TRUE(r.ok()) << r.dump();
    if (!r.ok())
      return nullptr;
    fs::rename(work, allowed / "work.old");
    fs::create_directory_symlink(target, work);
    return finished_job(j, str(*r, "jobId"), keep);
  };
  // Control off: the job is steered outside.
  {
    jobd_process j;
    tool_result keep;
    auto job = attack(j, outside.path, keep);
    ASSERT_NE(job, nullptr);
    EXPECT_EQ(str(*job, "status"), "completed") << to_json(*job);
    EXPECT_TRUE(fs::exists(outside / "marker"));
    fs::remove(outside / "marker");
  }
  jobd_options o;
  o.args = {"--allow-dir", allowed.path};
  jobd_process j(o);
  tool_result keep;
  auto job = attack(j, outside.path, keep);
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(str(*job, "status"), "failed") << to_json(*job);
  EXPECT_EQ(str(*job, "errorCode"), "PATH_NOT_ALLOWED") << to_json(*job);
  EXPECT_FALSE(fs::exists(outside / "marker"));
  EXPECT_FALSE(fs::exists(allowed / "work.old/marker"));
  // Swapped for another allowed directory: it runs there, where the check
  // found it.
  fs::create_directory(allowed / "other");
  tool_result k2;
  auto inside = attack(j, allowed / "other", k2);
  ASSERT_NE(inside, nullptr);
  EXPECT_EQ(str(*inside, "status"), "completed") << to_json(*inside);
  EXPECT_TRUE(fs::exists(allowed / "other/marker"));
}

// -- jobd's own process
// ----------------------------------------------------------------

TEST(SecurityAtStart, AJobOfJobdsOwnUserCannotReadJobdsEnvironment) {
  // Only meaningful for a jobd that is not root (root's jobs have
  // CAP_SYS_PTRACE): run it as nobody, which needs root and setpriv here.
  if (::geteuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0)
    GTEST_SKIP() << "needs root and /usr/bin/setpriv to run jobd as nobody";
  // A checkout below a private directory (/root, a CI clone's 0700
  // temporary directory) is out of nobody's reach: then a copy of the
  // binary in a directory nobody can enter runs instead.
  char tmpl[] = "/tmp/jobd-nobody-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  struct removed {
    std::string path;
    ~removed() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } copy{tmpl};
  auto binary = copy.path + "/jobd";
  fs::copy_file(JOBD_BINARY, binary);
  fs::permissions(copy.path, fs::perms::owner_all | fs::perms::group_exec
                               | fs::perms::others_exec);
  fs::permissions(binary, fs::perms::owner_all | fs::perms::group_read
                            | fs::perms::group_exec | fs::perms::others_read
                            | fs::perms::others_exec);
  const std::string reach = "/usr/bin/setpriv --reuid=65534 --regid=65534 "
                            "--clear-groups -- test -x '"
                            + binary + "'";
  if (std::system(reach.c_str()) != 0)
    GTEST_SKIP() << "nobody cannot execute " << binary;
  jobd_options o;
  o.binary = binary;
  o.exec_prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                   "--clear-groups", "--"};
  o.args = {"--ephemeral"};
  o.env = {{"JOBD_IT_DUMP_SECRET", "dump-s3cret"}};
  jobd_process j(o);
  ASSERT_TRUE(j.started() && !j.exited()) << j.stderr_text();
  // The control: a process of the same user that is dumpable (the job's
  // own child) is readable, so what stops the first read is jobd's
  // PR_SET_DUMPABLE, not this machine.
  const std::string script
    = "id -u; cat /proc/" + std::to_string(j.pid())
      + "/environ; echo; JOBD_IT_PEER=peer-visible sleep 3 & c=$!; sleep 0.5; "
        "tr '\\0' '\\n' < /proc/$c/environ | grep JOBD_IT_PEER; kill $c";
  auto r = j.tool("console_execute_async",
                  "{\"command\":\"sh\",\"args\":[\"-c\"," + q(script)
                    + "],\"options\":{\"workingDirectory\":\"/tmp\"}}");
  ASSERT_TRUE(r.ok()) << r.dump();
  auto id = str(*r, "jobId");
  tool_result keep;
  ASSERT_NE(finished_job(j, id, keep), nullptr) << keep.dump();
  auto out = j.output_text(id, "stdout");
  auto err = j.output_text(id, "stderr");
  EXPECT_EQ(out.rfind("65534\n", 0), 0u) << out;
  EXPECT_NE(out.find("JOBD_IT_PEER=peer-visible"), std::string::npos)
    << out << err;
  EXPECT_EQ(out.find("dump-s3cret"), std::string::npos) << out;
  EXPECT_NE(err.find("Permission denied"), std::string::npos) << err;
}

// -- --sandbox-fs without --allow-dir
// ---------------------------------------------------

TEST(SecurityAtStart, SandboxFsWithoutAllowDirWarnsAtStartUp) {
  const std::string warning = "--sandbox-fs without --allow-dir";
  work_dir allowed{"jobd-start-sandbox"};
  {
    jobd_options o;
    o.args = {"--sandbox-fs", "--allow-dir", allowed.path};
    jobd_process j(o);
    if (!j.started() || j.exited())
      JOBD_IT_SKIP_WITHOUT_LANDLOCK(j.stderr_text());
    EXPECT_FALSE(stderr_says(j, warning)) << j.stderr_text();
  }
  jobd_options o;
  o.args = {"--sandbox-fs"};
  jobd_process j(o);
  ASSERT_TRUE(j.started() && !j.exited()) << j.stderr_text();
  EXPECT_TRUE(stderr_says(j, warning)) << j.stderr_text();
}
