// Opening the store: the state directory, the checks that refuse a file
// jobd must not touch, the schema and its migrations, serials, and the
// instances that share the directory (recovery of dead ones).
#include "actors/store/job_store.hpp"

#include "actors/logger.hpp"
#include "actors/store/store_detail.hpp"

#include <sqlite3.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace jobd {

namespace {

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

// mkdir -p with mode 0700 for what it creates.
void make_dirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/')
      continue;
    auto part = path.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create the state directory " + part
                               + ": " + std::strerror(errno));
  }
}

bool is_refusal(const sql::error& e) {
  auto p = e.primary();
  return p == SQLITE_CORRUPT || p == SQLITE_NOTADB || p == SQLITE_FORMAT;
}

} // namespace

void create_schema_at(const std::string& path, int64_t version) {
  sql::database db{path, true};
  db.exec("PRAGMA auto_vacuum = INCREMENTAL");
  for (int64_t v = 0; v < version; ++v)
    db.exec(store_migration(v));
  db.exec(("PRAGMA application_id = " + std::to_string(store_application_id))
            .c_str());
  db.exec(("PRAGMA user_version = " + std::to_string(version)).c_str());
}

job_store::job_store(const store_options& opts) : opts_(opts) {
  me_.id = new_instance_id();
  me_.pid = ::getpid();
  me_.started_at = now_ms();
  me_.boot_id = boot_id();
  me_.cgroup_parent = opts.cgroup_parent;
  if (opts_.ephemeral) {
    path_ = ":memory:";
    db_ = sql::database{path_, true};
    db_.exec("PRAGMA auto_vacuum = INCREMENTAL");
    migrate();
  } else {
    make_dirs(opts_.state_dir);
    ::chmod(opts_.state_dir.c_str(), 0700);
    make_dirs(opts_.state_dir + "/instances");
    path_ = opts_.state_dir + "/jobd.db";
    open_database();
  }
  stmts_ = std::make_unique<store_statements>(db_);
  if (!opts_.ephemeral)
    register_instance();
}

job_store::~job_store() {
  if (opts_.ephemeral || !lock_)
    return;
  try {
    sql::statement end{db_, "UPDATE instances SET ended_at = ? WHERE id = ?"};
    end.bind(1, now_ms()).bind(2, me_.id).run();
  } catch (const sql::error& e) {
    log::warning(std::string{"store: cannot deregister: "} + e.what());
  }
  stmts_.reset();
}

void job_store::open_database() {
  // The file is made 0600 before SQLite sees it (and never replaced).
  auto fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    throw sql::error(SQLITE_CANTOPEN,
                     "cannot open " + path_ + ": " + std::strerror(errno));
  ::close(fd);
  try {
    db_ = sql::database{path_, false};
    db_.exec("PRAGMA busy_timeout = 5000");
    // Read-only checks first: nothing is written to a file we refuse.
    check_integrity();
    // A new file: incremental vacuum must be chosen before the first table
    // and before WAL mode writes the header.
    // 16 KiB pages: an output chunk (up to 16 KiB) fits one page and a
    // few overflow pages instead of a chain of five.
    bool fresh = db_.query_int("SELECT count(*) FROM sqlite_schema") == 0;
    // A new file holds nothing to lose until the schema is in: it is made
    // without syncs (with SQLite's default FULL, writing its header, the
    // switch to WAL and the first WAL frames took ten fdatasyncs of the
    // file, its journals and the directory, 2-5 ms of start-up on a disk).
    // Power lost meanwhile leaves a file that is refused at the next start,
    // with nothing in it. NORMAL (synced at checkpoints) from then on; the
    // schema is far smaller than one checkpoint's worth of WAL.
    db_.exec(fresh ? "PRAGMA synchronous = OFF"
                   : "PRAGMA synchronous = NORMAL");
    if (fresh)
      db_.exec("PRAGMA page_size = 16384; PRAGMA auto_vacuum = INCREMENTAL");
    db_.exec("PRAGMA journal_mode = WAL");
    db_.exec("PRAGMA cache_size = -4096");
    // Checkpoints (which sync the file) every 16 MiB of WAL (1024 pages
    // of 16 KiB), not every 4 MiB: output streams through the store.
    db_.exec("PRAGMA wal_autocheckpoint = 1024");
    db_.exec("PRAGMA temp_store = MEMORY");
    migrate();
    if (fresh)
      db_.exec("PRAGMA synchronous = NORMAL");
  } catch (const sql::error& e) {
    if (is_refusal(e))
      throw store_refused(path_ + " is not a usable jobd database (" + e.what()
                          + "); move it away to start afresh");
    throw;
  }
}

