#include "protocol/security.hpp"

#include "protocol/json.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include <fnmatch.h>
#include <unistd.h>

extern "C" {
extern char** environ;
}

namespace jobd {

const char* to_string(env_policy x) {
  switch (x) {
    case env_policy::inherit:
      return "inherit";
    case env_policy::clean:
      return "clean";
    case env_policy::allowlist:
      return "allowlist";
  }
  return "inherit";
}

bool from_string(std::string_view text, env_policy& out) {
  for (auto x : {env_policy::inherit, env_policy::clean, env_policy::allowlist})
    if (text == to_string(x)) {
      out = x;
      return true;
    }
  return false;
}

// -- commands -----------------------------------------------------------------

bool command_rule::parse(const std::string& text, command_rule& out,
                         std::string& error) {
  if (text.empty() || text.find('\0') != std::string::npos) {
    error = "a command pattern must be non-empty text";
    return false;
  }
  out = command_rule{};
  out.text_ = text;
  if (text.rfind("re:", 0) == 0) {
    out.is_regex_ = true;
    return pattern::compile(text.substr(3), out.regex_, error);
  }
  out.glob_ = text;
  return true;
}

bool command_rule::matches(const std::string& path) const {
  if (is_regex_)
    return regex_.full_match(path);
  return ::fnmatch(glob_.c_str(), path.c_str(), 0) == 0;
}

namespace {

tool_error refusal(const char* code, std::string message) {
  return tool_error{code, std::move(message), {}};
}

const command_rule* first_match(const std::vector<command_rule>& rules,
                                const std::string& a, const std::string& b) {
  for (auto& rule : rules)
    if (rule.matches(a) || rule.matches(b))
      return &rule;
  return nullptr;
}

} // namespace

std::optional<tool_error> check_command(const security_policy& policy,
                                        bool shell,
                                        const std::string& executable,
                                        const std::string& real_executable) {
  auto refuse = [&](std::string why) {
    auto err = refusal(codes::command_not_allowed, std::move(why));
    err.details["executable"] = json_quote(real_executable);
    return err;
  };
  if (shell && policy.no_shell)
    return refuse("options.shell is not allowed on this server (--no-shell)");
  if (auto rule
      = first_match(policy.deny_commands, executable, real_executable)) {
    auto err = refuse("Command not allowed: " + real_executable
                      + " matches --deny-command " + rule->text());
    err.details["rule"] = json_quote(rule->text());
    return err;
  }
  if (!policy.allow_commands.empty()
      && first_match(policy.allow_commands, executable, real_executable)
           == nullptr)
    return refuse("Command not allowed: " + real_executable
                  + " matches no --allow-command pattern");
  return std::nullopt;
}

// -- directories --------------------------------------------------------------

bool path_within(const std::string& path, const std::string& dir) {
  if (dir == "/")
    return !path.empty() && path.front() == '/';
  if (path.compare(0, dir.size(), dir) != 0)
    return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

std::optional<std::string> real_path(const std::string& path,
                                     std::string& error) {
  std::array<char, PATH_MAX> buf{};
  if (::realpath(path.c_str(), buf.data()) == nullptr) {
    error = std::system_category().message(errno);
    return std::nullopt;
  }
  return std::string{buf.data()};
}

std::optional<tool_error> check_directory(const security_policy& policy,
                                          const std::string& real_dir) {
  if (policy.allow_dirs.empty())
    return std::nullopt;
  for (auto& dir : policy.allow_dirs)
    if (path_within(real_dir, dir))
      return std::nullopt;
  auto err = refusal(codes::path_not_allowed,
                     "Working directory " + real_dir
                       + " is outside the allowed directories (--allow-dir)");
  err.details["workingDirectory"] = json_quote(real_dir);
  std::string dirs = "[";
  for (auto& dir : policy.allow_dirs)
    dirs += (dirs.size() > 1 ? "," : "") + json_quote(dir);
  err.details["allowedDirectories"] = dirs + "]";
  return err;
}

std::vector<std::string> sandbox_read_dirs(const security_policy& policy) {
  if (policy.allow_read.empty())
    return {};
  std::vector<std::string> dirs = policy.allow_read;
  // Only those this machine has (no /libx32 on most): the Landlock ruleset
  // refuses a directory it cannot open.
  for (const char* sys : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
                          "/libx32", "/etc", "/dev", "/proc", "/sys"})
    if (::access(sys, F_OK) == 0)
      dirs.emplace_back(sys);
  return dirs;
}

// -- environments -------------------------------------------------------------

namespace {

bool clean_name(std::string_view name) {
  for (const char* keep :
       {"PATH", "HOME", "USER", "LOGNAME", "LANG", "TERM", "TZ", "TMPDIR"})
    if (name == keep)
      return true;
  return name.rfind("LC_", 0) == 0;
}

bool name_matches(std::string_view rule, std::string_view name) {
  if (!rule.empty() && rule.back() == '*')
    return name.substr(0, rule.size() - 1) == rule.substr(0, rule.size() - 1);
  return name == rule;
}

} // namespace

bool valid_env_name(std::string_view name) {
  return !name.empty() && name.size() <= 255
         && name.find('=') == std::string_view::npos
         && name.find('\0') == std::string_view::npos;
}

bool passes_env(const security_policy& policy, std::string_view name) {
  switch (policy.environment) {
    case env_policy::inherit:
      if (name.rfind("JOBD_", 0) == 0)
        return false;
      return std::find(policy.own_names.begin(), policy.own_names.end(), name)
             == policy.own_names.end();
    case env_policy::allowlist:
      for (auto& rule : policy.env_allow)
        if (name_matches(rule, name))
          return true;
      [[fallthrough]];
    case env_policy::clean:
      return clean_name(name);
  }
  return false;
}

std::vector<std::string> server_environment() {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry)
    env.emplace_back(*entry);
  return env;
}

