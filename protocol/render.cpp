#include "protocol/render.hpp"

#include "protocol/render_detail.hpp"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace jobd::protocol {

using namespace render_detail;

namespace {

using rapidjson::SizeType;

void write_args(json_writer& w, const std::vector<std::string>& args) {
  write_key(w, "args");
  w.StartArray();
  for (auto& a : args)
    write_string(w, a);
  w.EndArray();
}

// A JSON text that came from outside this file: check it before trusting it.
bool valid_json(std::string_view text) {
  rapidjson::Reader reader;
  rapidjson::BaseReaderHandler<> handler;
  rapidjson::MemoryStream ms(text.data(), text.size());
  constexpr unsigned flags
    = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  return !text.empty() && reader.Parse<flags>(ms, handler);
}

void write_json_text(json_writer& w, std::string_view text) {
  if (valid_json(text))
    write_raw(w, text);
  else
    write_string(w, text);
}

void write_tags(json_writer& w,
                const std::map<std::string, std::string>& tags) {
  write_key(w, "tags");
  w.StartObject();
  for (auto& [name, value] : tags) {
    write_string(w, name);
    write_json_text(w, value);
  }
  w.EndObject();
}

void write_exit_code(json_writer& w, int32_t code) {
  write_key(w, "exitCode");
  if (code == -1)
    w.Null();
  else
    w.Int(code);
}

// How the job's processes are tracked; absent for kinds without any.
void write_tracking(json_writer& w, const job_info& job) {
  if (!job.tracking.empty())
    write_str(w, "tracking", job.tracking);
  if (!job.kind_status.empty()) {
    write_key(w, job.kind);
    write_raw(w, job.kind_status);
  }
}

// Which jobd instance runs the job (with a store): {instance, pid, live}.
void write_owner(json_writer& w, const job_info& job) {
  if (job.owner_instance.empty())
    return;
  write_key(w, "owner");
  w.StartObject();
  write_str(w, "instance", job.owner_instance);
  write_key(w, "pid");
  w.Int64(job.owner_pid);
  write_bool(w, "live", job.owner_live);
  w.EndObject();
}

// durationMs: null before the start, the run time once finished, the time
// so far while running.
void write_duration(json_writer& w, const job_info& job, timestamp_ms now) {
  write_key(w, "durationMs");
  if (job.started_at == 0)
    w.Null();
  else if (job.finished_at != 0)
    // The steady-clock run time when the runtime measured one (immune to
    // wall-clock jumps), else the wall-clock difference.
    w.Int64(job.run_ms > 0
              ? job.run_ms
              : std::max<int64_t>(0, job.finished_at - job.started_at));
  else
    w.Int64(std::max<int64_t>(0, now - job.started_at));
}

void write_list_item(json_writer& w, const job_info& job) {
  w.StartObject();
  write_str(w, "id", job.id);
  write_str(w, "command", job.command);
  write_args(w, job.args);
  write_status(w, job.status);
  write_str(w, "sessionId", job.session_id);
  write_time(w, "createdAt", job.created_at);
  write_time(w, "startedAt", job.started_at);
  write_time(w, "finishedAt", job.finished_at);
  write_exit_code(w, job.exit_code);
  write_key(w, "priority");
  w.Int(job.priority);
  write_tags(w, job.tags);
  write_nstr(w, "workingDirectory", job.working_directory);
  write_tracking(w, job);
  write_owner(w, job);
  write_list_controls(w, job);
  write_job_workflow(w, job);
  w.EndObject();
}

// The page fields shared by console_get_job_output and console_wait_job.
void write_page_fields(json_writer& w, const output_page& page) {
  write_key(w, "output");
  w.StartArray();
  for (auto& c : page.chunks) {
    w.StartObject();
    write_str(w, "content", c.content);
    write_time(w, "timestamp", c.timestamp);
    write_uint(w, "sequenceNumber", c.sequence);
    write_key(w, "type");
    w.String(to_string(c.stream));
    write_int(w, "attempt", c.attempt);
    w.EndObject();
  }
  w.EndArray();
  write_uint(w, "nextSince", page.next_since);
  write_bool(w, "truncated", page.truncated);
  write_uint(w, "droppedChunks", page.dropped_chunks);
  write_bool(w, "finished", page.finished);
  write_bool(w, "complete", page.complete);
  if (page.has_tail)
    write_str(w, "tail", page.tail);
}

struct structured_writer {
  json_writer& w;
  timestamp_ms now;

  void operator()(const submit_result& x) {
    write_success(w);
    write_submit_fields(w, x);
    w.EndObject();
  }

  void operator()(const job_info& x) {
    write_success(w);
    write_key(w, "job");
    write_job(w, x, now);
    w.EndObject();
  }

  void operator()(const output_page& x) {
    write_success(w);
    write_str(w, "jobId", x.job_id);
    write_status(w, x.status);
    write_page_fields(w, x);
    w.EndObject();
  }

