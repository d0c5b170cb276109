// The slurm kind's one worker thread: it runs every Slurm command (sbatch,
// squeue, scontrol, scancel) with a deadline, polls the state of every
// active Slurm job with one squeue call per interval (scontrol only for
// jobs that ended), follows each job's output files and reports
// backend_events to the job's core (slurm_poller.cpp; the jobs it holds
// back, slurm_queue.cpp). Nothing here runs on an actor thread.
#pragma once

#include "actors/actors.hpp"
#include "protocol/slurm.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace jobd {

/// The slurm kind's settings (--slurm-*; app/config_slurm.cpp).
struct slurm_settings {
  /// One squeue call per this many ms for all active jobs.
  int64_t poll_ms = 1000;
  /// Where job scripts and output files go (a filesystem the compute
  /// nodes share); empty: no Slurm jobs can be submitted.
  std::string spool;
  /// Jobs jobd keeps in Slurm at once (0: no bound); more wait in jobd.
  uint64_t max_jobs = 0;
  /// A Slurm command that takes longer is killed (the controller counts as
  /// unreachable).
  int64_t command_timeout_ms = 10000;
  /// At a shutdown of jobd, Slurm jobs keep running and the next jobd
  /// re-attaches (a durable store); false: they are cancelled.
  bool detach = false;
};

/// One job as the worker follows it; shared by its backend (job actor) and
/// the worker thread.
struct slurm_entry {
  // -- set before the entry is queued, then read-only --
  std::string jobd_id;
  std::vector<std::string> sbatch_args;
  /// sbatch's environment, which it hands on to the job
  /// (slurm::submit_environment).
  std::vector<std::string> environment;
  std::string script;
  slurm::spool_paths paths;
  /// Jobs of ours it waits for in Slurm (SCHEDULER left them to the kind:
  /// job_kind::runs_dependencies), and how.
  std::vector<std::string> depends_on;
  dependency_condition condition = dependency_condition::success;
  /// SCHEDULER left them to us: one not seen yet is on its way (its
  /// submission follows), so this one waits for it.
  bool kind_dependencies = false;
  backend_events sink;
  std::shared_ptr<std::atomic<int64_t>> in_flight;

  // -- the job actor's --
  /// jobd signalled or killed it (its own verdict stands at the end).
  std::atomic<bool> stopped{false};

  // -- the worker's, and `view`/`end` under `mtx` for status --
  mutable std::mutex mtx;
  slurm::job_view view;
  /// Slurm is done with it: its final state (empty: not yet).
  std::string end_state;
  std::string end_reason;

  // Worker-only.
  bool submitted = false;
  bool spawned_sent = false;
  bool ended = false;
  int32_t wait_status = 0;
  /// When jobd killed it (steady ms; 0: not killed).
  int64_t killed_at = 0;
  int64_t offset[2] = {0, 0};
  int fd[2] = {-1, -1};
  bool done = false;
};

using slurm_entry_ptr = std::shared_ptr<slurm_entry>;

class slurm_worker {
public:
  explicit slurm_worker(slurm_settings settings);
  ~slurm_worker();

  slurm_worker(const slurm_worker&) = delete;
  slurm_worker& operator=(const slurm_worker&) = delete;

  const slurm_settings& settings() const {
    return settings_;
  }

  /// Queues a submission (from the job's actor).
  void submit(slurm_entry_ptr entry);

  /// Follows a job already in Slurm (`view.job_id`; a restart of jobd),
  /// reading its files on from `offset`.
  void attach(slurm_entry_ptr entry);

  /// Queues `scancel --signal=SIG` (or a cancel of a job Slurm has not
  /// started yet, for TERM, INT and KILL).
  void signal(slurm_entry_ptr entry, int sig, bool whole_tree);

  /// Queues `scancel --signal=KILL` and `scancel`.
  void kill(slurm_entry_ptr entry);

  /// Runs what is queued (the cancels of a shutdown), then ends the thread.
  void stop();

private:
  struct op {
    enum class what { submit, attach, signal, kill } kind;
    slurm_entry_ptr entry;
    int sig = 0;
    bool whole_tree = true;
  };

  void push(op x);
  void run();
  void execute(op& x);
  void do_submit(const slurm_entry_ptr& e);
  /// The --dependency of a job on others of ours ("" for none); false if
  /// its condition can no longer hold (a dependency ended against it).
  bool dependency_of(const slurm_entry& e, std::string& out) const;
  /// Every dependency of ours has a Slurm id or ended.
  bool dependencies_ready(const slurm_entry& e) const;
  void start_waiting();
  void poll_states();
  void read_outputs();
  bool read_stream(slurm_entry& e, int index, bool to_end);
  void finish(slurm_entry& e);
  /// Remembers how a job of ours ended (for its dependents).
  void mark_done(const std::string& jobd_id, bool completed);
  void scancel(const slurm_entry& e, std::vector<std::string> args);
  void set_reachable(bool reachable);
  /// Tells the job's core that its `slurm` status changed.
  static void changed(const slurm_entry& e);
  void give_up_killed();

  slurm_settings settings_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<op> ops_;
  bool stopping_ = false;
  // Worker-only.
  std::vector<slurm_entry_ptr> active_;
  std::deque<slurm_entry_ptr> waiting_;
  /// Every job of ours by jobd id: its Slurm id (empty: never submitted),
  /// and once done whether it completed; the done ones are forgotten in
  /// order past `max_known_done`.
  struct known_job {
    std::string slurm_id;
    bool done = false;
    bool completed = false;
  };
  std::unordered_map<std::string, known_job> known_;
  std::deque<std::string> known_done_;
  std::thread thread_;
};

} // namespace jobd
