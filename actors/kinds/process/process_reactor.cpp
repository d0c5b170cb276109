#include "actors/kinds/process/process_reactor.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/process/v2/default_launcher.hpp>
#include <boost/process/v2/posix/vfork_launcher.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/start_dir.hpp>
#include <boost/process/v2/stdio.hpp>

#include <caf/abstract_actor.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
extern char** environ;
}

namespace asio = boost::asio;
namespace bp = boost::process::v2;

namespace jobd {

namespace {

/// One line of /proc/<pid>/stat, the fields we need.
struct proc_stat {
  pid_t pid = 0;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
};

bool read_proc_stat(pid_t pid, proc_stat& out) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  auto f = std::fopen(path, "r");
  if (f == nullptr)
    return false;
  char buf[512];
  auto n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name may hold spaces and parentheses: skip to the last ')'.
  auto rparen = std::strrchr(buf, ')');
  int ppid = 0;
  int pgrp = 0;
  if (rparen == nullptr
      || std::sscanf(rparen + 1, " %c %d %d", &out.state, &ppid, &pgrp) != 3)
    return false;
  out.pid = pid;
  out.ppid = ppid;
  out.pgrp = pgrp;
  return true;
}

/// Every process visible in /proc.
std::vector<proc_stat> scan_processes() {
  std::vector<proc_stat> result;
  if (auto dir = ::opendir("/proc")) {
    while (auto entry = ::readdir(dir)) {
      char* end = nullptr;
      auto pid = std::strtol(entry->d_name, &end, 10);
      proc_stat st;
      if (*end == '\0' && pid > 0
          && read_proc_stat(static_cast<pid_t>(pid), st))
        result.push_back(st);
    }
    ::closedir(dir);
  }
  return result;
}

} // namespace

namespace {

using executor_type = asio::io_context::executor_type;
using process_type = bp::basic_process<executor_type>;

constexpr size_t read_buffer_size = 128 * 1024;
// A larger pipe lets a chatty child write longer before it blocks: fewer
// context switches per byte (best effort; the kernel may refuse).
constexpr int pipe_size = 256 * 1024;

/// How long a pipe stays unread before `in_flight` is looked at again.
constexpr auto flow_control_pause = std::chrono::milliseconds{1};

/// Interval of the waitpid fallback when the pidfd cannot be waited on.
constexpr auto exit_poll_interval = std::chrono::milliseconds{20};

/// Reported when someone else reaped our child and its status is lost.
constexpr int32_t lost_status = 255 << 8;

std::string describe(int err) {
  // std::system_category().message is thread-safe, unlike strerror.
  return std::system_category().message(err);
}

/// The hooks Boost.Process runs in the forked child.
struct child_setup {
  template <class Launcher>
  bp::error_code on_exec_setup(Launcher& launcher, const bp::filesystem::path&,
                               const char* const*) {
    // Ignored signals and the signal mask survive execve: reset both.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig)
      if (sig != SIGKILL && sig != SIGSTOP)
        ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Own process group, so the job can signal the whole tree.
    if (::setpgid(0, 0) != 0)
      return bp::error_code{errno, bp::system_category()};
    close_unlisted(launcher.fd_whitelist);
    return {};
  }

  /// Boost 1.81 close_all (close_range variant) compares each whitelist
  /// entry with itself, so every descriptor between 2 and the launcher's
  /// error pipe stays open in the child: close them here. Runs after
  /// process_stdio set up 0-2; keeps the launcher's error pipe.
  static void close_unlisted(std::vector<int>& keep) {
    std::sort(keep.begin(), keep.end()); // in place: no allocation
    unsigned int low = 0;
    for (int fd : keep) {
      if (fd < 0 || static_cast<unsigned int>(fd) < low)
        continue;
      if (static_cast<unsigned int>(fd) > low)
        close_fds(low, static_cast<unsigned int>(fd) - 1);
      low = static_cast<unsigned int>(fd) + 1;
    }
    close_fds(low, ~0U);
  }