  void operator()(const cancel_result& x) {
    write_success(w);
    write_bool(w, "cancelled", x.status == job_status::cancelled);
    write_str(w, "jobId", x.job_id);
    write_status(w, x.status);
    write_str(w, "message",
              x.message.empty() ? "Job cancelled successfully" : x.message);
    w.EndObject();
  }

  void operator()(const list_page& x) {
    write_success(w);
    write_key(w, "jobs");
    w.StartArray();
    for (auto& job : x.jobs)
      write_list_item(w, job);
    w.EndArray();
    write_uint(w, "total", x.total);
    if (!x.next_cursor.empty())
      write_str(w, "nextCursor", x.next_cursor);
    w.EndObject();
  }

  void operator()(const metrics_snapshot& x) {
    write_success(w);
    write_key(w, "metrics");
    w.StartObject();
    write_uint(w, "totalJobs", x.total_jobs);
    write_uint(w, "runningJobs", x.running_jobs);
    write_uint(w, "completedJobs", x.completed_jobs);
    write_uint(w, "failedJobs", x.failed_jobs);
    write_uint(w, "cancelledJobs", x.cancelled_jobs);
    write_uint(w, "queueSize", x.queue_size);
    write_key(w, "concurrency");
    w.StartObject();
    write_uint(w, "current", x.concurrency_current);
    write_uint(w, "maximum", x.concurrency_maximum);
    w.EndObject();
    write_key(w, "averageExecutionTime");
    write_double(w, x.average_execution_ms);
    write_key(w, "systemLoad");
    write_double(w, x.system_load);
    write_key(w, "uptimeMs");
    w.Int64(x.uptime_ms);
    write_uint(w, "retainedJobs", x.retained_jobs);
    write_uint(w, "startedJobs", x.started_jobs);
    write_uint(w, "outputBytes", x.output_bytes);
    if (!x.kinds.empty()) {
      write_key(w, "kinds");
      w.StartObject();
      for (auto& k : x.kinds) {
        write_key(w, k.kind.c_str());
        w.StartObject();
        write_uint(w, "pendingJobs", k.pending);
        write_uint(w, "runningJobs", k.running);
        write_uint(w, "completedJobs", k.completed);
        write_uint(w, "failedJobs", k.failed);
        write_uint(w, "cancelledJobs", k.cancelled);
        w.EndObject();
      }
      w.EndObject();
    }
    write_str(w, "persistence", x.persistence);
    if (!x.persistence_error.empty())
      write_str(w, "persistenceError", x.persistence_error);
    write_key(w, "sessions");
    w.StartArray();
    for (auto& s : x.sessions) {
      w.StartObject();
      write_str(w, "sessionId", s.session_id);
      write_uint(w, "totalJobs", s.total);
      write_uint(w, "pendingJobs", s.pending);
      write_uint(w, "runningJobs", s.running);
      write_uint(w, "completedJobs", s.completed);
      write_uint(w, "failedJobs", s.failed);
      write_uint(w, "cancelledJobs", s.cancelled);
      write_uint(w, "limit", s.limit);
      write_usage_totals(w, s.usage);
      w.EndObject();
    }
    w.EndArray();
    write_usage_totals(w, x.usage);
    write_workflow_metrics(w, x);
    w.EndObject();
    w.EndObject();
  }

  void operator()(const cleanup_result& x) {
    write_success(w);
    write_uint(w, "cleaned", x.cleaned);
    write_uint(w, "remaining", x.remaining);
    w.EndObject();
  }

  void operator()(const wait_result& x) {
    write_success(w);
    write_str(w, "reason", x.reason);
    write_key(w, "job");
    write_job(w, x.job, now);
    write_page_fields(w, x.output);
    w.EndObject();
  }

  void operator()(const submit_reply& x) {
    write_submit_reply(w, x, now);
  }

  void operator()(const wait_many_result& x) {
    write_wait_many(w, x, now);
  }

  void operator()(const input_result& x) {
    write_input_result(w, x);
  }

  void operator()(const signal_result& x) {
    write_signal_result(w, x);
  }

  void operator()(const schedule_info& x) {
    write_schedule_result(w, x);
  }

  void operator()(const schedule_list& x) {
    write_schedule_list(w, x);
  }

  void operator()(const job_template& x) {
    write_template_result(w, x);
  }

  void operator()(const template_list& x) {
    write_template_list(w, x);
  }

  void operator()(const delete_result& x) {
    write_delete_result(w, x);
  }
};

} // namespace

void render_detail::write_exit_fields(json_writer& w, const job_info& job,
                                      timestamp_ms now) {
  write_exit_code(w, job.exit_code);
  write_key(w, "signal");
  if (job.signal == 0)
    w.Null();
  else
    write_string(w, signal_name(job.signal));
  write_nstr(w, "error", job.error);
  write_nstr(w, "errorCode", job.error_code);
  write_duration(w, job, now);
}

