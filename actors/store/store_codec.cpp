// Rows <-> job_info and job_spec. Lists and maps that have no column of
// their own (arguments, tags, environment) are stored as JSON texts.
#include "actors/store/store_detail.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("environment");
  w.StartObject();
  for (auto& [k, v] : spec.environment) {
    put(w, k);
    put(w, v);
  }
  w.EndObject();
  w.Key("timeoutMs");
  w.Int64(spec.timeout_ms);
  w.Key("killGraceMs");
  w.Int64(spec.kill_grace_ms);
  w.Key("outputByteLimit");
  w.Int64(spec.output_byte_limit);
  w.Key("kindOptions");
  put(w, spec.kind_options);
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
  if (spec_json != nullptr)
    st.bind(c, *spec_json);
  else
    st.bind_null(c);
}

} // namespace jobd
