#include "actors/kinds/process/process_job.hpp"

#include <caf/send.hpp>

#include <algorithm>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobd {

// -- resolving commands -------------------------------------------------------

namespace {

tool_error make_error(const char* code, std::string message,
                      const std::string& command) {
  tool_error err{code, std::move(message), {}};
  err.details["command"] = json_quote(command);
  return err;
}

// Checks one candidate path: 0 if executable, else the errno-like reason.
int check_executable(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return ENOENT;
  if (S_ISDIR(st.st_mode))
    return EISDIR;
  if (::access(path.c_str(), X_OK) != 0)
    return EACCES;
  return 0;
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty())
    return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

/// The command policy on what `cmd` would execute (the path found and its
/// real path), if any rule or a shell applies.
std::optional<tool_error> check_resolved(const security_policy& policy,
                                         const job_spec& spec,
                                         const resolved_command& cmd) {
  if (!spec.shell && policy.allow_commands.empty()
      && policy.deny_commands.empty())
    return std::nullopt;
  std::string why;
  auto exe = cmd.executable.front() == '/'
               ? cmd.executable
               : join_path(spec.working_directory, cmd.executable);
  auto real = real_path(exe, why).value_or(exe);
  return check_command(policy, spec.shell, exe, real);
}

/// At start, under --allow-dir: opens the job's working directory and
/// checks where that descriptor really is. The child fchdirs to it, so
/// what was checked is where it runs, whatever the path names later.
std::optional<tool_error>
open_allowed_directory(const security_policy& policy, const std::string& dir,
                       std::string& real_dir,
                       std::shared_ptr<const directory_handle>& out) {
  auto fail = [&](std::string why) {
    return make_error(codes::invalid_working_directory,
                      "Working directory " + dir + ": " + why, dir);
  };
  const int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return fail(std::strerror(errno));
  auto handle = std::make_shared<const directory_handle>(fd);
  std::string why;
  auto real = real_path(dir, why);
  if (!real)
    return fail(why);
  // The real path must name the directory opened (else it was swapped
  // between the two): the same device and inode.
  struct stat opened {};
  struct stat named {};
  if (::fstat(fd, &opened) != 0 || ::stat(real->c_str(), &named) != 0
      || opened.st_dev != named.st_dev || opened.st_ino != named.st_ino)
    return fail("changed while it was checked");
  if (auto refused = check_directory(policy, *real))
    return refused;
  real_dir = std::move(*real);
  out = std::move(handle);
  return std::nullopt;
}

} // namespace

bool check_working_directory(const std::string& dir, tool_error& err) {
  if (dir.empty())
    return true;
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    err = make_error(codes::invalid_working_directory,
                     "Working directory does not exist: " + dir, dir);
  } else if (!S_ISDIR(st.st_mode)) {
    err = make_error(codes::invalid_working_directory,
                     "Working directory is not a directory: " + dir, dir);
  } else if (::access(dir.c_str(), X_OK) != 0) {
    err = make_error(codes::invalid_working_directory,
                     "Working directory is not accessible: " + dir + " ("
                       + std::strerror(errno) + ")",
                     dir);
  } else {
    return true;
  }
  err.details.erase("command");
  err.details["workingDirectory"] = json_quote(dir);
  return false;
}

