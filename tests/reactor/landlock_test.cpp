// Landlock on real processes: a forked child restricts itself to a ruleset
// and then tries what a job would do; it reports the errno of each try
// through a pipe (0 = it worked) and finally execs a program.
#include "actors/kinds/process/landlock.hpp"
#include "protocol/security.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace jobd::test {
namespace {

using namespace std::chrono_literals;

/// Does the kernel's LSM list (where securityfs is mounted) name Landlock?
/// A witness apart from the probe under test.
bool lsm_lists_landlock() {
  std::ifstream lsm{"/sys/kernel/security/lsm"};
  std::string list;
  return std::getline(lsm, list)
         && ("," + list + ",").find(",landlock,") != std::string::npos;
}

// Skips without Landlock, but fails where the kernel lists it and the
// probe still says none (a broken probe must not pass as a skip).
#define SKIP_WITHOUT_LANDLOCK()                                                \
  if (landlock_abi_version() <= 0) {                                           \
    if (lsm_lists_landlock())                                                  \
      FAIL() << "the kernel lists Landlock but landlock_abi_version() is 0";   \
    GTEST_SKIP() << "this kernel has no Landlock (ABI 0): nothing to confine"; \
  }

/// A fresh tree: `a` (allowed), `b` (outside), each with a file `f`, and
/// `c`, a second writable directory outside the first tree.
struct sandbox_tree {
  std::string root, a, b, c;

  sandbox_tree() {
    root = make_temp();
    c = make_temp();
    a = root + "/A";
    b = root + "/B";
    std::filesystem::create_directory(a);
    std::filesystem::create_directory(b);
    std::ofstream{a + "/f"} << "in A\n";
    std::ofstream{b + "/f"} << "in B\n";
    std::ofstream{a + "/moved"} << "moving\n";
    std::ofstream{a + "/renamed"} << "renaming\n";
  }
  ~sandbox_tree() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
    std::filesystem::remove_all(c, ec);
  }
  sandbox_tree(const sandbox_tree&) = delete;
  sandbox_tree& operator=(const sandbox_tree&) = delete;

  static std::string make_temp() {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string{tmp != nullptr && *tmp ? tmp : "/tmp"}
                       + "/jobd-landlock-XXXXXX";
    if (::mkdtemp(path.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    // Landlock rules hold on the real path; the tests name it so too.
    return std::filesystem::canonical(path).string();
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, {}};
}

/// Waits for `pid` up to `limit`; on timeout kills it (by pid) and fails.
/// The wait status, or -1 after a timeout.
int wait_bounded(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return status;
    if (r < 0 && errno != EINTR)
      return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "child " << pid << " did not end within "
                    << limit.count() << " ms";
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
}

/// Reads until EOF (the child's end closes when it execs or exits).
std::string read_all(int fd) {
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0)
      out.append(buf, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR)
      return out;
  }
}

// -- what the child tries (plain system calls only: it is a fork child) -----

int try_create(const char* path) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno;
  int rc = ::write(fd, "x", 1) == 1 ? 0 : errno;
  ::close(fd);
  return rc;
}

int try_open(const char* path, int flags) {
  int fd = ::open(path, flags | O_CLOEXEC);
  if (fd < 0)
    return errno;
  ::close(fd);
  return 0;
}

int try_read(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  char c;
  int rc = ::read(fd, &c, 1) == 1 ? 0 : errno;
  ::close(fd);
  return rc;
}

int result_of(int rc) {
  return rc == 0 ? 0 : errno;
}

/// What a sandboxed child reported, printed and how it ended.
template <size_t N> struct child_run {
  std::array<int, N> results{};
  std::string output;
  int status = -1;
};