  static void close_fds(unsigned int first, unsigned int last) {
    if (::close_range(first, last, 0) == 0)
      return;
    // Kernel without close_range (< 5.9): close one by one.
    struct rlimit lim {};
    unsigned int end = 65536;
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
        && lim.rlim_cur < end)
      end = static_cast<unsigned int>(lim.rlim_cur);
    for (unsigned int fd = first; fd <= last && fd < end; ++fd)
      ::close(static_cast<int>(fd));
  }

  // Boost 1.81 bug 2: a non-variadic error hook is never called. Bug 3: the
  // child would call exit() and flush the parent's copied stdio buffers.
  template <class... Args> void on_exec_error(Args&&...) {
    ::_exit(127);
  }
};

/// One of the child's output pipes and its read loop's state.
struct pipe_reader {
  pipe_reader(asio::io_context& io, stream_kind kind)
    : pipe(io), pause(io), kind(kind), buf(new char[read_buffer_size]) {}

  asio::readable_pipe pipe;
  asio::steady_timer pause;
  stream_kind kind;
  std::unique_ptr<char[]> buf;
};

/// A launched child; lives on the reactor thread, owned by its handlers.
struct child {
  child(asio::io_context& io, backend_events job,
        std::shared_ptr<std::atomic<int64_t>> in_flight, int64_t max_in_flight)
    : job(std::move(job)), in_flight(std::move(in_flight)),
      max_in_flight(max_in_flight), out(io, stream_kind::out),
      err(io, stream_kind::err), exit_poll(io) {}

  pipe_reader& reader(stream_kind kind) {
    return kind == stream_kind::out ? out : err;
  }

  backend_events job;
  std::shared_ptr<std::atomic<int64_t>> in_flight;
  int64_t max_in_flight;
  pipe_reader out;
  pipe_reader err;
  std::optional<process_type> proc;
  /// The child's pidfd, readable once it exited.
  std::optional<asio::posix::stream_descriptor> exit_fd;
  asio::steady_timer exit_poll;
  int64_t pgid = 0;
  bool reaped = false;
  /// The job actor is gone: output is discarded.
  bool orphaned = false;
};

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

/// Why `dir` cannot be a working directory, if it cannot.
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

void send_failure(const backend_events& job, const char* code,
                  std::string message) {
  caf::anon_send(job, atom::spawn_failed_v, std::string{code},
                 std::move(message));
}

} // namespace

struct process_reactor::impl : std::enable_shared_from_this<impl> {
  asio::io_context io;
  asio::executor_work_guard<executor_type> work{io.get_executor()};
  /// Only this process runs the reactor; a forked child must never.
  const pid_t owner = ::getpid();
  std::thread thread;

  // -- shared with actor threads, guarded by mtx ----------------------------
  mutable std::mutex mtx;
  /// Held from fork until the new child is registered in `groups`, so that
  /// reap_adopted() never takes a fresh child for an adopted orphan.
  std::mutex spawn_mtx;
  std::condition_variable reaped_cv;
  /// Known process groups: pgid -> leader reaped.
  std::map<int64_t, bool> groups;
  size_t unreaped = 0;
  bool stopping = false;

  /// Serializes stop().
  std::mutex stop_mtx;
  bool stopped = false;

  // -- reactor thread only --------------------------------------------------
  /// Children not yet reaped, to detach them if the reactor stops first.
  std::unordered_set<child*> live;

  void run() {
    for (;;) {
      try {
        io.run();
        return;
      } catch (...) {
        // A child between fork and exec must not become a second reactor.
        if (::getpid() != owner)
          ::_exit(127);
        // A throwing handler must not end the reactor: keep serving others.
      }
    }
  }

  // -- launching ------------------------------------------------------------