bool resolve_command(const job_spec& spec, resolved_command& out,
                     tool_error& err) {
  if (spec.shell) {
    // sh -c COMMAND sh ARGS...: args become $1, $2, ...
    out.executable = "/bin/sh";
    out.argv = {"sh", "-c", spec.command, "sh"};
    out.argv.insert(out.argv.end(), spec.args.begin(), spec.args.end());
    return true;
  }
  auto& cmd = spec.command;
  auto found = [&](std::string path) {
    out.executable = std::move(path);
    out.argv = {cmd};
    out.argv.insert(out.argv.end(), spec.args.begin(), spec.args.end());
    return true;
  };
  auto refuse = [&](int reason, const std::string& path) {
    if (reason == ENOENT)
      err = make_error(codes::command_not_found, "Command not found: " + cmd,
                       cmd);
    else
      err = make_error(codes::permission_denied,
                       "Command is not executable: " + path
                         + (reason == EISDIR ? " (a directory)" : ""),
                       cmd);
    return false;
  };
  if (cmd.find('/') != std::string::npos) {
    auto path
      = cmd.front() == '/' ? cmd : join_path(spec.working_directory, cmd);
    auto reason = check_executable(path);
    return reason == 0 ? found(path) : refuse(reason, path);
  }
  std::string search;
  if (auto i = spec.environment.find("PATH"); i != spec.environment.end())
    search = i->second;
  else if (auto env = std::getenv("PATH"))
    search = env;
  else
    search = "/usr/local/bin:/usr/bin:/bin";
  int first_reason = ENOENT;
  std::string first_path;
  size_t begin = 0;
  while (begin <= search.size()) {
    auto end = search.find(':', begin);
    if (end == std::string::npos)
      end = search.size();
    auto dir = search.substr(begin, end - begin);
    // An empty PATH element means the working directory.
    auto path = join_path(dir.empty() ? spec.working_directory : dir, cmd);
    if (dir.empty() && spec.working_directory.empty())
      path = cmd;
    auto reason = check_executable(path);
    if (reason == 0)
      return found(path.front() == '/' ? path : "./" + path);
    if (reason != ENOENT && first_reason == ENOENT) {
      first_reason = reason;
      first_path = path;
    }
    begin = end + 1;
  }
  return refuse(first_reason, first_path);
}

// -- the backend
// ----------------------------------------------------------------

namespace {

// A local process tree, started and signalled through the launcher.
class process_backend : public job_backend {
public:
  process_backend(launcher_ptr launcher, const job_context& ctx,
                  std::shared_ptr<const security_policy> policy,
                  std::shared_ptr<const std::vector<std::string>> inherited)
    : launcher_(std::move(launcher)), ctx_(ctx), policy_(std::move(policy)),
      inherited_(std::move(inherited)) {
    // nop
  }

  void start(backend_events sink,
             std::shared_ptr<std::atomic<int64_t>> in_flight) override {
    auto& spec = *ctx_.spec;
    resolved_command cmd;
    tool_error err;
    auto refuse = [&](const tool_error& e) {
      caf::anon_send(sink, atom::spawn_failed_v, e.code, e.message);
    };
    // Checked again now: a job that waited to start (a start time, its
    // dependencies, a free slot) may find its command or its directory
    // swapped since submission.
    if (!resolve_command(spec, cmd, err))
      return refuse(err); // the command vanished
    if (auto refused = check_resolved(*policy_, spec, cmd))
      return refuse(*refused);
    launch_spec ls;
    ls.working_directory = spec.working_directory;
    if (!policy_->allow_dirs.empty())
      if (auto refused = open_allowed_directory(
            *policy_, spec.working_directory, ls.working_directory,
            ls.working_directory_fd))
        return refuse(*refused);
    ls.executable = std::move(cmd.executable);
    ls.argv = std::move(cmd.argv);
    ls.environment = spec.environment;
    ls.name = ctx_.id;
    ls.in_flight = std::move(in_flight);
    ls.input = spec.input;
    ls.cols = spec.cols;
    ls.rows = spec.rows;
    ls.max_stdin_bytes = ctx_.defaults.max_stdin_bytes;
    // The server's TERM (if any) describes another terminal than the
    // job's: a terminal job gets a common one unless its spec names one.
    if (spec.input == stdin_mode::tty && ls.environment.count("TERM") == 0)
      ls.environment["TERM"] = "xterm-256color";
    // --env-policy: the job's whole environment, from the server's.
    ls.replace_environment = true;
    ls.environment_entries
      = job_environment(*policy_, *inherited_, ls.environment);
    ls.security = spec.security;
    launcher_->launch(std::move(ls), std::move(sink));
  }

  void spawned(int64_t pid) override {
    pid_ = pid;
  }

  bool signal(int sig, bool whole_tree) override {
    return pid_ > 0 && launcher_->signal(pid_, sig, whole_tree);
  }

