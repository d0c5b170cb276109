// The store's schema: the migration steps from PRAGMA user_version 0 to
// store_schema_version, applied in order by job_store::migrate() (and by
// create_schema_at for the tests of migrations).
#include "actors/store/store_detail.hpp"

#include <sqlite3.h>

#include <cctype>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace jobd {

namespace {

// Each step takes the schema from version i to i + 1. Never edit a step
// that shipped: add one.
constexpr const char* migrations[] = {
  // 1: jobs, their tags and output, counters, instances.
  R"(
  CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO meta VALUES ('next_serial', 1), ('created', 0), ('completed', 0),
    ('failed', 0), ('cancelled', 0), ('run_ms_sum', 0), ('run_count', 0);
  CREATE TABLE instances(id TEXT PRIMARY KEY, pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL, boot_id TEXT NOT NULL,
    cgroup_parent TEXT NOT NULL, ended_at INTEGER NOT NULL DEFAULT 0)
    WITHOUT ROWID;
  CREATE TABLE jobs(serial INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL, status INTEGER NOT NULL, session TEXT NOT NULL,
    kind TEXT NOT NULL, command TEXT NOT NULL, args TEXT NOT NULL,
    shell INTEGER NOT NULL, working_directory TEXT NOT NULL,
    priority INTEGER NOT NULL, timeout_ms INTEGER NOT NULL, tags TEXT NOT NULL,
    created_at INTEGER NOT NULL, started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL, exit_code INTEGER NOT NULL,
    signal INTEGER NOT NULL, error_code TEXT NOT NULL, error TEXT NOT NULL,
    pid INTEGER NOT NULL, run_ms INTEGER NOT NULL, tracking TEXT NOT NULL,
    process_start TEXT NOT NULL, stdout_bytes INTEGER NOT NULL,
    stderr_bytes INTEGER NOT NULL, chunks INTEGER NOT NULL,
    dropped_chunks INTEGER NOT NULL, dropped_bytes INTEGER NOT NULL,
    buffered_bytes INTEGER NOT NULL, last_sequence INTEGER NOT NULL,
    spec TEXT);
  CREATE INDEX jobs_active ON jobs(owner, status) WHERE status < 2;
  CREATE INDEX jobs_status ON jobs(status, serial);
  CREATE INDEX jobs_session ON jobs(session, serial);
  CREATE INDEX jobs_finished ON jobs(finished_at) WHERE status >= 2;
  CREATE TABLE tags(name TEXT NOT NULL, value TEXT NOT NULL,
    serial INTEGER NOT NULL, PRIMARY KEY(name, value, serial)) WITHOUT ROWID;
  CREATE TABLE output(serial INTEGER NOT NULL, seq INTEGER NOT NULL,
    ts INTEGER NOT NULL, stream INTEGER NOT NULL, content TEXT NOT NULL,
    PRIMARY KEY(serial, seq));
  CREATE TRIGGER jobs_counted AFTER INSERT ON jobs BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'created';
  END;
  CREATE TRIGGER jobs_ended AFTER UPDATE OF status ON jobs
    WHEN old.status < 2 AND new.status >= 2 BEGIN
    UPDATE meta SET value = value + 1 WHERE key =
      CASE new.status WHEN 2 THEN 'completed' WHEN 3 THEN 'failed'
      ELSE 'cancelled' END;
    UPDATE meta SET value = value + new.run_ms WHERE key = 'run_ms_sum'
      AND new.started_at > 0;
    UPDATE meta SET value = value + 1 WHERE key = 'run_count'
      AND new.started_at > 0;
  END;
  CREATE TRIGGER jobs_ended_at_once AFTER INSERT ON jobs
    WHEN new.status >= 2 BEGIN
    UPDATE meta SET value = value + 1 WHERE key =
      CASE new.status WHEN 2 THEN 'completed' WHEN 3 THEN 'failed'
      ELSE 'cancelled' END;
    UPDATE meta SET value = value + new.run_ms WHERE key = 'run_ms_sum'
      AND new.started_at > 0;
    UPDATE meta SET value = value + 1 WHERE key = 'run_count'
      AND new.started_at > 0;
  END;
  CREATE TRIGGER jobs_removed AFTER DELETE ON jobs BEGIN
    DELETE FROM output WHERE serial = old.serial;
    DELETE FROM tags WHERE serial = old.serial;
  END;
  )",
  // 2: per-session figures and the stored output size kept by triggers, so
  // metrics and the --store-max-bytes check never scan the jobs.
  R"(
  CREATE TABLE session_counts(session TEXT NOT NULL, status INTEGER NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY(session, status)) WITHOUT ROWID;
  INSERT INTO session_counts SELECT session, status, count(*) FROM jobs
    GROUP BY session, status;
  INSERT INTO meta SELECT 'output_bytes', coalesce(sum(length(content)), 0)
    FROM output;
  CREATE TRIGGER sessions_in AFTER INSERT ON jobs BEGIN
    INSERT INTO session_counts VALUES (new.session, new.status, 1)
      ON CONFLICT DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER sessions_moved AFTER UPDATE OF status ON jobs
    WHEN old.status <> new.status BEGIN
    UPDATE session_counts SET n = n - 1
      WHERE session = old.session AND status = old.status;
    DELETE FROM session_counts WHERE session = old.session
      AND status = old.status AND n <= 0;
    INSERT INTO session_counts VALUES (new.session, new.status, 1)
      ON CONFLICT DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER sessions_out AFTER DELETE ON jobs BEGIN
    UPDATE session_counts SET n = n - 1
      WHERE session = old.session AND status = old.status;
    DELETE FROM session_counts WHERE session = old.session
      AND status = old.status AND n <= 0;
  END;
  CREATE TRIGGER output_in AFTER INSERT ON output BEGIN
    UPDATE meta SET value = value + length(new.content)
      WHERE key = 'output_bytes';
  END;
  CREATE TRIGGER output_out AFTER DELETE ON output BEGIN
    UPDATE meta SET value = value - length(old.content)
      WHERE key = 'output_bytes';
  END;
  )",
  // 3: the jobs_removed trigger deletes a job's tags by serial, which the
  // tags key (name, value, serial) cannot find: without this index every
  // removed job scanned the whole tags table.
  R"(
  CREATE INDEX tags_serial ON tags(serial);
  )",
  // 4: output_bytes in bytes. length() of a TEXT counts characters up to the
  // first NUL: multi-byte UTF-8 counted short, and output with NULs (binary,
  // `head -c N /dev/zero`) counted 0, so --store-max-bytes never pruned it.
  R"(
  DROP TRIGGER output_in;
  DROP TRIGGER output_out;
  CREATE TRIGGER output_in AFTER INSERT ON output BEGIN
    UPDATE meta SET value = value + length(CAST(new.content AS BLOB))
      WHERE key = 'output_bytes';
  END;
  CREATE TRIGGER output_out AFTER DELETE ON output BEGIN
    UPDATE meta SET value = value - length(CAST(old.content AS BLOB))
      WHERE key = 'output_bytes';
  END;
  UPDATE meta SET value = (SELECT coalesce(sum(length(CAST(content AS BLOB))),
    0) FROM output) WHERE key = 'output_bytes';
  )",
  // 5: the finished jobs that still hold output, oldest first: what
  // --store-max-bytes prunes, found without walking the pruned ones.
  R"(
  CREATE INDEX jobs_prunable ON jobs(finished_at)
    WHERE status >= 2 AND buffered_bytes > 0;
  )",
  // 6 (issue 11): what a restart, an idempotent submit and the usage
  // figures need. The spec is kept for finished jobs too (the upsert no
  // longer clears it). Progress is one JSON text (NULL: none found); the
  // columns that never change after the first row (restart_of,
  // idempotency_key, stdin_mode) are written by it only. session_usage
  // holds per session the usage totals of its finished jobs with known
  // usage, kept by triggers as session_counts is: sums (the average peak
  // memory comes from rss_kb_sum) and the largest peak seen while the
  // session had counted jobs, which a removal does not lower (finding the
  // next largest took an index that doubled the cost of deleting jobs).
  R"(
  ALTER TABLE jobs ADD COLUMN restart_of TEXT NOT NULL DEFAULT '';
  ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
  ALTER TABLE jobs ADD COLUMN stdin_mode INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN stdin_open INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN term_cols INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN term_rows INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN paused_at INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN paused_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN progress TEXT;
  ALTER TABLE jobs ADD COLUMN usage_known INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN cpu_user_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN cpu_system_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN max_rss_kb INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX jobs_idempotency ON jobs(session, idempotency_key, serial)
    WHERE idempotency_key IS NOT NULL;
  CREATE TABLE session_usage(session TEXT PRIMARY KEY, jobs INTEGER NOT NULL,
    cpu_user_ms INTEGER NOT NULL, cpu_system_ms INTEGER NOT NULL,
    run_ms INTEGER NOT NULL, max_rss_kb INTEGER NOT NULL,
    rss_kb_sum INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TRIGGER usage_in AFTER INSERT ON jobs
    WHEN new.status >= 2 AND new.usage_known = 1 BEGIN
    INSERT INTO session_usage VALUES (new.session, 1, new.cpu_user_ms,
      new.cpu_system_ms, new.run_ms, new.max_rss_kb, new.max_rss_kb)
      ON CONFLICT DO UPDATE SET jobs = jobs + 1,
      cpu_user_ms = cpu_user_ms + excluded.cpu_user_ms,
      cpu_system_ms = cpu_system_ms + excluded.cpu_system_ms,
      run_ms = run_ms + excluded.run_ms,
      max_rss_kb = max(max_rss_kb, excluded.max_rss_kb),
      rss_kb_sum = rss_kb_sum + excluded.rss_kb_sum;
  END;
  CREATE TRIGGER usage_moved AFTER UPDATE OF status, usage_known, cpu_user_ms,
    cpu_system_ms, max_rss_kb, run_ms ON jobs
    WHEN (old.status >= 2 AND old.usage_known = 1)
      OR (new.status >= 2 AND new.usage_known = 1) BEGIN
    UPDATE session_usage SET jobs = jobs - 1,
      cpu_user_ms = cpu_user_ms - old.cpu_user_ms,
      cpu_system_ms = cpu_system_ms - old.cpu_system_ms,
      run_ms = run_ms - old.run_ms,
      rss_kb_sum = rss_kb_sum - old.max_rss_kb
      WHERE session = old.session AND old.status >= 2
        AND old.usage_known = 1;
    INSERT INTO session_usage SELECT new.session, 1, new.cpu_user_ms,
      new.cpu_system_ms, new.run_ms, new.max_rss_kb, new.max_rss_kb
      WHERE new.status >= 2 AND new.usage_known = 1
      ON CONFLICT DO UPDATE SET jobs = jobs + 1,
      cpu_user_ms = cpu_user_ms + excluded.cpu_user_ms,
      cpu_system_ms = cpu_system_ms + excluded.cpu_system_ms,
      run_ms = run_ms + excluded.run_ms,
      max_rss_kb = max(max_rss_kb, excluded.max_rss_kb),
      rss_kb_sum = rss_kb_sum + excluded.rss_kb_sum;
    DELETE FROM session_usage WHERE session = old.session AND jobs <= 0;
  END;
  CREATE TRIGGER usage_out AFTER DELETE ON jobs
    WHEN old.status >= 2 AND old.usage_known = 1 BEGIN
    UPDATE session_usage SET jobs = jobs - 1,
      cpu_user_ms = cpu_user_ms - old.cpu_user_ms,
      cpu_system_ms = cpu_system_ms - old.cpu_system_ms,
      run_ms = run_ms - old.run_ms,
      rss_kb_sum = rss_kb_sum - old.max_rss_kb
      WHERE session = old.session;
    DELETE FROM session_usage WHERE session = old.session AND jobs <= 0;
  END;
  )",
  // 7 (issue 12): workflows. Lists (depends_on, waiting_for, attempts) are
  // JSON texts, NULL when empty; schedule_id and template_name are NULL
  // when the job has none, so their partial indexes (what the list filters
  // need) hold only the jobs that have one and cost the others nothing on
  // insert and delete. job_dependencies answers "who depends on X"
  // (filter depends_on) from its key, newest first as the tags key does;
  // its rows go with their job by a trigger that only jobs with
  // dependencies fire, through the serial index (without it each removal
  // scans the table: the schema 3 lesson). Output rows carry the attempt
  // that wrote them. Templates and schedules belong to the state directory,
  // not to an instance.
  R"(
  ALTER TABLE jobs ADD COLUMN pending_reason TEXT NOT NULL DEFAULT '';
  ALTER TABLE jobs ADD COLUMN depends_on TEXT;
  ALTER TABLE jobs ADD COLUMN dependency_condition INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN waiting_for TEXT;
  ALTER TABLE jobs ADD COLUMN scheduled_for INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN schedule_id TEXT;
  ALTER TABLE jobs ADD COLUMN template_name TEXT;
  ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE jobs ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN attempts TEXT;
  ALTER TABLE output ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
  CREATE INDEX jobs_schedule ON jobs(schedule_id, serial)
    WHERE schedule_id IS NOT NULL;
  CREATE INDEX jobs_template ON jobs(template_name, serial)
    WHERE template_name IS NOT NULL;
  CREATE TABLE job_dependencies(dependency TEXT NOT NULL,
    serial INTEGER NOT NULL, PRIMARY KEY(dependency, serial)) WITHOUT ROWID;
  CREATE INDEX job_dependencies_serial ON job_dependencies(serial);
  CREATE TRIGGER dependencies_removed AFTER DELETE ON jobs
    WHEN old.depends_on IS NOT NULL BEGIN
    DELETE FROM job_dependencies WHERE serial = old.serial;
  END;
  CREATE TABLE templates(name TEXT PRIMARY KEY, description TEXT NOT NULL,
    job TEXT NOT NULL, parameters TEXT NOT NULL, created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL);
  CREATE TABLE schedules(id TEXT PRIMARY KEY, name TEXT NOT NULL,
    cron TEXT NOT NULL, timezone TEXT NOT NULL, job TEXT NOT NULL,
    overlap INTEGER NOT NULL, catch_up INTEGER NOT NULL,
    enabled INTEGER NOT NULL, created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL, last_fired_at INTEGER NOT NULL,
    last_job_id TEXT NOT NULL, fired INTEGER NOT NULL,
    skipped INTEGER NOT NULL, missed INTEGER NOT NULL,
    last_error TEXT NOT NULL);
  )",
  // 8 (issue 13): the security controls a job ran under (JSON, NULL when
  // unconfined with no limits and the inherit policy) and the limit that
  // stopped it, so status shows both after a restart.
  R"(
  ALTER TABLE jobs ADD COLUMN security TEXT;
  ALTER TABLE jobs ADD COLUMN limit_exceeded TEXT NOT NULL DEFAULT '';
  )",
  // 9 (issue 15): what a job's kind knows of its work (JSON; a Slurm job's
  // id, state and nodes), shown after a restart and what the next jobd
  // re-attaches by.
  R"(
  ALTER TABLE jobs ADD COLUMN kind_status TEXT;
  )",
};

