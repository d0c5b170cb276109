// The end of a tree: the leader's exit (pidfd), the SIGKILL of what is left,
// the wait until the tree is empty (cgroup.events through inotify, or the
// process group), and forgetting the tree once `exited` was sent; the
// janitor thread then keeps its emptied cgroup for a later job, or removes
// it.
#include "actors/kinds/process/reactor_impl.hpp"

#include <caf/send.hpp>

#include <algorithm>
#include <csignal>
#include <set>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace asio = boost::asio;

namespace jobd {

namespace {

/// Interval of the waitpid fallback when the pidfd cannot be waited on.
constexpr auto exit_poll_interval = std::chrono::milliseconds{20};

/// How often emptiness is rechecked after the leader ended: a process
/// group's always, a cgroup's only when no inotify watch could be set.
constexpr auto settle_poll_interval = std::chrono::milliseconds{10};

/// After a tree ended, its last zombies are reaped this much later.
constexpr auto late_reap_delay = std::chrono::milliseconds{20};

} // namespace

// -- the leader's exit --------------------------------------------------------

void process_reactor::impl::wait_exit(const tree_ptr& t) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, t->pid, 0));
  if (fd < 0) {
    poll_exit(t); // e.g. out of descriptors: poll instead
    return;
  }
  t->exit_fd.emplace(io, fd);
  t->exit_fd->async_wait(asio::posix::stream_descriptor::wait_read,
                         [this, t](const boost::system::error_code&) {
                           t->exit_fd.reset();
                           poll_exit(t);
                         });
}

void process_reactor::impl::poll_exit(const tree_ptr& t) {
  if (t->finished || t->leader_done)
    return;
  switch (peek_exit(t->pid)) {
    case exit_state::exited:
      leader_ended(t, true);
      return;
    case exit_state::gone:
      leader_ended(t, false);
      return;
    case exit_state::running:
      t->exit_poll.expires_after(exit_poll_interval);
      t->exit_poll.async_wait([this, t](const boost::system::error_code& ec) {
        if (!ec)
          poll_exit(t);
      });
      return;
  }
}

void process_reactor::impl::leader_ended(const tree_ptr& t, bool ours) {
  // Most cgroups are empty once their leader ended (a zombie does not
  // count, nothing else can enter): then nothing needs a kill or a watch.
  bool busy = true;
  {
    std::lock_guard<std::mutex> guard{mtx};
    if (t->cgroup) {
      // Still ours whether or not the leader was reaped behind our back.
      busy = t->cgroup->populated();
      if (busy)
        t->cgroup->kill();
    } else if (ours) {
      // The unreaped leader still pins its pid and its group's id: kill
      // the rest of the group first, then reap it.
      ::kill(-t->pid, SIGKILL);
    }
    // Else reaped behind our back (SIGCHLD ignored?): the pid and the
    // group may be someone else's by now.
    if (ours)
      t->status = reap_exited(t->pid, &t->rusage, &t->rusage_known);
    leaders.erase(t->pid);
    ending.insert(t);
    if (t->tty_control >= 0)
      ::close(t->tty_control); // resize() only reaches running leaders
    t->tty_control = -1;
  }
  changed.notify_all();
  t->leader_done = true;
  // The job takes no more input (bytes still queued are dropped).
  end_input(t);
  t->settle_deadline = std::chrono::steady_clock::now() + options.settle_bound;
  if (busy && t->cgroup)
    watch_events(t);
  check_tree(t, !busy);
}

// -- until the tree is empty --------------------------------------------------

void process_reactor::impl::check_tree(const tree_ptr& t, bool empty_cgroup) {
  if (t->settled || t->finished)
    return;
  bool empty;
  {
    std::lock_guard<std::mutex> no_spawn{spawn_mtx};
    std::lock_guard<std::mutex> guard{mtx};
    // The tree's orphans are zombies jobd adopted: reap them, so that the
    // group can be found empty and none is left behind. Its group id is a
    // live leader's only if the group was gone and the pid was reused.
    if (leaders.count(t->pid) == 0)
      reap_group(t->pid);
    reap_locked();
    if (t->cgroup)
      empty = empty_cgroup || !t->cgroup->populated();
    else
      empty = group_gone(t->pid);
  }
  const auto now = std::chrono::steady_clock::now();
  t->empty = empty;
  if (empty || now >= t->settle_deadline) {
    settle(t);
    return;
  }
  // With an inotify watch, cgroup.events calls again; the timer only ends
  // the settle.
  const auto next
    = t->watch >= 0 ? t->settle_deadline
                    : std::min(now + settle_poll_interval, t->settle_deadline);
  t->settle_timer.expires_at(next);
  t->settle_timer.async_wait([this, t](const boost::system::error_code& ec) {
    if (!ec)
      check_tree(t);
  });
}

void process_reactor::impl::settle(const tree_ptr& t) {
  t->settled = true;
  t->settle_timer.cancel();
  unwatch(t);
  if (!t->out.ended || !t->err.ended) {
    t->drain_timer.expires_after(options.drain_bound);
    t->drain_timer.async_wait([this, t](const boost::system::error_code& ec) {
      if (!ec)
        on_drain_timeout(t);
    });
  }
  maybe_finish(t);
}

// -- forgetting the tree ------------------------------------------------------

void process_reactor::impl::maybe_finish(const tree_ptr& t) {
  if (t->settled && !t->finished && t->out.ended && t->err.ended)
    finish(t);
}