std::vector<std::string>
job_environment(const security_policy& policy,
                const std::vector<std::string>& server_env,
                const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  env.reserve(server_env.size() + overrides.size());
  for (auto& entry : server_env) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0)
      continue;
    std::string_view name{entry.data(), eq};
    if (overrides.count(std::string{name}) == 0 && passes_env(policy, name))
      env.push_back(entry);
  }
  for (auto& [name, value] : overrides)
    env.push_back(name + "=" + value);
  return env;
}

// -- limits -------------------------------------------------------------------

namespace {

struct limit_field {
  const char* name;
  int64_t resource_limits::*field;
};

constexpr std::array<limit_field, 5> limit_fields{{
  {limit_names::cpu_seconds, &resource_limits::cpu_seconds},
  {limit_names::memory_bytes, &resource_limits::memory_bytes},
  {limit_names::max_processes, &resource_limits::max_processes},
  {limit_names::open_files, &resource_limits::open_files},
  {limit_names::file_size_bytes, &resource_limits::file_size_bytes},
}};

} // namespace

std::optional<tool_error> effective_limits(const security_policy& policy,
                                           const resource_limits& requested,
                                           resource_limits& out) {
  out = {};
  for (auto& f : limit_fields) {
    const int64_t asked = requested.*f.field;
    const int64_t max = policy.limit_maxima.*f.field;
    if (asked > 0 && max > 0 && asked > max) {
      auto err = refusal(
        codes::invalid_arguments,
        std::string{"options.limits."} + f.name + " " + std::to_string(asked)
          + " is over this server's maximum " + std::to_string(max));
      err.details["field"]
        = json_quote(std::string{"options.limits."} + f.name);
      err.details["maximum"] = std::to_string(max);
      return err;
    }
    const int64_t dflt = policy.limit_defaults.*f.field;
    out.*f.field = asked > 0 ? asked : dflt > 0 ? dflt : max;
  }
  return std::nullopt;
}

std::optional<tool_error>
limit_enforcement(const security_policy& policy, const resource_limits& limits,
                  std::map<std::string, std::string>& out) {
  out.clear();
  if (limits.cpu_seconds > 0)
    out[limit_names::cpu_seconds] = "rlimit";
  if (limits.open_files > 0)
    out[limit_names::open_files] = "rlimit";
  if (limits.file_size_bytes > 0)
    out[limit_names::file_size_bytes] = "rlimit";
  if (limits.memory_bytes > 0)
    out[limit_names::memory_bytes]
      = policy.memory_cgroup.empty() ? "rlimit-as" : policy.memory_cgroup;
  if (limits.max_processes > 0) {
    if (policy.pids_cgroup.empty()) {
      auto err = refusal(codes::invalid_arguments,
                         "options.limits.maxProcesses cannot be enforced on "
                         "this machine: it needs a pids cgroup controller "
                         "(RLIMIT_NPROC counts all of a user's processes, "
                         "and root ignores it)");
      err.details["field"] = json_quote("options.limits.maxProcesses");
      return err;
    }
    out[limit_names::max_processes] = policy.pids_cgroup;
  }
  return std::nullopt;
}

} // namespace jobd