  void do_launch(launch_spec& spec, backend_events& job) {
    // Boost.Process launches on this fresh context, never run: the fork
    // notification in the child then finds nothing to re-register (on `io`,
    // every running job's descriptors were re-added in each child, which
    // cost time per job, could throw, and would corrupt `io` under vfork).
    asio::io_context spawn_ctx;
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (stopping) {
        send_failure(job, codes::spawn_failed,
                     "the process reactor is shutting down");
        return;
      }
    }
    if (auto problem = directory_problem(spec.working_directory)) {
      send_failure(job, codes::invalid_working_directory, std::move(*problem));
      return;
    }
    // A ready `const char**` is passed through as argv, argv[0] included.
    std::vector<const char*> argv;
    argv.reserve(spec.argv.size() + 2);
    if (spec.argv.empty())
      argv.push_back(spec.executable.c_str());
    for (const auto& arg : spec.argv)
      argv.push_back(arg.c_str());
    argv.push_back(nullptr);
    const char** argv_data = argv.data();
    auto env = make_environment(spec.environment);
    std::vector<const char*> envp;
    envp.reserve(env.size() + 1);
    for (const auto& entry : env)
      envp.push_back(entry.c_str());
    envp.push_back(nullptr);
    auto c = std::make_shared<child>(io, std::move(job), spec.in_flight,
                                     spec.max_in_flight);
    // A fresh launcher per child: it keeps state (pid, fd whitelist). vfork
    // does not copy our page tables (fork did, and then every write of ours
    // took a copy-on-write fault); the child only makes syscalls (see
    // child_setup) before execve.
    bp::posix::vfork_launcher launcher;
    // In 1.81 header-only mode bp::process_environment::on_setup is never
    // defined (only src.hpp has it: link error); set what it would set.
    launcher.env = envp.data();
    bp::error_code ec;
    std::unique_lock<std::mutex> spawning{spawn_mtx};
    try {
      const bp::filesystem::path exe{spec.executable};
      auto start = [&](auto&&... extra) {
        // Bug 1: only the executor overload reports through `ec`. The
        // process_stdio temporary closes the pipes' write ends right after.
        c->proc.emplace(
          launcher(spawn_ctx.get_executor(), ec, exe, argv_data,
                   bp::process_stdio{nullptr, c->out.pipe, c->err.pipe},
                   child_setup{}, extra...));
      };
      if (spec.working_directory.empty()) {
        start();
      } else {
        bp::process_start_dir dir{spec.working_directory};
        start(dir);
      }
    } catch (const std::exception& e) {
      if (::getpid() != owner)
        ::_exit(127); // thrown in the child before exec
      reap_failed(launcher.pid);
      send_failure(c->job, codes::spawn_failed,
                   "cannot execute '" + spec.executable + "': " + e.what());
      return;
    }
    if (ec || !c->proc || c->proc->id() <= 0) {
      // An exec failure comes back through `ec` (errno sent on the
      // launcher's CLOEXEC pipe), leaving the child unreaped: reap it.
      reap_failed(launcher.pid);
      const int err = ec ? ec.value() : EINVAL;
      if (auto problem = directory_problem(spec.working_directory)) {
        send_failure(c->job, codes::invalid_working_directory,
                     std::move(*problem));
        return;
      }
      send_failure(c->job, classify(err),
                   "cannot execute '" + spec.executable
                     + "': " + describe(err));
      return;
    }
    c->pgid = c->proc->id();
    {
      std::lock_guard<std::mutex> guard{mtx};
      groups[c->pgid] = false;
      ++unreaped;
    }
    spawning.unlock();
    for (auto* r : {&c->out, &c->err})
      ::fcntl(r->pipe.native_handle(), F_SETPIPE_SZ, pipe_size);
    live.insert(c.get());
    caf::anon_send(c->job, atom::spawned_v, c->pgid, std::string{"pgroup"});
    watch_job(c);
    read_next(c, stream_kind::out);
    read_next(c, stream_kind::err);
    wait_exit(c);
  }

  /// Waits for the child's exit on its pidfd, then reaps it by pid (the raw
  /// wait status tells exit code from signal). The Boost process object is
  /// detached at once: Bug 4, ~basic_process would SIGKILL and waitpid.
  void wait_exit(const std::shared_ptr<child>& c) {
    c->proc->detach();
    c->proc.reset();
    const auto pid = static_cast<pid_t>(c->pgid);
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) {
      poll_exit(c); // e.g. out of descriptors: poll instead
      return;
    }
    c->exit_fd.emplace(io, fd);
    c->exit_fd->async_wait(asio::posix::stream_descriptor::wait_read,
                           [this, c](const bp::error_code&) {
                             c->exit_fd.reset();
                             poll_exit(c);
                           });
  }

  /// Reaps a child whose exec failed (it is exiting with status 127).
  static void reap_failed(int pid) {
    if (pid <= 0)
      return;
    // Should exec have succeeded after all, do not wait for a live program.
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) == -1 && errno == EINTR) {
    }
  }

  // -- output -----------------------------------------------------------------

  void read_next(const std::shared_ptr<child>& c, stream_kind kind) {
    auto& r = c->reader(kind);
    if (!c->orphaned && c->in_flight
        && c->in_flight->load(std::memory_order_relaxed) > c->max_in_flight) {
      // The job has not taken enough of what it got: leave the pipe full.
      r.pause.expires_after(flow_control_pause);
      r.pause.async_wait(
        [this, c, kind](const bp::error_code&) { read_next(c, kind); });
      return;
    }
    r.pipe.async_read_some(asio::buffer(r.buf.get(), read_buffer_size),
                           [this, c, kind](const bp::error_code& ec, size_t n) {
                             auto& r = c->reader(kind);
                             if (n > 0 && !c->orphaned) {
                               if (c->in_flight)
                                 c->in_flight->fetch_add(
                                   static_cast<int64_t>(n));
                               caf::anon_send(c->job, atom::data_v, kind,
                                              std::string{r.buf.get(), n});
                             }
                             if (ec) {
                               // EOF, or an error that ends the stream just the
                               // same.
                               bp::error_code ignored;
                               r.pipe.close(ignored);
                               if (!c->orphaned)
                                 caf::anon_send(c->job, atom::eof_v, kind);
                               return;
                             }
                             read_next(c, kind);
                           });
  }

  // -- exit -------------------------------------------------------------------

  /// Fallback when the pidfd cannot be waited on (e.g. pidfd_open failed
  /// for lack of descriptors): poll waitpid.
  void poll_exit(const std::shared_ptr<child>& c) {
    int status = 0;
    const pid_t pid = static_cast<pid_t>(c->pgid);
    const pid_t res = ::waitpid(pid, &status, WNOHANG);
    if (res == pid) {
      on_reaped(c, status);
      return;
    }
    if (res == 0 || errno == EINTR) {
      c->exit_poll.expires_after(exit_poll_interval);
      c->exit_poll.async_wait(
        [this, c](const bp::error_code&) { poll_exit(c); });
      return;
    }
    // ECHILD: reaped behind our back (SIGCHLD ignored?): status unknown.
    on_reaped(c, lost_status);
  }

  void on_reaped(const std::shared_ptr<child>& c, int32_t raw_status) {
    c->reaped = true;
    live.erase(c.get());
    {
      std::lock_guard<std::mutex> guard{mtx};
      auto i = groups.find(c->pgid);
      if (i != groups.end()) {
        i->second = true;
        if (::kill(static_cast<pid_t>(-c->pgid), 0) != 0 && errno == ESRCH)
          groups.erase(i);
      }
      --unreaped;
    }
    reaped_cv.notify_all();
    if (!c->orphaned)
      caf::anon_send(c->job, atom::exited_v, raw_status);
  }

  // -- orphans ----------------------------------------------------------------

  /// When the job actor terminates, its child cannot be managed any more.
  void watch_job(const std::shared_ptr<child>& c) {
    if (!c->job)
      return;
    std::weak_ptr<impl> weak_self = shared_from_this();
    std::weak_ptr<child> weak_child = c;
    // Runs on the dying actor's thread (or here, if it is already dead).
    c->job->attach_functor([weak_self, weak_child] {
      if (auto self = weak_self.lock()) {
        impl* raw = self.get();
        asio::post(raw->io, [raw, weak_child] { raw->orphan(weak_child); });
      }
    });
  }

  void orphan(const std::weak_ptr<child>& weak_child) {
    auto c = weak_child.lock();
    if (!c || c->orphaned)
      return;
    c->orphaned = true;
    signal_known(c->pgid, SIGKILL);
  }

  // -- groups -----------------------------------------------------------------

  /// kill(-pgid, sig) for a known group; false if unknown or gone.
  bool signal_known(int64_t pgid, int sig) {
    if (pgid <= 1)
      return false; // kill(-1) or kill(0) would hit far more than a job
    std::lock_guard<std::mutex> guard{mtx};
    auto i = groups.find(pgid);
    if (i == groups.end())
      return false;
    if (::kill(static_cast<pid_t>(-pgid), sig) == 0)
      return true;
    const int err = errno;
    if (err == ESRCH) {
      if (i->second)
        groups.erase(i);
      return false;
    }
    // EPERM: some process of the group is left, just not ours to signal.
    return err == EPERM;
  }
};

