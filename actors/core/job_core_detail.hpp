// What the JOB core's source files share: job_core.cpp (the behaviour,
// deadlines, new waiters), job_lifecycle.cpp (events, the store, the end
// and the stop of a job) and job_control.cpp (working with a running job:
// stdin, signals, pause, terminal size, progress). Private to actors/core.
#pragma once

#include "actors/core/job_core.hpp"

#include <caf/result.hpp>

namespace jobd::core_detail {

using self_ptr = job_core_actor::stateful_pointer<job_core_state>;

/// The job's status with its buffer's counters.
job_info current_info(self_ptr self);

/// The job reached a terminal state.
bool finished(self_ptr self);

/// Arms the one tick timer for the earliest deadline.
void arm(self_ptr self);

// -- job_lifecycle.cpp --------------------------------------------------------

using stop_reason = job_core_state::stop_reason;

/// Answers the waiters whose condition holds: the job ended, or (for
/// until=output) new output after their cursor matches.
void notify_waiters(self_ptr self);

/// Sends the STORE the output it has not seen yet, one message at a time
/// (`force`: the job ended, its last output goes before its last row).
void persist_output(self_ptr self, bool force = false);

/// Tells SCHEDULER the job runs, once.
void announce_start(self_ptr self);

/// Answers status requests that waited for the launch to settle.
void answer_pid_waiters(self_ptr self);

/// Tells the STORE and SCHEDULER (and through it the listeners) that the
/// job's status fields changed without a change of state.
void emit_update(self_ptr self);

/// Ends the job once the backend's work exited and both streams ended.
void maybe_finish(self_ptr self);

/// Ends a job that never ran (cancelled while pending, or shutdown; a
/// dependency failed), with this error code.
void finish_unstarted(self_ptr self, std::string message,
                      const char* code = codes::cancelled);

/// Tells the STORE (the row) and SCHEDULER (through it the listeners).
void emit(self_ptr self, transition what, job_status previous);

/// SIGTERM to the tree, SIGKILL after the grace (at once for grace 0).
void terminate(self_ptr self, stop_reason why, int64_t grace_ms);

// -- job_retry.cpp ------------------------------------------------------------

/// The attempt that ended (its outcome set in `info`) is tried again if
/// options.retry says so: recorded, the job pending in backoff (the
/// `retrying` event), its per-attempt state reset. False: it ends.
bool maybe_retry(self_ptr self, job_status previous);

/// The final attempt of a job with options.retry ended: listed in
/// `attempts`.
void record_final_attempt(self_ptr self);

/// Readies the next attempt on `atom::start`: a new backend, attempt + 1.
void begin_attempt(self_ptr self);

/// SCHEDULER's job_hold: why the job waits, or that it never starts.
void apply_hold(self_ptr self, job_hold& hold);

/// The release deadline passed (from the tick): the job says it is due.
void release_due(self_ptr self);

// -- job_control.cpp ----------------------------------------------------------

/// console_send_input: queues bytes for stdin (held here until the work is
/// spawned), closing it after them if `close`.
caf::result<input_result> take_input(self_ptr self, std::string& bytes,
                                     bool close);

/// The work was spawned: hand it the input that arrived before.
void hand_early_input(self_ptr self);

/// The backend reports stdin closed.
void stdin_closed(self_ptr self);

/// console_signal_job.
caf::result<signal_result> signal_job(self_ptr self, int32_t sig,
                                      bool whole_tree);

/// console_pause_job (true) and console_resume_job (false).
caf::result<job_info> pause_job(self_ptr self, bool pause);

/// Resumes a paused job before it is stopped or once it ended (a stopped
/// process group would not see SIGTERM; the paused time is counted).
void thaw(self_ptr self);

/// A job its kind presents as queued where it runs (a Slurm job in
/// Slurm's queue: describe() says pending): its timeout clock stops until
/// it runs, as while paused.
void follow_queue_clock(self_ptr self);

/// console_resize_terminal.
caf::result<job_info> resize_job(self_ptr self, int32_t cols, int32_t rows);

/// Keeps the end of each stream for reading progress.
void note_output(self_ptr self, stream_kind s, const std::string& bytes);

/// Reads progress from the newest output if any arrived since the last
/// reading; true if the job's progress changed.
bool read_progress(self_ptr self);

} // namespace jobd::core_detail
