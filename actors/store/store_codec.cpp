// Rows <-> job_info. Lists and maps that have no column of their own
// (arguments, tags, dependencies, attempts) are stored as JSON texts; the
// spec's codec is in store_spec_codec.cpp.
#include "actors/store/store_detail.hpp"
#include "actors/store/store_json.hpp"

#include <cmath>

namespace jobd {

using namespace store_json;

namespace {

stdin_mode stdin_of(int64_t x) {
  return x == 1   ? stdin_mode::pipe
         : x == 2 ? stdin_mode::tty
                  : stdin_mode::null;
}

// job_progress as JSON; empty (the column is NULL) when nothing was found.
std::string encode_progress(const job_progress& p) {
  if (!p.known)
    return {};
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  // NaN and infinities are not JSON: unknown (-1).
  auto num = [](double x) { return std::isfinite(x) ? x : -1.0; };
  // Unknown numbers (negative) are left out: decode_progress reads -1.
  auto field = [&](const char* key, double x) {
    if (num(x) >= 0) {
      w.Key(key);
      w.Double(x);
    }
  };
  field("percent", p.percent);
  field("current", p.current);
  field("total", p.total);
  w.Key("text");
  put(w, p.text);
  w.Key("at");
  w.Int64(p.at);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

job_progress decode_progress(std::string_view text) {
  job_progress p;
  if (text.empty())
    return p;
  auto doc = parse(text);
  if (!doc.IsObject())
    return p;
  p.known = true;
  p.percent = double_of(doc, "percent", -1);
  p.current = double_of(doc, "current", -1);
  p.total = double_of(doc, "total", -1);
  p.text = str_of(doc, "text");
  p.at = int_of(doc, "at", 0);
  return p;
}

// A list of ids as a JSON array; empty (the column is NULL) when none.
std::string encode_ids(const std::vector<std::string>& ids) {
  return ids.empty() ? std::string{} : encode_args(ids);
}

std::vector<std::string> decode_ids(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty())
    return out;
  if (auto doc = parse(text); doc.IsArray())
    for (auto& a : doc.GetArray())
      out.push_back(str(a));
  return out;
}

// status.attempts as a JSON array; empty (NULL) when no attempt ended.
std::string encode_attempts(const std::vector<attempt_record>& attempts) {
  if (attempts.empty())
    return {};
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartArray();
  for (auto& a : attempts) {
    w.StartObject();
    w.Key("attempt");
    w.Int(a.attempt);
    w.Key("startedAt");
    w.Int64(a.started_at);
    w.Key("finishedAt");
    w.Int64(a.finished_at);
    w.Key("status");
    put(w, a.status);
    w.Key("exitCode");
    w.Int(a.exit_code);
    w.Key("signal");
    w.Int(a.signal);
    if (!a.error_code.empty()) {
      w.Key("errorCode");
      put(w, a.error_code);
    }
    w.EndObject();
  }
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

std::vector<attempt_record> decode_attempts(std::string_view text) {
  std::vector<attempt_record> out;
  if (text.empty())
    return out;
  auto doc = parse(text);
  if (!doc.IsArray())
    return out;
  for (auto& a : doc.GetArray()) {
    if (!a.IsObject())
      continue;
    attempt_record r;
    r.attempt = i32(int_of(a, "attempt", 1));
    r.started_at = int_of(a, "startedAt", 0);
    r.finished_at = int_of(a, "finishedAt", 0);
    r.status = str_of(a, "status");
    r.exit_code = i32(int_of(a, "exitCode", -1));
    r.signal = i32(int_of(a, "signal", 0));
    r.error_code = str_of(a, "errorCode");
    out.push_back(std::move(r));
  }
  return out;
}

dependency_condition condition_of(int64_t x) {
  return x == 1   ? dependency_condition::finish
         : x == 2 ? dependency_condition::failure
                  : dependency_condition::success;
}
// Binds `text`, or NULL when it is empty.
void bind_or_null(sql::statement& st, int i, const std::string& text) {
  if (text.empty())
    st.bind_null(i);
  else
    st.bind(i, text);
}

} // namespace

std::string encode_args(const std::vector<std::string>& args) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartArray();
  for (auto& a : args)
    put(w, a);
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

std::string encode_tags(const std::map<std::string, std::string>& tags) {
  // [[name, JSON text of the value], ...]: the values stay as given.
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartArray();
  for (auto& [k, v] : tags) {
    w.StartArray();
    put(w, k);
    put(w, v);
    w.EndArray();
  }
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}
job_info decode_job(const sql::statement& row) {
  job_info j;
  int c = 0;
  j.serial = static_cast<uint64_t>(row.int_at(c++));
  j.id = row.text_at(c++);
  j.owner_instance = row.text_at(c++);
  auto status = row.int_at(c++);
  j.status = status >= 0 && status <= 4 ? static_cast<job_status>(status)
                                        : job_status::failed;
  j.session_id = row.text_at(c++);
  j.kind = row.text_at(c++);
  j.command = row.text_at(c++);
  if (auto doc = parse(row.view_at(c++)); doc.IsArray())
    for (auto& a : doc.GetArray())
      j.args.push_back(str(a));
  j.shell = row.int_at(c++) != 0;
  j.working_directory = row.text_at(c++);
  j.priority = static_cast<int32_t>(row.int_at(c++));
  j.timeout_ms = row.int_at(c++);
  if (auto doc = parse(row.view_at(c++)); doc.IsArray())
    for (auto& t : doc.GetArray())
      if (t.IsArray() && t.Size() == 2)
        j.tags[str(t[0])] = str(t[1]);
  j.created_at = row.int_at(c++);
  j.started_at = row.int_at(c++);
  j.finished_at = row.int_at(c++);
  j.exit_code = static_cast<int32_t>(row.int_at(c++));
  j.signal = static_cast<int32_t>(row.int_at(c++));
  j.error_code = row.text_at(c++);
  j.error = row.text_at(c++);
  j.pid = row.int_at(c++);
  j.run_ms = row.int_at(c++);
  j.tracking = row.text_at(c++);
  j.process_start = row.text_at(c++);
  auto& o = j.output;
  auto u = [&] { return static_cast<uint64_t>(row.int_at(c++)); };
  o.stdout_bytes = u();
  o.stderr_bytes = u();
  o.chunks = u();
  o.dropped_chunks = u();
  o.dropped_bytes = u();
  o.buffered_bytes = u();
  o.last_sequence = u();
  j.restart_of = row.text_at(c++);
  j.idempotency_key = row.text_at(c++); // NULL reads as ""
  j.input = stdin_of(row.int_at(c++));
  j.stdin_open = row.int_at(c++) != 0;
  j.cols = i32(row.int_at(c++));
  j.rows = i32(row.int_at(c++));
  j.paused = row.int_at(c++) != 0;
  j.paused_at = row.int_at(c++);
  j.paused_ms = row.int_at(c++);
  j.progress = decode_progress(row.view_at(c++));
  j.usage.known = row.int_at(c++) != 0;
  j.usage.cpu_user_ms = row.int_at(c++);
  j.usage.cpu_system_ms = row.int_at(c++);
  j.usage.max_rss_kb = row.int_at(c++);
  // Issue 12 (rows written under schema 6 read as the defaults).
  j.pending_reason = row.text_at(c++);
  j.depends_on = decode_ids(row.view_at(c++));
  j.condition = condition_of(row.int_at(c++));
  j.waiting_for = decode_ids(row.view_at(c++));
  j.scheduled_for = row.int_at(c++);
  j.schedule_id = row.text_at(c++); // NULL reads as ""
  j.template_name = row.text_at(c++);
  j.attempt = i32(row.int_at(c++));
  // A job that started ran at least its first attempt: rows from before
  // schema 7 have no attempt number (0).
  if (j.attempt == 0 && j.started_at > 0)
    j.attempt = 1;
  j.max_attempts = std::max(i32(row.int_at(c++)), 1);
  j.next_attempt_at = row.int_at(c++);
  j.attempts = decode_attempts(row.view_at(c++));
  // Issue 13 (rows written under schema 7 read as unconfined).
  j.security = decode_security(row.view_at(c++)); // NULL reads as ""
  j.usage.limit_exceeded = row.text_at(c++);
  j.kind_status = row.text_at(c++); // NULL (a local job) reads as ""
  return j;
}

void bind_job(sql::statement& st, const job_info& j, const std::string& owner,
              const std::string* spec_json) {
  auto i64 = [](uint64_t x) { return static_cast<int64_t>(x); };
  int c = 1;
  st.bind(c++, i64(j.serial));
  st.bind(c++, j.id);
  st.bind(c++, owner);
  st.bind(c++, static_cast<int64_t>(j.status));
  st.bind(c++, j.session_id);
  st.bind(c++, j.kind);
  st.bind(c++, j.command);
  st.bind(c++, encode_args(j.args));
  st.bind(c++, int64_t{j.shell ? 1 : 0});
  st.bind(c++, j.working_directory);
  st.bind(c++, int64_t{j.priority});
  st.bind(c++, j.timeout_ms);
  st.bind(c++, encode_tags(j.tags));
  st.bind(c++, j.created_at);
  st.bind(c++, j.started_at);
  st.bind(c++, j.finished_at);
  st.bind(c++, int64_t{j.exit_code});
  st.bind(c++, int64_t{j.signal});
  st.bind(c++, j.error_code);
  st.bind(c++, j.error);
  st.bind(c++, j.pid);
  st.bind(c++, j.run_ms);
  st.bind(c++, j.tracking);
  st.bind(c++, j.process_start);
  auto& o = j.output;
  st.bind(c++, i64(o.stdout_bytes));
  st.bind(c++, i64(o.stderr_bytes));
  st.bind(c++, i64(o.chunks));
  st.bind(c++, i64(o.dropped_chunks));
  st.bind(c++, i64(o.dropped_bytes));
  st.bind(c++, i64(o.buffered_bytes));
  st.bind(c++, i64(o.last_sequence));
  st.bind(c++, j.restart_of);
  if (j.idempotency_key.empty()) // NULL: not in jobs_idempotency
    st.bind_null(c++);
  else
    st.bind(c++, j.idempotency_key);
  st.bind(c++, static_cast<int64_t>(j.input));
  st.bind(c++, int64_t{j.stdin_open ? 1 : 0});
  st.bind(c++, int64_t{j.cols});
  st.bind(c++, int64_t{j.rows});
  st.bind(c++, int64_t{j.paused ? 1 : 0});
  st.bind(c++, j.paused_at);
  st.bind(c++, j.paused_ms);
  if (auto p = encode_progress(j.progress); p.empty())
    st.bind_null(c++);
  else
    st.bind(c++, p);
  st.bind(c++, int64_t{j.usage.known ? 1 : 0});
  st.bind(c++, j.usage.cpu_user_ms);
  st.bind(c++, j.usage.cpu_system_ms);
  st.bind(c++, j.usage.max_rss_kb);
  st.bind(c++, j.pending_reason);
  bind_or_null(st, c++, encode_ids(j.depends_on));
  st.bind(c++, static_cast<int64_t>(j.condition));
  bind_or_null(st, c++, encode_ids(j.waiting_for));
  st.bind(c++, j.scheduled_for);
  bind_or_null(st, c++, j.schedule_id); // NULL: not in jobs_schedule
  bind_or_null(st, c++, j.template_name);
  st.bind(c++, int64_t{j.attempt});
  st.bind(c++, int64_t{j.max_attempts});
  st.bind(c++, j.next_attempt_at);
  bind_or_null(st, c++, encode_attempts(j.attempts));
  bind_or_null(st, c++, encode_security(j.security));
  st.bind(c++, j.usage.limit_exceeded);
  bind_or_null(st, c++, j.kind_status);
  if (spec_json != nullptr)
    st.bind(c, *spec_json);
  else
    st.bind_null(c);
}

} // namespace jobd
