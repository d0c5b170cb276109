#include "actors/kinds/process/process_reactor.hpp"

#include "actors/kinds/process/reactor_impl.hpp"
#include "actors/kinds/process/spawn.hpp"

#include <boost/asio/post.hpp>

#include <caf/abstract_actor.hpp>
#include <caf/send.hpp>

#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <pthread.h>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace asio = boost::asio;

namespace jobd {

namespace {

// A larger pipe lets a chatty child write longer before it blocks: fewer
// context switches per byte (best effort; the kernel may refuse).
constexpr int pipe_size = 256 * 1024;

/// How long stop() waits for the trees it SIGKILLed to end.
constexpr auto stop_kill_wait = std::chrono::seconds{1};

/// How long stop() waits for lingering cgroups to empty after cgroup.kill.
constexpr auto lingering_wait = std::chrono::milliseconds{1000};

void send_failure(const backend_events& sink, const char* code,
                  std::string message) {
  caf::anon_send(sink, atom::spawn_failed_v, std::string{code},
                 std::move(message));
}

} // namespace

reactor_options reactor_options::from_environment() {
  reactor_options result;
  const char* value = std::getenv("JOBD_TRACKING");
  if (value != nullptr && std::strcmp(value, "pgroup") == 0)
    result.tracking = tree_tracking::pgroup;
  // How many emptied cgroups are kept (0: each is removed; for measuring
  // what keeping them saves).
  const char* kept = std::getenv("JOBD_KEPT_CGROUPS");
  if (kept != nullptr && *kept != '\0') {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(kept, &end, 10);
    if (*end == '\0' && n <= 100000)
      result.max_free_cgroups = static_cast<size_t>(n);
  }
  return result;
}

process_reactor::impl::impl(reactor_options opts)
  : options(opts), clone_into(opts.clone_into_cgroup) {}

void process_reactor::impl::set_up() {
  // On the reactor thread, while the caller goes on starting the server
  // (finding the cgroup2 mount and making jobd-<pid> cost a few hundred
  // microseconds of a cold start).
  std::shared_ptr<cgroup_parent> made;
  if (options.tracking == tree_tracking::automatic) {
    try {
      std::string why; // the fallback is silent: tracking_mode() tells
      made = cgroup_parent::create(why);
      if (made) {
        made->set_max_free(options.max_free_cgroups);
        start_inotify();
      }
    } catch (...) {
      made.reset(); // out of memory: process groups then
    }
  }
  // Before `ready`: the server's policy asks for it right after start-up.
  set_up_limits(made.get());
  {
    std::lock_guard<std::mutex> guard{mtx};
    cgroups = std::move(made);
    use_cgroups = cgroups != nullptr;
    ready = true;
  }
  changed.notify_all();
}

void process_reactor::impl::wait_ready() const {
  if (ready_seen.load(std::memory_order_acquire))
    return;
  std::unique_lock<std::mutex> lock{mtx};
  changed.wait(lock, [this] { return ready; });
  ready_seen.store(true, std::memory_order_release);
}

void process_reactor::impl::run() {
  // A write to a stdin pipe whose reader is gone must fail with EPIPE, not
  // end jobd (which also ignores SIGPIPE): blocked on this thread, where
  // every such write happens. Children get an empty mask.
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
  set_up();
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

// -- launching ----------------------------------------------------------------

void process_reactor::impl::do_launch(
  launch_spec& spec, backend_events& sink, std::unique_ptr<cgroup_tree> cgroup,
  std::unique_ptr<job_confinement> confinement) {
  bool refused;
  {
    std::lock_guard<std::mutex> guard{mtx};
    refused = stopping;
  }
  const char* code = codes::spawn_failed;
  std::string problem;
  if (refused) {
    problem = "the process reactor is shutting down";
  } else if (auto bad_dir = directory_problem(spec.working_directory)) {
    code = codes::invalid_working_directory;
    problem = std::move(*bad_dir);
  } else {
    confinement->open_for_child(problem);
  }
  if (!problem.empty()) {
    confinement.reset();
    if (cgroup)
      cgroup->remove();
    send_failure(sink, code, std::move(problem));
    return;
  }
  auto t = std::make_shared<job_tree>(io, std::move(sink), spec);
  t->cgroup = std::move(cgroup);
  std::unique_ptr<cgroup_tree> unused;
  spawn_outcome res;
  {
    std::lock_guard<std::mutex> spawning{spawn_mtx};
    spawn_stdio stdio{t->in, t->out.pipe, t->err.pipe};
    res = spawn_child(spec, stdio, t->cgroup.get(), clone_into, owner,
                      confinement->child());
    t->tty_control = stdio.control;
    if (res.pid > 0) {
      t->pid = res.pid;
      if (t->cgroup && res.cgroup_error != 0) {
        // It runs outside its cgroup (we may not move processes here,
        // e.g. an undelegated systemd slice): track it by its group, and
        // stop making cgroups that no child can enter.
        use_cgroups = false;
        unused = std::move(t->cgroup);
      }
      std::lock_guard<std::mutex> guard{mtx};
      leaders.emplace(t->pid, t);
    }
  }
  if (t->cgroup)
    t->cgroup->close_procs();
  confinement->started(); // the ruleset and cgroup.procs fds
  if (unused)
    unused->remove();
  if (res.pid <= 0) {
    if (t->tty_control >= 0)
      ::close(t->tty_control);
    t->tty_control = -1;
    if (res.confine_failed.step != confine_step::none)
      res.message = confinement->describe(res.confine_failed);
    confinement.reset(); // its cgroups: the child was reaped
    if (t->cgroup)
      t->cgroup->remove();
    send_failure(t->sink, res.code, std::move(res.message));
    return;
  }
  t->confinement = std::move(confinement);
  for (auto* r : {&t->out, &t->err}) {
    if (!r->pipe.is_open())
      continue;
    // Read only once readable (read_next), never waiting in a read.
    boost::system::error_code ignored;
    r->pipe.non_blocking(true, ignored);
    if (t->input != stdin_mode::tty)
      ::fcntl(r->pipe.native_handle(), F_SETPIPE_SZ, pipe_size);
  }
  t->in_ended = t->input == stdin_mode::null;
  caf::anon_send(t->sink, atom::spawned_v, static_cast<int64_t>(t->pid),
                 std::string{t->cgroup ? "cgroup" : "pgroup"});
  watch_sink(t);
  read_next(t, stream_kind::out);
  read_next(t, stream_kind::err); // a terminal's: ends at once (not open)
  if (t->input == stdin_mode::pipe)
    watch_input(t);
  wait_exit(t);
}

// -- orphans ------------------------------------------------------------------

void process_reactor::impl::watch_sink(const tree_ptr& t) {
  if (!t->sink)
    return;
  std::weak_ptr<impl> weak_self = shared_from_this();
  std::weak_ptr<job_tree> weak_tree = t;
  // Runs on the dying actor's thread (or here, if it is already dead).
  t->sink->attach_functor([weak_self, weak_tree] {
    if (auto self = weak_self.lock()) {
      impl* raw = self.get();
      asio::post(raw->io, [raw, weak_tree] { raw->orphan(weak_tree); });
    }
  });
}

void process_reactor::impl::orphan(const std::weak_ptr<job_tree>& weak) {
  auto t = weak.lock();
  if (!t || t->orphaned)
    return;
  t->orphaned = true;
  std::lock_guard<std::mutex> guard{mtx};
  // A tree whose leader ended was killed then already.
  if (auto i = leaders.find(t->pid); i != leaders.end() && i->second == t)
    kill_locked(*t);
}

// -- signals ------------------------------------------------------------------

bool process_reactor::impl::signal_locked(job_tree& t, int sig,
                                          bool whole_tree) {
  if (!whole_tree)
    return ::kill(t.pid, sig) == 0;
  if (!t.cgroup)
    return ::kill(-t.pid, sig) == 0;
  if (sig == SIGKILL)
    return t.cgroup->kill();
  // The leader is pinned (unreaped); the others are checked one by one.
  const bool leader = ::kill(t.pid, sig) == 0;
  return t.cgroup->signal_members(sig, t.pid) > 0 || leader;
}

void process_reactor::impl::kill_locked(job_tree& t) {
  if (!t.cgroup || !t.cgroup->kill())
    ::kill(-t.pid, SIGKILL);
  // SIGKILL ends frozen and stopped processes too; thawing after it lets
  // nothing of the job run again, and leaves no cgroup frozen.
  thaw_locked(t);
}

void process_reactor::impl::kill_all_locked(int sig) {
  for (auto& entry : leaders) {
    if (sig == SIGKILL)
      kill_locked(*entry.second);
    else
      signal_locked(*entry.second, sig, true);
  }
  if (sig != SIGKILL)
    return;
  // Their groups are no longer pinned, but their cgroups are still ours.
  for (auto& t : ending)
    if (t->cgroup)
      t->cgroup->kill();
  for (auto& cgroup : lingering)
    cgroup->kill();
}

size_t process_reactor::impl::reap_locked() {
  return reap_zombies([this](pid_t pid) { return leaders.count(pid) != 0; });
}

// -- stop ---------------------------------------------------------------------

void process_reactor::impl::end_all() {
  std::vector<tree_ptr> left;
  {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& entry : leaders)
      left.push_back(entry.second);
    left.insert(left.end(), ending.begin(), ending.end());
  }
  for (auto& t : left) {
    if (t->finished)
      continue;
    t->finished = true; // before end_stream: no second exited
    end_stream(t, stream_kind::out);
    end_stream(t, stream_kind::err);
    end_input(t);
    t->exit_fd.reset();
    for (auto* timer : {&t->exit_poll, &t->settle_timer, &t->drain_timer})
      timer->cancel();
    unwatch(t);
    {
      std::lock_guard<std::mutex> guard{mtx};
      // A leader left here is never waited for: reap_adopted() may reap it.
      if (auto i = leaders.find(t->pid); i != leaders.end() && i->second == t)
        leaders.erase(i);
      ending.erase(t);
      if (t->tty_control >= 0)
        ::close(t->tty_control);
      t->tty_control = -1;
    }
    if (t->leader_done)
      send_usage(t);
    release_limits(*t, false);
    if (t->cgroup) {
      t->cgroup->kill();
      if (!t->cgroup->remove()) {
        std::lock_guard<std::mutex> guard{mtx};
        lingering.push_back(std::move(t->cgroup));
      }
    }
    if (!t->orphaned)
      caf::anon_send(t->sink, atom::exited_v, t->status);
  }
  changed.notify_all();
}

// -- the public calls
// -----------------------------------------------------------

process_reactor::process_reactor(reactor_options options)
  : impl_(std::make_shared<impl>(options)) {
  impl_->thread = std::thread{[self = impl_.get()] { self->run(); }};
  impl_->janitor = std::thread{[self = impl_.get()] { self->run_janitor(); }};
}

process_reactor::~process_reactor() {
  stop();
}

void process_reactor::launch(launch_spec spec, backend_events sink) {
  impl_->wait_ready();
  std::shared_ptr<cgroup_parent> cgroups;
  std::shared_ptr<const limit_support> limits;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->stopping || !impl_->limits) {
      send_failure(sink, codes::spawn_failed,
                   "the process reactor is shutting down");
      return;
    }
    cgroups = impl_->cgroups;
    limits = impl_->limits; // set before `ready`, dropped after `stopping`
  }
  // The job's cgroup is made here, on the caller's thread: the mkdir then
  // costs the reactor thread nothing. Without one (pgroup tracking, or too
  // many cgroups) the job is tracked by its process group.
  std::unique_ptr<cgroup_tree> cgroup;
  if (cgroups && impl_->use_cgroups) {
    std::string why;
    cgroup = cgroups->make_child(spec.name, why); // a kept one if any
  }
  // So are the cgroups of its limits, and its Landlock ruleset. A control
  // that cannot be applied fails the launch: no job runs with less
  // confinement than its status shows.
  auto confinement = std::make_unique<job_confinement>();
  std::string why;
  if (!confinement->prepare(spec.security, spec.name, *limits, cgroup.get(),
                            why)) {
    confinement.reset();
    if (cgroup)
      cgroup->remove();
    send_failure(sink, codes::spawn_failed, std::move(why));
    return;
  }
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (impl_->stopping) {
    confinement.reset();
    if (cgroup)
      cgroup->remove();
    send_failure(sink, codes::spawn_failed,
                 "the process reactor is shutting down");
    return;
  }
  // Bug 6: the launcher forks and calls notify_fork on the io_context, so
  // it must run on the reactor thread. Posted under the lock, so that the
  // last handler stop() posts comes after it.
  asio::post(impl_->io, [self = impl_.get(), spec = std::move(spec),
                         sink = std::move(sink), cgroup = std::move(cgroup),
                         confinement = std::move(confinement)]() mutable {
    self->do_launch(spec, sink, std::move(cgroup), std::move(confinement));
  });
}

