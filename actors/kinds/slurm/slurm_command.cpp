#include "actors/kinds/slurm/slurm_command.hpp"

#include "actors/kinds/process/reaping.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
extern char** environ;
}

namespace jobd {

namespace {

constexpr size_t max_command_output = size_t{4} << 20;

struct spawn_guard {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  spawn_guard() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~spawn_guard() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

void close_fd(int& fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

int64_t now_ms_steady() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
    .count();
}

} // namespace

command_result run_command(const std::vector<std::string>& argv,
                           int64_t timeout_ms,
                           const std::vector<std::string>* env) {
  command_result res;
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (argv.empty() || ::pipe2(out_pipe, O_CLOEXEC) != 0
      || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    res.not_started = true;
    res.err = std::strerror(errno);
    close_fd(out_pipe[0]);
    close_fd(out_pipe[1]);
    return res;
  }
  spawn_guard g;
  posix_spawn_file_actions_addopen(&g.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&g.actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&g.actions, err_pipe[1], 2);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&g.attr, &none);
  posix_spawnattr_setsigdefault(&g.attr, &all);
  posix_spawnattr_setflags(&g.attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  if (env != nullptr) {
    for (auto& e : *env)
      envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  // Claimed, so jobd's orphan sweeps (the process kind's reactor, a child
  // subreaper) never take its exit status.
  int rc = 0;
  pid_t pid = spawn_claimed([&] {
    pid_t child = -1;
    rc = ::posix_spawnp(&child, args[0], &g.actions, &g.attr, args.data(),
                        env != nullptr ? envp.data() : environ);
    return rc == 0 ? child : -1;
  });
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  if (rc != 0) {
    res.not_started = true;
    res.err = argv[0] + ": " + std::strerror(rc);
    close_fd(out_pipe[0]);
    close_fd(err_pipe[0]);
    return res;
  }
  auto deadline = now_ms_steady() + timeout_ms;
  int fds[2] = {out_pipe[0], err_pipe[0]};
  std::string* sinks[2] = {&res.out, &res.err};
  while (fds[0] >= 0 || fds[1] >= 0) {
    auto left = deadline - now_ms_steady();
    if (left <= 0) {
      res.timed_out = true;
      break;
    }
    pollfd p[2];
    nfds_t n = 0;
    int which[2] = {0, 0};
    for (int i = 0; i < 2; ++i)
      if (fds[i] >= 0) {
        p[n] = pollfd{fds[i], POLLIN, 0};
        which[n++] = i;
      }
    auto ready = ::poll(p, n, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno != EINTR)
      break;
    for (nfds_t k = 0; ready > 0 && k < n; ++k) {
      if (p[k].revents == 0)
        continue;
      char buf[16384];
      auto got = ::read(p[k].fd, buf, sizeof buf);
      auto i = which[k];
      if (got > 0) {
        if (sinks[i]->size() < max_command_output)
          sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close_fd(fds[i]);
      }
    }
  }
  close_fd(fds[0]);
  close_fd(fds[1]);
  if (res.timed_out)
    ::kill(pid, SIGKILL); // our own child, by its pid
  int status = 0;
  pid_t got;
  // A child that closed its pipes exits soon; a killed one at once.
  while (true) {
    got = ::waitpid(pid, &status, res.timed_out ? 0 : WNOHANG);
    if (got < 0 && errno == EINTR)
      continue;
    if (got == 0) {
      if (now_ms_steady() > deadline) {
        ::kill(pid, SIGKILL);
        res.timed_out = true;
        continue;
      }
      ::usleep(2000);
      continue;
    }
    break;
  }
  release_claim(pid);
  if (got < 0)
    res.rc = -2; // reaped by someone else (not one of jobd's sweeps)
  else if (WIFEXITED(status))
    res.rc = WEXITSTATUS(status);
  return res;
}

} // namespace jobd
