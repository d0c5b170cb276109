// The wiring diagram of jobd: every atom and every typed actor interface,
// with the role of each. Read this file and docs/architecture.md to know how
// a request flows through the system.
#pragma once

#include "actors/messages.hpp"
#include "protocol/model.hpp"

#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <memory>
#include <string>

CAF_BEGIN_TYPE_ID_BLOCK(jobd, caf::first_custom_type_id)

CAF_ADD_TYPE_ID(jobd, (jobd::job_spec))
CAF_ADD_TYPE_ID(jobd, (jobd::job_info))
CAF_ADD_TYPE_ID(jobd, (jobd::output_query))
CAF_ADD_TYPE_ID(jobd, (jobd::output_page))
CAF_ADD_TYPE_ID(jobd, (jobd::output_chunk))
CAF_ADD_TYPE_ID(jobd, (jobd::output_stats))
CAF_ADD_TYPE_ID(jobd, (jobd::list_query))
CAF_ADD_TYPE_ID(jobd, (jobd::list_page))
CAF_ADD_TYPE_ID(jobd, (jobd::cleanup_query))
CAF_ADD_TYPE_ID(jobd, (jobd::cleanup_result))
CAF_ADD_TYPE_ID(jobd, (jobd::wait_query))
CAF_ADD_TYPE_ID(jobd, (jobd::wait_result))
CAF_ADD_TYPE_ID(jobd, (jobd::submit_result))
CAF_ADD_TYPE_ID(jobd, (jobd::cancel_result))
CAF_ADD_TYPE_ID(jobd, (jobd::metrics_snapshot))
CAF_ADD_TYPE_ID(jobd, (jobd::session_metrics))
CAF_ADD_TYPE_ID(jobd, (jobd::kind_metrics))
CAF_ADD_TYPE_ID(jobd, (jobd::candidate))
CAF_ADD_TYPE_ID(jobd, (jobd::job_event))
CAF_ADD_TYPE_ID(jobd, (jobd::output_news))
CAF_ADD_TYPE_ID(jobd, (jobd::stored_output))
CAF_ADD_TYPE_ID(jobd, (jobd::requeue_list))
CAF_ADD_TYPE_ID(jobd, (jobd::cleanup_done))
CAF_ADD_TYPE_ID(jobd, (jobd::job_progress))
CAF_ADD_TYPE_ID(jobd, (jobd::resource_usage))
CAF_ADD_TYPE_ID(jobd, (jobd::wait_many_query))
CAF_ADD_TYPE_ID(jobd, (jobd::wait_many_result))
CAF_ADD_TYPE_ID(jobd, (jobd::input_result))
CAF_ADD_TYPE_ID(jobd, (jobd::signal_result))
CAF_ADD_TYPE_ID(jobd, (jobd::restart_request))
CAF_ADD_TYPE_ID(jobd, (jobd::job_hold))
CAF_ADD_TYPE_ID(jobd, (jobd::schedule_spec))
CAF_ADD_TYPE_ID(jobd, (jobd::schedule_update))
CAF_ADD_TYPE_ID(jobd, (jobd::schedule_info))
CAF_ADD_TYPE_ID(jobd, (jobd::schedule_list))
CAF_ADD_TYPE_ID(jobd, (jobd::job_template))
CAF_ADD_TYPE_ID(jobd, (jobd::template_list))
CAF_ADD_TYPE_ID(jobd, (jobd::delete_result))
CAF_ADD_TYPE_ID(jobd, (jobd::owner_list))

