// options.limits in the kernel: rlimits set in the child (RLIMIT_CORE 0
// always, CPU, NOFILE, FSIZE, AS), memory and pids cgroups (v1 here), the
// sandbox's ruleset, and the limit_exceeded the reactor reports. Each
// attack is also run with its control off, to show that it works there.
#include "reactor_fixture.hpp"

#include "actors/kinds/process/job_confinement.hpp"
#include "actors/kinds/process/landlock.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace jobd::test {
namespace {

constexpr const char* python = "/usr/bin/python3";

/// The three ways a child starts: clone3 into its cgroup, the vfork
/// launcher entering its cgroup, the vfork launcher without one.
enum class start_path { clone3, vfork_cgroup, vfork_pgroup };

std::string path_name(const ::testing::TestParamInfo<start_path>& info) {
  switch (info.param) {
    case start_path::clone3:
      return "clone3";
    case start_path::vfork_cgroup:
      return "vfork_cgroup";
    case start_path::vfork_pgroup:
      return "vfork_pgroup";
  }
  return "unknown";
}

/// The mount point of the v1 hierarchy of `controller` ("" if none).
std::string v1_mount(const std::string& controller) {
  std::ifstream in{"/proc/self/mounts"};
  std::string dev, dir, type, options;
  std::string rest;
  while (in >> dev >> dir >> type >> options) {
    std::getline(in, rest);
    if (type != "cgroup")
      continue;
    std::istringstream opts{options};
    for (std::string opt; std::getline(opts, opt, ',');)
      if (opt == controller)
        return dir;
  }
  return {};
}

/// The directory of `pid`'s cgroup in the v1 hierarchy of `controller`.
std::string v1_dir_of(pid_t pid, const std::string& controller) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/cgroup"};
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find(':');
    const auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos)
      continue;
    std::istringstream list{line.substr(a + 1, b - a - 1)};
    for (std::string name; std::getline(list, name, ',');)
      if (name == controller) {
        const auto rel = line.substr(b + 1);
        return v1_mount(controller) + (rel == "/" ? "" : rel);
      }
  }
  return {};
}

long read_number(const std::string& file) {
  std::ifstream in{file};
  long value = -1;
  in >> value;
  return in ? value : -1;
}

size_t count_lines(const std::string& file) {
  std::ifstream in{file};
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    n += line.empty() ? 0 : 1;
  return n;
}

long file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : -1;
}

/// A fresh directory, removed with what a test wrote into it.
struct temp_dir {
  std::string path;
  temp_dir() {
    char name[] = "/tmp/jobd-limits-XXXXXX";
    if (::mkdtemp(name) != nullptr)
      path = name;
  }
  ~temp_dir() {
    if (!path.empty())
      std::system(("rm -rf '" + path + "'").c_str());
  }
};

class limits : public reactor_fixture,
               public ::testing::WithParamInterface<start_path> {
protected:
  limits()
    : reactor_fixture(GetParam() == start_path::vfork_pgroup
                        ? tree_tracking::pgroup
                        : tree_tracking::automatic,
                      GetParam() == start_path::clone3) {}

  void SetUp() override {
    if (GetParam() != start_path::vfork_pgroup
        && reactor->tracking_mode() != "cgroup")
      GTEST_SKIP() << "no writable cgroup v2 here";
  }

  /// `spec` under `l`, enforced as the process kind would have it.
  launch_spec limited(launch_spec spec, const resource_limits& l,
                      bool address_space = false) {
    spec.security.limits = l;
    auto& by = spec.security.enforced_by;
    if (l.cpu_seconds > 0)
      by[limit_names::cpu_seconds] = "rlimit";
    if (l.open_files > 0)
      by[limit_names::open_files] = "rlimit";
    if (l.file_size_bytes > 0)
      by[limit_names::file_size_bytes] = "rlimit";
    if (l.memory_bytes > 0) {
      const auto cgroup = reactor->memory_limit_support();
      by[limit_names::memory_bytes]
        = address_space || cgroup.empty() ? "rlimit-as" : cgroup;
    }
    if (l.max_processes > 0)
      by[limit_names::max_processes] = reactor->pids_limit_support();
    return spec;
  }

  /// One path runs the attacks with their control off: the first that
  /// is not skipped here.
  bool control_runs() const {
    return GetParam() == start_path::clone3
           || (GetParam() == start_path::vfork_pgroup
               && cgroup2_mount().empty());
  }

  std::string exceeded(const rec_ptr& rec) {
    std::lock_guard<std::mutex> guard{rec->mtx};
    return rec->usage ? rec->usage->limit_exceeded : std::string{"(no usage)"};
  }
};