process_reactor::process_reactor() : impl_(std::make_shared<impl>()) {
  impl_->thread = std::thread{[self = impl_.get()] { self->run(); }};
}

process_reactor::~process_reactor() {
  stop();
}

void process_reactor::launch(launch_spec spec, backend_events job) {
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->stopping) {
      send_failure(job, codes::spawn_failed,
                   "the process reactor is shutting down");
      return;
    }
  }
  // Bug 6: the launcher forks and calls notify_fork on the io_context, so
  // it must run on the reactor thread.
  asio::post(impl_->io,
             [self = impl_.get(), spec = std::move(spec),
              job = std::move(job)]() mutable { self->do_launch(spec, job); });
}

bool process_reactor::signal(int64_t pgid, int sig, bool whole_tree) {
  if (!whole_tree)
    return impl_->signal_known(pgid, 0) && ::kill(static_cast<pid_t>(pgid), sig) == 0;
  return impl_->signal_known(pgid, sig);
}

void process_reactor::kill_tree(int64_t pgid) {
  impl_->signal_known(pgid, SIGKILL);
}

bool process_reactor::group_alive(int64_t pgid) {
  if (!impl_->signal_known(pgid, 0))
    return false;
  // kill(-pgid, 0) also counts zombies: only a running member counts here.
  bool running = false;
  for (auto& p : scan_processes())
    if (p.pgrp == pgid && p.state != 'Z')
      running = true;
  reap_adopted();
  return running;
}