bool process_reactor::signal(int64_t pid, int sig, bool whole_tree) {
  // kill(-1) or kill(0) would hit far more than a job.
  if (pid <= 1 || pid > INT_MAX || sig < 0 || sig >= NSIG)
    return false;
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto i = impl_->leaders.find(static_cast<pid_t>(pid));
  return i != impl_->leaders.end()
         && impl_->signal_locked(*i->second, sig, whole_tree);
}

void process_reactor::kill_tree(int64_t pid) {
  if (pid <= 1 || pid > INT_MAX)
    return;
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto i = impl_->leaders.find(static_cast<pid_t>(pid));
  if (i != impl_->leaders.end())
    impl_->kill_locked(*i->second);
}

std::string process_reactor::tracking_mode() const {
  impl_->wait_ready();
  return impl_->use_cgroups ? "cgroup" : "pgroup";
}

std::string process_reactor::cgroup_parent_path() const {
  impl_->wait_ready();
  return impl_->use_cgroups ? impl_->cgroups->path() : std::string{};
}

size_t process_reactor::live_children() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->leaders.size();
}

size_t process_reactor::live_trees() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->leaders.size() + impl_->ending.size();
}

void process_reactor::kill_all(int sig) {
  if (sig < 0 || sig >= NSIG)
    return;
  std::lock_guard<std::mutex> guard{impl_->mtx};
  impl_->kill_all_locked(sig);
}