bool python_here() {
  return ::access(python, X_OK) == 0;
}

TEST_P(limits, core_dumps_are_off_in_every_job) {
  // Even where the server may dump cores (soft limit raised here).
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_CORE, &saved), 0);
  struct rlimit raised = saved;
  raised.rlim_cur = saved.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_CORE, &raised), 0);
  auto rec = sh("ulimit -c; ulimit -H -c");
  ASSERT_TRUE(rec->wait_done(10s));
  ::setrlimit(RLIMIT_CORE, &saved);
  ASSERT_FALSE(rec->failure) << rec->failure->second;
  EXPECT_EQ(rec->out_text(), "0\n0\n");
  std::printf("[ figures  ] the server's soft RLIMIT_CORE: %s\n",
              raised.rlim_cur == RLIM_INFINITY
                ? "unlimited"
                : std::to_string(raised.rlim_cur).c_str());
}

TEST_P(limits, open_files_stops_the_twentieth_open) {
  if (!python_here())
    GTEST_SKIP() << "no " << python;
  const std::string script
    = "import os\nn = 0\ntry:\n  while n < 20:\n"
      "    os.open('/dev/null', os.O_RDONLY); n += 1\n"
      "except OSError as e:\n  print('refused', e.errno)\nprint(n)\n";
  resource_limits l;
  l.open_files = 16;
  auto rec = start(limited(make_spec({python, "-c", script}), l));
  ASSERT_TRUE(rec->wait_done(10s));
  ASSERT_FALSE(rec->failure) << rec->failure->second;
  const auto out = rec->out_text();
  EXPECT_NE(out.find("refused 24"), std::string::npos) << out; // EMFILE
  const int opened
    = std::atoi(out.substr(out.rfind('\n', out.size() - 2) + 1).c_str());
  EXPECT_LE(opened, 13) << out; // 16 minus stdin, stdout, stderr
  std::printf("[ figures  ] opened %d files under openFiles=16\n", opened);
  if (!control_runs())
    return;
  auto unlimited = run({python, "-c", script});
  ASSERT_TRUE(unlimited->wait_done(10s));
  EXPECT_EQ(unlimited->out_text(), "20\n");
}

TEST_P(limits, file_size_stops_a_disk_filler) {
  temp_dir dir;
  ASSERT_FALSE(dir.path.empty());
  resource_limits l;
  l.file_size_bytes = 1 << 20;
  const auto head = dir.path + "/head";
  const auto dd = dir.path + "/dd";
  auto by_head = start(limited(make_sh("head -c 10M /dev/zero > " + head), l));
  auto by_dd = start(limited(
    make_spec({"/bin/dd", "if=/dev/zero", "of=" + dd, "bs=64k", "count=160"}),
    l));
  for (auto* rec : {&by_head, &by_dd}) {
    ASSERT_TRUE((*rec)->wait_done(15s));
    ASSERT_FALSE((*rec)->failure) << (*rec)->failure->second;
    const int32_t status = *(*rec)->status;
    EXPECT_TRUE((WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ)
                || (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGXFSZ))
      << status;
    EXPECT_EQ(exceeded(*rec), limit_names::file_size_bytes);
  }
  EXPECT_LE(file_size(head), 1 << 20);
  EXPECT_LE(file_size(dd), 1 << 20);
  std::printf("[ figures  ] head wrote %ld bytes, dd %ld, limit 1 MiB\n",
              file_size(head), file_size(dd));
  if (!control_runs())
    return;
  auto unlimited = sh("head -c 10M /dev/zero > " + dir.path + "/free");
  ASSERT_TRUE(unlimited->wait_done(15s));
  EXPECT_EQ(*unlimited->status, 0);
  EXPECT_EQ(file_size(dir.path + "/free"), 10L << 20);
  EXPECT_EQ(exceeded(unlimited), "");
}

