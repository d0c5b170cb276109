// A tree's stdin (a pipe, or a terminal's master): the queue write_input
// fills from any thread and the reactor thread writes as the job reads;
// terminal sizes; freezing; the resource usage sent before `exited`.
#include "actors/kinds/process/reactor_impl.hpp"
#include "actors/kinds/process/terminal.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <caf/send.hpp>

#include <algorithm>
#include <climits>
#include <csignal>
#include <ctime>

namespace asio = boost::asio;

namespace jobd {

namespace {

/// The most one write to stdin takes from the queue.
constexpr size_t input_chunk = 64 * 1024;

/// A write to a pipe without readers raised SIGPIPE at this thread (blocked
/// here, see process_reactor::impl::run, and ignored by jobd): take it, so
/// that it does not stay pending.
void consume_sigpipe() {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  const timespec none{0, 0};
  while (::sigtimedwait(&pipe_only, nullptr, &none) == SIGPIPE) {
  }
}

} // namespace

// -- stdin --------------------------------------------------------------------

void process_reactor::impl::watch_input(const tree_ptr& t) {
  if (t->in_ended || !t->in.is_open())
    return;
  // POLLERR on a pipe's write end: no reader is left.
  t->in.async_wait(asio::posix::stream_descriptor::wait_error,
                   [this, t](const boost::system::error_code& ec) {
                     if (!ec)
                       end_input(t);
                   });
}

void process_reactor::impl::pump_input(const tree_ptr& t) {
  if (t->in_writing || t->in_ended)
    return;
  bool close_now = false;
  {
    std::lock_guard<std::mutex> guard{mtx};
    if (t->in_queue.empty() && t->in_close_asked) {
      // A terminal stays open (its master is the output): its line
      // discipline turns VEOF into an end of file for the reader.
      if (t->input == stdin_mode::tty && !t->veof_queued) {
        t->in_queue.push_back(eof_char(t->in.native_handle()));
        t->veof_queued = true;
      } else {
        close_now = true;
      }
    }
    if (!close_now) {
      if (t->in_queue.empty())
        return;
      t->in_chunk.assign(t->in_queue, 0,
                         std::min(t->in_queue.size(), input_chunk));
    }
  }
  if (close_now) {
    end_input(t);
    return;
  }
  t->in_writing = true;
  t->in.async_write_some(
    asio::buffer(t->in_chunk),
    [this, t](const boost::system::error_code& ec, size_t n) {
      t->in_writing = false;
      if (t->in_ended)
        return;
      if (ec) {
        // EPIPE: the job closed its end (or exited); EIO: the terminal's
        // slave side is gone.
        if (ec == asio::error::broken_pipe)
          consume_sigpipe();
        end_input(t);
        return;
      }
      {
        std::lock_guard<std::mutex> guard{mtx};
        t->in_queue.erase(0, n);
      }
      pump_input(t);
    });
}

void process_reactor::impl::end_input(const tree_ptr& t) {
  if (t->in_ended)
    return;
  t->in_ended = true;
  if (t->input == stdin_mode::null)
    return; // nothing to close, nobody to tell
  {
    std::lock_guard<std::mutex> guard{mtx};
    t->in_closed = true;
    t->in_queue.clear();
    t->in_queue.shrink_to_fit();
  }
  t->in_chunk.clear();
  t->in_chunk.shrink_to_fit();
  boost::system::error_code ignored;
  t->in.close(ignored); // a terminal's master stays open: `out` reads it
  if (!t->orphaned)
    caf::anon_send(t->sink, atom::input_v, atom::eof_v);
}

input_outcome process_reactor::write_input(int64_t pid, std::string bytes,
                                           bool close, uint64_t& queued) {
  queued = 0;
  if (pid <= 1 || pid > INT_MAX)
    return input_outcome::not_open;
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto i = impl_->leaders.find(static_cast<pid_t>(pid));
  if (i == impl_->leaders.end()) {
    // A tree whose leader ended takes no more input.
    for (const auto& t : impl_->ending)
      if (t->pid == pid && t->input != stdin_mode::null)
        return input_outcome::closed;
    return input_outcome::not_open;
  }
  auto& t = i->second;
  if (t->input == stdin_mode::null)
    return input_outcome::not_open;
  queued = t->in_queue.size();
  if (t->in_closed || t->in_close_asked)
    return input_outcome::closed;
  if (queued + bytes.size() > t->max_stdin_bytes)
    return input_outcome::full;
  t->in_queue += bytes;
  t->in_close_asked = close;
  queued = t->in_queue.size();
  if (!bytes.empty() || close) {
    std::weak_ptr<job_tree> weak = t;
    asio::post(impl_->io, [self = impl_.get(), weak] {
      if (auto tree = weak.lock())
        self->pump_input(tree);
    });
  }
  return input_outcome::ok;
}

// -- terminals ----------------------------------------------------------------

bool process_reactor::resize(int64_t pid, int32_t cols, int32_t rows) {
  if (pid <= 1 || pid > INT_MAX)
    return false;
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto i = impl_->leaders.find(static_cast<pid_t>(pid));
  return i != impl_->leaders.end()
         && resize_terminal(i->second->tty_control, cols, rows);
}

// -- freezing -----------------------------------------------------------------

void process_reactor::impl::thaw_locked(job_tree& t) {
  if (!t.frozen)
    return;
  t.frozen = false;
  if (t.cgroup)
    t.cgroup->freeze(false);
  else
    ::kill(-t.pid, SIGCONT);
}

bool process_reactor::freeze(int64_t pid, bool frozen) {
  if (pid <= 1 || pid > INT_MAX)
    return false;
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto i = impl_->leaders.find(static_cast<pid_t>(pid));
  if (i == impl_->leaders.end())
    return false;
  auto& t = *i->second;
  // The whole cgroup, escaped double forks included; else the group (the
  // unreaped leader pins its id).
  const bool done = t.cgroup ? t.cgroup->freeze(frozen)
                             : ::kill(-t.pid, frozen ? SIGSTOP : SIGCONT) == 0;
  if (done)
    t.frozen = frozen;
  return done;
}

// -- resource usage -----------------------------------------------------------

void process_reactor::impl::send_usage(const tree_ptr& t) {
  if (t->orphaned)
    return;
  resource_usage u;
  if (t->rusage_known) {
    u.known = true;
    u.cpu_user_ms
      = t->rusage.ru_utime.tv_sec * 1000 + t->rusage.ru_utime.tv_usec / 1000;
    u.cpu_system_ms
      = t->rusage.ru_stime.tv_sec * 1000 + t->rusage.ru_stime.tv_usec / 1000;
    u.max_rss_kb = t->rusage.ru_maxrss; // kilobytes on Linux
  }
  if (t->cgroup) {
    // The whole tree, also what left the leader's descendants (double
    // forks, setsid) and what the leader never waited for.
    int64_t user_usec = 0;
    int64_t system_usec = 0;
    if (t->cgroup->cpu_usage(user_usec, system_usec)) {
      u.known = true;
      u.cpu_user_ms = user_usec / 1000;
      u.cpu_system_ms = system_usec / 1000;
    }
    if (const int64_t peak = t->cgroup->memory_peak(); peak >= 0) {
      u.known = true;
      u.max_rss_kb = peak / 1024;
    }
  }
  judge_usage(*t, u);
  if (u.known || !u.limit_exceeded.empty())
    caf::anon_send(t->sink, atom::usage_v, u);
}

} // namespace jobd
