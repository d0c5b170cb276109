// The stored spec: the parts of a job_spec that the job row has no column
// for (and the issue 12 fields, which some columns repeat), as one JSON
// text. Only what differs from the defaults is written. Also the JSON of a
// job's security controls (its spec's, and the row's own `security`).
#include "actors/store/store_detail.hpp"
#include "actors/store/store_json.hpp"

#include <cmath>

namespace jobd {

using namespace store_json;

namespace {

// The five limits, named as the tools name them.
struct limit_field {
  const char* name;
  int64_t resource_limits::*field;
};

constexpr limit_field limit_fields[] = {
  {limit_names::cpu_seconds, &resource_limits::cpu_seconds},
  {limit_names::memory_bytes, &resource_limits::memory_bytes},
  {limit_names::max_processes, &resource_limits::max_processes},
  {limit_names::open_files, &resource_limits::open_files},
  {limit_names::file_size_bytes, &resource_limits::file_size_bytes},
};

// {name: value} of the limits set (0 = none, left out).
void put_limits(writer& w, const resource_limits& l) {
  w.StartObject();
  for (auto& f : limit_fields) {
    if (l.*f.field > 0) {
      w.Key(f.name);
      w.Int64(l.*f.field);
    }
  }
  w.EndObject();
}

resource_limits limits_of(const rapidjson::Value& obj) {
  resource_limits l;
  if (!obj.IsObject())
    return l;
  for (auto& f : limit_fields)
    l.*f.field = std::max<int64_t>(int_of(obj, f.name, 0), 0);
  return l;
}

void put_strings(writer& w, const std::vector<std::string>& xs) {
  w.StartArray();
  for (auto& x : xs)
    put(w, x);
  w.EndArray();
}

std::vector<std::string> strings_of(const rapidjson::Value& obj,
                                    const char* key) {
  std::vector<std::string> out;
  auto i = obj.FindMember(key);
  if (i != obj.MemberEnd() && i->value.IsArray())
    for (auto& x : i->value.GetArray())
      out.push_back(str(x));
  return out;
}

void put_security(writer& w, const job_security& s) {
  w.StartObject();
  w.Key("limits");
  put_limits(w, s.limits);
  if (!s.enforced_by.empty()) {
    w.Key("enforcedBy");
    w.StartObject();
    for (auto& [name, by] : s.enforced_by) {
      put(w, name);
      put(w, by);
    }
    w.EndObject();
  }
  if (s.sandboxed) {
    w.Key("sandboxed");
    w.Bool(true);
    w.Key("landlockAbi");
    w.Int(s.landlock_abi);
    w.Key("writable");
    put_strings(w, s.writable);
    w.Key("readable");
    put_strings(w, s.readable);
  }
  w.Key("env");
  put(w, s.env_policy);
  w.EndObject();
}

job_security security_of(const rapidjson::Value& obj) {
  job_security s;
  if (!obj.IsObject())
    return s;
  if (auto l = obj.FindMember("limits"); l != obj.MemberEnd())
    s.limits = limits_of(l->value);
  if (auto e = obj.FindMember("enforcedBy");
      e != obj.MemberEnd() && e->value.IsObject())
    for (auto& m : e->value.GetObject())
      s.enforced_by[str(m.name)] = str(m.value);
  s.sandboxed = bool_of(obj, "sandboxed", false);
  s.landlock_abi = i32(int_of(obj, "landlockAbi", 0));
  s.writable = strings_of(obj, "writable");
  s.readable = strings_of(obj, "readable");
  if (auto env = str_of(obj, "env"); !env.empty())
    s.env_policy = env;
  return s;
}

bool is_default(const job_security& s) {
  return !s.limits.any() && s.enforced_by.empty() && !s.sandboxed
         && s.writable.empty() && s.readable.empty()
         && s.env_policy == job_security{}.env_policy;
}

bool same(const retry_policy& a, const retry_policy& b) {
  return a.max_attempts == b.max_attempts && a.backoff_ms == b.backoff_ms
         && a.backoff_factor == b.backoff_factor
         && a.max_backoff_ms == b.max_backoff_ms && a.jitter == b.jitter
         && a.on_failure == b.on_failure && a.on_timeout == b.on_timeout
         && a.exit_codes == b.exit_codes;
}
} // namespace

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
  // Issue 12: kept in the spec itself (the row has columns for some of
  // them too), so a spec read back alone is whole.
  if (!spec.depends_on.empty()) {
    w.Key("dependsOn");
    w.StartArray();
    for (auto& id : spec.depends_on)
      put(w, id);
    w.EndArray();
  }
  if (spec.condition != dependency_condition::success) {
    w.Key("condition");
    w.String(to_string(spec.condition));
  }
  if (auto& r = spec.retry; !same(r, retry_policy{})) {
    w.Key("retry");
    w.StartObject();
    w.Key("maxAttempts");
    w.Int(r.max_attempts);
    w.Key("backoffMs");
    w.Int64(r.backoff_ms);
    // NaN and infinities are not JSON (the parser never lets them in):
    // the default factor is read back then.
    if (std::isfinite(r.backoff_factor)) {
      w.Key("backoffFactor");
      w.Double(r.backoff_factor);
    }
    w.Key("maxBackoffMs");
    w.Int64(r.max_backoff_ms);
    w.Key("jitter");
    w.Bool(r.jitter);
    w.Key("onFailure");
    w.Bool(r.on_failure);
    w.Key("onTimeout");
    w.Bool(r.on_timeout);
    if (!r.exit_codes.empty()) {
      w.Key("exitCodes");
      w.StartArray();
      for (auto x : r.exit_codes)
        w.Int(x);
      w.EndArray();
    }
    w.EndObject();
  }
  if (spec.start_at != 0) {
    w.Key("startAt");
    w.Int64(spec.start_at);
  }
  if (!spec.schedule_id.empty()) {
    w.Key("scheduleId");
    put(w, spec.schedule_id);
  }
  if (!spec.template_name.empty()) {
    w.Key("templateName");
    put(w, spec.template_name);
  }
  // Issue 13: the controls as asked for (a requeued job is checked again
  // and gets them anew) and, once the kind filled them, as applied.
  if (spec.limits.any()) {
    w.Key("limits");
    put_limits(w, spec.limits);
  }
  if (spec.sandbox) {
    w.Key("sandbox");
    w.Bool(true);
  }
  if (!is_default(spec.security)) {
    w.Key("security");
    put_security(w, spec.security);
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string encode_security(const job_security& security) {
  if (is_default(security))
    return {};
  rapidjson::StringBuffer buf;
  writer w{buf};
  put_security(w, security);
  return {buf.GetString(), buf.GetSize()};
}

job_security decode_security(std::string_view json) {
  if (json.empty())
    return {};
  return security_of(parse(json));
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
  // Issue 12; a spec written before has none of these: the defaults.
  if (auto d = doc.FindMember("dependsOn");
      d != doc.MemberEnd() && d->value.IsArray())
    for (auto& id : d->value.GetArray())
      spec.depends_on.push_back(str(id));
  if (!from_string(str_of(doc, "condition"), spec.condition))
    spec.condition = dependency_condition::success;
  if (auto r = doc.FindMember("retry");
      r != doc.MemberEnd() && r->value.IsObject()) {
    auto& o = r->value;
    auto& p = spec.retry;
    p.max_attempts = i32(int_of(o, "maxAttempts", p.max_attempts));
    p.backoff_ms = int_of(o, "backoffMs", p.backoff_ms);
    p.backoff_factor = double_of(o, "backoffFactor", p.backoff_factor);
    p.max_backoff_ms = int_of(o, "maxBackoffMs", p.max_backoff_ms);
    p.jitter = bool_of(o, "jitter", p.jitter);
    p.on_failure = bool_of(o, "onFailure", p.on_failure);
    p.on_timeout = bool_of(o, "onTimeout", p.on_timeout);
    if (auto x = o.FindMember("exitCodes");
        x != o.MemberEnd() && x->value.IsArray())
      for (auto& c : x->value.GetArray())
        if (c.IsInt())
          p.exit_codes.push_back(c.GetInt());
  }
  spec.start_at = int_of(doc, "startAt", 0);
  spec.schedule_id = str_of(doc, "scheduleId");
  spec.template_name = str_of(doc, "templateName");
  // Issue 13; a spec written before has none of these: no controls asked.
  if (auto l = doc.FindMember("limits"); l != doc.MemberEnd())
    spec.limits = limits_of(l->value);
  spec.sandbox = bool_of(doc, "sandbox", false);
  if (auto sec = doc.FindMember("security"); sec != doc.MemberEnd())
    spec.security = security_of(sec->value);
  return spec;
}
} // namespace jobd