void job_store::check_integrity() {
  auto app = db_.query_int("PRAGMA application_id");
  auto version = db_.query_int("PRAGMA user_version");
  auto tables
    = db_.query_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table'");
  if (app != store_application_id && (app != 0 || tables != 0))
    throw store_refused(path_
                        + " is not a jobd database (another program's "
                          "SQLite file); refusing to touch it");
  if (version > store_schema_version)
    throw store_refused(path_ + " has schema version " + std::to_string(version)
                        + ", newer than this jobd's "
                        + std::to_string(store_schema_version)
                        + "; run a newer jobd or another --state-dir");
  if (tables == 0)
    return;
  // The full check reads the whole file (about 1 s per million jobs): it
  // runs when the file is small, or when an instance did not end cleanly
  // (killed, crashed, power lost) and nobody checked since. After clean
  // ends, SQLite's own guarantees stand and the header checks above catch
  // a file that is not ours.
  constexpr int64_t always_check_pages = 8192; // 32 MiB of 4 KiB pages
  bool unclean = false;
  if (db_.query_int("SELECT count(*) FROM sqlite_schema WHERE name = "
                    "'instances'")
      > 0) {
    sql::statement open_ones{db_,
                             "SELECT id FROM instances WHERE ended_at = 0"};
    while (!unclean && open_ones.step()) {
      int taken = -1;
      unclean = !instance_alive(opts_.state_dir + "/instances",
                                open_ones.text_at(0), taken);
      if (taken >= 0)
        ::close(taken);
    }
  }
  if (!unclean && db_.query_int("PRAGMA page_count") > always_check_pages)
    return;
  sql::statement check{db_, "PRAGMA quick_check"};
  std::string first;
  if (check.step())
    first = check.text_at(0);
  if (first != "ok")
    throw store_refused(path_ + " failed its integrity check (" + first
                        + "); move it away to start afresh");
}

void job_store::migrate() {
  auto version = db_.query_int("PRAGMA user_version");
  if (version == store_schema_version)
    return;
  sql::transaction tx{db_};
  // Another instance may have migrated meanwhile: read again under the lock.
  version = db_.query_int("PRAGMA user_version");
  if (version == 0)
    db_.exec(store_fresh_schema());
  else
    for (auto v = version; v < store_schema_version; ++v)
      db_.exec(store_migration(v));
  db_.exec(("PRAGMA application_id = " + std::to_string(store_application_id))
             .c_str());
  db_.exec(
    ("PRAGMA user_version = " + std::to_string(store_schema_version)).c_str());
  tx.commit();
  if (version > 0)
    log::info("store: migrated " + path_ + " from schema "
              + std::to_string(version) + " to "
              + std::to_string(store_schema_version));
}

void job_store::register_instance() {
  lock_
    = std::make_unique<instance_lock>(opts_.state_dir + "/instances", me_.id);
  label_cgroup_parent(me_.cgroup_parent, me_.id);
  sql::statement ins{db_, "INSERT INTO instances VALUES (?, ?, ?, ?, ?, 0)"};
  ins.bind(1, me_.id)
    .bind(2, me_.pid)
    .bind(3, me_.started_at)
    .bind(4, me_.boot_id)
    .bind(5, me_.cgroup_parent)
    .run();
}

uint64_t job_store::reserve_serials(uint64_t n) {
  sql::transaction tx{db_};
  // Never below what the jobs table holds (a copied or repaired file).
  auto first = std::max(
    db_.query_int("SELECT value FROM meta WHERE key = 'next_serial'"),
    db_.query_int("SELECT coalesce(max(serial), 0) + 1 FROM jobs"));
  sql::statement set{db_,
                     "UPDATE meta SET value = ? WHERE key = 'next_serial'"};
  set.bind(1, first + static_cast<int64_t>(n)).run();
  tx.commit();
  return static_cast<uint64_t>(first);
}

bool job_store::live(const std::string& instance) {
  if (instance == me_.id)
    return true;
  if (opts_.ephemeral || instance.empty())
    return false;
  auto now = steady_now_ms();
  auto& [alive, checked] = liveness_[instance];
  if (checked != 0 && now - checked < 1000)
    return alive;
  int taken = -1;
  alive = instance_alive(opts_.state_dir + "/instances", instance, taken);
  if (taken >= 0)
    ::close(taken); // only looking
  checked = now;
  return alive;
}