void render_detail::write_job(json_writer& w, const job_info& job,
                              timestamp_ms now) {
  w.StartObject();
  write_str(w, "id", job.id);
  write_str(w, "kind", job.kind);
  write_str(w, "command", job.command);
  write_args(w, job.args);
  write_bool(w, "shell", job.shell);
  write_status(w, job.status);
  write_str(w, "sessionId", job.session_id);
  write_nstr(w, "workingDirectory", job.working_directory);
  write_time(w, "createdAt", job.created_at);
  write_time(w, "startedAt", job.started_at);
  write_time(w, "finishedAt", job.finished_at);
  write_duration(w, job, now);
  write_key(w, "priority");
  w.Int(job.priority);
  write_key(w, "timeout");
  w.Int64(job.timeout_ms);
  write_tags(w, job.tags);
  write_exit_code(w, job.exit_code);
  write_key(w, "signal");
  if (job.signal == 0)
    w.Null();
  else
    write_string(w, signal_name(job.signal));
  write_nstr(w, "error", job.error);
  write_nstr(w, "errorCode", job.error_code);
  write_key(w, "pid");
  if (job.pid == 0)
    w.Null();
  else
    w.Int64(job.pid);
  write_key(w, "queuePosition");
  if (job.queue_position == 0)
    w.Null();
  else
    w.Uint64(job.queue_position);
  write_tracking(w, job);
  write_owner(w, job);
  write_key(w, "output");
  w.StartObject();
  auto& o = job.output;
  write_uint(w, "stdoutBytes", o.stdout_bytes);
  write_uint(w, "stderrBytes", o.stderr_bytes);
  write_uint(w, "chunks", o.chunks);
  write_uint(w, "droppedChunks", o.dropped_chunks);
  write_uint(w, "droppedBytes", o.dropped_bytes);
  write_uint(w, "bufferedBytes", o.buffered_bytes);
  write_uint(w, "lastSequence", o.last_sequence);
  w.EndObject();
  write_job_controls(w, job);
  write_job_workflow(w, job);
  w.EndObject();
}

namespace {

// Reused across calls: replies are built on the hot path.
rapidjson::StringBuffer& scratch(int which) {
  thread_local rapidjson::StringBuffer buffers[2];
  auto& buf = buffers[which];
  // Keep the memory for the common small replies, not after a huge one.
  bool huge = buf.GetSize() > (1u << 20);
  buf.Clear();
  if (huge)
    buf.ShrinkToFit();
  return buf;
}

// The content block repeats structuredContent as text for older clients.
std::string wrap(std::string_view id, std::string_view structured,
                 bool is_error) {
  auto& out = scratch(1);
  json_writer w(out);
  w.StartObject();
  write_key(w, "jsonrpc");
  w.String("2.0");
  write_key(w, "id");
  write_raw(w, id.empty() ? std::string_view("null") : id);
  write_key(w, "result");
  w.StartObject();
  write_key(w, "content");
  w.StartArray();
  w.StartObject();
  write_key(w, "type");
  w.String("text");
  write_key(w, "text");
  w.String(structured.data(), static_cast<SizeType>(structured.size()));
  w.EndObject();
  w.EndArray();
  write_key(w, "structuredContent");
  write_raw(w, structured);
  write_bool(w, "isError", is_error);
  w.EndObject();
  w.EndObject();
  // Room for the newline the sink appends, so that it copies nothing.
  std::string line;
  line.reserve(out.GetSize() + 1);
  line.append(out.GetString(), out.GetSize());
  return line;
}

} // namespace

void write_structured(json_writer& w, const tool_result& result,
                      timestamp_ms now) {
  std::visit(structured_writer{w, now}, result);
}

void write_structured_error(json_writer& w, const tool_error& error,
                            timestamp_ms now) {
  w.StartObject();
  write_bool(w, "success", false);
  write_str(w, "error", error.message);
  write_str(w, "code", error.code.empty() ? codes::internal_error : error.code);
  write_key(w, "details");
  w.StartObject();
  for (auto& [name, value] : error.details) {
    if (name == "timestamp")
      continue;
    write_string(w, name);
    write_json_text(w, value);
  }
  write_time(w, "timestamp", now);
  w.EndObject();
  w.EndObject();
}

std::string structured_json(const tool_result& result) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  write_structured(w, result, now_ms());
  return std::string(view(sb));
}

std::string render_tool_result(std::string_view id, const tool_result& result) {
  auto& sc = scratch(0);
  json_writer w(sc);
  write_structured(w, result, now_ms());
  return wrap(id, view(sc), false);
}

std::string render_tool_error(std::string_view id, const tool_error& error) {
  auto& sc = scratch(0);
  json_writer w(sc);
  write_structured_error(w, error, now_ms());
  return wrap(id, view(sc), true);
}

std::string job_event_json(std::string_view event, const job_info& job) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  w.StartObject();
  write_str(w, "event", event);
  write_key(w, "job");
  write_job(w, job, now_ms());
  w.EndObject();
  return std::string(view(sb));
}

} // namespace jobd::protocol