size_t process_reactor::reap_adopted() {
  std::lock_guard<std::mutex> no_spawn{impl_->spawn_mtx};
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->reap_locked();
}

void process_reactor::stop(std::chrono::milliseconds grace) {
  auto& s = *impl_;
  std::lock_guard<std::mutex> stop_guard{s.stop_mtx};
  if (s.stopped)
    return;
  s.stopped = true;
  s.wait_ready();
  {
    std::unique_lock<std::mutex> lock{s.mtx};
    s.stopping = true;
    auto all_ended = [&s] { return s.leaders.empty() && s.ending.empty(); };
    if (!s.changed.wait_for(lock, grace, all_ended)) {
      s.kill_all_locked(SIGKILL);
      s.changed.wait_for(lock, stop_kill_wait, all_ended);
    }
  }
  // Runs after every launch queued before `stopping` was set (FIFO), so no
  // child can start after it.
  asio::post(s.io, [&s] {
    s.end_all();
    if (s.inotify) {
      boost::system::error_code ignored;
      s.inotify->close(ignored);
    }
    s.io.stop();
  });
  s.work.reset();
  if (s.thread.joinable())
    s.thread.join();
  {
    std::lock_guard<std::mutex> guard{s.janitor_mtx};
    s.janitor_stop = true;
  }
  s.janitor_cv.notify_one();
  if (s.janitor.joinable())
    s.janitor.join(); // every cgroup found empty is removed by now
  // Only this thread is left: what stayed in a cgroup dies now.
  auto lingering = std::move(s.lingering);
  for (auto& cgroup : lingering)
    cgroup->kill();
  const auto deadline = std::chrono::steady_clock::now() + lingering_wait;
  for (auto& cgroup : lingering) {
    while (cgroup->populated() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    cgroup->remove();
  }
  lingering.clear();
  s.end_limits();
  {
    // Removes jobd-<pid> (if every job cgroup is gone), or a launch() in
    // flight does once it let go.
    std::lock_guard<std::mutex> guard{s.mtx};
    s.cgroups.reset();
  }
}

} // namespace jobd
