#include "actors/kinds/slurm/slurm_poller.hpp"

#include "actors/kinds/slurm/slurm_command.hpp"

#include <caf/send.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace jobd {

namespace {

// Reading pauses while a job's core has this much data to take (as the
// process reactor does), and takes at most this much per stream and pass.
constexpr int64_t max_in_flight = int64_t{4} << 20;
constexpr size_t max_read_per_pass = size_t{1} << 20;
// Output files are read this often even when states are polled less.
constexpr int64_t max_read_interval_ms = 200;
// Ended jobs remembered for the dependencies of later ones.
constexpr size_t max_known_done = 10000;
// Slurm's reason for a job whose dependency can never be satisfied.
constexpr const char* never_satisfied = "DependencyNeverSatisfied";

std::string first_line(const std::string& text) {
  auto line = text.substr(0, text.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) : line;
}

bool make_dirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/')
      continue;
    auto prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return false;
  }
  return true;
}

bool write_file(const std::string& path, const std::string& text) {
  auto fd = ::open(path.c_str(),
                   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0700);
  if (fd < 0)
    return false;
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return ::close(fd) == 0;
}

int64_t steady_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
    .count();
}

bool is_stop_signal(int sig) {
  return sig == SIGTERM || sig == SIGINT || sig == SIGKILL;
}

} // namespace

slurm_worker::slurm_worker(slurm_settings settings)
  : settings_(std::move(settings)) {
  thread_ = std::thread{[this] { run(); }};
}

slurm_worker::~slurm_worker() {
  stop();
}

void slurm_worker::push(op x) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_ && x.kind == op::what::submit)
      return;
    ops_.push_back(std::move(x));
  }
  cv_.notify_one();
}

void slurm_worker::submit(slurm_entry_ptr entry) {
  push(op{op::what::submit, std::move(entry)});
}

void slurm_worker::attach(slurm_entry_ptr entry) {
  push(op{op::what::attach, std::move(entry)});
}

void slurm_worker::changed(const slurm_entry& e) {
  caf::anon_send(e.sink, atom::changed_v);
}

void slurm_worker::signal(slurm_entry_ptr entry, int sig, bool whole_tree) {
  push(op{op::what::signal, std::move(entry), sig, whole_tree});
}

void slurm_worker::kill(slurm_entry_ptr entry) {
  push(op{op::what::kill, std::move(entry), SIGKILL});
}

void slurm_worker::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable())
    thread_.join();
}

void slurm_worker::run() {
  using clock = std::chrono::steady_clock;
  auto next_poll = clock::now();
  auto pass = std::chrono::milliseconds{
    std::clamp<int64_t>(settings_.poll_ms, 10, max_read_interval_ms)};
  for (;;) {
    std::deque<op> todo;
    bool stopping = false;
    {
      std::unique_lock<std::mutex> guard{mtx_};
      cv_.wait_for(guard, pass, [this] { return !ops_.empty() || stopping_; });
      todo.swap(ops_);
      stopping = stopping_;
    }
    for (auto& x : todo)
      execute(x);
    if (stopping)
      break;
    start_waiting();
    if (clock::now() >= next_poll) {
      poll_states();
      next_poll = clock::now() + std::chrono::milliseconds{settings_.poll_ms};
    }
    give_up_killed();
    read_outputs();
    active_.erase(std::remove_if(active_.begin(), active_.end(),
                                 [](auto& e) { return e->done; }),
                  active_.end());
  }
  for (auto& e : active_)
    for (auto& fd : e->fd)
      if (fd >= 0)
        ::close(std::exchange(fd, -1));
}

void slurm_worker::execute(op& x) {
  auto& e = x.entry;
  if (x.kind == op::what::attach) {
    known_[e->jobd_id].slurm_id = e->view.job_id;
    active_.push_back(e);
    e->submitted = true;
    e->spawned_sent = true;
    caf::anon_send(e->sink, atom::spawned_v, int64_t{0}, std::string{"slurm"});
    return;
  }
  if (x.kind == op::what::submit) {
    active_.push_back(e);
    known_[e->jobd_id] = known_job{}; // a retry's attempt is a new job
    size_t in_slurm = 0;
    for (auto& a : active_)
      in_slurm += a->submitted && !a->ended ? 1 : 0;
    auto ready = dependencies_ready(*e);
    // Behind those held already (in order), or held itself at the bound
    // or until its dependencies are in Slurm.
    if (!waiting_.empty() || !ready
        || (settings_.max_jobs > 0 && in_slurm >= settings_.max_jobs)) {
      // Held in jobd; `spawned` now, so a cancel reaches us meanwhile.
      {
        std::lock_guard<std::mutex> guard{e->mtx};
        e->view.reason = ready ? "MaxSlurmJobs" : "Dependency";
      }
      e->spawned_sent = true;
      caf::anon_send(e->sink, atom::spawned_v, int64_t{0},
                     std::string{"slurm"});
      waiting_.push_back(e);
      return;
    }
    do_submit(e);
    return;
  }
  if (e->done || e->ended)
    return;
  if (!e->submitted) {
    // Still held in jobd: a stop ends it without Slurm.
    if (!is_stop_signal(x.sig))
      return;
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), e),
                   waiting_.end());
    e->ended = true;
    e->wait_status = x.sig & 0x7f;
    finish(*e);
    return;
  }
  std::string state;
  {
    std::lock_guard<std::mutex> guard{e->mtx};
    state = e->view.state;
  }
  bool pending = slurm::map_state(state).status == job_status::pending;
  if (x.kind == op::what::kill) {
    e->killed_at = steady_now_ms();
    if (!pending)
      scancel(*e, {"--full", "--signal=KILL"});
    scancel(*e, {});
  } else if (pending && is_stop_signal(x.sig)) {
    scancel(*e, {});
  } else if (!pending) {
    scancel(*e, {x.whole_tree ? "--full" : "--batch",
                 "--signal=" + std::to_string(x.sig)});
  }
}

