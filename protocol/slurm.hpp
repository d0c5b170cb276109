// The pure parts of the "slurm" job kind (issue 15; docs/distributed.md):
// kindOptions and their checks, the sbatch argv and the batch script that
// execs a job's argv, parsing squeue and scontrol output, Slurm states as
// jobd statuses, and the `slurm` object of a job's status. No CAF, no
// processes: actors/kinds/slurm/ runs the commands.
#pragma once

#include "protocol/model.hpp"
#include "protocol/security.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobd::slurm {

/// Error codes of Slurm jobs that end in a state of Slurm's (the state's
/// own name, so an agent can tell a node failure from its program's).
namespace slurm_codes {
inline constexpr const char* node_fail = "NODE_FAIL";
inline constexpr const char* boot_fail = "BOOT_FAIL";
inline constexpr const char* out_of_memory = "OUT_OF_MEMORY";
inline constexpr const char* preempted = "PREEMPTED";
inline constexpr const char* deadline = "DEADLINE";
/// Slurm forgot the job before jobd read how it ended (MinJobAge).
inline constexpr const char* lost = "SLURM_JOB_LOST";
/// sbatch refused the job or did not answer.
inline constexpr const char* submit_failed = "SLURM_SUBMIT_FAILED";
} // namespace slurm_codes

/// A job's kindOptions, checked. Empty strings and zeros: not given.
struct options {
  std::string partition;
  /// timeLimit in seconds (0: none given).
  int64_t time_limit_s = 0;
  int64_t cpus = 0;
  std::string memory;
  int64_t gpus = 0;
  std::string gres;
  int64_t nodes = 0;
  std::string account;
  std::string qos;
  std::string constraint;
  /// Allowlisted sbatch options, one argv element each.
  std::vector<std::string> extra_args;
};

/// The JSON schema of the kind's kindOptions (checked by the protocol
/// layer before the kind's own checks).
const char* options_schema();

/// Parses and checks kindOptions (JSON text, empty = {}); fails with
/// INVALID_ARGUMENTS naming `kindOptions.<field>`.
bool parse_options(std::string_view json_text, options& out, tool_error& err);

/// A Slurm name (partition, account, qos, reservation): 1-64 of
/// [A-Za-z0-9_.-], not starting with '-'.
bool valid_name(std::string_view text);

/// A memory size as sbatch takes it: digits with an optional K, M, G or T.
bool valid_memory(std::string_view text);

/// Slurm's time formats ("MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM",
/// "D-HH:MM:SS") as seconds; false for anything else or zero.
bool parse_time_limit(std::string_view text, int64_t& seconds);

/// Seconds as "D-HH:MM:SS", rounded up to whole minutes (Slurm's unit).
std::string format_time_limit(int64_t seconds);

/// Checks one extraArgs element against the allowlist ("--exclusive",
/// "--hint=nomultithread", "--cpus-per-task=4", ...); empty if allowed,
/// else why not.
std::string check_extra_arg(std::string_view arg);

/// `text` as one single-quoted sh word (a ' becomes '\'').
std::string shell_quote(std::string_view text);

/// An environment variable name a script can export.
bool valid_env_name(std::string_view name);

/// Checks what a batch script cannot carry (NUL bytes, bad variable
/// names); fails with INVALID_ARGUMENTS.
bool check_spec(const job_spec& spec, tool_error& err);

/// The argv the script execs: the command and its args, or `/bin/sh -c
/// COMMAND sh ARGS...` with options.shell (as for local jobs).
std::vector<std::string> job_argv(const job_spec& spec);

/// The batch script: exports the spec's environment, then execs the argv,
/// every word single-quoted.
std::string batch_script(const job_spec& spec, const std::string& job_id);

/// The environment sbatch runs in, which sbatch (its default
/// `--export=ALL`) hands on to the job: the job's environment under
/// --env-policy, as a local job gets it (`job_environment`: jobd's own
/// settings and secrets never pass), plus the server's `SLURM_CONF` and
/// `SBATCH_*` (the Slurm client's own settings) where the policy left them
/// out.
std::vector<std::string>
submit_environment(const security_policy& policy,
                   const std::vector<std::string>& server_env,
                   const std::map<std::string, std::string>& overrides);

/// tags as --comment: `k=v,k=v` in printable ASCII, at most 200 bytes.
std::string tags_comment(const std::map<std::string, std::string>& tags);

/// Where a job's files go: DIR/<job id>/{job.sh,stdout,stderr}.
struct spool_paths {
  std::string dir;
  std::string script;
  std::string out;
  std::string err;
};
spool_paths spool_for(const std::string& spool_dir, const std::string& job_id);

/// The sbatch argv (without the program) for a spec and its options:
/// --parsable, the job's name, output files, --chdir, --time (kindOptions
/// timeLimit, else the timeout rounded up to minutes), resources,
/// --comment, extraArgs, then the script.
std::vector<std::string> sbatch_args(const job_spec& spec, const options& opt,
                                     const spool_paths& paths,
                                     const std::string& job_id,
                                     int64_t timeout_ms);

/// The job id printed by `sbatch --parsable` ("ID" or "ID;cluster").
bool parse_job_id(std::string_view output, std::string& id);

/// One line of `squeue -h -t all -j IDS -o '%i|%T|%r|%N|%P'`.
struct queue_entry {
  std::string job_id;
  std::string state;
  std::string reason;
  std::string nodes;
  std::string partition;
};

/// The squeue format that parse_queue reads.
inline constexpr const char* squeue_format = "%i|%T|%r|%N|%P";

/// Every well-formed line of such output.
std::vector<queue_entry> parse_queue(std::string_view output);

/// What `scontrol -o show job ID` says of a job.
struct job_details {
  std::string job_id;
  std::string state;
  std::string reason;
  std::string nodes;
  std::string partition;
  int32_t exit_code = 0;
  int32_t signal = 0;
  bool has_exit = false;
};

/// Parses the one-line key=value form; false if it names no job.
bool parse_details(std::string_view output, job_details& out);

/// A Slurm job state as jobd sees it.
struct state_mapping {
  job_status status = job_status::running;
  /// Slurm is done with the job.
  bool terminal = false;
  /// For failed and cancelled ends not told by the exit code alone.
  std::string error_code;
};

/// PENDING -> pending, RUNNING/COMPLETING -> running, COMPLETED ->
/// completed, FAILED/NODE_FAIL/OUT_OF_MEMORY/BOOT_FAIL -> failed,
/// TIMEOUT -> failed TIMEOUT, CANCELLED -> cancelled (and the rarer ones).
state_mapping map_state(std::string_view state);

/// The raw wait status of Slurm's ExitCode=exit:signal.
int32_t wait_status(int32_t exit_code, int32_t signal);

/// What the status's `slurm` object shows.
struct job_view {
  std::string job_id;
  std::string state;
  std::string reason;
  std::string nodes;
  std::string partition;
  bool reachable = true;
};

/// `{jobId, state, reason, nodes, partition, reachable}` as JSON text.
std::string render_view(const job_view& view);

/// Reads render_view's text back (a stored job's kind_status); false if
/// it is not such an object.
bool parse_view(std::string_view json_text, job_view& out);

/// Slurm has the job but does not run it yet: PENDING, or held in jobd
/// (MaxSlurmJobs) before it was submitted.
bool queued(const job_view& view);

} // namespace jobd::slurm
