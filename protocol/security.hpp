// The rules of the server's security settings (docs/security.md), as plain
// functions of paths, names and numbers: which working directories and
// commands are allowed, which environment a job gets, which limits it runs
// under. The process job kind applies them when a job is submitted; the
// kernel enforces what it can (Landlock, rlimits, cgroups) when it starts.
#pragma once

#include "protocol/model.hpp"
#include "protocol/pattern.hpp"

#include <optional>
#include <string>
#include <vector>

namespace jobd {

/// --env-policy.
enum class env_policy : uint8_t {
  /// jobd's environment minus its own settings and secrets (`own_names`).
  inherit,
  /// Only PATH, HOME, USER, LANG, LC_*, TERM, TZ, TMPDIR.
  clean,
  /// clean, plus the names of --env-allow.
  allowlist,
};

const char* to_string(env_policy x);
bool from_string(std::string_view text, env_policy& out);

/// One --allow-command / --deny-command rule: a shell-style glob (`*`, `?`,
/// `[...]`, matched with fnmatch, `*` crossing `/`) on the executable's
/// path, or with the prefix `re:` an RE2 pattern that must match the whole
/// path.
class command_rule {
public:
  /// False with a reason in `error` for an invalid pattern.
  static bool parse(const std::string& text, command_rule& out,
                    std::string& error);

  bool matches(const std::string& path) const;

  const std::string& text() const {
    return text_;
  }

private:
  std::string text_;
  std::string glob_;
  pattern regex_;
  bool is_regex_ = false;
};

/// Everything the server's security flags say, checked and normalised at
/// start-up (directories are real paths).
struct security_policy {
  /// --allow-dir: a job's working directory must be inside one (empty: any
  /// directory).
  std::vector<std::string> allow_dirs;
  /// --sandbox-fs: every job is confined by Landlock.
  bool sandbox_all = false;
  /// The Landlock ABI of this kernel; 0 = none (options.sandbox is then
  /// refused, and --sandbox-fs a start-up error).
  int32_t landlock_abi = 0;
  /// --allow-read: where a sandboxed job may read (with the system's
  /// program directories, see sandbox_read_dirs()); empty: everywhere.
  std::vector<std::string> allow_read;
  /// Always writable for a sandboxed job: /tmp, /var/tmp, /dev/shm, $TMPDIR.
  std::vector<std::string> temp_dirs;
  env_policy environment = env_policy::inherit;
  /// --env-allow names (a trailing `*` matches a prefix).
  std::vector<std::string> env_allow;
  /// Names never passed on under `inherit`: jobd's own settings (every
  /// variable it reads) and every JOBD_* variable.
  std::vector<std::string> own_names;
  std::vector<command_rule> allow_commands;
  std::vector<command_rule> deny_commands;
  /// --no-shell: options.shell is refused.
  bool no_shell = false;
  /// --limit-... defaults (applied when a call sets none) and maxima (a
  /// call over one is refused; with no default, the maximum applies).
  resource_limits limit_defaults;
  resource_limits limit_maxima;
  /// What this machine can enforce beyond rlimits: a memory and a pids
  /// cgroup per job ("cgroup-v2", "cgroup-v1", or "" for none).
  std::string memory_cgroup;
  std::string pids_cgroup;
};

/// True if `path` is `dir` or below it (both real, absolute paths).
bool path_within(const std::string& path, const std::string& dir);

/// The real path of `path` (symlinks and `..` resolved), or nullopt with
/// the reason in `error`.
std::optional<std::string> real_path(const std::string& path,
                                     std::string& error);

/// Checks a job's real working directory against --allow-dir; on refusal,
/// a PATH_NOT_ALLOWED error naming the resolved path.
std::optional<tool_error> check_directory(const security_policy& policy,
                                          const std::string& real_dir);

/// Checks what a job would execute: --no-shell for a shell job, then the
/// command rules on `executable` and on its real path `real_executable`
/// (denied if a deny rule matches either; with allow rules, allowed only if
/// one matches either). A COMMAND_NOT_ALLOWED error on refusal.
std::optional<tool_error> check_command(const security_policy& policy,
                                        bool shell,
                                        const std::string& executable,
                                        const std::string& real_executable);

/// True for a valid environment variable name: 1-255 bytes, no `=`, no NUL.
bool valid_env_name(std::string_view name);

/// Whether the policy passes the server's variable `name` on to a job.
bool passes_env(const security_policy& policy, std::string_view name);

/// The server's own environment (`environ`) as NAME=VALUE entries.
std::vector<std::string> server_environment();

/// The environment of a job: the server's `server_env` (NAME=VALUE
/// entries) filtered by the policy, then the call's `overrides` (which win).
std::vector<std::string>
job_environment(const security_policy& policy,
                const std::vector<std::string>& server_env,
                const std::map<std::string, std::string>& overrides);

/// The limits a job runs under: `requested` (0 = unset) filled from the
/// defaults, else the maxima; a requested value over a maximum is an
/// INVALID_ARGUMENTS error naming `options.limits.<name>`.
std::optional<tool_error> effective_limits(const security_policy& policy,
                                           const resource_limits& requested,
                                           resource_limits& out);

/// What enforces each limit in force (job_security::enforced_by), or an
/// error naming a limit this machine cannot enforce (maxProcesses without
/// a pids cgroup: root ignores RLIMIT_NPROC).
std::optional<tool_error>
limit_enforcement(const security_policy& policy, const resource_limits& limits,
                  std::map<std::string, std::string>& out);

/// The directories a sandboxed job may read when --allow-read is given:
/// those, plus what running programs needs (/usr, /bin, /sbin, /lib*,
/// /etc, /dev, /proc, /sys).
std::vector<std::string> sandbox_read_dirs(const security_policy& policy);

} // namespace jobd
