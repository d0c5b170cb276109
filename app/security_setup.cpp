#include "app/security_setup.hpp"

#include "actors/kinds/process/landlock.hpp"
#include "actors/kinds/process/process_reactor.hpp"

#include <cstdlib>

#include <sys/stat.h>

namespace jobd {

namespace {

/// Each of `dirs` as a real path; false naming `flag` if one is not an
/// existing directory.
bool real_dirs(const std::vector<std::string>& dirs, const char* flag,
               std::vector<std::string>& out, std::string& error) {
  for (auto& dir : dirs) {
    std::string why;
    auto real = real_path(dir, why);
    struct stat st {};
    if (real && (::stat(real->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
      why = "not a directory";
    if (!real || !why.empty()) {
      error = std::string{flag} + " " + dir + ": " + why;
      return false;
    }
    out.push_back(*real);
  }
  return true;
}

bool rules(const std::vector<std::string>& patterns, const char* flag,
           std::vector<command_rule>& out, std::string& error) {
  for (auto& text : patterns) {
    command_rule rule;
    std::string why;
    if (!command_rule::parse(text, rule, why)) {
      error = std::string{flag} + " '" + text + "': " + why;
      return false;
    }
    out.push_back(std::move(rule));
  }
  return true;
}

} // namespace

bool make_security_policy(const config& cfg, const process_reactor& reactor,
                          security_policy& out, std::string& error) {
  out = security_policy{};
  if (!real_dirs(cfg.allow_dirs, "--allow-dir", out.allow_dirs, error)
      || !real_dirs(cfg.allow_read, "--allow-read", out.allow_read, error)
      || !rules(cfg.allow_commands, "--allow-command", out.allow_commands,
                error)
      || !rules(cfg.deny_commands, "--deny-command", out.deny_commands, error))
    return false;
  from_string(cfg.env_policy, out.environment);
  out.env_allow = cfg.env_allow;
  out.own_names = setting_variables();
  out.no_shell = cfg.no_shell;
  out.limit_defaults = cfg.limit_defaults;
  out.limit_maxima = cfg.limit_maxima;
  out.memory_cgroup = reactor.memory_limit_support();
  out.pids_cgroup = reactor.pids_limit_support();
  out.landlock_abi = landlock_abi_version();
  out.sandbox_all = cfg.sandbox_fs;
  if (cfg.sandbox_fs && out.landlock_abi <= 0) {
    error = "--sandbox-fs: this kernel has no Landlock (or it is disabled), "
            "so jobs cannot be confined; refusing to run them unconfined";
    return false;
  }
  std::vector<std::string> temp = {"/tmp", "/var/tmp", "/dev/shm"};
  if (auto t = std::getenv("TMPDIR"); t != nullptr && *t == '/')
    temp.emplace_back(t);
  for (auto& dir : temp) {
    std::string why;
    if (auto real = real_path(dir, why))
      out.temp_dirs.push_back(*real);
  }
  // A default limit this machine cannot enforce would refuse every job.
  std::map<std::string, std::string> enforced;
  if (auto err = limit_enforcement(out, out.limit_defaults, enforced)) {
    error = "--limit-max-processes: " + err->message;
    return false;
  }
  return true;
}

} // namespace jobd