TEST_P(limits, cpu_seconds_stops_a_spinner) {
  resource_limits l;
  l.cpu_seconds = 1;
  const auto before = std::chrono::steady_clock::now();
  auto rec = start(limited(make_sh("while :; do :; done"), l));
  // Ignoring SIGXCPU does not help: the hard limit, a second later, kills.
  auto stubborn
    = start(limited(make_sh("trap '' XCPU; while :; do :; done"), l));
  ASSERT_TRUE(rec->wait_done(20s));
  ASSERT_TRUE(stubborn->wait_done(20s));
  const auto took = std::chrono::steady_clock::now() - before;
  ASSERT_FALSE(rec->failure) << rec->failure->second;
  ASSERT_TRUE(WIFSIGNALED(*rec->status));
  EXPECT_EQ(WTERMSIG(*rec->status), SIGXCPU);
  EXPECT_EQ(exceeded(rec), limit_names::cpu_seconds);
  ASSERT_TRUE(WIFSIGNALED(*stubborn->status));
  EXPECT_EQ(WTERMSIG(*stubborn->status), SIGKILL);
  EXPECT_EQ(exceeded(stubborn), limit_names::cpu_seconds);
  auto ms = [before](const rec_ptr& r) {
    return static_cast<long long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(r->exited_at
                                                            - before)
        .count());
  };
  std::printf("[ figures  ] cpuSeconds=1: the spinner ended after %lld ms, "
              "the one ignoring SIGXCPU after %lld ms (wall, 2 busy cores)\n",
              ms(rec), ms(stubborn));
  EXPECT_LT(took, 20s);
  if (!control_runs())
    return;
  auto unlimited = sh("while :; do :; done");
  ASSERT_TRUE(unlimited->wait_spawned());
  const auto pid = static_cast<pid_t>(unlimited->pid);
  const long ticks = ::sysconf(_SC_CLK_TCK);
  EXPECT_TRUE(eventually(20s, [&] { return cpu_ticks(pid) > ticks * 3 / 2; }));
  EXPECT_FALSE(unlimited->status); // still spinning past 1.5 s of CPU
  reactor->kill_tree(unlimited->pid);
  ASSERT_TRUE(unlimited->wait_done());
  EXPECT_EQ(exceeded(unlimited), "");
}

/// Allocates (and touches) 256 MiB in 1 MiB pieces.
const char* memory_hog = "b = []\nfor i in range(256):\n"
                         "  b.append(b'x' * (1 << 20))\nprint('done', i + 1)\n";

