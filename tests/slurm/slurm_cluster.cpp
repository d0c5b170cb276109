#include "slurm_cluster.hpp"

#include "actors/kinds/slurm/slurm_command.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern "C" {
extern char** environ;
}

namespace jobd_slurm_it {

namespace {

constexpr int64_t start_timeout_ms = 120000; // a first install included

pid_t pid_in(const std::string& file) {
  std::ifstream in{file};
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

// The script's daemons keep the descriptors they were started with: its
// output goes to files (a pipe would never reach EOF). Daemons started
// while this process is the harness's child subreaper would become its
// children (and count as left behind): the subreaper role is off
// meanwhile. True if it exited 0 (or its status was taken by the
// harness's reaper), within the time.
bool run_script(const std::vector<std::string>& argv, const std::string& out,
                int64_t timeout_ms, std::string& output) {
  int was = 0;
  prctl(PR_GET_CHILD_SUBREAPER, &was, 0, 0, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  auto rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  bool ok = false;
  if (rc == 0) {
    auto deadline = std::chrono::steady_clock::now()
                    + std::chrono::milliseconds{timeout_ms};
    for (;;) {
      int status = 0;
      auto got = waitpid(pid, &status, WNOHANG);
      if (got == pid || (got < 0 && errno == ECHILD)) {
        ok = got < 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL); // our own child, by its pid
        waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  prctl(PR_SET_CHILD_SUBREAPER, was, 0, 0, 0);
  std::ifstream in{out};
  output.assign(std::istreambuf_iterator<char>{in}, {});
  return ok;
}

// The last lines slurmctld logged, for a start that failed.
std::string controller_log_tail(const std::string& dir) {
  std::ifstream in{dir + "/log/slurmctld.log"};
  std::string all{std::istreambuf_iterator<char>{in}, {}};
  auto tail = all.substr(all.size() > 400 ? all.size() - 400 : 0);
  for (auto& ch : tail)
    ch = ch == '\n' ? ' ' : ch;
  return tail;
}

class cluster_environment : public ::testing::Environment {
public:
  void SetUp() override {
    auto& c = test_cluster();
    c.script = JOBD_SLURM_CLUSTER_SCRIPT;
    char tmpl[] = "/tmp/jobd-slurm-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      c.why_not = "no temporary directory";
      return;
    }
    c.dir = tmpl;
    // An even port in 20000-39998 from the pid (slurmd takes the next);
    // a second try on another port and a fresh folder if it was taken.
    auto port = 20000 + (getpid() % 10000) * 2;
    auto t0 = std::chrono::steady_clock::now();
    std::string text;
    const std::string prefix = "export SLURM_CONF=";
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (attempt > 0) {
        run_script({"bash", c.script, "stop", c.dir}, c.dir + "/stop.log",
                   60000, text);
        std::cerr << "[slurm] start on port " << port
                  << " failed: " << controller_log_tail(c.dir)
                  << "; trying another\n";
        std::error_code ec;
        std::filesystem::remove_all(c.dir, ec);
        std::filesystem::create_directory(c.dir, ec);
        port = 20000 + (port - 20000 + 4242) % 20000;
      }
      setenv("SLURM_TEST_PORT", std::to_string(port).c_str(), 1);
      auto ok = run_script({"bash", c.script, "start", c.dir},
                           c.dir + "/start.log", start_timeout_ms, text);
      if (ok && text.find(prefix) != std::string::npos)
        break;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
    auto at = text.find(prefix);
    if (at == std::string::npos) {
      auto tail = text.substr(text.size() > 300 ? text.size() - 300 : 0);
      for (auto& ch : tail)
        ch = ch == '\n' ? ' ' : ch;
      c.why_not = "scripts/slurm-cluster.sh start failed: " + tail;
      std::cerr << "[slurm] skipping the Slurm tests: " << c.why_not << "\n";
      return;
    }
    c.conf = text.substr(at + prefix.size());
    c.conf = c.conf.substr(0, c.conf.find('\n'));
    setenv("SLURM_CONF", c.conf.c_str(), 1);
    c.up = true;
    std::cerr << "[slurm] cluster up in " << ms << " ms on port " << port
              << " (" << c.dir << ")\n";
  }

  void TearDown() override {
    auto& c = test_cluster();
    if (c.dir.empty())
      return;
    // Also after a failed start: whatever came up is stopped by its pid.
    if (c.up)
      start_controller(); // a test may have left it stopped
    std::string text;
    run_script({"bash", c.script, "stop", c.dir}, c.dir + "/stop.log", 60000,
               text);
    std::error_code ec;
    std::filesystem::remove_all(c.dir, ec);
  }
};

[[maybe_unused]] auto* const registered
  = ::testing::AddGlobalTestEnvironment(new cluster_environment);

} // namespace

cluster& test_cluster() {
  static cluster c;
  return c;
}

bool stop_controller() {
  auto pid = pid_in(test_cluster().dir + "/slurmctld.pid");
  if (pid <= 0 || ::kill(pid, SIGTERM) != 0)
    return false;
  for (int i = 0; i < 200; ++i) {
    if (::kill(pid, 0) != 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool start_controller() {
  auto& c = test_cluster();
  auto pid = pid_in(c.dir + "/slurmctld.pid");
  if (pid > 0 && ::kill(pid, 0) == 0)
    return true;
  std::string text;
  if (!run_script({"slurmctld", "-f", c.conf}, c.dir + "/restart.log", 20000,
                  text))
    return false;
  for (int i = 0; i < 200; ++i) {
    if (slurm_output("scontrol", "ping").find("UP") != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string slurm_output(const std::string& argv0, const std::string& arg1,
                         const std::string& arg2, const std::string& arg3) {
  std::vector<std::string> argv{argv0, arg1};
  for (auto& a : {arg2, arg3})
    if (!a.empty())
      argv.push_back(a);
  auto res = jobd::run_command(argv, 10000);
  return res.ok() ? res.out : std::string{};
}

} // namespace jobd_slurm_it