namespace {

// A running job whose kind left a status (a Slurm job's id) runs outside
// jobd: it is followed again, not interrupted. Local processes leave none.
bool reattachable(const job_info& j) {
  return !j.kind_status.empty() && j.kind != "process";
}

} // namespace

std::vector<requeued_job> job_store::recover() {
  std::vector<requeued_job> requeue;
  if (opts_.ephemeral)
    return requeue;
  // Every instance that has a row or owns an unfinished job.
  std::vector<instance_info> others;
  {
    sql::statement q{
      db_, "SELECT id, pid, started_at, boot_id, cgroup_parent FROM instances "
           "WHERE id <> ?1 AND (ended_at = 0 OR EXISTS (SELECT 1 FROM jobs "
           "WHERE owner = instances.id AND status < 2)) UNION "
           "SELECT DISTINCT owner, 0, 0, '', '' FROM jobs WHERE status < 2 "
           "AND owner <> ?1 AND owner NOT IN (SELECT id FROM instances)"};
    q.bind(1, me_.id);
    while (q.step())
      others.push_back(
        {q.text_at(0), q.int_at(1), q.int_at(2), q.text_at(3), q.text_at(4)});
  }
  auto dir = opts_.state_dir + "/instances";
  for (auto& other : others) {
    int taken = -1;
    if (instance_alive(dir, other.id, taken))
      continue;
    std::vector<requeued_job> jobs;
    {
      sql::statement q{db_, "SELECT " JOBD_JOB_COLUMNS ", spec FROM jobs "
                            "WHERE owner = ? AND status < 2 ORDER BY serial"};
      q.bind(1, other.id);
      while (q.step()) {
        auto info = decode_job(q);
        auto spec = decode_spec(info, q.view_at(spec_column));
        jobs.push_back({std::move(info), std::move(spec)});
      }
    }
    size_t interrupted = 0;
    const auto cgroups = find_job_cgroups(other.cgroup_parent, other.id);
    sql::transaction tx{db_};
    for (auto& [j, spec] : jobs) {
      if (j.status == job_status::running && reattachable(j)) {
        // Its work runs outside jobd (Slurm owns it): the next jobd follows
        // it again instead of calling it interrupted.
        sql::statement own{db_, "UPDATE jobs SET owner = ? WHERE serial = ?"};
        own.bind(1, me_.id).bind(2, static_cast<int64_t>(j.serial)).run();
        log::info("store: job " + j.id + " of instance " + other.id
                  + " runs outside jobd: re-attached");
        requeue.push_back({j, std::move(spec)});
        continue;
      }
      // A job still recorded pending may have started in the moment before
      // the crash (its started row not yet committed): a cgroup of it left
      // behind tells, and then it ran.
      auto left = kill_leftovers(cgroups, j.id, j.pid, j.process_start);
      auto ran = j.status == job_status::running || left.found;
      if (ran)
        log::info("store: job " + j.id + " of dead instance " + other.id + ": "
                  + left.what);
      if (ran || !opts_.requeue) {
        j.error_code = codes::interrupted;
        j.error = ran ? "jobd instance " + other.id + " (pid "
                          + std::to_string(other.pid)
                          + ") stopped while the job ran"
                      : "jobd instance " + other.id
                          + " stopped before the job started (--no-requeue)";
        j.status = ran ? job_status::failed : job_status::cancelled;
        j.finished_at = now_ms();
        put_job(j, nullptr);
        ++interrupted;
      } else {
        // Taken over at once, so no other survivor queues it as well.
        sql::statement own{db_, "UPDATE jobs SET owner = ? WHERE serial = ?"};
        own.bind(1, me_.id).bind(2, static_cast<int64_t>(j.serial)).run();
        requeue.push_back({j, std::move(spec)});
      }
    }
    sql::statement end{db_, "UPDATE instances SET ended_at = ? WHERE id = ?"};
    end.bind(1, now_ms()).bind(2, other.id).run();
    tx.commit();
    remove_cgroup_parent(other.cgroup_parent, other.id);
    release_dead_lock(dir, other.id, taken);
    if (!jobs.empty())
      log::warning("store: instance " + other.id + " (pid "
                   + std::to_string(other.pid) + ") is gone: "
                   + std::to_string(interrupted) + " jobs interrupted, "
                   + std::to_string(jobs.size() - interrupted)
                   + " queued again or re-attached");
  }
  // Requeued jobs are ours now.
  for (auto& r : requeue) {
    r.info.owner_instance = me_.id;
    r.info.owner_pid = me_.pid;
  }
  return requeue;
}

} // namespace jobd
