// The slurm worker's jobs held in jobd (slurm_poller.hpp): submitted in
// order as --max-slurm-jobs allows and once their dependencies of ours are
// in Slurm, with those dependencies as sbatch's --dependency.
#include "actors/kinds/slurm/slurm_poller.hpp"

namespace jobd {

void slurm_worker::start_waiting() {
  if (waiting_.empty())
    return;
  size_t in_slurm = 0;
  for (auto& a : active_)
    in_slurm += a->submitted && !a->ended ? 1 : 0;
  // In order; one whose dependencies are not in Slurm yet lets the next go.
  for (auto i = waiting_.begin(); i != waiting_.end();) {
    if (settings_.max_jobs > 0 && in_slurm >= settings_.max_jobs)
      break;
    auto e = *i;
    if (!dependencies_ready(*e)) {
      ++i;
      continue;
    }
    i = waiting_.erase(i);
    do_submit(e);
    in_slurm += e->submitted ? 1 : 0;
  }
}

bool slurm_worker::dependencies_ready(const slurm_entry& e) const {
  for (auto& dep : e.depends_on) {
    auto k = known_.find(dep);
    if (k == known_.end()) {
      if (e.kind_dependencies)
        return false; // its submission is on its way
      continue;       // not ours: SCHEDULER held this one until it ended
    }
    if (!k->second.done && k->second.slurm_id.empty())
      return false; // ours, not in Slurm yet
  }
  return true;
}

bool slurm_worker::dependency_of(const slurm_entry& e, std::string& out) const {
  std::string ids;
  for (auto& dep : e.depends_on) {
    auto k = known_.find(dep);
    // Not one of ours: SCHEDULER held this job until it ended as needed.
    if (k == known_.end())
      continue;
    if (!k->second.done) {
      ids += ":" + k->second.slurm_id;
      continue;
    }
    // Ended before this one reached Slurm: judged here.
    bool completed = k->second.completed;
    if ((e.condition == dependency_condition::success && !completed)
        || (e.condition == dependency_condition::failure && completed))
      return false;
  }
  if (ids.empty())
    return true;
  switch (e.condition) {
    case dependency_condition::success:
      out = "afterok" + ids;
      break;
    case dependency_condition::finish:
      out = "afterany" + ids;
      break;
    case dependency_condition::failure:
      out = "afternotok" + ids;
      break;
  }
  return true;
}

} // namespace jobd
