#include "actors/kinds/process/process_job.hpp"

#include "actors/logger.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace jobd {

// -- resolving commands -------------------------------------------------------

namespace {

tool_error make_error(const char* code, std::string message,
                      const std::string& command) {
  tool_error err{code, std::move(message), {}};
  err.details["command"] = json_quote(command);
  return err;
}

// Checks one candidate path: 0 if executable, else the errno-like reason.
int check_executable(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return ENOENT;
  if (S_ISDIR(st.st_mode))
    return EISDIR;
  if (::access(path.c_str(), X_OK) != 0)
    return EACCES;
  return 0;
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty())
    return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

} // namespace

bool check_working_directory(const std::string& dir, tool_error& err) {
  if (dir.empty())
    return true;
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    err = make_error(codes::invalid_working_directory,
                     "Working directory does not exist: " + dir, dir);
  } else if (!S_ISDIR(st.st_mode)) {
    err = make_error(codes::invalid_working_directory,
                     "Working directory is not a directory: " + dir, dir);
  } else if (::access(dir.c_str(), X_OK) != 0) {
    err = make_error(codes::invalid_working_directory,
                     "Working directory is not accessible: " + dir + " ("
                       + std::strerror(errno) + ")",
                     dir);
  } else {
    return true;
  }
  err.details.erase("command");
  err.details["workingDirectory"] = json_quote(dir);
  return false;
}

bool resolve_command(const job_spec& spec, resolved_command& out,
                     tool_error& err) {
  if (spec.shell) {
    // sh -c COMMAND sh ARGS...: args become $1, $2, ...
    out.executable = "/bin/sh";
    out.argv = {"sh", "-c", spec.command, "sh"};
    out.argv.insert(out.argv.end(), spec.args.begin(), spec.args.end());
    return true;
  }
  auto& cmd = spec.command;
  auto found = [&](std::string path) {
    out.executable = std::move(path);
    out.argv = {cmd};
    out.argv.insert(out.argv.end(), spec.args.begin(), spec.args.end());
    return true;
  };
  auto refuse = [&](int reason, const std::string& path) {
    if (reason == ENOENT)
      err = make_error(codes::command_not_found, "Command not found: " + cmd,
                       cmd);
    else
      err = make_error(codes::permission_denied,
                       "Command is not executable: " + path
                         + (reason == EISDIR ? " (a directory)" : ""),
                       cmd);
    return false;
  };
  if (cmd.find('/') != std::string::npos) {
    auto path
      = cmd.front() == '/' ? cmd : join_path(spec.working_directory, cmd);
    auto reason = check_executable(path);
    return reason == 0 ? found(path) : refuse(reason, path);
  }
  std::string search;
  if (auto i = spec.environment.find("PATH"); i != spec.environment.end())
    search = i->second;
  else if (auto env = std::getenv("PATH"))
    search = env;
  else
    search = "/usr/local/bin:/usr/bin:/bin";
  int first_reason = ENOENT;
  std::string first_path;
  size_t begin = 0;
  while (begin <= search.size()) {
    auto end = search.find(':', begin);
    if (end == std::string::npos)
      end = search.size();
    auto dir = search.substr(begin, end - begin);
    // An empty PATH element means the working directory.
    auto path = join_path(dir.empty() ? spec.working_directory : dir, cmd);
    if (dir.empty() && spec.working_directory.empty())
      path = cmd;
    auto reason = check_executable(path);
    if (reason == 0)
      return found(path.front() == '/' ? path : "./" + path);
    if (reason != ENOENT && first_reason == ENOENT) {
      first_reason = reason;
      first_path = path;
    }
    begin = end + 1;
  }
  return refuse(first_reason, first_path);
}

// -- the actor ----------------------------------------------------------------

