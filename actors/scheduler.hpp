// SCHEDULER: admission, the global limit, the ready queue, the job index and
// the records of finished jobs. It is the only actor that starts jobs, one
// decision per message, and it supervises the jobs and sessions it spawns.
#pragma once

#include "actors/actors.hpp"
#include "actors/core/output_buffer.hpp"
#include "actors/job_factory.hpp"
#include "actors/session.hpp"

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <boost/multi_index/identity.hpp>
#include <boost/multi_index/ranked_index.hpp>
#include <boost/multi_index_container.hpp>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace jobd {

struct scheduler_config {
  /// Jobs running at once, over all sessions.
  size_t max_running = 10;
  /// Jobs running at once per session.
  size_t max_running_per_session = 5;
  /// Jobs running at once per principal (the part of a session id before
  /// its first '/', see docs/http.md); 0 = no such limit.
  size_t max_running_per_principal = 0;
  /// Jobs pending at once; more are refused with QUEUE_FULL.
  size_t max_pending = 10000;
  /// Output bytes kept over all jobs; beyond it the oldest output of
  /// finished jobs is dropped first (and counted as dropped).
  uint64_t output_total_bytes = uint64_t{1} << 30;
  job_defaults defaults;
  /// The STORE (null: SCHEDULER makes an in-memory one of its own, as
  /// --ephemeral does). Every job's row and every list and cleanup go
  /// through it.
  store_actor store;
  /// Serials this instance may use from the start: [first, end). Empty:
  /// reserved from the store.
  uint64_t first_serial = 0;
  uint64_t serial_end = 0;
  /// This jobd instance's id in the store (its jobs' owner).
  std::string instance;
  /// Serials reserved from the store at a time.
  uint64_t serial_block = 64;
  /// The default age of cleanup (the server's retention).
  int64_t retention_ms = 86400000;
  /// Per-session quotas, 0 = none (scheduler_quotas.cpp says what each
  /// counts): jobs waiting to start, jobs kept, output bytes kept.
  uint64_t max_queued_per_session = 0;
  uint64_t max_retained_per_session = 0;
  uint64_t max_output_bytes_per_session = 0;
};

/// Where a pending job stands in the queue: priority, then arrival.
struct queue_key {
  int32_t priority;
  uint64_t serial;
  bool operator<(const queue_key& other) const {
    return priority != other.priority ? priority > other.priority
                                      : serial < other.serial;
  }
};

/// Every pending job in queue order, with O(log n) rank queries for the
/// queue positions that status, list and submit report.
using pending_queue = boost::multi_index_container<
  queue_key, boost::multi_index::indexed_by<boost::multi_index::ranked_unique<
               boost::multi_index::identity<queue_key>>>>;

/// Submissions that passed the quotas and are not in the index yet, by
/// session: they count as their session's until admitted or refused.
using admitting_counts = std::unordered_map<std::string, uint64_t>;

/// One such submission, counted while it lives: admit() releases it once
/// the job is indexed; a refusal (any path) drops it. It holds its count
/// weakly, so it may outlive SCHEDULER's state.
class quota_hold {
public:
  quota_hold(const std::shared_ptr<admitting_counts>& counts,
             std::string session);
  quota_hold(const quota_hold&) = delete;
  quota_hold& operator=(const quota_hold&) = delete;
  ~quota_hold();
  void release();

private:
  std::weak_ptr<admitting_counts> counts_;
  std::string session_;
  bool held_ = true;
};

using quota_hold_ptr = std::shared_ptr<quota_hold>;

struct scheduler_state {
  struct entry {
    /// The job's actor while it is pending or running (and until it is
    /// retired); null once the record below holds everything, and while
    /// the job is parked.
    job_actor handle;
    /// The job's status as of its last event; what list and cleanup see,
    /// and all there is of a finished job.
    job_info info;
    /// A finished job's output: set when it finished (the record).
    std::shared_ptr<output_buffer> output;
    /// When it finished, on the steady clock (cleanup ages).
    int64_t finished_steady_ms = 0;
    /// Its place in `finished_order`; 0 while it runs.
    uint64_t finish_serial = 0;
    /// Its actor is gone: nothing else reads the record's output.
    bool actor_gone = false;
    /// It reported `started` (listeners count it as running).
    bool announced = false;
    /// Its spec as admitted (console_restart_job, and the context of a
    /// parked job's actor). Nobody writes to it after admission.
    std::shared_ptr<job_spec> spec;
    /// Its kind takes no slot (job_kind::takes_slot): it starts as soon as
    /// nothing holds it back, never goes through its session, and is not
    /// counted in `running`. Its status (pending while a cluster queues it)
    /// is the job's own.
    bool slotless = false;
    /// A pending job without an actor (scheduler_parking.cpp): everything
    /// it is, is this entry until job_of() makes its actor.
    bool parked = false;
    /// Something was sent to its actor besides its spec check: it may hold
    /// waiters or input, so it is not parked.
    bool touched = false;
  };