void slurm_worker::scancel(const slurm_entry& e,
                           std::vector<std::string> args) {
  std::string id;
  {
    std::lock_guard<std::mutex> guard{e.mtx};
    id = e.view.job_id;
  }
  args.insert(args.begin(), "scancel");
  args.push_back(id);
  run_command(args, settings_.command_timeout_ms);
}

void slurm_worker::do_submit(const slurm_entry_ptr& e) {
  auto fail = [&](const std::string& why) {
    e->done = true;
    mark_done(e->jobd_id, false); // its dependents cannot wait for it
    caf::anon_send(e->sink, atom::spawn_failed_v,
                   std::string{slurm::slurm_codes::submit_failed}, why);
  };
  if (!make_dirs(e->paths.dir))
    return fail("cannot make " + e->paths.dir + ": " + std::strerror(errno));
  if (!write_file(e->paths.script, e->script))
    return fail("cannot write " + e->paths.script + ": "
                + std::strerror(errno));
  // Empty output files now: a job Slurm never starts still has both.
  write_file(e->paths.out, "");
  write_file(e->paths.err, "");
  std::string dependency;
  if (!dependency_of(*e, dependency)) {
    // A dependency ended against the condition before this one reached
    // Slurm: it ends as Slurm would have ended it.
    {
      std::lock_guard<std::mutex> guard{e->mtx};
      e->view.state = e->end_state = "CANCELLED";
      e->view.reason = e->end_reason = never_satisfied;
    }
    if (!e->spawned_sent) {
      e->spawned_sent = true;
      caf::anon_send(e->sink, atom::spawned_v, int64_t{0},
                     std::string{"slurm"});
    }
    e->ended = true;
    e->wait_status = SIGTERM;
    finish(*e);
    return;
  }
  std::vector<std::string> argv{"sbatch"};
  if (!dependency.empty()) {
    argv.push_back("--dependency=" + dependency);
    argv.push_back("--kill-on-invalid-dep=yes");
  }
  argv.insert(argv.end(), e->sbatch_args.begin(), e->sbatch_args.end());
  auto res = run_command(argv, settings_.command_timeout_ms, &e->environment);
  std::string id;
  if (res.timed_out)
    return fail("sbatch did not answer within "
                + std::to_string(settings_.command_timeout_ms) + " ms");
  if (!res.ok() || !slurm::parse_job_id(res.out, id))
    return fail("sbatch: " + first_line(res.err.empty() ? res.out : res.err));
  {
    std::lock_guard<std::mutex> guard{e->mtx};
    e->view.job_id = id;
    e->view.state = "PENDING";
    e->view.reason.clear();
  }
  e->submitted = true;
  known_[e->jobd_id].slurm_id = id;
  if (!e->spawned_sent) {
    e->spawned_sent = true;
    caf::anon_send(e->sink, atom::spawned_v, int64_t{0}, std::string{"slurm"});
  } else {
    changed(*e); // held for --max-slurm-jobs: its Slurm id is known now
  }
}

// A job jobd killed whose end Slurm does not confirm (its controller does
// not answer) ends in jobd anyway, so that no cancel and no shutdown of
// jobd waits for Slurm.
void slurm_worker::give_up_killed() {
  auto patience = std::max<int64_t>(5000, 2 * settings_.command_timeout_ms
                                            + settings_.poll_ms);
  auto now = steady_now_ms();
  for (auto& e : active_) {
    if (e->killed_at == 0 || e->ended || now - e->killed_at < patience)
      continue;
    e->ended = true;
    e->wait_status = SIGKILL;
  }
}

void slurm_worker::set_reachable(bool reachable) {
  for (auto& e : active_) {
    if (!e->submitted || e->ended)
      continue;
    std::lock_guard<std::mutex> guard{e->mtx};
    e->view.reachable = reachable;
  }
}

