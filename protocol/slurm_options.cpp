// kindOptions of the slurm kind, the batch script and the sbatch argv.
#include "protocol/slurm.hpp"

#include "protocol/json.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace jobd::slurm {

namespace {

tool_error option_error(const std::string& field, const std::string& why) {
  tool_error err{
    codes::invalid_arguments, "kindOptions." + field + ": " + why, {}};
  err.details["field"] = json_quote("kindOptions." + field);
  return err;
}

bool all_of_chars(std::string_view text, const char* extra) {
  return std::all_of(text.begin(), text.end(), [extra](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0
           || std::string_view{extra}.find(c) != std::string_view::npos;
  });
}

bool digits(std::string_view text, size_t max_len = 9) {
  return !text.empty() && text.size() <= max_len
         && std::all_of(text.begin(), text.end(),
                        [](char c) { return c >= '0' && c <= '9'; });
}

int64_t to_int(std::string_view text) {
  int64_t x = 0;
  for (char c : text)
    x = x * 10 + (c - '0');
  return x;
}

// A value that can never be read as an option of its own.
bool safe_value(std::string_view text, const char* extra, size_t max_len) {
  return !text.empty() && text.size() <= max_len && text.front() != '-'
         && all_of_chars(text, extra);
}

// What an allowlisted sbatch option takes.
enum class takes { nothing, count, memory, name, node_list, hint, list };

struct allowed_option {
  const char* name;
  takes value;
};

// sbatch options an agent may add: resources and placement, never files,
// users, environments, scripts or anything read as a command.
constexpr allowed_option allowlist[] = {
  {"--exclusive", takes::nothing},
  {"--overcommit", takes::nothing},
  {"--contiguous", takes::nothing},
  {"--spread-job", takes::nothing},
  {"--no-requeue", takes::nothing},
  {"--oversubscribe", takes::nothing},
  {"--hint", takes::hint},
  {"--cpus-per-task", takes::count},
  {"--ntasks", takes::count},
  {"--ntasks-per-node", takes::count},
  {"--cpus-per-gpu", takes::count},
  {"--threads-per-core", takes::count},
  {"--cores-per-socket", takes::count},
  {"--sockets-per-node", takes::count},
  {"--mincpus", takes::count},
  {"--core-spec", takes::count},
  {"--mem-per-cpu", takes::memory},
  {"--mem-per-gpu", takes::memory},
  {"--tmp", takes::memory},
  {"--gpus-per-node", takes::list},
  {"--gpus-per-task", takes::list},
  {"--licenses", takes::list},
  {"--distribution", takes::list},
  {"--reservation", takes::name},
  {"--wckey", takes::name},
  {"--nodelist", takes::node_list},
  {"--exclude", takes::node_list},
};

bool check_value(takes what, std::string_view value) {
  switch (what) {
    case takes::nothing:
      return false;
    case takes::count:
      return digits(value, 6) && to_int(value) > 0;
    case takes::memory:
      return valid_memory(value);
    case takes::name:
      return valid_name(value);
    case takes::node_list:
      return safe_value(value, "_.,[]-", 1024);
    case takes::hint:
      return value == "compute_bound" || value == "memory_bound"
             || value == "multithread" || value == "nomultithread";
    case takes::list:
      return safe_value(value, "_.,:*=-", 256);
  }
  return false;
}

// Reads an optional string member and checks it with `ok`.
bool read_string(const rapidjson::Value& doc, const char* name,
                 std::string& out, bool (*ok)(std::string_view),
                 const char* what, tool_error& err) {
  auto v = protocol::member(doc, name);
  if (v == nullptr)
    return true;
  if (!v->IsString()) {
    err = option_error(name, "must be a string");
    return false;
  }
  out = std::string{protocol::str(*v)};
  if (!ok(out)) {
    err = option_error(name, std::string{"must be "} + what);
    return false;
  }
  return true;
}

bool read_count(const rapidjson::Value& doc, const char* name, int64_t& out,
                int64_t min, int64_t max, tool_error& err) {
  auto v = protocol::member(doc, name);
  if (v == nullptr)
    return true;
  if (!v->IsInt64() || v->GetInt64() < min || v->GetInt64() > max) {
    err = option_error(name, "must be an integer from " + std::to_string(min)
                               + " to " + std::to_string(max));
    return false;
  }
  out = v->GetInt64();
  return true;
}

bool gres_ok(std::string_view text) {
  return safe_value(text, "_.:,-", 256);
}

bool constraint_ok(std::string_view text) {
  return safe_value(text, "_.&|,:*[]()-", 256);
}

} // namespace

