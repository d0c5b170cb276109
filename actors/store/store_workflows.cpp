// Templates and schedules in the store (issue 12). Both belong to the state
// directory, not to an instance: every jobd that shares it sees the same
// ones. Each call is its own transaction, right away (they are rare next to
// job rows and output, and their callers wait for the answer).
#include "actors/store/store_detail.hpp"
#include "actors/store/store_json.hpp"

#include <algorithm>
#include <limits>

namespace jobd {

using namespace store_json;

namespace {

// {"name": {"description": ..., "default": ..., "pattern": ...}}, with
// "default" only when the parameter has one (an empty default is one).
std::string
encode_parameters(const std::map<std::string, template_parameter>& params) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  for (auto& [name, p] : params) {
    put(w, name);
    w.StartObject();
    if (!p.description.empty()) {
      w.Key("description");
      put(w, p.description);
    }
    if (p.has_default) {
      w.Key("default");
      put(w, p.default_value);
    }
    if (!p.pattern.empty()) {
      w.Key("pattern");
      put(w, p.pattern);
    }
    w.EndObject();
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::map<std::string, template_parameter>
decode_parameters(std::string_view text) {
  std::map<std::string, template_parameter> out;
  auto doc = parse(text);
  if (!doc.IsObject())
    return out;
  for (auto& m : doc.GetObject()) {
    if (!m.value.IsObject())
      continue;
    template_parameter p;
    auto& o = m.value;
    if (auto i = o.FindMember("description"); i != o.MemberEnd())
      p.description = str(i->value);
    if (auto i = o.FindMember("default"); i != o.MemberEnd()) {
      p.has_default = true;
      p.default_value = str(i->value);
    }
    if (auto i = o.FindMember("pattern"); i != o.MemberEnd())
      p.pattern = str(i->value);
    out.emplace(str(m.name), std::move(p));
  }
  return out;
}

constexpr const char* template_columns
  = "name, description, job, parameters, created_at, updated_at";

job_template decode_template(const sql::statement& row) {
  job_template t;
  t.name = row.text_at(0);
  t.description = row.text_at(1);
  t.job = row.text_at(2);
  t.parameters = decode_parameters(row.view_at(3));
  t.created_at = row.int_at(4);
  t.updated_at = row.int_at(5);
  return t;
}

constexpr const char* schedule_columns
  = "id, name, cron, timezone, job, overlap, catch_up, enabled, created_at, "
    "updated_at, last_fired_at, last_job_id, fired, skipped, missed, "
    "last_error";

// Counters are unsigned in the model and signed in SQLite: they stop at
// the largest signed value rather than wrap to negative ones.
int64_t counter(uint64_t x) {
  return static_cast<int64_t>(
    std::min<uint64_t>(x, std::numeric_limits<int64_t>::max()));
}

uint64_t counter_of(int64_t x) {
  return static_cast<uint64_t>(std::max<int64_t>(x, 0));
}

overlap_policy overlap_of(int64_t x) {
  return x == 1   ? overlap_policy::queue
         : x == 2 ? overlap_policy::cancel_previous
                  : overlap_policy::skip;
}

schedule_spec decode_schedule(const sql::statement& row) {
  schedule_spec s;
  int c = 0;
  s.id = row.text_at(c++);
  s.name = row.text_at(c++);
  s.cron = row.text_at(c++);
  s.timezone = row.text_at(c++);
  s.job = row.text_at(c++);
  s.overlap = overlap_of(row.int_at(c++));
  s.catch_up = row.int_at(c++) != 0;
  s.enabled = row.int_at(c++) != 0;
  s.created_at = row.int_at(c++);
  s.updated_at = row.int_at(c++);
  s.last_fired_at = row.int_at(c++);
  s.last_job_id = row.text_at(c++);
  s.fired = counter_of(row.int_at(c++));
  s.skipped = counter_of(row.int_at(c++));
  s.missed = counter_of(row.int_at(c++));
  s.last_error = row.text_at(c++);
  return s;
}

} // namespace

job_template job_store::put_template(const job_template& t) {
  sql::transaction tx{db_};
  // The first save's created_at stays; updated_at never goes below it
  // (a clock set back).
  sql::statement up{
    db_, "INSERT INTO templates VALUES (?1, ?2, ?3, ?4, ?5, ?5) "
         "ON CONFLICT(name) DO UPDATE SET description = excluded.description, "
         "job = excluded.job, parameters = excluded.parameters, "
         "updated_at = max(created_at, excluded.updated_at) "
         "RETURNING created_at, updated_at"};
  up.bind(1, t.name)
    .bind(2, t.description)
    .bind(3, t.job)
    .bind(4, encode_parameters(t.parameters))
    .bind(5, now_ms());
  auto saved = t;
  if (up.step()) {
    saved.created_at = up.int_at(0);
    saved.updated_at = up.int_at(1);
  }
  up.run(); // the write is done by the first step: this only finishes
  tx.commit();
  return saved;
}

std::optional<job_template> job_store::get_template(const std::string& name) {
  auto sql = std::string{"SELECT "} + template_columns
             + " FROM templates WHERE name = ?";
  sql::statement q{db_, sql.c_str()};
  q.bind(1, name);
  if (!q.step())
    return std::nullopt;
  return decode_template(q);
}

template_list job_store::list_templates() {
  auto sql = std::string{"SELECT "} + template_columns
             + " FROM templates ORDER BY name";
  sql::statement q{db_, sql.c_str()};
  template_list out;
  while (q.step())
    out.templates.push_back(decode_template(q));
  return out;
}

bool job_store::erase_template(const std::string& name) {
  sql::statement del{db_, "DELETE FROM templates WHERE name = ?"};
  del.bind(1, name).run();
  return db_.changes() > 0;
}

void job_store::put_schedule(const schedule_spec& s) {
  // An update in place (not INSERT OR REPLACE, which deletes and inserts):
  // the row keeps its rowid, the tie-break of the oldest-first order.
  auto sql = std::string{"INSERT INTO schedules("} + schedule_columns
             + ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
               "?13, ?14, ?15, ?16) ON CONFLICT(id) DO UPDATE SET "
               "name = excluded.name, cron = excluded.cron, "
               "timezone = excluded.timezone, job = excluded.job, "
               "overlap = excluded.overlap, catch_up = excluded.catch_up, "
               "enabled = excluded.enabled, created_at = excluded.created_at, "
               "updated_at = excluded.updated_at, "
               "last_fired_at = excluded.last_fired_at, "
               "last_job_id = excluded.last_job_id, fired = excluded.fired, "
               "skipped = excluded.skipped, missed = excluded.missed, "
               "last_error = excluded.last_error";
  sql::statement up{db_, sql.c_str()};
  int c = 1;
  up.bind(c++, s.id);
  up.bind(c++, s.name);
  up.bind(c++, s.cron);
  up.bind(c++, s.timezone);
  up.bind(c++, s.job);
  up.bind(c++, static_cast<int64_t>(s.overlap));
  up.bind(c++, int64_t{s.catch_up ? 1 : 0});
  up.bind(c++, int64_t{s.enabled ? 1 : 0});
  up.bind(c++, s.created_at);
  up.bind(c++, s.updated_at);
  up.bind(c++, s.last_fired_at);
  up.bind(c++, s.last_job_id);
  up.bind(c++, counter(s.fired));
  up.bind(c++, counter(s.skipped));
  up.bind(c++, counter(s.missed));
  up.bind(c++, s.last_error);
  up.run();
}

schedule_list job_store::list_schedules() {
  auto sql = std::string{"SELECT "} + schedule_columns
             + " FROM schedules ORDER BY created_at, rowid";
  sql::statement q{db_, sql.c_str()};
  schedule_list out;
  while (q.step())
    out.schedules.push_back(schedule_info{decode_schedule(q), {}});
  return out;
}

bool job_store::erase_schedule(const std::string& id) {
  sql::statement del{db_, "DELETE FROM schedules WHERE id = ?"};
  del.bind(1, id).run();
  return db_.changes() > 0;
}

} // namespace jobd
