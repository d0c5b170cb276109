// ENDPOINT: one per MCP connection. Parses lines with protocol/, answers what
// the protocol layer answers itself, turns tool calls into typed requests and
// their replies into lines, which it hands to its connection's line_sink
// (the only writer of stdout for the stdio transport).
#pragma once

#include "actors/actors.hpp"
#include "actors/transport/line_sink.hpp"
#include "actors/transport/read_gate.hpp"
#include "protocol/mcp_session.hpp"
#include "protocol/principal.hpp"
#include "protocol/prometheus.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace jobd {

struct endpoint_config {
  /// The tools as this server offers them (live defaults, caps and job
  /// kinds); null: the built-in configuration.
  std::shared_ptr<const protocol::tool_catalog> tools;
  /// Where replies and notifications go (required). ENDPOINT attaches its
  /// handlers while it lives: a sink that can no longer write makes it
  /// stop, as stdin EOF does.
  std::shared_ptr<line_sink> out;
  /// The gate of the reader that sends us lines (optional): told of every
  /// line handled, so that the reader never runs far ahead of us.
  std::shared_ptr<read_gate> input;
  /// Reported in the error for a line over the limit.
  uint64_t max_line_bytes = 16 * 1024 * 1024;
  /// Called once every job was stopped after a shutdown request.
  std::function<void()> on_stopped;
  /// Where templates are kept (console_save_template, and
  /// console_execute_async with `template`).
  store_actor store;
  /// Serves the schedule tools.
  schedules_actor schedules;
  /// Where every tool call and `initialize` is audited (--audit-log);
  /// null: not audited.
  audit_actor audit;
  /// This connection's id in the audit log; empty: "mcp-<pid>-<actor id>".
  std::string session_id;
  /// Who this client is (protocol/principal.hpp): "local" over stdio, its
  /// token's principal over HTTP.
  std::string principal{protocol::local_principal};
  /// Several principals share this jobd (HTTP is on): the client's session
  /// ids live in its principal's namespace ("alice/build"), and it sees and
  /// controls only jobs of that namespace, unless `admin`.
  bool scoped = false;
  /// --admin: sees and controls every principal's jobs.
  bool admin = false;
  /// Ending this connection (stdin EOF, a sink that closed) stops the
  /// server: the stdio ENDPOINT. An HTTP session's ENDPOINT just quits.
  bool owns_server = true;
  /// Where tool-call latencies go (GET /metrics); null: not measured.
  std::shared_ptr<protocol::latency_histograms> latency;
};

struct endpoint_state {
  protocol::mcp_session session;
  endpoint_config config;
  scheduler_actor scheduler;
  metrics_actor metrics;
  /// Spawned without a SCHEDULER (the stdio ENDPOINT, while the store still
  /// opens): what the protocol layer answers itself (initialize, ping,
  /// tools/list, invalid calls) goes out at once; what needs the other
  /// actors waits in `held`, in order, until `start` brings them.
  bool ready = true;
  std::vector<protocol::action> held;
  bool shutdown_held = false;
  /// Ids (JSON text) of tool calls still being worked on.
  std::set<std::string> in_flight;
  /// In-flight calls the client cancelled: their replies are dropped.
  std::set<std::string> cancelled;
  /// A wait (console_wait_job, or console_execute_async with waitMs) that
  /// asked for progress notifications.
  struct progress_watch {
    /// What the values of a wait on one job count: the output's sequence
    /// number until the job's own progress is known, then that progress
    /// (current of total, percent of 100, or current without a total),
    /// for good. Values increase within a scale; the one switch from the
    /// output's scale to the job's may go down (it brings a total).
    enum class progress_scale : uint8_t { output, count, percent, current };
    std::string request_id;
    std::string token;
    /// The last progress value sent (they must increase).
    double last = 0;
    /// Waiting on many: see `many`.
    bool many = false;
    progress_scale scale = progress_scale::output;
    /// Nothing was sent in this scale yet (its first value may be 0).
    bool fresh = true;
    /// The count's total, in the count scale.
    double total = 0;
  };
  /// Waits on many jobs with a progress token, by request id: progress is
  /// the number of jobs that ended.
  struct many_progress {
    size_t jobs = 0;
    /// mode "all": progress is how many ended; "any": how often their
    /// output grew.
    bool all = false;
    size_t ended = 0;
    uint64_t output = 0;
  };
  std::unordered_map<std::string, many_progress> many;
  /// Waits with a progress token, by job id.
  std::unordered_map<std::string, std::vector<progress_watch>> watches;
  /// Request id -> the job ids it watches.
  std::unordered_map<std::string, std::vector<std::string>> watched_jobs;
  /// Jobs were created or removed since the last list_changed.
  bool list_changed = false;
  bool tick_scheduled = false;
  bool stopping = false;
  /// This connection's id in the audit log.
  std::string session_id;
  /// Audited tool calls still being worked on, by request id.
  struct audited_call {
    std::string tool;
    std::string arguments;
    std::chrono::steady_clock::time_point start;
  };
  std::unordered_map<std::string, audited_call> audited;
  /// With config.latency: tool calls still being worked on, by request id
  /// (the tool's name, the line's arrival).
  struct timed_call {
    std::string tool;
    std::chrono::steady_clock::time_point start;
  };
  std::unordered_map<std::string, timed_call> timed;
  static inline const char* name = "endpoint";
};

