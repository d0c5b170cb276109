// Inside the store: the prepared statements and the row codec shared by
// job_store.cpp, store_rows.cpp and store_queries.cpp.
#pragma once

#include "actors/store/job_store.hpp"
#include "actors/store/sqlite.hpp"

#include <string>
#include <string_view>

namespace jobd {

/// The columns of `jobs` in the order job_columns lists them, so every
/// query that reads a job selects the same text and decodes it one way.
#define JOBD_JOB_COLUMNS                                                       \
  "serial, id, owner, status, session, kind, command, args, shell, "           \
  "working_directory, priority, timeout_ms, tags, created_at, started_at, "    \
  "finished_at, exit_code, signal, error_code, error, pid, run_ms, tracking, " \
  "process_start, stdout_bytes, stderr_bytes, chunks, dropped_chunks, "        \
  "dropped_bytes, buffered_bytes, last_sequence, restart_of, "                 \
  "idempotency_key, stdin_mode, stdin_open, term_cols, term_rows, paused, "    \
  "paused_at, paused_ms, progress, usage_known, cpu_user_ms, cpu_system_ms, "  \
  "max_rss_kb, pending_reason, depends_on, dependency_condition, "             \
  "waiting_for, scheduled_for, schedule_id, template_name, attempt, "          \
  "max_attempts, next_attempt_at, attempts, security, limit_exceeded, "        \
  "kind_status"

/// How many columns JOBD_JOB_COLUMNS lists; also the index of the `spec`
/// column when a query selects it after them.
inline constexpr int job_column_count = 59;
inline constexpr int spec_column = job_column_count;

/// Migration step `from` -> `from + 1` (store_schema.cpp).
const char* store_migration(int64_t from);

/// The schema of store_schema_version for a new database, in one script
/// (store_schema.cpp): what every step builds, without the ALTERs.
const char* store_fresh_schema();

struct store_statements {
  explicit store_statements(sql::database& db);
  sql::statement upsert_job;
  sql::statement insert_tag;
  sql::statement insert_dependency;
  sql::statement insert_chunk;
  sql::statement trim_chunks;
  sql::statement update_output;
  sql::statement find_job;
  sql::statement read_chunks;
  sql::statement meta_get;
  sql::statement meta_add;
  sql::statement instance_pid;
  sql::statement find_spec;
  sql::statement find_key;
  sql::statement session_usage;
  sql::statement find_session;
};

/// The least string greater than every string that starts with `prefix`
/// ("alice0" for "alice/"); empty when there is none (the prefix is all
/// 0xff bytes): `session >= prefix AND session < end` is the index-friendly
/// form of a prefix match.
std::string prefix_end(std::string_view prefix);

/// A job row (JOBD_JOB_COLUMNS from column 0) as a job_info.
job_info decode_job(const sql::statement& row);

/// The spec column (JSON) with the row's own fields, for a requeue or a
/// restart.
job_spec decode_spec(const job_info& info, std::string_view spec_json);

/// The parts of a spec that the job row has no column for, as JSON.
std::string encode_spec(const job_spec& spec);

/// A job's security controls as JSON; "" (a NULL column) for the
/// defaults (unconfined, no limits, env policy inherit), which "" decodes
/// to (store_spec_codec.cpp).
std::string encode_security(const job_security& security);
job_security decode_security(std::string_view json);

std::string encode_args(const std::vector<std::string>& args);
std::string encode_tags(const std::map<std::string, std::string>& tags);

/// Binds a job_info to the upsert statement (parameters 1 to
/// job_column_count, and one more for the spec, null when `spec_json` is
/// null).
void bind_job(sql::statement& st, const job_info& info,
              const std::string& owner, const std::string* spec_json);

} // namespace jobd