namespace {

using self_ptr = process_job_actor::stateful_pointer<process_job_state>;
using stop_reason = process_job_state::stop_reason;

constexpr auto flush_delay = std::chrono::milliseconds(50);
constexpr auto recheck_delay = std::chrono::milliseconds(10);
// How long a status request may wait for a launching job's pid.
constexpr auto pid_wait = std::chrono::milliseconds(50);
// Output events are coalesced: a chatty job tells at most 10 per second.
constexpr auto progress_delay = std::chrono::milliseconds(100);

int index_of(stream_kind s) {
  return s == stream_kind::out ? 0 : 1;
}

job_info current_info(self_ptr self) {
  auto info = self->state.info;
  info.output = self->state.buffer.stats();
  return info;
}

output_page read_output(self_ptr self, const output_query& q) {
  auto page = self->state.buffer.read(q);
  page.job_id = self->state.info.id;
  page.status = self->state.info.status;
  page.finished = is_terminal(page.status);
  page.complete
    = page.finished && page.next_since >= self->state.buffer.last_sequence();
  return page;
}

void emit(self_ptr self, transition what, job_status previous) {
  auto& st = self->state;
  self->send(st.ctx.scheduler, atom::event_v,
             job_event{what, previous, current_info(self)});
  // A finished job keeps its job_info and output; the spec (environment,
  // arguments) is no longer needed, and retained jobs should stay small.
  if (what == transition::finished)
    st.ctx.spec = job_spec{};
}

wait_result make_wait_result(self_ptr self, const wait_query& q,
                             std::string reason) {
  output_query oq;
  oq.since = q.since;
  return {current_info(self), read_output(self, oq), std::move(reason)};
}

// Answers the waiters whose condition holds: the job ended, or (for
// until=output) new output after their cursor matches.
void notify_waiters(self_ptr self) {
  auto& st = self->state;
  bool ended = is_terminal(st.info.status);
  for (auto i = st.waiters.begin(); i != st.waiters.end();) {
    auto& w = i->second;
    const char* reason = nullptr;
    if (w.query.until == wait_until::output) {
      bool hit = false;
      st.buffer.for_each_after(
        std::max(w.scanned, w.query.since), [&](const output_chunk& c) {
          if (!hit)
            hit = !w.has_pattern || std::regex_search(c.content, w.pattern);
        });
      w.scanned = st.buffer.last_sequence();
      if (hit)
        reason = "output";
    }
    if (reason == nullptr && ended)
      reason = "exit";
    if (reason != nullptr) {
      w.promise.deliver(make_wait_result(self, w.query, reason));
      i = st.waiters.erase(i);
    } else {
      ++i;
    }
  }
}

void signal_group(self_ptr self, int sig) {
  auto pid = self->state.info.pid;
  if (pid > 0)
    self->state.launcher->signal_group(pid, sig);
}

// Ends the job once the child was reaped and both pipes reached EOF, and no
// process of its group is left (stragglers are killed).
void maybe_finish(self_ptr self) {
  auto& st = self->state;
  if (is_terminal(st.info.status) || !st.exited || !st.eof[0] || !st.eof[1])
    return;
  if (st.info.pid > 0 && st.launcher->group_alive(st.info.pid)) {
    signal_group(self, SIGKILL);
    self->delayed_send(self, recheck_delay, atom::recheck_v);
    return;
  }
  auto previous = st.info.status;
  auto& info = st.info;
  auto now = now_ms();
  st.buffer.flush(now);
  info.finished_at = now;
  auto ws = st.wait_status;
  if (WIFEXITED(ws))
    info.exit_code = WEXITSTATUS(ws);
  else if (WIFSIGNALED(ws))
    info.signal = WTERMSIG(ws);
  switch (st.stopping) {
    case stop_reason::cancel:
    case stop_reason::shutdown:
      info.status = job_status::cancelled;
      info.error_code = codes::cancelled;
      info.error = "Cancelled";
      break;
    case stop_reason::timeout:
      info.status = job_status::failed;
      info.error_code = codes::timeout;
      info.error = "Timed out after " + std::to_string(info.timeout_ms) + " ms";
      break;
    case stop_reason::none:
      if (!info.error_code.empty()) {
        info.status = job_status::failed; // could not start
      } else if (info.exit_code == 0) {
        info.status = job_status::completed;
      } else if (info.exit_code > 0) {
        info.status = job_status::failed;
        info.error = "Exited with code " + std::to_string(info.exit_code);
      } else {
        info.status = job_status::failed;
        info.error = "Killed by signal " + std::to_string(info.signal);
      }
      break;
  }
  emit(self, transition::finished, previous);
  for (auto& rp : st.cancellers)
    rp.deliver(cancel_result{info.id, info.status,
                             info.status == job_status::cancelled
                               ? "Job cancelled successfully"
                               : "Job ended before the cancel took effect"});
  st.cancellers.clear();
  for (auto& rp : st.stoppers)
    rp.deliver(true);
  st.stoppers.clear();
  notify_waiters(self);
}

// SIGTERM to the group, SIGKILL after the grace (at once for grace 0).
void terminate(self_ptr self, stop_reason why, int64_t grace_ms) {
  auto& st = self->state;
  if (st.stopping == stop_reason::none)
    st.stopping = why;
  st.grace_ms = grace_ms;
  if (st.info.pid == 0)
    return; // not spawned yet: `spawned` signals the group
  if (grace_ms <= 0) {
    signal_group(self, SIGKILL);
  } else {
    signal_group(self, SIGTERM);
    self->delayed_send(self, std::chrono::milliseconds(grace_ms),
                       atom::escalate_v);
  }
}

// Tells SCHEDULER the job runs, once: when its pid is known, or right before
// it reports that it could not start.
void announce_start(self_ptr self) {
  auto& st = self->state;
  if (st.announced)
    return;
  st.announced = true;
  emit(self, transition::started, job_status::pending);
}

// Answers status requests that waited for the launch to settle.
void answer_pid_waiters(self_ptr self) {
  auto& st = self->state;
  for (auto& rp : st.pid_waiters)
    rp.deliver(current_info(self));
  st.pid_waiters.clear();
}

// Ends a job that never ran (cancelled while pending, or shutdown).
void finish_unstarted(self_ptr self, job_status status, std::string code,
                      std::string message) {
  auto& info = self->state.info;
  auto previous = info.status;
  info.status = status;
  info.error_code = std::move(code);
  info.error = std::move(message);
  info.finished_at = now_ms();
  emit(self, transition::finished, previous);
  notify_waiters(self);
}

void start(self_ptr self) {
  auto& st = self->state;
  if (st.info.status != job_status::pending)
    return;
  st.info.status = job_status::running;
  st.info.started_at = now_ms();
  resolved_command cmd;
  tool_error err;
  if (!resolve_command(st.ctx.spec, cmd, err)) {
    // The command vanished between submission and start.
    self->send(self, atom::spawn_failed_v, err.code, err.message);
    return;
  }
  launch_spec ls;
  ls.executable = std::move(cmd.executable);
  ls.argv = std::move(cmd.argv);
  ls.working_directory = st.ctx.spec.working_directory;
  ls.environment = st.ctx.spec.environment;
  ls.in_flight = st.in_flight;
  st.launcher->launch(std::move(ls), process_job_actor{self});
  if (st.info.timeout_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds(st.info.timeout_ms),
                       atom::timeout_v);
}

} // namespace

