#include "actors/kinds/process/spawn.hpp"

#include "actors/kinds/process/cgroup_tree.hpp"
#include "actors/kinds/process/child_setup.hpp"
#include "actors/kinds/process/clone_into.hpp"
#include "actors/kinds/process/terminal.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/process/v2/posix/vfork_launcher.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/start_dir.hpp>
#include <boost/process/v2/stdio.hpp>

#include <exception>
#include <initializer_list>
#include <string_view>
#include <system_error>
#include <vector>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
extern char** environ;
}

namespace asio = boost::asio;
namespace bp = boost::process::v2;

namespace jobd {

namespace {

std::string describe(int err) {
  // std::system_category().message is thread-safe, unlike strerror.
  return std::system_category().message(err);
}

/// The server's environment with `overrides` replacing or adding entries.
std::vector<std::string>
make_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text{*entry};
    auto key = text.substr(0, text.find('='));
    if (overrides.count(std::string{key}) == 0)
      env.emplace_back(text);
  }
  for (const auto& [key, value] : overrides)
    env.push_back(key + "=" + value);
  return env;
}

const char* classify(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return codes::command_not_found;
    case EACCES:
    case EPERM:
      return codes::permission_denied;
    default:
      return codes::spawn_failed;
  }
}

/// Reaps a child whose exec failed (it is exiting with status 127).
void reap_failed(int pid) {
  if (pid <= 0)
    return;
  // Should exec have succeeded after all, do not wait for a live program.
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) == -1 && errno == EINTR) {
  }
}

spawn_outcome failure(const char* code, std::string message) {
  spawn_outcome result;
  result.code = code;
  result.message = std::move(message);
  return result;
}

spawn_outcome confinement_failure(const confine_failure& failed) {
  auto result = failure(codes::spawn_failed,
                        "cannot apply limits: " + describe(failed.error));
  result.confine_failed = failed;
  return result;
}

/// The outcome of a child that started but could not exec: `error` is the
/// errno of the step that failed.
spawn_outcome exec_failure(const launch_spec& spec, int error) {
  if (auto problem = directory_problem(spec.working_directory))
    return failure(codes::invalid_working_directory, std::move(*problem));
  return failure(classify(error), "cannot execute '" + spec.executable
                                    + "': " + describe(error));
}

void close_all(std::initializer_list<int> fds) {
  for (int fd : fds)
    if (fd >= 0)
      ::close(fd);
}

/// The descriptors of one launch's stdin (and, for a terminal, all of its
/// stdio) until they are handed over: whatever is left is closed.
struct prepared_stdin {
  /// The child's stdin: /dev/null, the pipe's read end, or the slave.
  int child = -1;
  /// The parent's: the pipe's write end, or the terminal's master.
  int parent = -1;
  bool tty = false;

  prepared_stdin() = default;
  prepared_stdin(const prepared_stdin&) = delete;
  prepared_stdin& operator=(const prepared_stdin&) = delete;
  ~prepared_stdin() {
    close_all({child, parent});
  }

  /// Makes them for `mode`; false with errno set.
  bool open(stdin_mode mode, int32_t cols, int32_t rows) {
    tty = mode == stdin_mode::tty;
    if (tty) {
      terminal_fds term;
      if (!open_terminal(cols, rows, term))
        return false;
      child = term.slave;
      parent = term.master;
      return true;
    }
    if (mode == stdin_mode::pipe) {
      int fds[2] = {-1, -1};
      if (::pipe2(fds, O_CLOEXEC) != 0)
        return false;
      child = above_stdio(fds[0]);
      parent = above_stdio(fds[1]);
      return child >= 0 && parent >= 0;
    }
    child = above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    return child >= 0;
  }

