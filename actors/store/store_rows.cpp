// Writing to the store: job rows, output chunks, the size bound and the
// vacuum. The STORE actor calls these inside one transaction per batch.
#include "actors/store/store_detail.hpp"

#include "actors/logger.hpp"

namespace jobd {

namespace {

// The upsert of a job row: every column of JOBD_JOB_COLUMNS and the spec.
std::string upsert_sql() {
  std::string sql = "INSERT INTO jobs(" JOBD_JOB_COLUMNS ", spec) VALUES (";
  for (int i = 1; i <= job_column_count + 1; ++i)
    sql += (i == 1 ? "?" : ", ?") + std::to_string(i);
  sql += ") ON CONFLICT(serial) DO UPDATE SET "
         "owner = excluded.owner, status = excluded.status, "
         "started_at = excluded.started_at, "
         "finished_at = excluded.finished_at, "
         "exit_code = excluded.exit_code, signal = excluded.signal, "
         "error_code = excluded.error_code, error = excluded.error, "
         "pid = excluded.pid, run_ms = excluded.run_ms, "
         "tracking = excluded.tracking, "
         "process_start = excluded.process_start, "
         "stdout_bytes = excluded.stdout_bytes, "
         "stderr_bytes = excluded.stderr_bytes, "
         "chunks = excluded.chunks, "
         "dropped_chunks = max(dropped_chunks, excluded.dropped_chunks), "
         "dropped_bytes = max(dropped_bytes, excluded.dropped_bytes), "
         "buffered_bytes = excluded.buffered_bytes, "
         "last_sequence = excluded.last_sequence, "
         "stdin_open = excluded.stdin_open, "
         "term_cols = excluded.term_cols, "
         "term_rows = excluded.term_rows, paused = excluded.paused, "
         "paused_at = excluded.paused_at, "
         "paused_ms = excluded.paused_ms, "
         "progress = excluded.progress, "
         "usage_known = excluded.usage_known, "
         "cpu_user_ms = excluded.cpu_user_ms, "
         "cpu_system_ms = excluded.cpu_system_ms, "
         "max_rss_kb = excluded.max_rss_kb, "
         "pending_reason = excluded.pending_reason, "
         "waiting_for = excluded.waiting_for, "
         "scheduled_for = excluded.scheduled_for, "
         "attempt = excluded.attempt, "
         "max_attempts = excluded.max_attempts, "
         "next_attempt_at = excluded.next_attempt_at, "
         "attempts = excluded.attempts, "
         "security = excluded.security, "
         "limit_exceeded = excluded.limit_exceeded, "
         "kind_status = coalesce(excluded.kind_status, kind_status), "
         // Set with the first row: a later one may fill them in, never
         // clear them. depends_on and its job_dependencies rows are
         // written together with the first row (as tags are).
         "restart_of = CASE WHEN restart_of = '' THEN "
         "excluded.restart_of ELSE restart_of END, "
         "idempotency_key = coalesce(idempotency_key, "
         "excluded.idempotency_key), "
         "stdin_mode = CASE WHEN stdin_mode = 0 THEN excluded.stdin_mode "
         "ELSE stdin_mode END, "
         "dependency_condition = CASE WHEN depends_on IS NULL THEN "
         "excluded.dependency_condition ELSE dependency_condition END, "
         "depends_on = coalesce(depends_on, excluded.depends_on), "
         "schedule_id = coalesce(schedule_id, excluded.schedule_id), "
         "template_name = coalesce(template_name, excluded.template_name), "
         // Written with the first row only (bound as NULL after it), kept
         // for good: what a restart needs.
         "spec = coalesce(excluded.spec, spec)";
  return sql;
}

} // namespace

store_statements::store_statements(sql::database& db)
  : upsert_job(db, upsert_sql().c_str()),
    insert_tag(db, "INSERT OR IGNORE INTO tags VALUES (?, ?, ?)"),
    insert_dependency(db,
                      "INSERT OR IGNORE INTO job_dependencies VALUES (?, ?)"),
    insert_chunk(db, "INSERT OR IGNORE INTO output(serial, seq, ts, stream, "
                     "content, attempt) VALUES (?, ?, ?, ?, ?, ?)"),
    trim_chunks(db, "DELETE FROM output WHERE serial = ? AND seq < ?"),
    update_output(db,
                  "UPDATE jobs SET stdout_bytes = ?2, stderr_bytes = ?3, "
                  "chunks = ?4, dropped_chunks = max(dropped_chunks, ?5), "
                  "dropped_bytes = max(dropped_bytes, ?6), "
                  "buffered_bytes = ?7, last_sequence = ?8 WHERE serial = ?1"),
    find_job(db, "SELECT " JOBD_JOB_COLUMNS " FROM jobs WHERE id = ?"),
    read_chunks(db, "SELECT seq, ts, stream, content, attempt FROM output "
                    "WHERE serial = ? ORDER BY seq"),
    meta_get(db, "SELECT value FROM meta WHERE key = ?"),
    meta_add(db, "UPDATE meta SET value = value + ? WHERE key = ?"),
    instance_pid(db, "SELECT pid FROM instances WHERE id = ?"),
    find_spec(db, "SELECT " JOBD_JOB_COLUMNS ", spec FROM jobs WHERE id = ?"),
    find_key(db, "SELECT id FROM jobs WHERE session = ?1 AND "
                 "idempotency_key = ?2 ORDER BY serial DESC LIMIT 1"),
    session_usage(db,
                  "SELECT session, jobs, cpu_user_ms, cpu_system_ms, "
                  "run_ms, max_rss_kb, rss_kb_sum FROM session_usage ORDER BY "
                  "session"),
    find_session(db, "SELECT session FROM jobs WHERE id = ?") {
  // nop
}

void job_store::begin() {
  db_.exec("BEGIN IMMEDIATE");
}

void job_store::commit() {
  db_.exec("COMMIT");
}

void job_store::rollback() {
  try {
    db_.exec("ROLLBACK");
  } catch (const sql::error&) {
    // No transaction was open (SQLite may have rolled back itself).
  }
}

void job_store::put_job(const job_info& info, const job_spec* spec) {
  auto& st = stmts_->upsert_job;
  std::string spec_json;
  if (spec != nullptr)
    spec_json = encode_spec(*spec);
  auto& owner = info.owner_instance.empty() ? me_.id : info.owner_instance;
  st.reset();
  bind_job(st, info, owner, spec != nullptr ? &spec_json : nullptr);
  st.run();
  if (spec == nullptr)
    return;
  for (auto& [name, value] : info.tags)
    stmts_->insert_tag.reset()
      .bind(1, name)
      .bind(2, value)
      .bind(3, static_cast<int64_t>(info.serial))
      .run();
  for (auto& dependency : info.depends_on)
    stmts_->insert_dependency.reset()
      .bind(1, dependency)
      .bind(2, static_cast<int64_t>(info.serial))
      .run();
}

void job_store::put_output(uint64_t serial,
                           const std::vector<output_chunk>& chunks,
                           uint64_t first_kept, const output_stats& o) {
  if (opts_.ephemeral)
    return; // this run's records hold all the output there is
  auto key = static_cast<int64_t>(serial);
  auto i64 = [](uint64_t x) { return static_cast<int64_t>(x); };
  for (auto& c : chunks) {
    if (c.sequence < first_kept)
      continue; // already out of the job's window
    stmts_->insert_chunk.reset()
      .bind(1, key)
      .bind(2, i64(c.sequence))
      .bind(3, c.timestamp)
      .bind(4, int64_t{c.stream == stream_kind::out ? 0 : 1})
      .bind(5, c.content)
      .bind(6, int64_t{c.attempt})
      .run();
  }
  stmts_->trim_chunks.reset().bind(1, key).bind(2, i64(first_kept)).run();
  stmts_->update_output.reset()
    .bind(1, key)
    .bind(2, i64(o.stdout_bytes))
    .bind(3, i64(o.stderr_bytes))
    .bind(4, i64(o.chunks))
    .bind(5, i64(o.dropped_chunks))
    .bind(6, i64(o.dropped_bytes))
    .bind(7, i64(o.buffered_bytes))
    .bind(8, i64(o.last_sequence))
    .run();
}

void job_store::enforce_max_bytes() {
  if (opts_.ephemeral)
    return;
  auto total = [&] {
    return stmts_->meta_get.reset().bind(1, "output_bytes").single_int();
  };
  auto limit = static_cast<int64_t>(
    std::min<uint64_t>(opts_.max_bytes, uint64_t{1} << 62));
  if (total() <= limit)
    return;
  // Oldest finished first: whole jobs' output, counted as dropped.
  sql::statement oldest{db_,
                        "SELECT serial, buffered_bytes, chunks, "
                        "dropped_chunks FROM jobs INDEXED BY jobs_prunable "
                        "WHERE status >= 2 AND buffered_bytes > 0 ORDER BY "
                        "finished_at LIMIT 64"};
  sql::statement drop{db_, "DELETE FROM output WHERE serial = ?"};
  sql::statement mark{db_,
                      "UPDATE jobs SET dropped_bytes = dropped_bytes + "
                      "buffered_bytes, buffered_bytes = 0, dropped_chunks = "
                      "max(dropped_chunks, chunks) WHERE serial = ?"};
  size_t pruned = 0;
  while (total() > limit) {
    std::vector<int64_t> serials;
    oldest.reset();
    while (oldest.step())
      serials.push_back(oldest.int_at(0));
    if (serials.empty())
      break; // only running jobs hold output: their own caps bound them
    for (auto s : serials) {
      drop.reset().bind(1, s).run();
      mark.reset().bind(1, s).run();
      ++pruned;
      if (total() <= limit)
        break;
    }
  }
  if (pruned > 0)
    log::info("store: pruned the output of " + std::to_string(pruned)
              + " finished jobs (--store-max-bytes)");
}

void job_store::vacuum_step() {
  if (!opts_.ephemeral)
    db_.exec("PRAGMA incremental_vacuum(2048)");
}

} // namespace jobd