CAF_ADD_ATOM(jobd, jobd::atom, submit, "submit")
CAF_ADD_ATOM(jobd, jobd::atom, status, "status")
CAF_ADD_ATOM(jobd, jobd::atom, output, "output")
CAF_ADD_ATOM(jobd, jobd::atom, cancel, "cancel")
CAF_ADD_ATOM(jobd, jobd::atom, wait, "wait")
CAF_ADD_ATOM(jobd, jobd::atom, list, "list")
CAF_ADD_ATOM(jobd, jobd::atom, metrics, "metrics")
CAF_ADD_ATOM(jobd, jobd::atom, cleanup, "cleanup")
CAF_ADD_ATOM(jobd, jobd::atom, start, "start")
CAF_ADD_ATOM(jobd, jobd::atom, enqueue, "enqueue")
CAF_ADD_ATOM(jobd, jobd::atom, offer, "offer")
CAF_ADD_ATOM(jobd, jobd::atom, withdraw, "withdraw")
CAF_ADD_ATOM(jobd, jobd::atom, forget, "forget")
CAF_ADD_ATOM(jobd, jobd::atom, started, "started")
CAF_ADD_ATOM(jobd, jobd::atom, finished, "finished")
CAF_ADD_ATOM(jobd, jobd::atom, event, "event")
CAF_ADD_ATOM(jobd, jobd::atom, subscribe, "subscribe")
CAF_ADD_ATOM(jobd, jobd::atom, spawned, "spawned")
CAF_ADD_ATOM(jobd, jobd::atom, spawn_failed, "spawnFail")
CAF_ADD_ATOM(jobd, jobd::atom, data, "data")
CAF_ADD_ATOM(jobd, jobd::atom, eof, "eof")
CAF_ADD_ATOM(jobd, jobd::atom, exited, "exited")
CAF_ADD_ATOM(jobd, jobd::atom, timeout, "timeout")
CAF_ADD_ATOM(jobd, jobd::atom, escalate, "escalate")
CAF_ADD_ATOM(jobd, jobd::atom, flush, "flush")
CAF_ADD_ATOM(jobd, jobd::atom, recheck, "recheck")
CAF_ADD_ATOM(jobd, jobd::atom, tick, "tick")
CAF_ADD_ATOM(jobd, jobd::atom, line, "line")
CAF_ADD_ATOM(jobd, jobd::atom, shutdown, "shutdown")
CAF_ADD_ATOM(jobd, jobd::atom, expire, "expire")
CAF_ADD_ATOM(jobd, jobd::atom, progress, "progress")
CAF_ADD_ATOM(jobd, jobd::atom, settle, "settle")
CAF_ADD_ATOM(jobd, jobd::atom, unsubscribe, "unsubscr")
CAF_ADD_ATOM(jobd, jobd::atom, retire, "retire")
CAF_ADD_ATOM(jobd, jobd::atom, reserve, "reserve")
CAF_ADD_ATOM(jobd, jobd::atom, input, "input")
CAF_ADD_ATOM(jobd, jobd::atom, signal, "signal")
CAF_ADD_ATOM(jobd, jobd::atom, pause, "pause")
CAF_ADD_ATOM(jobd, jobd::atom, resize, "resize")
CAF_ADD_ATOM(jobd, jobd::atom, usage, "usage")
CAF_ADD_ATOM(jobd, jobd::atom, spec, "spec")
CAF_ADD_ATOM(jobd, jobd::atom, find, "find")
CAF_ADD_ATOM(jobd, jobd::atom, hold, "hold")
CAF_ADD_ATOM(jobd, jobd::atom, templates, "templates")
CAF_ADD_ATOM(jobd, jobd::atom, schedules, "schedules")
CAF_ADD_ATOM(jobd, jobd::atom, put, "put")
CAF_ADD_ATOM(jobd, jobd::atom, get, "get")
CAF_ADD_ATOM(jobd, jobd::atom, erase, "erase")
CAF_ADD_ATOM(jobd, jobd::atom, audit, "audit")
CAF_ADD_ATOM(jobd, jobd::atom, owner, "owner")
CAF_ADD_ATOM(jobd, jobd::atom, changed, "changed")

CAF_END_TYPE_ID_BLOCK(jobd)