const char* options_schema() {
  return R"json({"type":"object","additionalProperties":false,"properties":{
"partition":{"type":"string","maxLength":64,"description":"sbatch --partition"},
"timeLimit":{"type":["integer","string"],"description":"sbatch --time: minutes, or D-HH:MM:SS and Slurm's other forms (default: the job's timeout, rounded up to minutes)"},
"cpus":{"type":"integer","minimum":1,"maximum":100000,"description":"sbatch --cpus-per-task"},
"memory":{"type":"string","maxLength":16,"description":"sbatch --mem, e.g. 4G"},
"gpus":{"type":"integer","minimum":1,"maximum":1024,"description":"sbatch --gpus"},
"gres":{"type":"string","maxLength":256,"description":"sbatch --gres, e.g. gpu:a100:2"},
"nodes":{"type":"integer","minimum":1,"maximum":100000,"description":"sbatch --nodes"},
"account":{"type":"string","maxLength":64,"description":"sbatch --account"},
"qos":{"type":"string","maxLength":64,"description":"sbatch --qos"},
"constraint":{"type":"string","maxLength":256,"description":"sbatch --constraint"},
"extraArgs":{"type":"array","maxItems":32,"items":{"type":"string","maxLength":1100},"description":"more sbatch options from an allowlist (--exclusive, --hint=..., --cpus-per-task=N, --ntasks=N, --mem-per-cpu=..., --nodelist=..., ...), one option per element"}}})json";
}

bool valid_name(std::string_view text) {
  return safe_value(text, "_.-", 64);
}

bool valid_memory(std::string_view text) {
  if (text.empty() || text.size() > 16)
    return false;
  auto number = text;
  auto last = text.back();
  if (last == 'K' || last == 'M' || last == 'G' || last == 'T')
    number.remove_suffix(1);
  return digits(number, 12);
}

bool parse_time_limit(std::string_view text, int64_t& seconds) {
  int64_t days = 0;
  bool has_days = false;
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    if (!digits(text.substr(0, dash), 5))
      return false;
    days = to_int(text.substr(0, dash));
    has_days = true;
    text.remove_prefix(dash + 1);
  }
  std::vector<int64_t> parts;
  while (true) {
    auto colon = text.find(':');
    auto part = text.substr(0, colon);
    if (!digits(part, 7))
      return false;
    parts.push_back(to_int(part));
    if (colon == std::string_view::npos)
      break;
    text.remove_prefix(colon + 1);
  }
  if (parts.size() > 3)
    return false;
  int64_t h = 0, m = 0, s = 0;
  if (has_days) {
    // D-HH, D-HH:MM, D-HH:MM:SS
    h = parts[0];
    m = parts.size() > 1 ? parts[1] : 0;
    s = parts.size() > 2 ? parts[2] : 0;
  } else if (parts.size() == 1) {
    m = parts[0]; // MM
  } else if (parts.size() == 2) {
    m = parts[0]; // MM:SS
    s = parts[1];
  } else {
    h = parts[0]; // HH:MM:SS
    m = parts[1];
    s = parts[2];
  }
  seconds = ((days * 24 + h) * 60 + m) * 60 + s;
  // A year at most: beyond it, INFINITE is what is meant.
  return seconds > 0 && seconds <= int64_t{366} * 86400;
}

std::string format_time_limit(int64_t seconds) {
  auto minutes = (std::max<int64_t>(seconds, 1) + 59) / 60;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld-%02lld:%02lld:00",
                static_cast<long long>(minutes / 1440),
                static_cast<long long>(minutes / 60 % 24),
                static_cast<long long>(minutes % 60));
  return buf;
}