  /// Once the child started: the parent's ends go to `io` (for a terminal,
  /// the master becomes `out`, a duplicate `in`, another `control`).
  void hand_over(spawn_stdio& io) {
    close_all({child});
    child = -1;
    if (parent < 0)
      return;
    boost::system::error_code ignored;
    if (tty) {
      const int writer = ::fcntl(parent, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
      io.control = ::fcntl(parent, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
      io.out.assign(parent, ignored);
      if (writer >= 0)
        io.in.assign(writer, ignored);
    } else {
      io.in.assign(parent, ignored);
    }
    parent = -1;
  }
};

/// Starts the child inside `cgroup_fd` with clone_into(). Null if clone3
/// cannot do that here: the caller then uses the vfork launcher.
std::optional<spawn_outcome>
spawn_into(const launch_spec& spec, const char* const* argv,
           const char* const* envp, prepared_stdin& in, spawn_stdio& io,
           int cgroup_fd, const child_confinement& confine) {
  int out_fds[2] = {-1, -1};
  int err_fds[2] = {-1, -1};
  if (!in.tty
      && (::pipe2(out_fds, O_CLOEXEC) != 0
          || ::pipe2(err_fds, O_CLOEXEC) != 0)) {
    const int error = errno;
    close_all({out_fds[0], out_fds[1], err_fds[0], err_fds[1]});
    return failure(codes::spawn_failed, "cannot execute '" + spec.executable
                                          + "': " + describe(error));
  }
  for (int* fd : {&out_fds[0], &out_fds[1], &err_fds[0], &err_fds[1]})
    *fd = above_stdio(*fd);
  clone_into_request req;
  req.executable = spec.executable.c_str();
  req.argv = argv;
  req.envp = envp;
  req.working_directory = spec.working_directory.c_str();
  if (spec.working_directory_fd)
    req.working_directory_fd = spec.working_directory_fd->fd;
  req.stdin_fd = in.child;
  req.stdout_fd = in.tty ? in.child : out_fds[1];
  req.stderr_fd = in.tty ? in.child : err_fds[1];
  req.cgroup_fd = cgroup_fd;
  req.new_session = in.tty;
  req.confine = &confine;
  const auto started = clone_into(req);
  close_all({out_fds[1], err_fds[1]});
  if (started.clone_error != 0) {
    close_all({out_fds[0], err_fds[0]});
    if (clone_into_unavailable(started.clone_error))
      return std::nullopt;
    return failure(codes::spawn_failed,
                   "cannot execute '" + spec.executable
                     + "': " + describe(started.clone_error));
  }
  if (!in.tty) {
    io.out.assign(out_fds[0]);
    io.err.assign(err_fds[0]);
  }
  if (started.exec_error != 0) {
    reap_failed(started.pid);
    if (started.confine_failed.step != confine_step::none)
      return confinement_failure(started.confine_failed);
    return exec_failure(spec, started.exec_error);
  }
  in.hand_over(io);
  spawn_outcome result;
  result.pid = started.pid;
  return result;
}

} // namespace

// Moves `fd` above 0-2 (a pipe made while jobd's own stdio was closed
// would be overwritten by the child's dup2s); keeps O_CLOEXEC.
int above_stdio(int fd) {
  if (fd < 0 || fd > STDERR_FILENO)
    return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  ::close(fd);
  return moved;
}

std::optional<std::string> directory_problem(const std::string& dir) {
  if (dir.empty())
    return std::nullopt;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return "working directory '" + dir + "': " + describe(errno);
  if (!S_ISDIR(st.st_mode))
    return "working directory '" + dir + "': " + describe(ENOTDIR);
  if (::access(dir.c_str(), X_OK) != 0)
    return "working directory '" + dir + "': " + describe(errno);
  return std::nullopt;
}

spawn_outcome spawn_child(const launch_spec& spec, spawn_stdio& io,
                          cgroup_tree* cgroup, bool& use_clone, pid_t owner,
                          const child_confinement& confine) {
  prepared_stdin in;
  if (!in.open(spec.input, spec.cols, spec.rows))
    return failure(codes::spawn_failed,
                   std::string{spec.input == stdin_mode::tty
                                 ? "cannot open a terminal: "
                                 : "cannot open stdin: "}
                     + describe(errno));
  // A ready `const char**` is passed through as argv, argv[0] included.
  std::vector<const char*> argv;
  argv.reserve(spec.argv.size() + 2);
  if (spec.argv.empty())
    argv.push_back(spec.executable.c_str());
  for (const auto& arg : spec.argv)
    argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  const char** argv_data = argv.data();
  auto env = spec.replace_environment ? spec.environment_entries
                                      : make_environment(spec.environment);
  std::vector<const char*> envp;
  envp.reserve(env.size() + 1);
  for (const auto& entry : env)
    envp.push_back(entry.c_str());
  envp.push_back(nullptr);
  if (cgroup != nullptr && use_clone && clone_into_supported()) {
    if (auto started = spawn_into(spec, argv_data, envp.data(), in, io,
                                  cgroup->dir_fd(), confine))
      return std::move(*started);
    use_clone = false; // from now on the vfork launcher
  }
  spawn_outcome result;
  int procs_fd = -1;
  if (cgroup != nullptr) {
    procs_fd = cgroup->procs_fd();
    if (procs_fd < 0)
      result.cgroup_error = errno != 0 ? errno : EIO; // runs outside it
    if (procs_fd < 0 && confine.cgroup_required) {
      confine_failure failed; // its limits are in that cgroup
      failed.step = confine_step::job_cgroup;
      failed.error = result.cgroup_error;
      return confinement_failure(failed);
    }
  }
  // Boost.Process launches on this fresh context, never run: the fork
  // notification in the child then finds nothing to re-register (on the
  // reactor's context, every running job's descriptors were re-added in
  // each child, which cost time per job, could throw, and would corrupt it
  // under vfork). Only this path needs it (an epoll and an eventfd made
  // and closed per launch).
  asio::io_context spawn_ctx;
  // A fresh launcher per child: it keeps state (pid, fd whitelist). vfork
  // does not copy our page tables (fork did, and then every write of ours
  // took a copy-on-write fault); the child only makes syscalls (see
  // child_setup) before execve.
  bp::posix::vfork_launcher launcher;
  // In 1.81 header-only mode bp::process_environment::on_setup is never
  // defined (only src.hpp has it: link error); set what it would set.
  launcher.env = envp.data();
  child_setup setup;
  setup.cgroup_procs_fd = procs_fd;
  setup.cgroup_error = &result.cgroup_error;
  setup.new_session = in.tty;
  confine_failure confine_failed;
  setup.confine = &confine;
  setup.confine_failed = &confine_failed;
  if (spec.working_directory_fd)
    setup.working_directory_fd = spec.working_directory_fd->fd;
  bp::error_code ec;
  pid_t pid = -1;
  try {
    const bp::filesystem::path exe{spec.executable};
    auto start = [&](bp::process_stdio& stdio, auto&&... extra) {
      // Bug 1: only the executor overload reports through `ec`.
      auto proc = launcher(spawn_ctx.get_executor(), ec, exe, argv_data, stdio,
                           setup, extra...);
      pid = proc.id();
      // Bug 4: ~basic_process would SIGKILL and waitpid; the reactor waits
      // on its own pidfd instead.
      proc.detach();
    };
    auto start_in = [&](bp::process_stdio& stdio) {
      if (spec.working_directory.empty() || spec.working_directory_fd) {
        start(stdio); // the child fchdirs (child_setup)
      } else {
        bp::process_start_dir dir{spec.working_directory};
        start(stdio, dir);
      }
    };
    // The bindings close the pipes' write ends when they go out of scope.
    if (in.tty) {
      bp::process_stdio stdio{in.child, in.child, in.child};
      start_in(stdio);
    } else {
      // The binding makes the pipes; the reactor reads their ends as
      // plain descriptors (it waits for them to be readable).
      boost::asio::readable_pipe out{io.out.get_executor()};
      boost::asio::readable_pipe err{io.err.get_executor()};
      {
        bp::process_stdio stdio{in.child, out, err};
        start_in(stdio);
      }
      if (out.is_open())
        io.out.assign(out.release());
      if (err.is_open())
        io.err.assign(err.release());
    }
  } catch (const std::exception& e) {
    if (::getpid() != owner)
      ::_exit(127); // thrown in the child before exec
    reap_failed(launcher.pid);
    return failure(codes::spawn_failed,
                   "cannot execute '" + spec.executable + "': " + e.what());
  }
  // The launcher may report success for a child whose setup failed (it
  // takes errno as the error, which need not be set): trust our record.
  if (confine_failed.step != confine_step::none) {
    reap_failed(launcher.pid);
    return confinement_failure(confine_failed);
  }
  if (ec || pid <= 0) {
    // An exec failure comes back through `ec` (the vforked child set it in
    // our memory), leaving the child unreaped: reap it.
    reap_failed(launcher.pid);
    return exec_failure(spec, ec ? ec.value() : EINVAL);
  }
  in.hand_over(io);
  result.pid = pid;
  return result;
}

} // namespace jobd