TEST_P(limits, memory_bytes_kills_a_memory_hog) {
  if (!python_here())
    GTEST_SKIP() << "no " << python;
  if (reactor->memory_limit_support().empty())
    GTEST_SKIP() << "no memory cgroup controller (v2 or v1) here";
  resource_limits l;
  l.memory_bytes = 64 << 20;
  auto rec = start(limited(make_spec({python, "-c", memory_hog}), l));
  ASSERT_TRUE(rec->wait_spawned());
  const auto dir = v1_dir_of(static_cast<pid_t>(rec->pid), "memory");
  ASSERT_TRUE(rec->wait_done(30s));
  ASSERT_FALSE(rec->failure) << rec->failure->second;
  ASSERT_TRUE(WIFSIGNALED(*rec->status)) << *rec->status;
  EXPECT_EQ(WTERMSIG(*rec->status), SIGKILL);
  EXPECT_EQ(rec->out_text(), "");
  EXPECT_EQ(exceeded(rec), limit_names::memory_bytes);
  {
    std::lock_guard<std::mutex> guard{rec->mtx};
    ASSERT_TRUE(rec->usage);
    EXPECT_LE(rec->usage->max_rss_kb, 64 * 1024 + 64);
    std::printf("[ figures  ] hog's peak %lld KiB under memoryBytes=64 MiB\n",
                static_cast<long long>(rec->usage->max_rss_kb));
  }
  if (reactor->memory_limit_support() == "cgroup-v1") {
    EXPECT_NE(dir.find("/jobd-"), std::string::npos) << dir;
    EXPECT_TRUE(eventually(5s, [&] { return !directory_exists(dir); })) << dir;
  }
  if (!control_runs())
    return;
  auto unlimited = run({python, "-c", memory_hog});
  ASSERT_TRUE(unlimited->wait_done(30s));
  EXPECT_EQ(*unlimited->status, 0);
  EXPECT_EQ(unlimited->out_text(), "done 256\n");
  EXPECT_EQ(exceeded(unlimited), "");
}

TEST_P(limits, memory_bytes_as_an_address_space_limit_fails_the_hog) {
  if (!python_here())
    GTEST_SKIP() << "no " << python;
  resource_limits l;
  l.memory_bytes = 64 << 20;
  auto rec = start(limited(make_spec({python, "-c", memory_hog}), l, true));
  ASSERT_TRUE(rec->wait_done(30s));
  ASSERT_FALSE(rec->failure) << rec->failure->second;
  EXPECT_NE(*rec->status, 0); // MemoryError (or no room to start)
  EXPECT_EQ(rec->out_text().find("done"), std::string::npos);
}

/// Every process forks for as long as it lives (20 s at most), sleeping a
/// little after a refused fork.
const char* fork_bomb = "import os, time\nend = time.time() + 20\n"
                        "while time.time() < end:\n  try:\n    os.fork()\n"
                        "  except OSError:\n    time.sleep(0.02)\n";

/// 40 children that sleep, and the parent: the attack at a scale that is
/// safe to run without a limit.
const char* forty_children
  = "import os, time\nmade = 0\nfor i in range(40):\n  try:\n"
    "    if os.fork() == 0:\n      time.sleep(20); os._exit(0)\n"
    "    made += 1\n  except OSError:\n    pass\n"
    "print(made, flush=True)\ntime.sleep(20)\n";

TEST_P(limits, max_processes_holds_a_fork_bomb) {
  if (!python_here())
    GTEST_SKIP() << "no " << python;
  if (reactor->pids_limit_support().empty())
    GTEST_SKIP() << "no pids cgroup controller (v2 or v1) here";
  resource_limits l;
  l.max_processes = 20;
  auto rec = start(limited(make_spec({python, "-c", fork_bomb}), l));
  ASSERT_TRUE(rec->wait_spawned());
  const auto pid = static_cast<pid_t>(rec->pid);
  const auto dir = reactor->pids_limit_support() == "cgroup-v1"
                     ? v1_dir_of(pid, "pids")
                     : cgroup_dir_of(pid);
  ASSERT_FALSE(dir.empty());
  long peak_current = 0;
  size_t peak_listed = 0;
  size_t peak_group = 0;
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until && !rec->status) {
    peak_current = std::max(peak_current, read_number(dir + "/pids.current"));
    peak_listed = std::max(peak_listed, count_lines(dir + "/cgroup.procs"));
    peak_group = std::max(peak_group, group_members(pid).size());
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_FALSE(rec->status); // still running, held at the limit
  const long refused = [&] {
    std::ifstream in{dir + "/pids.events"};
    std::string key;
    long n = -1;
    in >> key >> n;
    return key == "max" ? n : -1;
  }();
  reactor->kill_tree(rec->pid);
  ASSERT_TRUE(rec->wait_done(10s));
  EXPECT_LE(peak_current, 20);
  EXPECT_LE(peak_listed, 20u);
  EXPECT_LE(peak_group, 20u);
  EXPECT_GE(peak_current, 15); // it did fill its allowance
  EXPECT_GT(refused, 0);
  EXPECT_EQ(exceeded(rec), limit_names::max_processes);
  std::printf("[ figures  ] fork bomb under maxProcesses=20: peak "
              "pids.current %ld, cgroup.procs %zu, group %zu, %ld forks "
              "refused\n",
              peak_current, peak_listed, peak_group, refused);
  if (reactor->pids_limit_support() == "cgroup-v1") {
    EXPECT_TRUE(eventually(5s, [&] { return !directory_exists(dir); })) << dir;
  }
  // Forty children: the limit holds them too.
  auto held = start(limited(make_spec({python, "-c", forty_children}), l));
  ASSERT_TRUE(held->wait_lines(1, 10s));
  EXPECT_LE(std::atoi(held->out_text().c_str()), 19); // 19 + the parent
  reactor->kill_tree(held->pid);
  ASSERT_TRUE(held->wait_done(10s));
  EXPECT_EQ(exceeded(held), limit_names::max_processes);
  if (!control_runs())
    return;
  auto unlimited = run({python, "-c", forty_children});
  ASSERT_TRUE(unlimited->wait_lines(1, 10s));
  EXPECT_EQ(unlimited->out_text(), "40\n");
  EXPECT_EQ(group_members(static_cast<pid_t>(unlimited->pid)).size(), 41u);
  reactor->kill_tree(unlimited->pid);
  ASSERT_TRUE(unlimited->wait_done(10s));
  EXPECT_EQ(exceeded(unlimited), "");
}

