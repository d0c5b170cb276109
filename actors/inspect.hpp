// How every message type of actors/actors.hpp is inspected (serialized,
// rendered in CAF's logs). Included by actors.hpp.
#pragma once

#include "actors/messages.hpp"
#include "protocol/model.hpp"

#include <caf/meta/type_name.hpp>

namespace jobd {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_spec& x) {
  return f(caf::meta::type_name("jobd.job_spec"), x.command, x.args, x.shell,
           x.session_id, x.working_directory, x.environment, x.timeout_ms,
           x.priority, x.tags, x.kill_grace_ms, x.output_byte_limit, x.kind,
           x.kind_options, x.input, x.cols, x.rows, x.idempotency_key,
           x.progress_pattern, x.wait_ms, x.wait_tail_lines, x.wait_max_bytes,
           x.restart_of, x.depends_on, x.condition, x.retry, x.start_at,
           x.schedule_id, x.template_name, x.limits, x.sandbox, x.security);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resource_limits& x) {
  return f(caf::meta::type_name("jobd.resource_limits"), x.cpu_seconds,
           x.memory_bytes, x.max_processes, x.open_files, x.file_size_bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_security& x) {
  return f(caf::meta::type_name("jobd.job_security"), x.limits, x.enforced_by,
           x.sandboxed, x.landlock_abi, x.writable, x.readable, x.env_policy);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retry_policy& x) {
  return f(caf::meta::type_name("jobd.retry_policy"), x.max_attempts,
           x.backoff_ms, x.backoff_factor, x.max_backoff_ms, x.jitter,
           x.on_failure, x.on_timeout, x.exit_codes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_record& x) {
  return f(caf::meta::type_name("jobd.attempt_record"), x.attempt, x.started_at,
           x.finished_at, x.status, x.exit_code, x.signal, x.error_code);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_hold& x) {
  return f(caf::meta::type_name("jobd.job_hold"), x.reason, x.waiting_for,
           x.fail_code, x.fail_message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, schedule_spec& x) {
  return f(caf::meta::type_name("jobd.schedule_spec"), x.id, x.name, x.cron,
           x.timezone, x.job, x.overlap, x.catch_up, x.enabled, x.created_at,
           x.updated_at, x.last_fired_at, x.last_job_id, x.fired, x.skipped,
           x.missed, x.last_error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, schedule_update& x) {
  return f(caf::meta::type_name("jobd.schedule_update"), x.id, x.has_name,
           x.has_cron, x.has_timezone, x.has_job, x.has_overlap, x.has_catch_up,
           x.has_enabled, x.values);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, schedule_info& x) {
  return f(caf::meta::type_name("jobd.schedule_info"), x.spec, x.next_firings);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, schedule_list& x) {
  return f(caf::meta::type_name("jobd.schedule_list"), x.schedules);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, template_parameter& x) {
  return f(caf::meta::type_name("jobd.template_parameter"), x.description,
           x.has_default, x.default_value, x.pattern);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_template& x) {
  return f(caf::meta::type_name("jobd.job_template"), x.name, x.description,
           x.job, x.parameters, x.created_at, x.updated_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, template_list& x) {
  return f(caf::meta::type_name("jobd.template_list"), x.templates);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delete_result& x) {
  return f(caf::meta::type_name("jobd.delete_result"), x.id, x.deleted,
           x.schedule);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_progress& x) {
  return f(caf::meta::type_name("jobd.job_progress"), x.known, x.percent,
           x.current, x.total, x.text, x.at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resource_usage& x) {
  return f(caf::meta::type_name("jobd.resource_usage"), x.known, x.cpu_user_ms,
           x.cpu_system_ms, x.max_rss_kb, x.limit_exceeded);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_stats& x) {
  return f(caf::meta::type_name("jobd.output_stats"), x.stdout_bytes,
           x.stderr_bytes, x.chunks, x.dropped_chunks, x.dropped_bytes,
           x.buffered_bytes, x.last_sequence);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_info& x) {
  return f(
    caf::meta::type_name("jobd.job_info"), x.id, x.kind, x.command, x.args,
    x.shell, x.status, x.session_id, x.working_directory, x.created_at,
    x.started_at, x.finished_at, x.priority, x.timeout_ms, x.tags, x.exit_code,
    x.signal, x.error_code, x.error, x.pid, x.run_ms, x.tracking,
    x.queue_position, x.serial, x.output, x.owner_instance, x.owner_pid,
    x.owner_live, x.process_start, x.input, x.stdin_open, x.cols, x.rows,
    x.paused, x.paused_at, x.paused_ms, x.restart_of, x.idempotency_key,
    x.progress, x.usage, x.pending_reason, x.depends_on, x.condition,
    x.waiting_for, x.scheduled_for, x.schedule_id, x.template_name, x.attempt,
    x.max_attempts, x.next_attempt_at, x.attempts, x.security, x.kind_status);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_query& x) {
  return f(caf::meta::type_name("jobd.output_query"), x.since, x.latest,
           x.limit, x.max_bytes, x.streams, x.tail_lines);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_chunk& x) {
  return f(caf::meta::type_name("jobd.output_chunk"), x.sequence, x.timestamp,
           x.stream, x.content, x.attempt);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_page& x) {
  return f(caf::meta::type_name("jobd.output_page"), x.job_id, x.status,
           x.chunks, x.next_since, x.truncated, x.dropped_chunks, x.finished,
           x.complete, x.tail, x.has_tail);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_query& x) {
  return f(caf::meta::type_name("jobd.list_query"), x.statuses, x.session_id,
           x.session_prefix, x.tags, x.limit, x.cursor, x.depends_on,
           x.schedule_id, x.template_name);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_page& x) {
  return f(caf::meta::type_name("jobd.list_page"), x.jobs, x.total,
           x.next_cursor);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cleanup_query& x) {
  return f(caf::meta::type_name("jobd.cleanup_query"), x.max_age_ms,
           x.keep_count, x.statuses, x.session_id, x.session_prefix);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cleanup_result& x) {
  return f(caf::meta::type_name("jobd.cleanup_result"), x.cleaned, x.remaining);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wait_query& x) {
  return f(caf::meta::type_name("jobd.wait_query"), x.job_id, x.timeout_ms,
           x.until, x.pattern, x.since);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wait_result& x) {
  return f(caf::meta::type_name("jobd.wait_result"), x.job, x.output, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wait_many_query& x) {
  return f(caf::meta::type_name("jobd.wait_many_query"), x.job_ids, x.all,
           x.timeout_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wait_many_result& x) {
  return f(caf::meta::type_name("jobd.wait_many_result"), x.jobs, x.ended,
           x.all, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, input_result& x) {
  return f(caf::meta::type_name("jobd.input_result"), x.job_id, x.bytes,
           x.queued, x.closed);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, signal_result& x) {
  return f(caf::meta::type_name("jobd.signal_result"), x.job_id, x.signal,
           x.whole_tree, x.delivered);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, restart_request& x) {
  return f(caf::meta::type_name("jobd.restart_request"), x.job_id, x.replace);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, submit_result& x) {
  return f(caf::meta::type_name("jobd.submit_result"), x.job_id, x.status,
           x.queue_position, x.deduplicated, x.restart_of, x.pending_reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cancel_result& x) {
  return f(caf::meta::type_name("jobd.cancel_result"), x.job_id, x.status,
           x.message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, usage_totals& x) {
  return f(caf::meta::type_name("jobd.usage_totals"), x.jobs, x.cpu_user_ms,
           x.cpu_system_ms, x.max_rss_kb, x.run_ms, x.max_rss_kb_sum);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_metrics& x) {
  return f(caf::meta::type_name("jobd.session_metrics"), x.session_id, x.total,
           x.pending, x.running, x.completed, x.failed, x.cancelled, x.limit,
           x.usage);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metrics_snapshot& x) {
  return f(caf::meta::type_name("jobd.metrics_snapshot"), x.total_jobs,
           x.running_jobs, x.completed_jobs, x.failed_jobs, x.cancelled_jobs,
           x.queue_size, x.concurrency_current, x.concurrency_maximum,
           x.average_execution_ms, x.system_load, x.uptime_ms, x.retained_jobs,
           x.sessions, x.persistence, x.persistence_error, x.usage, x.retries,
           x.dependency_failures, x.schedule_firings, x.schedule_skips,
           x.schedule_misses, x.started_jobs, x.output_bytes, x.kinds);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kind_metrics& x) {
  return f(caf::meta::type_name("jobd.kind_metrics"), x.kind, x.pending,
           x.running, x.completed, x.failed, x.cancelled);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, candidate& x) {
  return f(caf::meta::type_name("jobd.candidate"), x.job_id, x.session_id,
           x.priority, x.serial);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_event& x) {
  // `output` is a local hand-over, never serialized.
  return f(caf::meta::type_name("jobd.job_event"), x.what, x.previous, x.job);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_output& x) {
  return f(caf::meta::type_name("jobd.stored_output"), x.job_id, x.serial,
           x.chunks, x.first_kept, x.stats);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, requeued_job& x) {
  return f(caf::meta::type_name("jobd.requeued_job"), x.info, x.spec);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, requeue_list& x) {
  return f(caf::meta::type_name("jobd.requeue_list"), x.jobs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, owner_list& x) {
  return f(caf::meta::type_name("jobd.owner_list"), x.job_ids, x.sessions);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cleanup_done& x) {
  return f(caf::meta::type_name("jobd.cleanup_done"), x.result, x.removed_own);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_news& x) {
  return f(caf::meta::type_name("jobd.output_news"), x.job_id, x.session_id,
           x.output, x.progress);
}

} // namespace jobd
