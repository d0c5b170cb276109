// A real single-node Slurm for the slurm kind's integration tests: started
// once per test process by scripts/slurm-cluster.sh in a temporary
// directory (ports from the pid, so clusters of parallel runs do not
// collide), stopped by pid at the end. Where it cannot start, every test
// skips and the output says why in one line.
#pragma once

#include <string>

namespace jobd_slurm_it {

/// The running cluster: its folder (SLURM_CONF is exported into the test's
/// environment, so jobd and its Slurm commands see it).
struct cluster {
  std::string dir;
  std::string conf;
  std::string script;
  bool up = false;
  std::string why_not;
};

/// The cluster of this test process.
cluster& test_cluster();

/// Stops slurmctld only (TERM by the pid in its pid file) and waits for
/// it to go; false if it did not.
bool stop_controller();

/// Starts slurmctld again on the same state; false if it did not come up.
bool start_controller();

/// Runs a Slurm client command (argv) and returns its stdout ("" on
/// failure).
std::string slurm_output(const std::string& argv0, const std::string& arg1,
                         const std::string& arg2 = "",
                         const std::string& arg3 = "");

} // namespace jobd_slurm_it

#define REQUIRE_SLURM()                                                        \
  do {                                                                         \
    if (!::jobd_slurm_it::test_cluster().up)                                   \
      GTEST_SKIP() << "no Slurm: " << ::jobd_slurm_it::test_cluster().why_not; \
  } while (false)
