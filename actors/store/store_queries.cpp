// Reading the store: one job, its output, list pages, cleanup and the
// figures of console_get_job_metrics.
#include "actors/store/store_detail.hpp"

#include "actors/logger.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <variant>

namespace jobd {

namespace {

// Parses "c<serial>" (the serial of the last job of the previous page).
bool parse_cursor(const std::string& cursor, int64_t& after) {
  if (cursor.size() < 2 || cursor.size() > 19 || cursor[0] != 'c')
    return false;
  int64_t x = 0;
  for (size_t i = 1; i < cursor.size(); ++i) {
    auto c = cursor[i];
    if (c < '0' || c > '9')
      return false;
    x = x * 10 + (c - '0'); // at most 18 digits: no overflow
  }
  after = x;
  return true;
}

// The FROM and WHERE clauses of a list query and their parameters, in
// order. With a dependsOn filter, job_dependencies' key (dependency,
// serial) drives the query newest first; else with tags, the first tag
// drives it from the tags key (name, value, serial). Either way a page
// costs its own rows however many jobs match; the other filters are checked
// per row (schedule_id and template_name alone use their partial indexes).
struct filter {
  std::string from = " FROM jobs";
  std::string where = " WHERE 1";
  /// The column the pages are ordered and cut by.
  std::string order = "serial";
  std::vector<std::variant<int64_t, std::string>> params;
  /// Only one tag and nothing else: counted from the tags key.
  bool only_tags = false;
  /// No tags, no workflow filters: counted from session_counts.
  bool by_session_counts = false;

  explicit filter(const list_query& q) {
    auto tag = q.tags.begin();
    if (!q.depends_on.empty()) {
      from = " FROM (SELECT serial AS s FROM job_dependencies WHERE "
             "dependency = ?) AS d CROSS JOIN jobs ON jobs.serial = d.s";
      order = "d.s";
      params.emplace_back(q.depends_on);
    } else if (tag != q.tags.end()) {
      from = " FROM (SELECT serial AS s FROM tags WHERE name = ? AND value = ?)"
             " AS t CROSS JOIN jobs ON jobs.serial = t.s";
      order = "t.s";
      params.emplace_back(tag->first);
      params.emplace_back(tag->second);
      ++tag;
    }
    for (; tag != q.tags.end(); ++tag) {
      where += " AND EXISTS (SELECT 1 FROM tags x WHERE x.name = ? AND "
               "x.value = ? AND x.serial = jobs.serial)";
      params.emplace_back(tag->first);
      params.emplace_back(tag->second);
    }
    if (!q.statuses.empty()) {
      where += " AND status IN (";
      for (size_t i = 0; i < q.statuses.size(); ++i) {
        where += i == 0 ? "?" : ", ?";
        params.emplace_back(static_cast<int64_t>(q.statuses[i]));
      }
      where += ")";
    }
    if (!q.session_id.empty()) {
      where += " AND session = ?";
      params.emplace_back(q.session_id);
    }
    if (!q.session_prefix.empty()) {
      // A range on the session (jobs_session, session_counts' key), not a
      // LIKE, which no index serves.
      where += " AND session >= ?";
      params.emplace_back(q.session_prefix);
      if (auto end = prefix_end(q.session_prefix); !end.empty()) {
        where += " AND session < ?";
        params.emplace_back(std::move(end));
      }
    }
    if (!q.schedule_id.empty()) {
      where += " AND schedule_id = ?";
      params.emplace_back(q.schedule_id);
    }
    if (!q.template_name.empty()) {
      where += " AND template_name = ?";
      params.emplace_back(q.template_name);
    }
    auto workflow = !q.depends_on.empty() || !q.schedule_id.empty()
                    || !q.template_name.empty();
    by_session_counts = q.tags.empty() && !workflow;
    only_tags = q.tags.size() == 1 && !workflow && q.statuses.empty()
                && q.session_id.empty() && q.session_prefix.empty();
  }