void slurm_worker::poll_states() {
  std::string ids;
  for (auto& e : active_)
    if (e->submitted && !e->ended)
      ids += (ids.empty() ? "" : ",") + e->view.job_id;
  if (ids.empty())
    return;
  auto res = run_command(
    {"squeue", "-h", "-t", "all", "-j", ids, "-o", slurm::squeue_format},
    settings_.command_timeout_ms);
  // Every id unknown: squeue says so and fails, but the controller works.
  bool unknown = res.err.find("Invalid job id") != std::string::npos;
  if (!res.ok() && !(unknown && !res.timed_out)) {
    set_reachable(false);
    return;
  }
  set_reachable(true);
  std::map<std::string, slurm::queue_entry> seen;
  for (auto& q : slurm::parse_queue(res.out))
    seen.emplace(q.job_id, q);
  for (auto& e : active_) {
    if (!e->submitted || e->ended)
      continue;
    auto i = seen.find(e->view.job_id);
    if (i != seen.end()) {
      auto& q = i->second;
      bool moved = false;
      {
        std::lock_guard<std::mutex> guard{e->mtx};
        auto& v = e->view;
        moved
          = v.state != q.state || v.reason != q.reason || v.nodes != q.nodes;
        v.state = q.state;
        v.reason = q.reason;
        v.nodes = q.nodes;
        v.partition = q.partition;
      }
      if (!slurm::map_state(q.state).terminal) {
        if (moved)
          changed(*e); // its state, reason or nodes: listeners hear it
        continue;
      }
    }
    // It ended, or left the queue: its exit code from scontrol.
    auto details
      = run_command({"scontrol", "-o", "show", "job", e->view.job_id},
                    settings_.command_timeout_ms);
    slurm::job_details d;
    if (slurm::parse_details(details.out, d)) {
      auto m = slurm::map_state(d.state);
      std::lock_guard<std::mutex> guard{e->mtx};
      e->view.state = d.state;
      e->view.reason = d.reason;
      if (!d.nodes.empty())
        e->view.nodes = d.nodes;
      if (!d.partition.empty())
        e->view.partition = d.partition;
      if (!m.terminal)
        continue;
      e->end_state = d.state;
      e->end_reason = d.reason;
      e->ended = true;
      e->wait_status = slurm::wait_status(d.exit_code, d.signal);
    } else if (!details.timed_out
               && details.err.find("Invalid job id") != std::string::npos
               && i == seen.end()) {
      // Forgotten by Slurm (MinJobAge) before we read its end.
      std::lock_guard<std::mutex> guard{e->mtx};
      e->view.state = e->end_state = "LOST";
      e->ended = true;
      e->wait_status = 0;
    }
  }
}

bool slurm_worker::read_stream(slurm_entry& e, int index, bool to_end) {
  auto& fd = e.fd[index];
  auto& path = index == 0 ? e.paths.out : e.paths.err;
  if (fd < 0) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return to_end; // never written: nothing to read
  }
  auto stream = index == 0 ? stream_kind::out : stream_kind::err;
  size_t taken = 0;
  char buf[65536];
  while (taken < max_read_per_pass) {
    if (e.in_flight->load() > max_in_flight)
      return false;
    auto n = ::pread(fd, buf, sizeof buf, e.offset[index]);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return true;
    e.offset[index] += n;
    taken += static_cast<size_t>(n);
    e.in_flight->fetch_add(n);
    caf::anon_send(e.sink, atom::data_v, stream,
                   std::string{buf, static_cast<size_t>(n)});
  }
  return false;
}

void slurm_worker::read_outputs() {
  for (auto& e : active_) {
    if (!e->submitted || e->done)
      continue;
    auto ended = e->ended;
    auto out_done = read_stream(*e, 0, ended);
    auto err_done = read_stream(*e, 1, ended);
    if (ended && out_done && err_done)
      finish(*e);
  }
}

void slurm_worker::mark_done(const std::string& jobd_id, bool completed) {
  auto& k = known_[jobd_id];
  k.done = true;
  k.completed = completed;
  known_done_.push_back(jobd_id);
  if (known_done_.size() > max_known_done) {
    auto old = known_.find(known_done_.front());
    if (old != known_.end() && old->second.done)
      known_.erase(old);
    known_done_.pop_front();
  }
}

void slurm_worker::finish(slurm_entry& e) {
  for (auto& fd : e.fd)
    if (fd >= 0)
      ::close(std::exchange(fd, -1));
  e.done = true;
  mark_done(e.jobd_id, e.end_state == "COMPLETED");
  caf::anon_send(e.sink, atom::eof_v, stream_kind::out);
  caf::anon_send(e.sink, atom::eof_v, stream_kind::err);
  caf::anon_send(e.sink, atom::exited_v, e.wait_status);
}

} // namespace jobd