static_assert(std::size(migrations) == store_schema_version);

bool starts_with_word(std::string_view text, std::string_view word) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text[0])))
    text.remove_prefix(1);
  if (text.size() < word.size())
    return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(text[i])) != word[i])
      return false;
  return true;
}

// The name after `prefix` (a keyword run such as "ALTER TABLE "), up to
// the next space or parenthesis.
std::string name_after(std::string_view stmt, std::string_view prefix) {
  auto at = stmt.find_first_not_of(" \n", 0);
  auto rest = stmt.substr(at + prefix.size());
  auto end = rest.find_first_of(" (\n");
  return std::string{rest.substr(0, end)};
}

// Where the column definitions of a CREATE TABLE end: before its first
// table constraint (a PRIMARY KEY(...) after the columns), else before the
// parenthesis that closes the list (the last one: table options such as
// WITHOUT ROWID have none).
size_t end_of_columns(const std::string& stmt) {
  int depth = 0;
  for (size_t i = 0; i < stmt.size(); ++i) {
    auto c = stmt[i];
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if (c == ',' && depth == 1) {
      std::string_view next{stmt.data() + i + 1, stmt.size() - i - 1};
      for (auto word :
           {"PRIMARY ", "UNIQUE", "CHECK", "FOREIGN ", "CONSTRAINT "})
        if (starts_with_word(next, word))
          return i;
    }
  }
  return stmt.rfind(')');
}

