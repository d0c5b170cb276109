// Job kinds and the factory that picks one for a job_spec. SCHEDULER creates
// every job through the factory; every job runs on the one JOB core
// (actors/core/job_core.hpp), and a kind supplies only a backend: how its
// work starts, is signalled and stopped. See docs/extending.md.
#pragma once

#include "actors/actors.hpp"
#include "actors/core/output_buffer.hpp"

#include <caf/actor_system.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace jobd {

/// Server-wide defaults a job falls back to.
struct job_defaults {
  int64_t timeout_ms = 300000;
  int64_t kill_grace_ms = 5000;
  output_limits output;
  /// Upper bound of a console_wait_job's timeout.
  int64_t max_wait_ms = 60000;
  /// Bytes a job's stdin queue holds at most (--max-stdin-bytes).
  uint64_t max_stdin_bytes = 1024 * 1024;
  /// Seeds the random source of every job's retry jitter (tests); 0: each
  /// job seeds its own from std::random_device.
  uint64_t retry_seed = 0;
};

/// What became of bytes for a job's stdin.
enum class input_outcome : uint8_t {
  /// Queued (and written as the job reads).
  ok,
  /// The queue would exceed --max-stdin-bytes: nothing was queued.
  full,
  /// The job has no stdin pipe or terminal.
  not_open,
  /// Its stdin was closed.
  closed,
};

class job_kind;

/// Everything a new job actor starts from.
struct job_context {
  std::string id;
  uint64_t serial = 0;
  /// Shared with SCHEDULER, which keeps it for the job's entry: one copy
  /// per job. The job's kind may normalise it while the job checks it
  /// (`submit`); SCHEDULER reads it only after that answer, and nobody
  /// writes to it after. Set by whoever makes the context, never null in a
  /// job (no default: a context is built, moved and copied into the job's
  /// state several times, and a default spec is 850 bytes each time).
  std::shared_ptr<job_spec> spec;
  timestamp_ms created_at = 0;
  /// Where the job reports that it started, output grew, and it finished.
  scheduler_actor scheduler;
  /// Where its row and output are kept (may be null: nothing is kept).
  store_actor store;
  /// The jobd instance that owns it (empty: none is named).
  std::string instance;
  job_defaults defaults;
  /// The job's kind (owned by the factory, which outlives every job).
  std::shared_ptr<const job_kind> kind;
  /// A requeued job's attempts so far (options.retry; from its row after a
  /// restart of jobd): its next attempt is `attempt + 1`, not before
  /// `next_attempt_at`.
  int32_t attempt = 0;
  std::vector<attempt_record> attempts;
  timestamp_ms next_attempt_at = 0;
  /// Its output counters then: the output of its earlier attempts is read
  /// back from the STORE (job_core's `submit`), numbering continues.
  output_stats output;
  /// A job of a stopped jobd whose work ran outside it and may still run
  /// (a Slurm job): its kind_status then. Its backend follows that work
  /// again instead of starting it (its start sees it); its output so far
  /// is read back from the STORE, as for `attempt`, which goes on.
  std::string reattach;
  /// When a re-attached job started (its timeout counts from then).
  timestamp_ms started_at = 0;
  /// SCHEDULER left spec.depends_on to the kind (job_kind::
  /// runs_dependencies; set by a hold with pendingReason
  /// queued_in_cluster before the job starts): its backend makes the work
  /// wait for them where it runs.
  bool kind_dependencies = false;
};

/// One job's work as its kind runs it. The core calls these from the job's
/// actor; the backend reports what happens as backend_events to the sink.
class job_backend {
public:
  virtual ~job_backend() = default;

  /// Starts the work. Reports to `sink`: `spawned` (or `spawn_failed`)
  /// first, `data` and one `eof` per stream, `exited` last. Each `data`
  /// adds its size to `in_flight` before it is sent (the core subtracts
  /// what it took), so a backend can pause while its job lags behind.
  virtual void start(backend_events sink,
                     std::shared_ptr<std::atomic<int64_t>> in_flight)
    = 0;