void process_reactor::impl::finish(const tree_ptr& t) {
  t->finished = true;
  t->drain_timer.cancel();
  {
    std::lock_guard<std::mutex> guard{mtx};
    ending.erase(t);
  }
  end_input(t);
  // From here on no other thread can reach the cgroup: read its figures
  // before the janitor removes it.
  send_usage(t);
  release_limits(*t, t->empty);
  if (t->cgroup && t->empty) {
    retire(std::move(t->cgroup));
  } else if (t->cgroup) {
    std::lock_guard<std::mutex> guard{mtx};
    lingering.push_back(std::move(t->cgroup));
  }
  {
    // A process of the tree leaves its cgroup before it becomes a zombie
    // (the kernel's cgroup_exit comes before exit_notify): one that jobd
    // adopted may have turned into a reapable zombie only since the tree
    // was found empty. Reap it now, so that none of the job is left once
    // `exited` is told; the late reap catches any still later.
    std::lock_guard<std::mutex> no_spawn{spawn_mtx};
    std::lock_guard<std::mutex> guard{mtx};
    reap_locked();
  }
  changed.notify_all();
  if (!t->orphaned)
    caf::anon_send(t->sink, atom::exited_v, t->status);
  arm_late_reap();
}

void process_reactor::impl::arm_late_reap() {
  if (late_reap_armed)
    return;
  late_reap_armed = true;
  late_reap.expires_after(late_reap_delay);
  late_reap.async_wait([this](const boost::system::error_code& ec) {
    late_reap_armed = false;
    if (ec)
      return;
    std::lock_guard<std::mutex> no_spawn{spawn_mtx};
    std::lock_guard<std::mutex> guard{mtx};
    reap_locked();
  });
}

void process_reactor::impl::retire(std::unique_ptr<cgroup_tree> cgroup) {
  bool was_idle;
  {
    std::lock_guard<std::mutex> guard{janitor_mtx};
    was_idle = to_remove.empty();
    to_remove.push_back(std::move(cgroup));
  }
  if (was_idle)
    janitor_cv.notify_one();
}

void process_reactor::impl::run_janitor() {
  std::unique_lock<std::mutex> lock{janitor_mtx};
  for (;;) {
    janitor_cv.wait(lock, [this] {
      return janitor_stop || !to_remove.empty() || !limits_to_remove.empty();
    });
    if (to_remove.empty() && limits_to_remove.empty())
      return; // stopping, and nothing is left to remove
    auto batch = std::move(to_remove);
    to_remove.clear();
    auto limit_batch = std::move(limits_to_remove);
    limits_to_remove.clear();
    lock.unlock();
    std::shared_ptr<cgroup_parent> parent;
    {
      std::lock_guard<std::mutex> guard{mtx};
      parent = cgroups;
    }
    for (auto& cgroup : batch) {
      // Kept for a later job if it is as good as new, else removed.
      if (parent && !(cgroup = parent->recycle(std::move(cgroup))))
        continue;
      if (!cgroup->remove()) {
        // Someone moved a process into it after it was found empty.
        std::lock_guard<std::mutex> guard{mtx};
        lingering.push_back(std::move(cgroup));
      }
    }
    batch.clear();
    // The v1 cgroups of limits: their processes are gone too by now.
    remove_limits(std::move(limit_batch));
    lock.lock();
  }
}

// -- cgroup.events ------------------------------------------------------------

void process_reactor::impl::start_inotify() {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0)
    return; // cgroups are then polled like process groups
  inotify.emplace(io, fd);
  wait_inotify();
}

void process_reactor::impl::wait_inotify() {
  inotify->async_wait(
    asio::posix::stream_descriptor::wait_read,
    [this](const boost::system::error_code& ec) {
      if (ec || !inotify || !inotify->is_open())
        return;
      // Several events may name one tree: check each tree once.
      std::set<int> fired;
      alignas(inotify_event) char buf[4096];
      for (;;) {
        const ssize_t n = ::read(inotify->native_handle(), buf, sizeof buf);
        if (n <= 0)
          break;
        for (ssize_t off = 0; off < n;) {
          const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
          fired.insert(ev->wd);
          off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        }
      }
      // The queue overflowed (wd -1): any watch may have lost its event.
      std::vector<std::weak_ptr<job_tree>> due;
      for (auto& [wd, weak] : watches)
        if (fired.count(wd) != 0 || fired.count(-1) != 0)
          due.push_back(weak);
      // check_tree may unwatch: not while iterating `watches`.
      for (auto& weak : due)
        if (auto t = weak.lock())
          check_tree(t);
      wait_inotify();
    });
}

void process_reactor::impl::watch_events(const tree_ptr& t) {
  if (!inotify || !t->cgroup)
    return;
  const int wd = ::inotify_add_watch(
    inotify->native_handle(), t->cgroup->events_path().c_str(), IN_MODIFY);
  if (wd < 0)
    return; // e.g. max_user_watches reached: polled instead
  t->watch = wd;
  watches[wd] = t;
}

void process_reactor::impl::unwatch(const tree_ptr& t) {
  if (t->watch < 0)
    return;
  if (inotify && inotify->is_open())
    ::inotify_rm_watch(inotify->native_handle(), t->watch);
  watches.erase(t->watch);
  t->watch = -1;
}

} // namespace jobd