  // Binds the parameters from 1; returns the next free index.
  int bind(sql::statement& st) const {
    int i = 1;
    for (auto& p : params)
      std::visit([&](auto& x) { st.bind(i++, x); }, p);
    return i;
  }
};

} // namespace

std::string prefix_end(std::string_view prefix) {
  std::string end{prefix};
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff)
    end.pop_back();
  if (!end.empty())
    end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

std::vector<std::string>
job_store::sessions_of(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  out.reserve(ids.size());
  auto& st = stmts_->find_session;
  for (auto& id : ids) {
    st.reset().bind(1, id);
    out.push_back(st.step() ? st.text_at(0) : std::string{});
  }
  st.reset();
  return out;
}

std::optional<job_info> job_store::find(const std::string& id) {
  auto& st = stmts_->find_job;
  st.reset().bind(1, id);
  if (!st.step())
    return std::nullopt;
  auto info = decode_job(st);
  st.reset();
  info.owner_live = live(info.owner_instance);
  info.owner_pid
    = stmts_->instance_pid.reset().bind(1, info.owner_instance).single_int();
  return info;
}

std::optional<job_spec> job_store::spec_of(const std::string& id, bool& found) {
  auto& st = stmts_->find_spec;
  st.reset().bind(1, id);
  found = st.step();
  std::optional<job_spec> out;
  if (found && !st.is_null(spec_column))
    out = decode_spec(decode_job(st), st.view_at(spec_column));
  st.reset();
  return out;
}

std::string job_store::find_by_key(const std::string& session,
                                   const std::string& key) {
  if (key.empty())
    return {};
  auto& st = stmts_->find_key;
  st.reset().bind(1, session).bind(2, key);
  std::string id;
  if (st.step())
    id = st.text_at(0);
  st.reset();
  return id;
}

std::shared_ptr<output_buffer> job_store::load_output(const job_info& info) {
  std::vector<output_chunk> chunks;
  auto& st = stmts_->read_chunks;
  st.reset().bind(1, static_cast<int64_t>(info.serial));
  while (st.step())
    chunks.push_back({static_cast<uint64_t>(st.int_at(0)), st.int_at(1),
                      st.int_at(2) == 0 ? stream_kind::out : stream_kind::err,
                      st.text_at(3), static_cast<int32_t>(st.int_at(4))});
  st.reset();
  return std::make_shared<output_buffer>(
    output_buffer::restore(std::move(chunks), info.output));
}

list_page job_store::list(const list_query& q) {
  int64_t after = std::numeric_limits<int64_t>::max();
  if (!q.cursor.empty() && !parse_cursor(q.cursor, after))
    throw std::invalid_argument("options.cursor is not a cursor from this "
                                "server");
  filter f{q};
  list_page page;
  // The total: from the per-session counts without tags or workflow
  // filters; with one tag alone, from the tags key; else by counting the
  // matching rows.
  std::string count_sql;
  if (f.by_session_counts)
    count_sql = "SELECT coalesce(sum(n), 0) FROM session_counts" + f.where;
  else if (f.only_tags)
    count_sql = "SELECT count(*) FROM tags WHERE name = ? AND value = ?";
  else
    count_sql = "SELECT count(*)" + f.from + f.where;
  sql::statement count{db_, count_sql.c_str()};
  f.bind(count);
  page.total = static_cast<uint64_t>(count.single_int());
  auto limit
    = q.limit == 0 ? uint64_t{std::numeric_limits<int64_t>::max()} : q.limit;
  std::string sql = "SELECT " JOBD_JOB_COLUMNS + f.from + f.where + " AND "
                    + f.order + " < ? ORDER BY " + f.order + " DESC LIMIT ?";
  sql::statement rows{db_, sql.c_str()};
  auto i = f.bind(rows);
  rows.bind(i++, after);
  rows.bind(
    i, static_cast<int64_t>(std::min<uint64_t>(limit, uint64_t{1} << 62) + 1));
  std::map<std::string, std::pair<bool, int64_t>> owners;
  sql::statement pid{db_, "SELECT pid FROM instances WHERE id = ?"};
  while (rows.step()) {
    if (page.jobs.size() == limit) {
      page.next_cursor = "c" + std::to_string(page.jobs.back().serial);
      break;
    }
    page.jobs.push_back(decode_job(rows));
    auto& j = page.jobs.back();
    auto [it, fresh] = owners.emplace(j.owner_instance, std::pair{false, 0});
    if (fresh) {
      it->second.first = live(j.owner_instance);
      if (pid.reset().bind(1, j.owner_instance).step())
        it->second.second = pid.int_at(0);
    }
    j.owner_live = it->second.first;
    j.owner_pid = it->second.second;
  }
  return page;
}

cleanup_done job_store::cleanup(const cleanup_query& q,
                                int64_t default_max_age_ms) {
  cleanup_done out;
  auto max_age
    = q.max_age_ms == use_default ? default_max_age_ms : q.max_age_ms;
  std::string where = " WHERE status >= 2";
  if (!q.statuses.empty()) {
    where += " AND status IN (";
    for (size_t i = 0; i < q.statuses.size(); ++i)
      where += (i == 0 ? "" : ", ")
               + std::to_string(static_cast<int>(q.statuses[i]));
    where += ")";
  }
  if (!q.session_id.empty())
    where += " AND session = ?2";
  auto end = prefix_end(q.session_prefix);
  if (!q.session_prefix.empty())
    where += end.empty() ? " AND session >= ?4"
                         : " AND session >= ?4 AND session < ?5";
  // "At least max_age old": a max_age beyond the epoch keeps every job.
  auto now = now_ms();
  if (max_age > now)
    where += " AND 0";
  else if (max_age > 0)
    where += " AND finished_at <= ?1";
  std::string sql = "SELECT serial, id, owner FROM jobs" + where
                    + " ORDER BY serial DESC LIMIT -1 OFFSET ?3";
  sql::statement pick{db_, sql.c_str()};
  if (max_age > 0 && max_age <= now)
    pick.bind(1, now - max_age);
  if (!q.session_id.empty())
    pick.bind(2, q.session_id);
  if (!q.session_prefix.empty()) {
    pick.bind(4, q.session_prefix);
    if (!end.empty())
      pick.bind(5, end);
  }
  pick.bind(3, static_cast<int64_t>(
                 std::min<uint64_t>(q.keep_count, uint64_t{1} << 62)));
  std::vector<int64_t> serials;
  while (pick.step()) {
    serials.push_back(pick.int_at(0));
    if (pick.view_at(2) == me_.id)
      out.removed_own.push_back(pick.text_at(1));
  }
  if (!serials.empty()) {
    sql::transaction tx{db_};
    sql::statement del{db_, "DELETE FROM jobs WHERE serial = ?"};
    for (auto s : serials)
      del.reset().bind(1, s).run();
    tx.commit();
  }
  out.result.cleaned = serials.size();
  out.result.remaining = static_cast<uint64_t>(
    db_.query_int("SELECT coalesce(sum(n), 0) FROM session_counts"));
  if (!serials.empty())
    log::info("store: cleanup removed " + std::to_string(serials.size())
              + " jobs, " + std::to_string(out.result.remaining) + " remain");
  return out;
}

metrics_snapshot job_store::figures() {
  metrics_snapshot m;
  auto meta = [&](const char* key) {
    return stmts_->meta_get.reset().bind(1, key).single_int();
  };
  auto u
    = [](int64_t x) { return static_cast<uint64_t>(std::max<int64_t>(x, 0)); };
  m.total_jobs = u(meta("created"));
  m.completed_jobs = u(meta("completed"));
  m.failed_jobs = u(meta("failed"));
  m.cancelled_jobs = u(meta("cancelled"));
  auto runs = meta("run_count");
  m.average_execution_ms
    = runs > 0 ? static_cast<double>(meta("run_ms_sum")) / runs : 0.0;
  sql::statement sessions{db_, "SELECT session, status, n FROM session_counts "
                               "ORDER BY session"};
  while (sessions.step()) {
    auto id = sessions.view_at(0);
    if (m.sessions.empty() || m.sessions.back().session_id != id)
      m.sessions.push_back(
        session_metrics{std::string{id}, 0, 0, 0, 0, 0, 0, 0, usage_totals{}});
    auto& s = m.sessions.back();
    auto n = u(sessions.int_at(2));
    s.total += n;
    m.retained_jobs += n;
    switch (static_cast<job_status>(sessions.int_at(1))) {
      case job_status::pending:
        s.pending += n;
        break;
      case job_status::running:
        s.running += n;
        break;
      case job_status::completed:
        s.completed += n;
        break;
      case job_status::failed:
        s.failed += n;
        break;
      case job_status::cancelled:
        s.cancelled += n;
        break;
    }
  }
  sessions.reset();
  // Usage totals (session_usage, kept by triggers: no scan of the jobs),
  // merged into the per-session figures (both ordered by session).
  auto& us = stmts_->session_usage;
  us.reset();
  auto s = m.sessions.begin();
  while (us.step()) {
    usage_totals x;
    x.jobs = u(us.int_at(1));
    x.cpu_user_ms = us.int_at(2);
    x.cpu_system_ms = us.int_at(3);
    x.run_ms = us.int_at(4);
    x.max_rss_kb = us.int_at(5);
    x.max_rss_kb_sum = us.int_at(6);
    m.usage.jobs += x.jobs;
    m.usage.cpu_user_ms += x.cpu_user_ms;
    m.usage.cpu_system_ms += x.cpu_system_ms;
    m.usage.run_ms += x.run_ms;
    m.usage.max_rss_kb = std::max(m.usage.max_rss_kb, x.max_rss_kb);
    m.usage.max_rss_kb_sum += x.max_rss_kb_sum;
    auto id = us.view_at(0);
    while (s != m.sessions.end() && s->session_id < id)
      ++s;
    if (s != m.sessions.end() && s->session_id == id)
      s->usage = x;
  }
  us.reset();
  m.persistence = opts_.ephemeral ? "ephemeral" : "ok";
  return m;
}

} // namespace jobd