std::string check_extra_arg(std::string_view arg) {
  auto eq = arg.find('=');
  auto name = arg.substr(0, eq);
  for (auto& option : allowlist) {
    if (name != option.name)
      continue;
    if (option.value == takes::nothing)
      return eq == std::string_view::npos
               ? std::string{}
               : std::string{option.name} + " takes no value";
    if (eq == std::string_view::npos)
      return std::string{option.name} + " needs =VALUE (one element)";
    return check_value(option.value, arg.substr(eq + 1))
             ? std::string{}
             : "bad value for " + std::string{option.name};
  }
  return "not an allowed sbatch option: " + std::string{name.substr(0, 64)};
}

bool parse_options(std::string_view json_text, options& out, tool_error& err) {
  out = options{};
  if (json_text.empty())
    return true;
  rapidjson::Document doc;
  doc.Parse(json_text.data(), json_text.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    err = option_error("", "must be an object");
    return false;
  }
  if (!read_string(doc, "partition", out.partition, valid_name,
                   "a Slurm name ([A-Za-z0-9_.-], at most 64)", err)
      || !read_string(doc, "account", out.account, valid_name,
                      "a Slurm name ([A-Za-z0-9_.-], at most 64)", err)
      || !read_string(doc, "qos", out.qos, valid_name,
                      "a Slurm name ([A-Za-z0-9_.-], at most 64)", err)
      || !read_string(doc, "memory", out.memory, valid_memory,
                      "a size such as 4G, 512M or 1024 (MB)", err)
      || !read_string(doc, "gres", out.gres, gres_ok,
                      "a GRES list such as gpu:2 or gpu:a100:1", err)
      || !read_string(doc, "constraint", out.constraint, constraint_ok,
                      "a feature expression such as intel&ib", err)
      || !read_count(doc, "cpus", out.cpus, 1, 100000, err)
      || !read_count(doc, "gpus", out.gpus, 1, 1024, err)
      || !read_count(doc, "nodes", out.nodes, 1, 100000, err))
    return false;
  if (auto v = protocol::member(doc, "timeLimit")) {
    bool ok = false;
    if (v->IsInt64()) {
      out.time_limit_s = v->GetInt64() * 60;
      ok = v->GetInt64() > 0 && v->GetInt64() <= 366 * 1440;
    } else if (v->IsString()) {
      ok = parse_time_limit(protocol::str(*v), out.time_limit_s);
    }
    if (!ok) {
      err = option_error("timeLimit", "must be minutes (1 to 527040) or "
                                      "D-HH:MM:SS, HH:MM:SS, MM:SS, D-HH");
      return false;
    }
  }
  if (auto v = protocol::member(doc, "extraArgs")) {
    if (!v->IsArray()) {
      err = option_error("extraArgs", "must be an array of strings");
      return false;
    }
    for (auto& item : v->GetArray()) {
      auto index = std::to_string(out.extra_args.size());
      if (!item.IsString()) {
        err = option_error("extraArgs[" + index + "]", "must be a string");
        return false;
      }
      auto arg = std::string{protocol::str(item)};
      if (auto why = check_extra_arg(arg); !why.empty()) {
        err = option_error("extraArgs[" + index + "]", why);
        return false;
      }
      out.extra_args.push_back(std::move(arg));
    }
  }
  return true;
}

// -- the script and the argv -----------------------------------------------

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += '\'';
  return out;
}

bool valid_env_name(std::string_view name) {
  return !name.empty() && name.size() <= 256
         && !std::isdigit(static_cast<unsigned char>(name.front()))
         && all_of_chars(name, "_");
}

bool check_spec(const job_spec& spec, tool_error& err) {
  auto has_nul
    = [](const std::string& s) { return s.find('\0') != std::string::npos; };
  auto refuse = [&](const std::string& field, const std::string& why) {
    err = tool_error{codes::invalid_arguments, field + ": " + why, {}};
    err.details["field"] = json_quote(field);
    return false;
  };
  if (has_nul(spec.command))
    return refuse("command", "contains a NUL byte");
  for (auto& a : spec.args)
    if (has_nul(a))
      return refuse("args", "an argument contains a NUL byte");
  for (auto& [name, value] : spec.environment) {
    if (!valid_env_name(name))
      return refuse("environment",
                    "a Slurm job's variable names must be [A-Za-z0-9_], "
                    "not starting with a digit: "
                      + name.substr(0, 64));
    if (has_nul(value))
      return refuse("environment", "a value contains a NUL byte");
  }
  if (spec.input != stdin_mode::null)
    return refuse("options.stdin",
                  "a Slurm job has no stdin or terminal of jobd's");
  return true;
}