// Every migration as one script, with each ALTER TABLE ... ADD COLUMN
// folded into its table's CREATE TABLE. A new database gets exactly the
// schema the steps build (tests compare the two), without an ALTER each
// reloading and re-checking the whole schema (26 of them were most of the
// time an --ephemeral start took).
std::string build_fresh_schema() {
  std::vector<std::string> stmts;
  std::map<std::string, std::vector<std::string>> added;
  for (auto* step : migrations) {
    std::string_view text{step};
    std::string current;
    size_t from = 0;
    while (from < text.size()) {
      auto semi = text.find(';', from);
      if (semi == std::string_view::npos)
        break;
      current.append(text.substr(from, semi + 1 - from));
      from = semi + 1;
      if (!sqlite3_complete(current.c_str()))
        continue; // a ';' inside a trigger
      auto def = current.find("ADD COLUMN ");
      if (starts_with_word(current, "ALTER TABLE ")
          && def != std::string::npos) {
        added[name_after(current, "ALTER TABLE ")].push_back(
          current.substr(def + 11, current.size() - def - 12));
      } else { // any other ALTER runs as it is
        stmts.push_back(std::move(current));
      }
      current.clear();
    }
  }
  std::string script;
  for (auto& stmt : stmts) {
    if (starts_with_word(stmt, "CREATE TABLE ")) {
      auto i = added.find(name_after(stmt, "CREATE TABLE "));
      if (i != added.end()) {
        auto at = end_of_columns(stmt);
        std::string cols;
        for (auto& def : i->second)
          cols += ", " + def;
        stmt.insert(at, cols);
      }
    }
    script += stmt;
  }
  return script;
}

} // namespace

const char* store_migration(int64_t from) {
  return migrations[from];
}

const char* store_fresh_schema() {
  static const std::string script = build_fresh_schema();
  return script.c_str();
}

} // namespace jobd