  /// The work runs under `pid` (the `spawned` value; 0 if it has none).
  virtual void spawned(int64_t pid) {
    (void) pid;
  }

  /// Sends `sig` to the job's processes: all of them, or its main process
  /// only. False if none is left.
  virtual bool signal(int sig, bool whole_tree) = 0;

  /// Ends all of the job at once (SIGKILL to its whole tree); `exited`
  /// follows.
  virtual void kill() = 0;

  /// Queues `bytes` for the job's stdin, then closes it if `close`.
  /// `queued` is set to the bytes not yet written (these included).
  virtual input_outcome write_input(std::string bytes, bool close,
                                    uint64_t& queued) {
    (void) bytes;
    (void) close;
    queued = 0;
    return input_outcome::not_open;
  }

  /// Freezes (true) or thaws the whole job; false if the kind cannot.
  virtual bool freeze(bool frozen) {
    (void) frozen;
    return false;
  }

  /// Adds what the kind knows of its work to a status (`kind_status`);
  /// once the job ended (`info` holds the core's verdict) it may refine
  /// status and error code where the wait status cannot tell.
  virtual void describe(job_info& info) const {
    (void) info;
  }

  /// A shutdown of jobd: true leaves the work running where the next jobd
  /// re-attaches to it (job_context::reattach, from the kind_status
  /// describe() gave); false (the default) has it killed as usual.
  virtual bool detach() {
    return false;
  }

  /// Sets the window size of the job's terminal; false without one.
  virtual bool resize(int32_t cols, int32_t rows) {
    (void) cols;
    (void) rows;
    return false;
  }
};

/// One kind of job: how its specs are checked and its work is run.
class job_kind {
public:
  virtual ~job_kind() = default;

  /// JSON schema of the kind's `kindOptions` object (checked by the
  /// protocol layer before a spec reaches the kind).
  virtual std::string options_schema() const {
    return R"({"type":"object","additionalProperties":false})";
  }

  /// Checks (and may normalise) a spec before the job is queued; an error
  /// refuses the submission (e.g. COMMAND_NOT_FOUND). Runs on the new job's
  /// own actor, never on SCHEDULER, so it may touch the file system.
  virtual std::optional<tool_error> validate(job_spec& spec) const = 0;

  /// Its jobs take one of jobd's running slots (--max-concurrent-jobs,
  /// per session and per principal). A kind whose work runs elsewhere (a
  /// cluster's own queue) returns false and bounds itself: SCHEDULER then
  /// starts its jobs as soon as they are admitted.
  virtual bool takes_slot() const {
    return true;
  }

  /// Asked for a job of a kind without slots whose dependencies are all
  /// started jobs of the same kind, not ended: true if the kind makes it
  /// wait for them itself (Slurm's --dependency), so SCHEDULER starts it at
  /// once instead of holding it; its backend then sees spec.depends_on
  /// and spec.condition.
  virtual bool runs_dependencies(const job_spec& spec) const {
    (void) spec;
    return false;
  }

  /// The backend that runs one job of this kind.
  virtual std::unique_ptr<job_backend>
  make_backend(const job_context& ctx) const = 0;
};

/// The registry of job kinds, by the name in `job_spec::kind`.
class job_factory {
public:
  void add(std::string name, std::shared_ptr<const job_kind> kind);

  /// The kind for `name`, or null.
  std::shared_ptr<const job_kind> find(const std::string& name) const;

  /// Kind names and their kindOptions schemas, for the protocol layer.
  std::map<std::string, std::string> option_schemas() const;

  /// Spawns a JOB core for `ctx` (whose `kind` is set); it stays pending
  /// until it got `atom::submit` and then `atom::start`.
  job_actor spawn(caf::actor_system& sys, job_context ctx) const;

private:
  std::map<std::string, std::shared_ptr<const job_kind>> kinds_;
};

using factory_ptr = std::shared_ptr<const job_factory>;

/// A new job's status as every kind starts it: pending, from its spec.
job_info initial_info(const job_context& ctx);

} // namespace jobd