size_t process_reactor::reap_adopted() {
  // Our own children (group leaders) are reaped through their pidfds; any
  // other zombie whose parent we are is an orphan of a job, adopted because
  // jobd is a child subreaper, and ours to reap by its pid.
  std::unordered_set<int64_t> leaders;
  std::lock_guard<std::mutex> no_spawn{impl_->spawn_mtx};
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    for (auto& [group, leader_reaped] : impl_->groups)
      if (!leader_reaped)
        leaders.insert(group);
  }
  size_t reaped = 0;
  auto me = ::getpid();
  for (auto& p : scan_processes()) {
    if (p.state == 'Z' && p.ppid == me && leaders.count(p.pid) == 0
        && ::waitpid(p.pid, nullptr, WNOHANG) == p.pid)
      ++reaped;
  }
  return reaped;
}

size_t process_reactor::live_children() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->unreaped;
}

void process_reactor::kill_all(int sig) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  for (const auto& group : impl_->groups)
    if (group.first > 1)
      ::kill(static_cast<pid_t>(-group.first), sig);
}

void process_reactor::stop(std::chrono::milliseconds grace) {
  auto& s = *impl_;
  std::lock_guard<std::mutex> stop_guard{s.stop_mtx};
  if (s.stopped)
    return;
  s.stopped = true;
  {
    std::unique_lock<std::mutex> lock{s.mtx};
    s.stopping = true;
    auto all_reaped = [&s] { return s.unreaped == 0; };
    if (!s.reaped_cv.wait_for(lock, grace, all_reaped)) {
      lock.unlock();
      kill_all(SIGKILL);
      lock.lock();
      s.reaped_cv.wait_for(lock, std::chrono::seconds{1}, all_reaped);
    }
  }
  // Runs after every launch queued before `stopping` was set (FIFO), so no
  // child can start after it.
  asio::post(s.io, [&s] {
    // Bug 4: never let ~basic_process SIGKILL + waitpid block shutdown.
    for (auto* c : s.live)
      if (c->proc)
        c->proc->detach();
    s.live.clear();
    s.io.stop();
  });
  s.work.reset();
  if (s.thread.joinable())
    s.thread.join();
}

} // namespace jobd