  /// A console_wait_job on a parked job, held here until the job's actor
  /// is made (it starts) or the wait runs out.
  struct parked_wait {
    wait_query query;
    caf::typed_response_promise<wait_result> promise;
    /// When it runs out, on the actor clock.
    caf::actor_clock::time_point expires;
  };

  /// A session's idempotency key: the job it names (set as soon as the job
  /// is created, before its spec is checked), and submits with the same key
  /// that wait until that job is admitted (or refused) or the store was
  /// asked.
  struct idempotent_slot {
    std::string job_id;
    /// The store is being asked whether an older job has the key.
    bool looking_up = false;
    std::vector<caf::typed_response_promise<submit_result>> waiting;
  };

  /// What holds a job back from its session (workflows): its dependencies
  /// and a time (start time, backoff) that the job reports due.
  struct gate {
    /// Each dependency (in the spec's order) and its state: pending or
    /// running until it ended.
    std::vector<std::pair<std::string, job_status>> deps;
    dependency_condition condition = dependency_condition::success;
    /// Waits for the time `time_reason` names (scheduled, retry_backoff).
    bool timed = false;
    const char* time_reason = pending_reasons::scheduled;
    /// What the job was last told; empty: nothing yet.
    std::string told_reason;
    std::vector<std::string> told_waiting;
    /// Told it never starts (DEPENDENCY_FAILED): its end is on the way.
    bool failed = false;
  };

  struct session_entry {
    session_actor handle;
    /// The session's jobs that have not ended; at 0 the session goes.
    size_t active = 0;
  };

  scheduler_config config;
  factory_ptr factory;
  std::unordered_map<std::string, entry> jobs;
  /// Job ids by creation serial: list and cleanup walk it newest first.
  std::map<uint64_t, std::string> by_serial;
  /// Finished jobs by finish order: the output budget drops oldest first.
  std::map<uint64_t, std::string> finished_order;
  uint64_t next_finish = 1;
  /// Output bytes held by records (running jobs are bounded by their own
  /// caps, not by the budget).
  uint64_t record_bytes = 0;
  pending_queue pending;
  /// Offered candidates, best first.
  std::set<candidate, candidate_order> ready;
  /// With max_running_per_principal: jobs running per principal, and the
  /// offered candidates of principals at their limit, set aside from
  /// `ready` so that they never block another principal's (no
  /// head-of-line blocking). A job of the principal that ends puts its
  /// best one back. Empty without that limit.
  std::unordered_map<std::string, size_t> principal_running;
  std::unordered_map<std::string, std::set<candidate, candidate_order>>
    principal_blocked;
  std::unordered_map<std::string, session_entry> sessions;
  /// Each session's jobs in the index (the quotas count them).
  std::unordered_map<std::string, std::unordered_set<std::string>> session_jobs;
  std::shared_ptr<admitting_counts> admitting
    = std::make_shared<admitting_counts>();
  /// By session id and key (see idempotency_slot_key).
  std::unordered_map<std::string, idempotent_slot> idempotent;
  /// Monitored actors: jobs and sessions by address.
  std::map<caf::actor_addr, std::string> job_addresses;
  std::map<caf::actor_addr, std::string> session_addresses;
  std::vector<event_listener> listeners;
  /// Pending jobs held back from their sessions (not in `pending`: they
  /// have no queue position), and each dependency's dependents.
  std::unordered_map<std::string, gate> held;
  /// Waits held for parked jobs, by job id.
  std::unordered_map<std::string, std::vector<parked_wait>> parked_waits;
  std::unordered_map<std::string, std::vector<std::string>> dependents;
  size_t running = 0;
  /// Submissions whose job is still checking its spec.
  size_t submitting = 0;
  /// Serials reserved from the store: [next_serial, serial_end), then the
  /// spare block once it arrived.
  uint64_t next_serial = 0;
  uint64_t serial_end = 0;
  uint64_t spare_serial = 0;
  bool reserving = false;
  /// Requeued jobs still checking their specs: nothing is dispatched
  /// until all are queued, so they start in their old order.
  size_t requeueing = 0;
  /// Submissions waiting for serials (the store had not answered yet).
  std::vector<std::function<void()>> serial_waiters;
  bool shutting_down = false;
  static inline const char* name = "scheduler";
};