process_job_actor::behavior_type
process_job(process_job_actor::stateful_pointer<process_job_state> self,
            job_context ctx, launcher_ptr launcher) {
  auto& st = self->state;
  st.info = initial_info(ctx);
  auto limits = ctx.defaults.output;
  if (ctx.spec.output_byte_limit > 0)
    limits.max_bytes = static_cast<uint64_t>(ctx.spec.output_byte_limit);
  st.buffer = output_buffer{limits};
  st.grace_ms = ctx.spec.kill_grace_ms;
  st.ctx = std::move(ctx);
  st.launcher = std::move(launcher);
  return {
    // Admitted: launch the child and arm the timeout.
    [self](atom::start) { start(self); },
    // Status with the buffer's counters; a job being launched answers once
    // its pid is known, so "running" always comes with a pid.
    [self](atom::status) -> caf::result<job_info> {
      auto& st = self->state;
      if (st.info.status != job_status::running || st.info.pid != 0)
        return current_info(self);
      // Wait briefly: a launch queued behind many others must not hold up
      // status replies for long (the pid is then reported as null).
      if (st.pid_waiters.empty())
        self->delayed_send(self, pid_wait, atom::settle_v);
      st.pid_waiters.push_back(self->make_response_promise<job_info>());
      return st.pid_waiters.back();
    },
    // A page of output.
    [self](atom::output, const output_query& q) {
      return read_output(self, q);
    },
    // Cancel; answered once no process of the group is left.
    [self](atom::cancel, int64_t grace_ms) -> caf::result<cancel_result> {
      auto& st = self->state;
      auto& info = st.info;
      if (info.status == job_status::pending) {
        finish_unstarted(self, job_status::cancelled, codes::cancelled,
                         "Cancelled before it started");
        return cancel_result{info.id, info.status,
                             "Job cancelled before it started"};
      }
      if (is_terminal(info.status)) {
        return make_tool_error(codes::job_already_finished,
                               "Job " + info.id + " already finished ("
                                 + to_string(info.status) + ")",
                               {{"status", json_quote(to_string(info.status))},
                                {"jobId", json_quote(info.id)}});
      }
      auto rp = self->make_response_promise<cancel_result>();
      st.cancellers.push_back(rp);
      terminate(self, stop_reason::cancel,
                grace_ms >= 0 ? grace_ms : st.ctx.spec.kill_grace_ms);
      return rp;
    },
    // Long-poll: answered now if the condition holds, else later.
    [self](atom::wait, wait_query& q) -> caf::result<wait_result> {
      auto& st = self->state;
      process_job_state::waiter w;
      if (q.until == wait_until::output && !q.pattern.empty()) {
        try {
          w.pattern = std::regex{q.pattern, std::regex::ECMAScript};
          w.has_pattern = true;
        } catch (const std::regex_error& e) {
          return make_tool_error(codes::invalid_arguments,
                                 "pattern is not a valid regular expression: "
                                   + std::string{e.what()});
        }
      }
      auto cap = st.ctx.defaults.max_wait_ms;
      auto timeout = q.timeout_ms < 0 ? cap : std::min(q.timeout_ms, cap);
      w.query = std::move(q);
      w.promise = self->make_response_promise<wait_result>();
      auto id = st.next_waiter++;
      auto rp = w.promise;
      st.waiters.emplace(id, std::move(w));
      notify_waiters(self);
      if (st.waiters.count(id) != 0)
        self->delayed_send(self, std::chrono::milliseconds(timeout),
                           atom::expire_v, id);
      return rp;
    },
    // Server shutdown: kill at once, answer once nothing of it runs.
    [self](atom::shutdown) -> caf::result<bool> {
      auto& st = self->state;
      if (st.info.status == job_status::pending) {
        finish_unstarted(self, job_status::cancelled, codes::cancelled,
                         "Server shut down before the job started");
        return true;
      }
      if (is_terminal(st.info.status))
        return true;
      auto rp = self->make_response_promise<bool>();
      st.stoppers.push_back(rp);
      st.stopping = stop_reason::shutdown;
      terminate(self, stop_reason::shutdown, 0);
      return rp;
    },
    // The child runs: remember its group; a stop asked meanwhile applies now.
    [self](atom::spawned, int64_t pid) {
      auto& st = self->state;
      st.info.pid = pid;
      announce_start(self);
      answer_pid_waiters(self);
      if (st.stopping != stop_reason::none)
        terminate(self, st.stopping, st.grace_ms);
    },
    // The child could not start.
    [self](atom::spawn_failed, std::string& code, std::string& message) {
      auto& st = self->state;
      announce_start(self);
      st.info.error_code = std::move(code);
      st.info.error = std::move(message);
      st.exited = true;
      st.eof[0] = st.eof[1] = true;
      st.wait_status = 127 << 8;
      maybe_finish(self);
      answer_pid_waiters(self);
    },
    // Output from a pipe.
    [self](atom::data, stream_kind s, const std::string& bytes) {
      auto& st = self->state;
      st.in_flight->fetch_sub(static_cast<int64_t>(bytes.size()));
      st.buffer.append(s, bytes, now_ms());
      if (st.buffer.has_partial() && !st.flush_scheduled) {
        st.flush_scheduled = true;
        self->delayed_send(self, flush_delay, atom::flush_v);
      }
      if (!st.waiters.empty())
        notify_waiters(self);
      if (!st.progress_scheduled) {
        st.progress_scheduled = true;
        self->delayed_send(self, progress_delay, atom::progress_v);
      }
    },
    // A pipe closed.
    [self](atom::eof, stream_kind s) {
      auto& st = self->state;
      st.eof[index_of(s)] = true;
      st.buffer.close(s, now_ms());
      if (!st.waiters.empty())
        notify_waiters(self);
      maybe_finish(self);
    },
    // The child was reaped.
    [self](atom::exited, int32_t status) {
      auto& st = self->state;
      st.exited = true;
      st.wait_status = status;
      maybe_finish(self);
    },
    // The timeout expired while running.
    [self](atom::timeout) {
      auto& st = self->state;
      if (st.info.status == job_status::running
          && st.stopping == stop_reason::none)
        terminate(self, stop_reason::timeout, st.ctx.spec.kill_grace_ms);
    },
    // The grace is over and the job still runs.
    [self](atom::escalate) {
      if (!is_terminal(self->state.info.status))
        signal_group(self, SIGKILL);
    },
    // Emit a held-back partial line.
    [self](atom::flush) {
      auto& st = self->state;
      st.flush_scheduled = false;
      st.buffer.flush(now_ms());
      if (!st.waiters.empty())
        notify_waiters(self);
    },
    // Tell listeners the output grew (unless the job ended meanwhile: the
    // finished event says so).
    [self](atom::progress) {
      auto& st = self->state;
      st.progress_scheduled = false;
      auto last = st.buffer.last_sequence();
      if (last > st.announced_sequence && !is_terminal(st.info.status)) {
        st.announced_sequence = last;
        emit(self, transition::output, st.info.status);
      }
    },
    // The launch takes long: answer waiting status requests without a pid.
    [self](atom::settle) { answer_pid_waiters(self); },
    // Stragglers of the group were killed: look again.
    [self](atom::recheck) { maybe_finish(self); },
    // A waiter's time is up.
    [self](atom::expire, uint64_t id) {
      auto& st = self->state;
      auto i = st.waiters.find(id);
      if (i == st.waiters.end())
        return;
      i->second.promise.deliver(
        make_wait_result(self, i->second.query, "timeout"));
      st.waiters.erase(i);
    },
  };
}

// -- the kind -----------------------------------------------------------------

process_job_kind::process_job_kind(launcher_ptr launcher)
  : launcher_(std::move(launcher)) {
  // nop
}

std::optional<tool_error> process_job_kind::validate(job_spec& spec) const {
  tool_error err;
  // Record where the job really runs: the server's directory by default,
  // relative paths from there.
  auto& dir = spec.working_directory;
  if (dir.empty() || dir.front() != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd) != nullptr)
      dir = dir.empty() ? std::string{cwd} : join_path(cwd, dir);
  }
  if (!check_working_directory(spec.working_directory, err))
    return err;
  resolved_command cmd;
  if (!resolve_command(spec, cmd, err))
    return err;
  return std::nullopt;
}

job_actor process_job_kind::spawn(caf::actor_system& sys,
                                  job_context ctx) const {
  return sys.spawn(process_job, std::move(ctx), launcher_);
}

} // namespace jobd
