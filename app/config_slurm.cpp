// The settings of the slurm job kind (docs/distributed.md): the spool
// directory that turns the kind on, the poll interval, the bound on jobs
// kept in Slurm and the deadline of every Slurm command.
#include "app/config_settings.hpp"

namespace jobd::settings_detail {

namespace {

// Polling more often than 10 times a second loads the controller for
// nothing; an hour apart is no following at all.
constexpr int64_t min_slurm_poll_ms = 100;
constexpr int64_t max_slurm_poll_ms = 3600000;
constexpr int64_t max_slurm_jobs = 1000000;

} // namespace

std::vector<setting> slurm_settings_table() {
  return {
    {"--slurm-spool", "JOBD_SLURM_SPOOL",
     "turns on the slurm job kind: batch scripts and output files of Slurm "
     "jobs go under this directory, which jobd and the compute nodes must "
     "share (DIR/<job id>/{job.sh,stdout,stderr})",
     [](config& c, const std::string& text) {
       if (text.empty() || text.front() != '/'
           || text.find('\0') != std::string::npos)
         return false;
       c.slurm_spool = text;
       return true;
     },
     [](const config& c) {
       return c.slurm_spool.empty() ? std::string{"none (no Slurm jobs)"}
                                    : c.slurm_spool;
     },
     "an absolute directory"},
    number("--slurm-poll-ms", "JOBD_SLURM_POLL_MS",
           "one squeue call per this many ms for every active Slurm job",
           &config::slurm_poll_ms, min_slurm_poll_ms, max_slurm_poll_ms),
    number("--max-slurm-jobs", "JOBD_MAX_SLURM_JOBS",
           "Slurm jobs jobd keeps in Slurm at once; more wait in jobd "
           "(reason MaxSlurmJobs) until one ends (0 = no bound)",
           &config::max_slurm_jobs, 0, max_slurm_jobs),
    number("--slurm-command-timeout-ms", "JOBD_SLURM_COMMAND_TIMEOUT_MS",
           "an sbatch, squeue, scontrol or scancel that takes longer is "
           "killed; jobs then report slurm.reachable false",
           &config::slurm_command_timeout_ms, 100, 600000),
  };
}

} // namespace jobd::settings_detail
