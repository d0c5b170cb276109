// The durable job store: every job's row (spec, status, timestamps, result,
// owner), its retained output, the serial counter and the instances that
// share the state directory, in one SQLite database. A plain object: the
// STORE actor (actors/store/store_actor.hpp) owns it and is the only one to
// call it once the server runs; app/ opens it before the actors start, so
// that a file jobd must not touch stops the start with a clear message.
//
// Split by concern: job_store.cpp (opening, schema, migrations, serials,
// instances and recovery), store_schema.cpp (the migrations),
// store_rows.cpp (writes), store_queries.cpp (reads), store_codec.cpp
// (rows <-> job_info and job_spec), store_workflows.cpp (templates and
// schedules).
#pragma once

#include "actors/actors.hpp"
#include "actors/core/output_buffer.hpp"
#include "actors/store/instances.hpp"
#include "actors/store/sqlite.hpp"
#include "protocol/model.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace jobd {

/// The store's schema version (PRAGMA user_version); a database with a
/// higher one comes from a newer jobd and is refused.
inline constexpr int64_t store_schema_version = 9;

/// Identifies a jobd database (PRAGMA application_id: "jobd").
inline constexpr int64_t store_application_id = 0x6a6f6264;

struct store_options {
  /// The state directory; the database is `<dir>/jobd.db`.
  std::string state_dir;
  /// Keep nothing on disk: a private in-memory database, no output rows.
  bool ephemeral = false;
  /// Bound of all stored output; the oldest finished jobs' output goes first.
  uint64_t max_bytes = uint64_t{4} << 30;
  /// Pending jobs of a dead instance are queued again (else cancelled).
  bool requeue = true;
  /// This instance's cgroup parent (empty without cgroup tracking), so
  /// the next instance can kill what it leaves behind.
  std::string cgroup_parent;
};

/// Start-up refused: the file is not ours to open (corrupt, foreign, from a
/// newer jobd). A directory or disk that refuses writes is not a refusal:
/// jobd then runs with its jobs in memory (persistence degraded).
class store_refused : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class job_store {
public:
  /// Opens (or creates) the database. Throws store_refused, or sql::error /
  /// std::runtime_error when the disk refuses (then the caller may run
  /// degraded in memory).
  explicit job_store(const store_options& opts);
  ~job_store();

  job_store(const job_store&) = delete;
  job_store& operator=(const job_store&) = delete;

  const store_options& options() const {
    return opts_;
  }
  const std::string& instance() const {
    return me_.id;
  }
  const std::string& path() const {
    return path_;
  }

  /// Reserves `n` serials; returns the first of them. Never hands out a
  /// serial twice, whatever instance asks.
  uint64_t reserve_serials(uint64_t n);

  /// Finds instances that died (their lock is free): marks their running
  /// jobs failed/INTERRUPTED (killing what is left of them) and takes over
  /// their pending ones: returned to be queued again, or cancelled with
  /// INTERRUPTED when requeueing is off.
  std::vector<requeued_job> recover();

  // -- writes (store_rows.cpp); call inside begin()/commit() ----------------

  void begin();
  void commit();
  void rollback();

  /// Inserts or updates a job's row. `spec` (given with the first row
  /// only) is kept for as long as the job is: what a requeue and a restart
  /// need.
  void put_job(const job_info& info, const job_spec* spec);

  /// Stores new output chunks of a job and drops its stored chunks older
  /// than `first_kept` (the job's window moved on), with its counters.
  void put_output(uint64_t serial, const std::vector<output_chunk>& chunks,
                  uint64_t first_kept, const output_stats& stats);

  /// Prunes the oldest finished jobs' output while over max_bytes.
  void enforce_max_bytes();

  /// Gives free pages back to the file system (a bounded step).
  void vacuum_step();

  // -- reads (store_queries.cpp) ----------------------------------------------

  /// A job by id, with its owner's liveness.
  std::optional<job_info> find(const std::string& id);

  /// A stored job's output as a buffer, for the same reading rules as a
  /// live job's.
  std::shared_ptr<output_buffer> load_output(const job_info& info);

  /// The spec of a stored job (console_restart_job): nullopt if there is no
  /// such job or, with `found` true, its spec was not kept (a job that
  /// ended under schema 5 or before).
  std::optional<job_spec> spec_of(const std::string& id, bool& found);

  /// The id of the newest job of `session` with this idempotency key; ""
  /// if none (or `key` is empty).
  std::string find_by_key(const std::string& session, const std::string& key);

  /// The session of each job (by the UNIQUE index on id, one lookup per
  /// id), in the order asked; "" for a job not stored.
  std::vector<std::string> sessions_of(const std::vector<std::string>& ids);

  /// console_list_jobs: newest first. Throws tool_error-like
  /// std::invalid_argument for a cursor it did not make.
  list_page list(const list_query& q);

  /// console_cleanup_jobs and the sweeper, on every instance's finished jobs.
  cleanup_done cleanup(const cleanup_query& q, int64_t default_max_age_ms);

  /// Counters, per-session figures (usage totals included) and the number
  /// of jobs kept.
  metrics_snapshot figures();

  /// Whether the instance that owns a job is alive.
  bool live(const std::string& instance);

  // -- templates and schedules (store_workflows.cpp); each call is its own
  // transaction --------------------------------------------------------------

  /// Inserts or replaces a template by name: created_at is kept from the
  /// first save (now for a new one), updated_at is now. Returns it as
  /// stored.
  job_template put_template(const job_template& t);

  /// A template by name.
  std::optional<job_template> get_template(const std::string& name);

  /// Every template, by name.
  template_list list_templates();

  /// Removes a template; false if there was none by that name.
  bool erase_template(const std::string& name);

  /// Inserts or replaces a schedule's whole row (by id).
  void put_schedule(const schedule_spec& s);

  /// Every schedule, oldest first (next_firings left empty).
  schedule_list list_schedules();

  /// Removes a schedule; false if there was none with that id.
  bool erase_schedule(const std::string& id);

private:
  friend struct store_statements;

  void open_database();
  void migrate();
  void check_integrity();
  void register_instance();
  /// Marks a job of a dead instance interrupted (running) or requeues it.
  void interrupt(job_info& info, const instance_info& owner,
                 std::vector<requeued_job>& requeue);

  store_options opts_;
  std::string path_;
  sql::database db_;
  instance_info me_;
  std::unique_ptr<instance_lock> lock_;
  std::unique_ptr<struct store_statements> stmts_;
  /// Liveness of other instances, checked at most once a second each.
  std::unordered_map<std::string, std::pair<bool, int64_t>> liveness_;
};

/// Creates a database at `path` with the schema of `version` (tests of
/// migrations start from an old one).
void create_schema_at(const std::string& path, int64_t version);

} // namespace jobd