/// Forks a child that restricts itself to `ruleset`, runs `body` (which
/// fills `results[1..]`; results[0] is landlock_restrict_in_child's), sends
/// the results through a pipe and then execs `argv` with stdout on a second
/// pipe (exit 126: execve said EACCES).
template <size_t N, class Body>
child_run<N> run_sandboxed(int ruleset, Body body, const char* const* argv) {
  child_run<N> run;
  int res[2], out[2];
  if (::pipe2(res, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return run;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    std::array<int, N> r{};
    r.fill(-1);
    r[0] = landlock_restrict_in_child(ruleset);
    if (r[0] == 0)
      body(r);
    (void) !::write(res[1], r.data(), sizeof r);
    ::dup2(out[1], STDOUT_FILENO);
    ::execve(argv[0], const_cast<char* const*>(argv), environ);
    _exit(errno == EACCES ? 126 : 127);
  }
  ::close(res[1]);
  ::close(out[1]);
  std::string raw = read_all(res[0]);
  run.output = read_all(out[0]);
  ::close(res[0]);
  ::close(out[0]);
  run.status = pid > 0 ? wait_bounded(pid, 10s) : -1;
  if (raw.size() == sizeof run.results)
    std::memcpy(run.results.data(), raw.data(), raw.size());
  else
    ADD_FAILURE() << "the child sent " << raw.size() << " bytes of results";
  return run;
}

const char* const true_argv[] = {"/bin/true", nullptr};

// -- tests
// ---------------------------------------------------------------------

TEST(Landlock, abi_version_is_positive_here) {
  SKIP_WITHOUT_LANDLOCK();
  EXPECT_GT(landlock_abi_version(), 0);
  // Cached: the same answer every time.
  EXPECT_EQ(landlock_abi_version(), landlock_abi_version());
}

TEST(Landlock, unopenable_directory_is_an_error_naming_it) {
  SKIP_WITHOUT_LANDLOCK();
  sandbox_tree tree;
  const std::string missing = tree.root + "/no-such-dir";
  job_security sec;
  sec.writable = {tree.a, missing};
  std::string error;
  EXPECT_EQ(make_landlock_ruleset(sec, error), -1);
  EXPECT_NE(error.find(missing), std::string::npos) << error;
  EXPECT_NE(error.find("writable"), std::string::npos) << error;
  sec.writable = {tree.a};
  sec.readable = {tree.b, missing};
  error.clear();
  EXPECT_EQ(make_landlock_ruleset(sec, error), -1);
  EXPECT_NE(error.find(missing), std::string::npos) << error;
  EXPECT_NE(error.find("readable"), std::string::npos) << error;
}

TEST(Landlock, rule_on_a_file_keeps_file_rights_only) {
  SKIP_WITHOUT_LANDLOCK();
  sandbox_tree tree;
  job_security sec;
  // A regular file as writable and as readable "directory": directory
  // rights on it would be EINVAL from the kernel; they are masked.
  sec.writable = {tree.a + "/f"};
  sec.readable = {tree.b + "/f", tree.a};
  std::string error;
  int fd = make_landlock_ruleset(sec, error);
  EXPECT_GE(fd, 0) << error;
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  ::close(fd);
}

TEST(LandlockSandbox, writes_only_where_allowed_reads_everywhere) {
  SKIP_WITHOUT_LANDLOCK();
  sandbox_tree tree;
  job_security sec;
  sec.writable = {tree.a, tree.c};
  std::string error;
  int ruleset = make_landlock_ruleset(sec, error);
  ASSERT_GE(ruleset, 0) << error;
  // A terminal: its slave is reopened by path under /dev/pts, and through
  // /proc/self/fd as an interactive job's `cat /dev/stdin` does.
  std::string slave, slave_link;
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  int slave_fd = -1;
  if (master >= 0 && ::grantpt(master) == 0 && ::unlockpt(master) == 0) {
    slave = ::ptsname(master);
    slave_fd = ::open(slave.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    slave_link = "/proc/self/fd/" + std::to_string(slave_fd);
  }
  const std::string a_new = tree.a + "/new", c_new = tree.c + "/new",
                    b_new = tree.b + "/new", b_dir = tree.b + "/dir",
                    a_moved = tree.a + "/moved", b_moved = tree.b + "/moved",
                    a_renamed = tree.a + "/renamed",
                    a_renamed2 = tree.a + "/renamed2", b_f = tree.b + "/f";
  enum {
    restrict_rc,
    create_a,
    create_c,
    create_b,
    mkdir_b,
    rename_a_to_b,
    rename_in_a,
    read_b,
    truncate_b,
    unlink_b,
    write_dev_null,
    open_pts_slave,
    tcgetattr_pts,
    reopen_pts,
    open_ptmx,
    reopen_pipe,
    count
  };
  auto body = [&](std::array<int, count>& r) {
    r[create_a] = try_create(a_new.c_str());
    r[create_c] = try_create(c_new.c_str());
    r[create_b] = try_create(b_new.c_str());
    r[mkdir_b] = result_of(::mkdir(b_dir.c_str(), 0755));
    r[rename_a_to_b] = result_of(::rename(a_moved.c_str(), b_moved.c_str()));
    r[rename_in_a] = result_of(::rename(a_renamed.c_str(), a_renamed2.c_str()));
    r[read_b] = try_read(b_f.c_str());
    r[truncate_b] = try_open(b_f.c_str(), O_WRONLY | O_TRUNC);
    r[unlink_b] = result_of(::unlink(b_f.c_str()));
    r[write_dev_null] = try_open("/dev/null", O_WRONLY);
    if (slave_fd >= 0) {
      int fd = ::open(slave.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
      r[open_pts_slave] = fd >= 0 ? 0 : errno;
      // An ioctl on a device opened after the restriction (IOCTL_DEV).
      struct termios tio {};
      if (fd >= 0)
        r[tcgetattr_pts] = result_of(::tcgetattr(fd, &tio));
      r[reopen_pts] = try_open(slave_link.c_str(), O_RDWR | O_NOCTTY);
    }
    r[open_ptmx] = try_open("/dev/ptmx", O_RDWR | O_NOCTTY);
    // A pipe (as a job's stdout is) reopened through /proc/self/fd, as
    // `echo x >/dev/stdout` does: pipefs is outside every rule.
    int p[2];
    if (::pipe2(p, O_CLOEXEC) == 0) {
      char path[32];
      std::snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
      r[reopen_pipe] = try_open(path, O_WRONLY);
    }
  };
  auto run = run_sandboxed<count>(ruleset, body, true_argv);
  ::close(ruleset);
  if (slave_fd >= 0)
    ::close(slave_fd);
  if (master >= 0)
    ::close(master);
  auto& r = run.results;
  EXPECT_EQ(r[restrict_rc], 0);
  EXPECT_EQ(r[create_a], 0);
  EXPECT_EQ(r[create_c], 0);
  EXPECT_EQ(r[create_b], EACCES);
  EXPECT_EQ(r[mkdir_b], EACCES);
  // Denied for the missing MAKE_REG on B (EXDEV would mean only REFER).
  EXPECT_EQ(r[rename_a_to_b], EACCES);
  EXPECT_EQ(r[rename_in_a], 0);
  EXPECT_EQ(r[read_b], 0);
  EXPECT_EQ(r[truncate_b], EACCES);
  EXPECT_EQ(r[unlink_b], EACCES);
  EXPECT_EQ(r[write_dev_null], 0);
  if (slave_fd >= 0) {
    EXPECT_EQ(r[open_pts_slave], 0) << slave;
    EXPECT_EQ(r[tcgetattr_pts], 0) << slave;
    EXPECT_EQ(r[reopen_pts], 0) << slave_link;
  }
  EXPECT_EQ(r[open_ptmx], 0);
  EXPECT_EQ(r[reopen_pipe], 0);
  // /bin/true ran (exec is allowed everywhere when reading is).
  ASSERT_TRUE(WIFEXITED(run.status)) << run.status;
  EXPECT_EQ(WEXITSTATUS(run.status), 0);
  // And the parent sees the same.
  EXPECT_TRUE(std::filesystem::exists(a_new));
  EXPECT_TRUE(std::filesystem::exists(c_new));
  EXPECT_FALSE(std::filesystem::exists(b_new));
  EXPECT_FALSE(std::filesystem::exists(b_dir));
  EXPECT_TRUE(std::filesystem::exists(a_moved));
  EXPECT_EQ(slurp(b_f), "in B\n");
}

TEST(LandlockSandbox, reads_only_the_readable_set_which_runs_a_shell) {
  SKIP_WITHOUT_LANDLOCK();
  sandbox_tree tree;
  security_policy policy;
  policy.allow_read = {tree.a};
  job_security sec;
  sec.writable = {tree.c};
  sec.readable = sandbox_read_dirs(policy);
  std::string error;
  int ruleset = make_landlock_ruleset(sec, error);
  ASSERT_GE(ruleset, 0) << error;
  const std::string a_f = tree.a + "/f", b_f = tree.b + "/f",
                    c_new = tree.c + "/new";
  enum { restrict_rc, read_a, read_b, list_b, create_c, dev_null, count };
  auto body = [&](std::array<int, count>& r) {
    r[read_a] = try_read(a_f.c_str());
    r[read_b] = try_read(b_f.c_str());
    r[list_b] = try_open(tree.b.c_str(), O_RDONLY | O_DIRECTORY);
    r[create_c] = try_create(c_new.c_str());
    r[dev_null] = try_open("/dev/null", O_WRONLY);
  };
  const std::string script
    = "cat " + a_f + " && ! cat " + b_f + " 2>/dev/null && echo denied";
  const char* const sh_argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  auto run = run_sandboxed<count>(ruleset, body, sh_argv);
  ::close(ruleset);
  auto& r = run.results;
  EXPECT_EQ(r[restrict_rc], 0);
  EXPECT_EQ(r[read_a], 0);
  EXPECT_EQ(r[read_b], EACCES);
  EXPECT_EQ(r[list_b], EACCES);
  EXPECT_EQ(r[create_c], 0);
  EXPECT_EQ(r[dev_null], 0);
  EXPECT_EQ(run.output, "in A\ndenied\n");
  ASSERT_TRUE(WIFEXITED(run.status)) << run.status;
  EXPECT_EQ(WEXITSTATUS(run.status), 0);
}

TEST(LandlockSandbox, without_the_system_directories_no_shell_starts) {
  SKIP_WITHOUT_LANDLOCK();
  sandbox_tree tree;
  job_security sec;
  sec.writable = {tree.c};
  sec.readable = {tree.a};
  std::string error;
  int ruleset = make_landlock_ruleset(sec, error);
  ASSERT_GE(ruleset, 0) << error;
  const char* const sh_argv[] = {"/bin/sh", "-c", "true", nullptr};
  auto run = run_sandboxed<1>(
    ruleset, [](std::array<int, 1>&) {}, sh_argv);
  ::close(ruleset);
  EXPECT_EQ(run.results[0], 0);
  // execve itself is refused (EACCES: /bin/sh is not executable here).
  ASSERT_TRUE(WIFEXITED(run.status)) << run.status;
  EXPECT_EQ(WEXITSTATUS(run.status), 126);
}

} // namespace
} // namespace jobd::test