using endpoint_ptr = endpoint_actor::stateful_pointer<endpoint_state>;

// -- endpoint_calls.cpp: tool calls -------------------------------------------

/// Sends one tool call to the actor that serves it; its reply goes to the
/// client when it comes.
void dispatch_call(endpoint_ptr self, protocol::dispatch_call& call);

/// Watches `job_ids` for the progress notifications of request `id`
/// (`many`: a wait on many jobs, for `all` of them or any).
void watch(endpoint_ptr self, const std::string& id, const std::string& token,
           const std::vector<std::string>& job_ids, bool many, bool all);

/// Forgets a call's progress watches: no progress follows its reply.
void unwatch(endpoint_ptr self, const std::string& id);

/// Audits the end of tool call `id` (if audited): `error_code` empty for a
/// success, else the tool error's code.
void audit_call_end(endpoint_ptr self, const std::string& id,
                    const std::string& error_code);

// -- endpoint_scope.cpp: principals and isolation (config.scoped) ------------

/// True if the job of `session` is this client's to see and control: always
/// unless scoped and not admin; then only its principal's (an empty
/// session, an unknown job, is never).
bool in_namespace(endpoint_ptr self, std::string_view session);

/// A job's session in the principal's namespace (config.scoped only).
void scope_spec(endpoint_ptr self, job_spec& spec);

/// Rewrites the session ids a request gives into the principal's namespace
/// and, for non-admins, restricts list and cleanup to it (config.scoped
/// only).
void scope_request(endpoint_ptr self, protocol::tool_request& request);

/// The job ids a request names, which a non-admin's call may name only
/// from its own namespace (console_execute_async's dependsOn is checked at
/// submit, templates' too).
std::vector<std::string> named_jobs(const protocol::tool_request& request);

/// What SCHEDULER answers for a job id it does not know.
caf::error unknown_job(const std::string& id);
/// What it answers for an unknown id in options.dependsOn.
caf::error unknown_dependency(const std::string& id);

/// Asks SCHEDULER whose the jobs are (one atom::owner request) and calls
/// `ok` if all are in this client's namespace, else `foreign` with the
/// first that is not, or `failed` if SCHEDULER could not answer.
void check_owners(endpoint_ptr self, std::vector<std::string> ids,
                  std::function<void()> ok,
                  std::function<void(const std::string&)> foreign,
                  std::function<void(caf::error&)> failed);

/// Keeps only the per-session figures of this client's namespace.
void scope_metrics(endpoint_ptr self, metrics_snapshot& m);

/// Measures a tool call (config.latency): its reply was just handed to the
/// sink, or it ended without one (`replied` false: not measured).
void call_ended(endpoint_ptr self, const std::string& id, bool replied);

// -- endpoint.cpp: writing to the client --------------------------------------

/// A response (result or error): never dropped.
void reply(endpoint_ptr self, std::string line);

/// A notification; one with a `key` replaces a queued older one with it.
void notify_client(endpoint_ptr self, std::string line, std::string key = {});

/// @param scheduler serves the job tools.
/// @param metrics serves console_get_job_metrics.
endpoint_actor::behavior_type
endpoint(endpoint_actor::stateful_pointer<endpoint_state> self,
         scheduler_actor scheduler, metrics_actor metrics,
         endpoint_config config);

} // namespace jobd
