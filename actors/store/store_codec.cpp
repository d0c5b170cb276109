// Rows <-> job_info and job_spec. Lists and maps that have no column of
// their own (arguments, tags, environment) are stored as JSON texts.
#include "actors/store/store_detail.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace jobd {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

rapidjson::Document parse(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  return doc;
}

std::string str(const rapidjson::Value& v) {
  return v.IsString() ? std::string{v.GetString(), v.GetStringLength()}
                      : std::string{};
}

int64_t int_of(const rapidjson::Value& obj, const char* key, int64_t fallback) {
  auto i = obj.FindMember(key);
  return i != obj.MemberEnd() && i->value.IsInt64() ? i->value.GetInt64()
                                                    : fallback;
}

double double_of(const rapidjson::Value& obj, const char* key,
                 double fallback) {
  auto i = obj.FindMember(key);
  return i != obj.MemberEnd() && i->value.IsNumber() ? i->value.GetDouble()
                                                     : fallback;
}

std::string str_of(const rapidjson::Value& obj, const char* key) {
  auto i = obj.FindMember(key);
  return i != obj.MemberEnd() ? str(i->value) : std::string{};
}

stdin_mode stdin_of(int64_t x) {
  return x == 1   ? stdin_mode::pipe
         : x == 2 ? stdin_mode::tty
                  : stdin_mode::null;
}

int32_t i32(int64_t x) {
  return static_cast<int32_t>(
    std::clamp<int64_t>(x, std::numeric_limits<int32_t>::min(),
                        std::numeric_limits<int32_t>::max()));
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

std::string encode_spec(const job_spec& spec) {
  // Only what differs from decode_spec's defaults (every finished job keeps
  // its spec now: at 1M jobs each byte here is a megabyte of file). The
  // timeout is always written: without it the row's resolved timeout
  // would be read instead of "the server's default".
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  if (!spec.environment.empty()) {
    w.Key("environment");
    w.StartObject();
    for (auto& [k, v] : spec.environment) {
      put(w, k);
      put(w, v);
    }
    w.EndObject();
  }
  w.Key("timeoutMs");
  w.Int64(spec.timeout_ms);
  if (spec.kill_grace_ms != use_default) {
    w.Key("killGraceMs");
    w.Int64(spec.kill_grace_ms);
  }
  if (spec.output_byte_limit != use_default) {
    w.Key("outputByteLimit");
    w.Int64(spec.output_byte_limit);
  }
  if (!spec.kind_options.empty()) {
    w.Key("kindOptions");
    put(w, spec.kind_options);
  }
  // Issue 11. The idempotency key and restart_of have columns of their own.
  if (spec.input != stdin_mode::null) {
    w.Key("stdin");
    w.String(to_string(spec.input));
  }
  job_spec defaults;
  if (spec.cols != defaults.cols || spec.rows != defaults.rows) {
    w.Key("cols");
    w.Int(spec.cols);
    w.Key("rows");
    w.Int(spec.rows);
  }
  if (!spec.progress_pattern.empty()) {
    w.Key("progressPattern");
    put(w, spec.progress_pattern);
  }
  if (spec.wait_ms != 0) {
    w.Key("waitMs");
    w.Int64(spec.wait_ms);
    w.Key("waitTailLines");
    w.Uint64(spec.wait_tail_lines);
    w.Key("waitMaxBytes");
    w.Uint64(spec.wait_max_bytes);
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

job_spec decode_spec(const job_info& info, std::string_view spec_json) {
  job_spec spec;
  spec.command = info.command;
  spec.args = info.args;
  spec.shell = info.shell;
  spec.session_id = info.session_id;
  spec.working_directory = info.working_directory;
  spec.priority = info.priority;
  spec.tags = info.tags;
  spec.kind = info.kind;
  spec.timeout_ms = info.timeout_ms;
  spec.idempotency_key = info.idempotency_key;
  spec.restart_of = info.restart_of;
  spec.input = info.input;
  auto doc = parse(spec_json);
  if (!doc.IsObject())
    return spec;
  if (auto env = doc.FindMember("environment");
      env != doc.MemberEnd() && env->value.IsObject())
    for (auto& m : env->value.GetObject())
      spec.environment[str(m.name)] = str(m.value);
  spec.timeout_ms = int_of(doc, "timeoutMs", spec.timeout_ms);
  spec.kill_grace_ms = int_of(doc, "killGraceMs", use_default);
  spec.output_byte_limit = int_of(doc, "outputByteLimit", use_default);
  if (auto k = doc.FindMember("kindOptions"); k != doc.MemberEnd())
    spec.kind_options = str(k->value);
  // A spec written before issue 11 has none of these: the defaults.
  auto in = str_of(doc, "stdin");
  spec.input = in == "pipe"  ? stdin_mode::pipe
               : in == "tty" ? stdin_mode::tty
                             : stdin_mode::null;
  spec.cols = i32(int_of(doc, "cols", spec.cols));
  spec.rows = i32(int_of(doc, "rows", spec.rows));
  spec.progress_pattern = str_of(doc, "progressPattern");
  spec.wait_ms = int_of(doc, "waitMs", 0);
  spec.wait_tail_lines = static_cast<uint64_t>(std::max<int64_t>(
    int_of(doc, "waitTailLines", static_cast<int64_t>(spec.wait_tail_lines)),
    0));
  spec.wait_max_bytes = static_cast<uint64_t>(std::max<int64_t>(
    int_of(doc, "waitMaxBytes", static_cast<int64_t>(spec.wait_max_bytes)), 0));
  return spec;
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
  if (spec_json != nullptr)
    st.bind(c, *spec_json);
  else
    st.bind_null(c);
}

} // namespace jobd