TEST_P(limits, a_limit_that_cannot_be_enforced_fails_the_launch) {
  resource_limits l;
  l.max_processes = 20;
  l.memory_bytes = 64 << 20;
  auto spec = make_sh("echo ran");
  spec.security.limits = l;
  // An enforcement this reactor does not have: refused, never run without.
  for (const char* by : {"cgroup-v2", "cgroup-v1"}) {
    if (reactor->memory_limit_support() == by)
      continue;
    spec.security.enforced_by[limit_names::memory_bytes] = by;
    spec.security.enforced_by[limit_names::max_processes] = by;
    auto rec = start(spec);
    ASSERT_TRUE(rec->wait_done(10s));
    ASSERT_TRUE(rec->failure) << by;
    EXPECT_EQ(rec->failure->first, codes::spawn_failed);
    EXPECT_EQ(rec->failure->second.rfind("cannot apply limits: ", 0), 0u)
      << rec->failure->second;
    EXPECT_EQ(rec->out_text(), "");
  }
}

TEST_P(limits, a_sandboxed_job_is_confined_or_not_started) {
  temp_dir allowed;
  temp_dir other;
  auto spec = make_sh("echo a > " + allowed.path + "/a; echo b > " + other.path
                      + "/b; echo ran");
  spec.security.sandboxed = true;
  spec.security.writable = {allowed.path};
  auto rec = start(spec);
  ASSERT_TRUE(rec->wait_done(10s));
  if (landlock_abi_version() <= 0) {
    // No Landlock (or not implemented): the job never runs unconfined.
    ASSERT_TRUE(rec->failure);
    EXPECT_EQ(rec->failure->first, codes::spawn_failed);
    EXPECT_EQ(rec->failure->second.rfind("cannot apply the sandbox: ", 0), 0u)
      << rec->failure->second;
    EXPECT_EQ(file_size(other.path + "/b"), -1);
    return;
  }
  ASSERT_FALSE(rec->failure) << rec->failure->second;
  EXPECT_EQ(rec->out_text(), "ran\n");
  EXPECT_EQ(file_size(allowed.path + "/a"), 2);
  EXPECT_EQ(file_size(other.path + "/b"), -1);
}

INSTANTIATE_TEST_SUITE_P(paths, limits,
                         ::testing::Values(start_path::clone3,
                                           start_path::vfork_cgroup,
                                           start_path::vfork_pgroup),
                         path_name);

} // namespace
} // namespace jobd::test