/// @param config limits and job defaults.
/// @param factory the job kinds jobs are created from.
scheduler_actor::behavior_type
scheduler(scheduler_actor::stateful_pointer<scheduler_state> self,
          scheduler_config config, factory_ptr factory);

// -- the index (scheduler_index.cpp) ------------------------------------------

using scheduler_ptr = scheduler_actor::stateful_pointer<scheduler_state>;

/// The index entry of a job, or nullptr.
inline scheduler_state::entry* find_job(scheduler_ptr self,
                                        const std::string& id) {
  auto i = self->state.jobs.find(id);
  return i == self->state.jobs.end() ? nullptr : &i->second;
}

inline queue_key key_of(const job_info& job) {
  return {job.priority, job.serial};
}

inline candidate candidate_of(const job_info& job) {
  return {job.id, job.session_id, job.priority, job.serial};
}

/// Starts the best offered jobs while global slots are free.
void dispatch(scheduler_ptr self);

/// A pending job that nothing holds back any more: handed to its session,
/// which offers it for a slot, or (a slotless kind) started at once.
/// `answered` runs once the session had its say (at once when slotless).
void queue_job(scheduler_ptr self, scheduler_state::entry& e,
               std::function<void()> answered = nullptr);

/// Takes an offered candidate back (from `ready` or, with the
/// per-principal limit, from its principal's set-aside ones); true if it
/// was offered. O(log n).
bool unready(scheduler_ptr self, const candidate& c);

/// One of the running jobs of `session` stopped running (it ended, or an
/// attempt ended before a retry): with the per-principal limit, its
/// principal's best set-aside candidate becomes ready again. O(log n).
void running_ended(scheduler_ptr self, const std::string& session);

/// Whose jobs these are (the index, else the STORE for the others).
caf::result<owner_list> owners(scheduler_ptr self, owner_list& q);

// -- parked jobs (scheduler_parking.cpp) --------------------------------------

/// A fresh job just admitted that waits for a slot: its actor goes (it has
/// only checked the spec) and the entry alone stands for the job until
/// job_of(). Does nothing to a job that was sent anything else, a requeued
/// job, a held one or one of a kind without slots.
void park(scheduler_ptr self, scheduler_state::entry& e);

/// The job's actor, made first if the job is parked (from its entry, as
/// its spec check left it; waits held for it go to it). Every message for
/// a job's actor goes through here. Null once the record holds the job.
job_actor job_of(scheduler_ptr self, scheduler_state::entry& e);

/// The job has an actor or is parked: it is pending or running.
inline bool is_live(const scheduler_state::entry& e) {
  return e.handle || e.parked;
}

/// console_wait_job on a parked job: a wait for its end is held here (the
/// job has no output before it starts); any other goes to its actor.
caf::result<wait_result> wait_parked(scheduler_ptr self,
                                     scheduler_state::entry& e, wait_query& q);

/// The timer of a held wait fired: the job's actor answers it (made now
/// if the job is still parked).
void parked_wait_due(scheduler_ptr self, const std::string& id);

/// A parked job leaves the index: the waits held for it are answered.
void unpark(scheduler_ptr self, scheduler_state::entry& e);

// -- admission (scheduler_admission.cpp) --------------------------------------

/// console_execute_async: a new job, checked by its kind, then queued; with
/// an idempotency key that names a retained job, that job instead.
caf::result<submit_result> submit(scheduler_ptr self, job_spec& spec);

/// The key of `idempotent` for a session's idempotency key.
inline std::string idempotency_slot_key(const std::string& session,
                                        const std::string& key) {
  return session + '\n' + key;
}

/// Forgets the idempotency key of a job that is removed.
void forget_idempotency(scheduler_ptr self, const job_info& job);

// -- per-session quotas (scheduler_quotas.cpp) --------------------------------

/// The refusal (QUOTA_EXCEEDED) of a new job of `session`, or none if it
/// is within every quota; then `hold` counts it until it is admitted.
caf::error check_quotas(scheduler_ptr self, const std::string& session,
                        quota_hold_ptr& hold);

/// A job entered or left the index.
void index_session_job(scheduler_ptr self, const job_info& job);
void unindex_session_job(scheduler_ptr self, const job_info& job);