std::vector<std::string> job_argv(const job_spec& spec) {
  std::vector<std::string> argv;
  if (spec.shell)
    argv = {"/bin/sh", "-c", spec.command, "sh"};
  else
    argv = {spec.command};
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  return argv;
}

std::string batch_script(const job_spec& spec, const std::string& job_id) {
  std::string out
    = "#!/bin/sh\n# jobd job " + job_id + " (generated; every word quoted)\n";
  for (auto& [name, value] : spec.environment)
    out += "export " + name + "=" + shell_quote(value) + "\n";
  out += "exec";
  for (auto& word : job_argv(spec))
    out += " " + shell_quote(word);
  out += "\n";
  return out;
}

std::vector<std::string>
submit_environment(const security_policy& policy,
                   const std::vector<std::string>& server_env,
                   const std::map<std::string, std::string>& overrides) {
  auto env = job_environment(policy, server_env, overrides);
  auto has = [&env](std::string_view name) {
    return std::any_of(env.begin(), env.end(), [name](const std::string& e) {
      return e.size() > name.size() && e[name.size()] == '='
             && e.compare(0, name.size(), name) == 0;
    });
  };
  for (auto& entry : server_env) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0)
      continue;
    std::string_view name{entry.data(), eq};
    const bool client_setting
      = name == "SLURM_CONF" || name.substr(0, 7) == "SBATCH_";
    if (client_setting && !has(name))
      env.push_back(entry);
  }
  return env;
}

std::string tags_comment(const std::map<std::string, std::string>& tags) {
  constexpr size_t max_comment = 200;
  std::string out;
  for (auto& [key, value] : tags) {
    auto text = value;
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
      text = text.substr(1, text.size() - 2);
    auto item = (out.empty() ? "" : ",") + key + "=" + text;
    if (out.size() + item.size() > max_comment)
      break;
    out += item;
  }
  for (auto& c : out)
    if (c < 0x20 || c > 0x7e)
      c = '_';
  return out;
}

spool_paths spool_for(const std::string& spool_dir, const std::string& job_id) {
  spool_paths p;
  p.dir = spool_dir + (spool_dir.empty() || spool_dir.back() != '/' ? "/" : "")
          + job_id;
  p.script = p.dir + "/job.sh";
  p.out = p.dir + "/stdout";
  p.err = p.dir + "/stderr";
  return p;
}

std::vector<std::string> sbatch_args(const job_spec& spec, const options& opt,
                                     const spool_paths& paths,
                                     const std::string& job_id,
                                     int64_t timeout_ms) {
  std::vector<std::string> args
    = {"--parsable", "--job-name=jobd-" + job_id, "--output=" + paths.out,
       "--error=" + paths.err, "--open-mode=truncate"};
  if (!spec.working_directory.empty())
    args.push_back("--chdir=" + spec.working_directory);
  if (opt.time_limit_s > 0)
    args.push_back("--time=" + format_time_limit(opt.time_limit_s));
  else if (timeout_ms > 0)
    args.push_back("--time=" + format_time_limit((timeout_ms + 999) / 1000));
  auto add = [&](const char* flag, const std::string& value) {
    if (!value.empty())
      args.push_back(std::string{flag} + "=" + value);
  };
  auto add_count = [&](const char* flag, int64_t value) {
    if (value > 0)
      args.push_back(std::string{flag} + "=" + std::to_string(value));
  };
  add("--partition", opt.partition);
  add_count("--cpus-per-task", opt.cpus);
  add("--mem", opt.memory);
  add_count("--gpus", opt.gpus);
  add("--gres", opt.gres);
  add_count("--nodes", opt.nodes);
  add("--account", opt.account);
  add("--qos", opt.qos);
  add("--constraint", opt.constraint);
  add("--comment", tags_comment(spec.tags));
  args.insert(args.end(), opt.extra_args.begin(), opt.extra_args.end());
  args.push_back(paths.script);
  return args;
}

} // namespace jobd::slurm