  void kill() override {
    if (pid_ > 0)
      launcher_->kill_tree(pid_);
  }

  // Before `spawned` (or for a job without stdin) nothing is open yet:
  // not_open. The core only asks running jobs.
  input_outcome write_input(std::string bytes, bool close,
                            uint64_t& queued) override {
    queued = 0;
    if (pid_ <= 0)
      return input_outcome::not_open;
    return launcher_->write_input(pid_, std::move(bytes), close, queued);
  }

  bool freeze(bool frozen) override {
    return pid_ > 0 && launcher_->freeze(pid_, frozen);
  }

  bool resize(int32_t cols, int32_t rows) override {
    return pid_ > 0 && launcher_->resize(pid_, cols, rows);
  }

private:
  launcher_ptr launcher_;
  const job_context& ctx_;
  std::shared_ptr<const security_policy> policy_;
  std::shared_ptr<const std::vector<std::string>> inherited_;
  int64_t pid_ = 0;
};

} // namespace

// -- the kind -----------------------------------------------------------------

process_job_kind::process_job_kind(
  launcher_ptr launcher, std::shared_ptr<const security_policy> policy)
  : launcher_(std::move(launcher)), policy_(std::move(policy)),
    inherited_(std::make_shared<const std::vector<std::string>>(
      job_environment(*policy_, server_environment(), {}))) {
  // nop
}

std::optional<tool_error> process_job_kind::validate(job_spec& spec) const {
  tool_error err;
  // Record where the job really runs: the server's directory by default,
  // relative paths from there.
  auto& dir = spec.working_directory;
  if (dir.empty() || dir.front() != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd) != nullptr)
      dir = dir.empty() ? std::string{cwd} : join_path(cwd, dir);
  }
  if (!check_working_directory(spec.working_directory, err))
    return err;
  if (!policy_->allow_dirs.empty()) {
    // Symlinks and `..` resolved: the directory the job really gets. The
    // backend checks it again when the job starts (open_allowed_directory),
    // so a path swapped in between cannot steer it.
    std::string why;
    auto real = real_path(dir, why);
    if (!real)
      return make_error(codes::invalid_working_directory,
                        "Working directory " + dir + ": " + why, dir);
    if (auto refused = check_directory(*policy_, *real))
      return refused;
    dir = *real;
  }
  resolved_command cmd;
  if (!resolve_command(spec, cmd, err))
    return err;
  if (auto refused = check_resolved(*policy_, spec, cmd))
    return refused;
  return confine(spec);
}

std::optional<tool_error> process_job_kind::confine(job_spec& spec) const {
  auto& policy = *policy_;
  auto& sec = spec.security;
  sec = job_security{};
  sec.env_policy = to_string(policy.environment);
  if (auto err = effective_limits(policy, spec.limits, sec.limits))
    return err;
  if (auto err = limit_enforcement(policy, sec.limits, sec.enforced_by))
    return err;
  if (!policy.sandbox_all && !spec.sandbox)
    return std::nullopt;
  if (policy.landlock_abi <= 0) {
    tool_error err{codes::not_supported,
                   "options.sandbox: this kernel has no Landlock, so jobd "
                   "cannot confine a job's file-system access",
                   {}};
    err.details["field"] = json_quote("options.sandbox");
    return err;
  }
  sec.sandboxed = true;
  sec.landlock_abi = policy.landlock_abi;
  // Writable: the allowed directories (none configured: the job's own
  // working directory) and the temporary directories.
  sec.writable = policy.allow_dirs.empty()
                   ? std::vector<std::string>{spec.working_directory}
                   : policy.allow_dirs;
  for (auto& tmp : policy.temp_dirs)
    if (std::find(sec.writable.begin(), sec.writable.end(), tmp)
        == sec.writable.end())
      sec.writable.push_back(tmp);
  sec.readable = sandbox_read_dirs(policy);
  return std::nullopt;
}

std::unique_ptr<job_backend>
process_job_kind::make_backend(const job_context& ctx) const {
  return std::make_unique<process_backend>(launcher_, ctx, policy_, inherited_);
}

} // namespace jobd