// -- workflows (scheduler_workflow.cpp)
// ----------------------------------------

/// What the STORE said of dependencies SCHEDULER does not hold, by id.
using dep_states = std::map<std::string, job_info>;

/// Checks that every dependency of a job exists (in the index, else in the
/// STORE) and is not run by another live instance, then calls `done` with
/// the STORE's answers, or with the refusal (JOB_NOT_FOUND naming the id,
/// INVALID_ARGUMENTS). A requeued job (`again`) is never refused: a
/// dependency gone or run elsewhere counts as ended cancelled.
void resolve_dependencies(
  scheduler_ptr self, const job_spec& spec, bool again,
  std::function<void(std::shared_ptr<const dep_states>, caf::error)> done);

/// A job just admitted: holds it if its gates (dependencies, start time,
/// a requeued job's backoff) do not clear at once; true if held (it is
/// not handed to its session).
bool hold_admitted(scheduler_ptr self, scheduler_state::entry& e,
                   const job_spec& spec, const dep_states* known);

/// A `retrying` job (`previous`: SCHEDULER's state before, `told`: the
/// event's): its slot is free, listeners hear it, and it is held until its
/// next attempt is due.
void on_retrying(scheduler_ptr self, scheduler_state::entry& e,
                 job_status previous, job_status told);

/// An `updated` job: a held job that says `queued` reached its time.
void held_job_updated(scheduler_ptr self, scheduler_state::entry& e);

/// A job ended (or will never be admitted): its gates go, and the jobs
/// that depend on it are evaluated.
void dependency_ended(scheduler_ptr self, const job_info& job);

/// A held job is cancelled: its gates go.
void drop_gates(scheduler_ptr self, const std::string& id);

inline bool is_held(scheduler_ptr self, const std::string& id) {
  return self->state.held.count(id) > 0;
}

// -- working with jobs (scheduler_control.cpp) --------------------------------

/// console_send_input, console_signal_job, console_pause_job,
/// console_resume_job, console_resize_terminal: the job's actor answers;
/// a finished job, or one this instance does not hold, is refused here.
caf::result<input_result> job_input(scheduler_ptr self, const std::string& id,
                                    std::string& bytes, bool close);
caf::result<signal_result> job_signal(scheduler_ptr self, const std::string& id,
                                      int32_t sig, bool whole_tree);
caf::result<job_info> job_pause(scheduler_ptr self, const std::string& id,
                                bool pause);
caf::result<job_info> job_resize(scheduler_ptr self, const std::string& id,
                                 int32_t cols, int32_t rows);

/// console_restart_job: a new job with the spec of `r.job_id` (held here
/// or in the store), after cancelling it first with `r.replace`.
caf::result<submit_result> restart_job(scheduler_ptr self,
                                       const restart_request& r);

/// console_wait_job with jobIds: a wait_group answers.
caf::result<wait_many_result> wait_many(scheduler_ptr self, wait_many_query& q);

/// Queues again the pending jobs of a dead instance, under their old ids,
/// in their old order.
void requeue(scheduler_ptr self, requeue_list& list);

/// console_list_jobs: newest first, from the store, with what this
/// instance knows fresher (output counters, queue positions).
caf::result<list_page> list_jobs(scheduler_ptr self, list_query q);

/// console_cleanup_jobs and SWEEPER: removes finished jobs from the store
/// and the records this instance held of them.
caf::result<cleanup_result> cleanup_jobs(scheduler_ptr self, cleanup_query q);

/// Keeps a finished job's record, and the output budget.
void keep_record(scheduler_ptr self, scheduler_state::entry& e,
                 std::shared_ptr<output_buffer> output);

/// Drops the oldest output of finished jobs while over the budget.
void enforce_output_budget(scheduler_ptr self);

// -- sessions (scheduler_sessions.cpp)
// -----------------------------------------

/// The session actor of `id`, spawned (and monitored) on first use.
session_actor session_for(scheduler_ptr self, const std::string& id);

/// One of the session's jobs ended: a session that holds no job goes away.
void release_session(scheduler_ptr self, const std::string& id);

/// A session died unexpectedly: a new one takes over its jobs.
void replace_session(scheduler_ptr self, const std::string& id);

/// Sends an event to every listener.
void publish(scheduler_ptr self, const job_event& ev);

/// 1-based rank among all pending jobs in queue order.
uint64_t queue_position(scheduler_ptr self, const job_info& job);

} // namespace jobd