namespace jobd {

// -- the interfaces -----------------------------------------------------------

/// The JOB actor interface: one actor per job while it is pending or
/// running, whatever its kind (a local process, a test double, later a
/// cluster job). SCHEDULER and SESSION know only this interface. A finished
/// job hands its status and output to SCHEDULER (its record) and quits.
using job_actor = caf::typed_actor<
  // Check the spec through the job's kind (command, working directory: file
  // system work that must not run on SCHEDULER); answers the job's initial
  // status, or the refusal.
  caf::replies_to<atom::submit>::with<job_info>,
  // Begin running; sent by SCHEDULER once the job was admitted.
  caf::reacts_to<atom::start>,
  // The job's current status and metadata.
  caf::replies_to<atom::status>::with<job_info>,
  // A page of buffered output.
  caf::replies_to<atom::output, output_query>::with<output_page>,
  // Cancel: SIGTERM, SIGKILL after the grace (ms, use_default = the job's);
  // answered once the job has ended.
  caf::replies_to<atom::cancel, int64_t>::with<cancel_result>,
  // Answered when the job ends or new (matching) output arrives, or on timeout.
  caf::replies_to<atom::wait, wait_query>::with<wait_result>,
  // Stop at once (server shutdown); answered once nothing of it runs.
  caf::replies_to<atom::shutdown>::with<bool>,
  // From SCHEDULER, once it keeps the finished job's record: quit.
  caf::reacts_to<atom::retire>,
  // console_send_input: bytes for its stdin, and whether to close it after
  // them; STDIN_FULL, STDIN_NOT_OPEN, STDIN_CLOSED or JOB_NOT_RUNNING.
  caf::replies_to<atom::input, std::string, bool>::with<input_result>,
  // console_signal_job: a signal number, to the whole tree or the leader.
  caf::replies_to<atom::signal, int32_t, bool>::with<signal_result>,
  // console_pause_job (true) and console_resume_job (false): the job's
  // status afterwards. Pausing a paused job (or resuming a running one)
  // changes nothing.
  caf::replies_to<atom::pause, bool>::with<job_info>,
  // console_resize_terminal: columns, rows.
  caf::replies_to<atom::resize, int32_t, int32_t>::with<job_info>,
  // From SCHEDULER to a pending job: why it waits (dependencies, a start
  // time, a retry's backoff, a free slot), or that it can never start
  // (`fail_code`: it ends cancelled with it).
  caf::reacts_to<atom::hold, job_hold>>;

/// What a kind's backend reports to its job's core (see actors/core/): the
/// process reactor sends these for a local process, other kinds for theirs.
using backend_events = caf::typed_actor<
  // The work runs: its pid (0 if it has none) and how its process tree is
  // tracked ("cgroup", "pgroup", or "" for no local process).
  caf::reacts_to<atom::spawned, int64_t, std::string>,
  // It could not be started: error code and message.
  caf::reacts_to<atom::spawn_failed, std::string, std::string>,
  // Bytes of its stdout or stderr.
  caf::reacts_to<atom::data, stream_kind, std::string>,
  // A stream ended.
  caf::reacts_to<atom::eof, stream_kind>,
  // What its processes used (right before `exited`, when known).
  caf::reacts_to<atom::usage, resource_usage>,
  // Its stdin closed (it closed its end, or every queued byte was written
  // after a close was asked for).
  caf::reacts_to<atom::input, atom::eof>,
  // What the kind knows of the work changed (job_backend::describe says
  // what: a cluster's queue state, say): listeners hear of it.
  caf::reacts_to<atom::changed>,
  // It ended, with the raw wait status of its main process; the last event
  // (nothing of it runs any more, both streams ended before).
  caf::reacts_to<atom::exited, int32_t>>;

/// The JOB core: the job interface, the backend's events and its own
/// timers. One implementation for every kind (actors/core/job_core.hpp).
using job_core_actor = job_actor::extend_with<backend_events>::extend<
  // A deadline may be due (timeout, kill escalation, waiter expiry); the
  // number tells the latest arming from stale ones.
  caf::reacts_to<atom::tick, uint64_t>,
  // Emit a partial line held back waiting for its end.
  caf::reacts_to<atom::flush>,
  // Time to tell listeners that output grew.
  caf::reacts_to<atom::progress>,
  // Status requests waited long enough for the pid: answer them.
  caf::reacts_to<atom::settle>>;

/// A short-lived reader of a finished job's record: answers one wait whose
/// pattern must be searched through the record's output, so that neither
/// compiling the pattern nor the search runs on SCHEDULER.
using record_reader_actor = caf::typed_actor<
  // The wait on the record; the reader quits after answering.
  caf::replies_to<atom::wait, wait_query>::with<wait_result>>;

/// A short-lived collector of one console_wait_job with jobIds: it waits on
/// each job through SCHEDULER and answers when any (or all) ended or the
/// time is up, then quits.
using wait_group_actor = caf::typed_actor<
  // The wait; answered once.
  caf::replies_to<atom::wait, wait_many_query>::with<wait_many_result>,
  // Its own deadline, a little after the single waits' (a safety net).
  caf::reacts_to<atom::tick>>;

/// The SESSION actor interface: one per sessionId, created on first use. Holds
/// the per-session limit: it offers its best pending jobs to SCHEDULER, never
/// more than the limit allows.
using session_actor = caf::typed_actor<
  // A new pending job of this session; answered after any offer was sent.
  caf::replies_to<atom::enqueue, candidate>::with<bool>,
  // SCHEDULER started one of this session's jobs.
  caf::reacts_to<atom::started, std::string>,
  // One of this session's running jobs ended.
  caf::reacts_to<atom::finished, std::string>,
  // A pending job was cancelled: drop it (withdrawing any offer).
  caf::reacts_to<atom::forget, std::string>>;

/// Anything that wants to hear about job lifecycle events (METRICS, ENDPOINT).
using event_listener = caf::typed_actor<
  // A job was created, started, finished or removed.
  caf::reacts_to<atom::event, job_event>,
  // A job's output grew.
  caf::reacts_to<atom::output, output_news>>;

/// Who queues again the jobs of a dead instance the STORE takes over
/// (SCHEDULER).
using requeue_target = caf::typed_actor<caf::reacts_to<requeue_list>>;

/// The STORE actor interface: the only user of the database (SQLite; see
/// actors/store/). Writes are group-committed: everything that queued up
/// while the store was busy goes into one transaction (at most 50 ms, 512
/// writes or 4 MiB of output later); every query first commits what is
/// pending, so a reader sees every write sent before it.
using store_actor = caf::typed_actor<
  // A new job's row with its spec (from SCHEDULER, when it admits it).
  caf::reacts_to<atom::submit, job_info, job_spec>,
  // A job's row changed (its core: started, finished; SCHEDULER: a job
  // whose actor died).
  caf::reacts_to<atom::event, job_info>,
  // New output of a running job (its core, with its progress events);
  // answered once queued, and a core sends the next only then, so output
  // never piles up in the store's mailbox.
  caf::replies_to<atom::output, stored_output>::with<bool>,
  // The status of a job that SCHEDULER does not hold (an older run's, or
  // another instance's).
  caf::replies_to<atom::status, std::string>::with<job_info>,
  // Its output, read by the same rules as a live job's.
  caf::replies_to<atom::output, std::string, output_query>::with<output_page>,
  // Wait on such a job: answered at once when it finished; a job another
  // live instance runs is polled until it ends or the wait times out.
  caf::replies_to<atom::wait, wait_query>::with<wait_result>,
  // Cancel of such a job: refused (finished, or owned by another live
  // instance, which is named).
  caf::replies_to<atom::cancel, std::string>::with<cancel_result>,
  // console_list_jobs over every job in the store.
  caf::replies_to<atom::list, list_query>::with<list_page>,
  // The spec of a stored job (console_restart_job of a job SCHEDULER does
  // not hold); JOB_NOT_FOUND if unknown or its spec was not kept.
  caf::replies_to<atom::spec, std::string>::with<job_spec>,
  // The id of the newest retained job of this session with this
  // idempotency key; empty if none.
  caf::replies_to<atom::find, std::string, std::string>::with<std::string>,
  // Removes finished jobs (console_cleanup_jobs, SWEEPER).
  caf::replies_to<atom::cleanup, cleanup_query>::with<cleanup_done>,
  // The sessions of these jobs ("" for one not stored).
  caf::replies_to<atom::owner, owner_list>::with<owner_list>,
  // Counters and per-session figures, with the persistence state.
  caf::replies_to<atom::metrics>::with<metrics_snapshot>,
  // console_save_template: inserts or replaces by name (keeping the first
  // created_at); answers the template as saved.
  caf::replies_to<atom::templates, atom::put, job_template>::with<job_template>,
  // A template by name; TEMPLATE_NOT_FOUND if none.
  caf::replies_to<atom::templates, atom::get, std::string>::with<job_template>,
  // console_list_templates: all, by name.
  caf::replies_to<atom::templates, atom::list>::with<template_list>,
  // console_delete_template.
  caf::replies_to<atom::templates, atom::erase,
                  std::string>::with<delete_result>,
  // From SCHEDULES: a schedule's whole row, inserted or replaced (each
  // change, each firing).
  caf::replies_to<atom::schedules, atom::put, schedule_spec>::with<bool>,
  // Every stored schedule (SCHEDULES loads them at start); no firings.
  caf::replies_to<atom::schedules, atom::list>::with<schedule_list>,
  // Removes a schedule; false if it was not stored.
  caf::replies_to<atom::schedules, atom::erase, std::string>::with<bool>,
  // Reserve this many job serials; answers the first.
  caf::replies_to<atom::reserve, uint64_t>::with<uint64_t>,
  // Look for dead instances: interrupt their running jobs, hand back their
  // pending ones to queue again.
  caf::replies_to<atom::recheck>::with<requeue_list>,
  // Commit what is pending now; answered after the commit.
  caf::replies_to<atom::flush>::with<bool>,
  // Where pending jobs of dead instances go that a query happened upon.
  caf::reacts_to<atom::subscribe, requeue_target>,
  // To itself, behind the writes queued so far: commit them together.
  caf::reacts_to<atom::settle>,
  // Its batch timer.
  caf::reacts_to<atom::tick>>;

/// The SCHEDULER actor interface: admission, the global limit, the ready
/// queue (priority 10 first, then arrival) and the job index.
using scheduler_actor = caf::typed_actor<
  // console_execute_async: create a job and admit it.
  caf::replies_to<atom::submit, job_spec>::with<submit_result>,
  // console_get_job_status.
  caf::replies_to<atom::status, std::string>::with<job_info>,
  // console_get_job_output.
  caf::replies_to<atom::output, std::string, output_query>::with<output_page>,
  // console_cancel_job: job id, grace in ms.
  caf::replies_to<atom::cancel, std::string, int64_t>::with<cancel_result>,
  // console_wait_job.
  caf::replies_to<atom::wait, wait_query>::with<wait_result>,
  // console_wait_job with jobIds: any or all of them.
  caf::replies_to<atom::wait, wait_many_query>::with<wait_many_result>,
  // console_send_input: job id, bytes, close after them.
  caf::replies_to<atom::input, std::string, std::string,
                  bool>::with<input_result>,
  // console_signal_job: job id, signal number, whole tree.
  caf::replies_to<atom::signal, std::string, int32_t,
                  bool>::with<signal_result>,
  // console_pause_job (true) / console_resume_job (false).
  caf::replies_to<atom::pause, std::string, bool>::with<job_info>,
  // console_resize_terminal: job id, columns, rows.
  caf::replies_to<atom::resize, std::string, int32_t, int32_t>::with<job_info>,
  // console_restart_job: a new job with the old one's spec.
  caf::replies_to<atom::start, restart_request>::with<submit_result>,
  // console_list_jobs.
  caf::replies_to<atom::list, list_query>::with<list_page>,
  // Whose jobs these are: the session of each (held here, else the
  // STORE's; "" for an unknown id). ENDPOINT checks a principal's calls
  // with it (docs/http.md, isolation).
  caf::replies_to<atom::owner, owner_list>::with<owner_list>,
  // console_cleanup_jobs, and SWEEPER's periodic retention sweep.
  caf::replies_to<atom::cleanup, cleanup_query>::with<cleanup_result>,
  // From SESSION: a job it may start now.
  caf::reacts_to<atom::offer, candidate>,
  // From SESSION: take back an offer; false if the job already started.
  caf::replies_to<atom::withdraw, std::string>::with<bool>,
  // From JOB: it started or finished.
  caf::reacts_to<atom::event, job_event>,
  // From JOB: its output grew.
  caf::reacts_to<atom::output, output_news>,
  // Send every lifecycle event to this listener too (until it terminates).
  caf::reacts_to<atom::subscribe, event_listener>,
  // Stop sending events to this listener.
  caf::reacts_to<atom::unsubscribe, event_listener>,
  // From SWEEPER: let the store look for dead instances; queue again the
  // pending jobs it hands back.
  caf::reacts_to<atom::recheck>,
  // Queue again jobs of a dead instance (at start, and after a recheck).
  caf::reacts_to<requeue_list>,
  // Server shutdown: stop every job; answered once none runs.
  caf::replies_to<atom::shutdown>::with<bool>,
  // Its own timer: a wait held for a job without an actor may be due.
  caf::reacts_to<atom::tick, std::string>>;

/// The METRICS actor interface: counters fed by lifecycle events.
using metrics_actor = event_listener::extend<
  // console_get_job_metrics.
  caf::replies_to<atom::metrics>::with<metrics_snapshot>,
  // From SCHEDULES: firings that submitted a job, that were skipped
  // (overlap "skip") and that were missed while jobd was down.
  caf::reacts_to<atom::schedules, uint64_t, uint64_t, uint64_t>>;

/// The SCHEDULES actor: recurring schedules (console_*_schedule). Holds
/// every schedule (loaded from the STORE at start, where each change and
/// firing is written), arms one timer for the next firing, and submits each
/// firing's job to SCHEDULER (tagged scheduleId, with its overlap rule).
using schedules_actor = caf::typed_actor<
  // console_create_schedule: the id is made here; answers the schedule
  // with its next firings.
  caf::replies_to<atom::schedules, atom::submit,
                  schedule_spec>::with<schedule_info>,
  // console_update_schedule; SCHEDULE_NOT_FOUND if unknown.
  caf::replies_to<atom::schedules, atom::put,
                  schedule_update>::with<schedule_info>,
  // console_list_schedules, each with its next five firings.
  caf::replies_to<atom::schedules, atom::list>::with<schedule_list>,
  // console_delete_schedule; SCHEDULE_NOT_FOUND if unknown. Jobs it
  // created are left alone.
  caf::replies_to<atom::schedules, atom::erase,
                  std::string>::with<delete_result>,
  // Its timer: a firing may be due (the number tells stale armings).
  caf::reacts_to<atom::tick, uint64_t>>;

/// The SWEEPER actor interface: a timer that asks SCHEDULER to drop finished
/// jobs past the retention.
using sweeper_actor = caf::typed_actor<
  // Time for a sweep.
  caf::reacts_to<atom::tick>>;

/// The AUDIT actor (--audit-log; see actors/audit.hpp): appends one JSON
/// line per tool call, per lifecycle event (it listens to SCHEDULER as
/// METRICS does, so every session's jobs are audited) and per server start
/// and stop, and rotates the file by size. Spawned detached: its file I/O
/// blocks.
using audit_actor = event_listener::extend<
  // From ENDPOINT, a tool call it answered: the MCP session, the tool, the
  // arguments as given (JSON text), the error code (empty: ok; a JSON-RPC
  // error as its number, e.g. "-32602") and how long it took in ms.
  caf::reacts_to<atom::audit, std::string, std::string, std::string,
                 std::string, int64_t>,
  // From ENDPOINT, `initialize`: the MCP session, client name and version.
  caf::reacts_to<atom::audit, atom::start, std::string, std::string,
                 std::string>,
  // Server shutdown: writes the stop entry and closes the file; answered
  // after both.
  caf::replies_to<atom::shutdown>::with<bool>>;

/// The ENDPOINT actor interface: one per MCP connection. Turns lines into
/// typed requests and replies into lines; the only writer of stdout.
using endpoint_actor = event_listener::extend<
  // A line from the client (from the stdin reader thread).
  caf::reacts_to<atom::line, std::string>,
  // A line longer than the limit was skipped; its length so far.
  caf::reacts_to<atom::line, uint64_t>,
  // The client closed its side (stdin EOF), or a signal asked us to stop.
  caf::reacts_to<atom::shutdown>,
  // Time to send coalesced notifications.
  caf::reacts_to<atom::tick>,
  // The actors that serve the calls, for an ENDPOINT spawned before them:
  // the calls it held run now.
  caf::reacts_to<atom::start, scheduler_actor, metrics_actor, store_actor,
                 schedules_actor>>;

// -- inspection: actors/inspect.hpp (how each message type is serialized)

// -- tool failures as CAF errors ----------------------------------------------

/// Wraps a tool failure in a caf::error of category "jobd". Detail values
/// are JSON texts (strings quoted).
caf::error make_tool_error(const char* code, std::string message,
                           std::map<std::string, std::string> details = {});

/// Recovers the tool failure from an error; errors of other categories
/// become INTERNAL_ERROR with the error rendered as text.
tool_error to_tool_error(caf::actor_system& sys, const caf::error& err);

} // namespace jobd

#include "actors/inspect.hpp"
