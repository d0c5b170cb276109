// The message types the actors exchange besides protocol/model.hpp's
// requests and results. Part of the wiring diagram in actors/actors.hpp,
// which includes this; actors/inspect.hpp says how each is serialized.
#pragma once

#include "protocol/model.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace jobd {

/// A pending job offered by its SESSION to the SCHEDULER's ready queue.
struct candidate {
  std::string job_id;
  std::string session_id;
  int32_t priority = 5;
  /// Arrival order: equal priorities start first come, first served.
  uint64_t serial = 0;
};

class output_buffer;

/// What happened to a job, as told to METRICS and the ENDPOINT.
/// `updated`: paused, resumed, its stdin closed, or why it is pending
/// changed (status fields changed without a change of state).
/// `retrying`: an attempt of a job with options.retry ended and another
/// follows: the job is pending again (`next_attempt_at`) and its slot free.
enum class transition : uint8_t {
  created,
  started,
  finished,
  removed,
  updated,
  retrying
};

struct job_event {
  transition what = transition::created;
  /// The status before this transition.
  job_status previous = job_status::pending;
  job_info job;
  /// With `finished`, from the JOB to SCHEDULER only: the job's output,
  /// which its record keeps once the actor quit. Local only (never
  /// serialized); SCHEDULER clears it before telling listeners.
  std::shared_ptr<output_buffer> output;
};

/// A job's output grew (at most every 100 ms per job): what listeners need
/// for progress and resource notifications, without the whole job_info.
struct output_news {
  std::string job_id;
  std::string session_id;
  output_stats output;
  /// What the job's output says of its progress (if anything).
  job_progress progress;
};

/// New output of a running job for the STORE: the chunks after the last
/// ones sent, the oldest sequence number still in the job's window (older
/// stored chunks go) and its counters.
struct stored_output {
  std::string job_id;
  uint64_t serial = 0;
  std::vector<output_chunk> chunks;
  uint64_t first_kept = 1;
  output_stats stats;
};

/// A job to queue again because the jobd that owned it died before it
/// started: its identity (id, serial, creation time) and its spec.
struct requeued_job {
  job_info info;
  job_spec spec;
};

struct requeue_list {
  std::vector<requeued_job> jobs;
};

/// Whose jobs these are (ENDPOINT checks a principal's calls by it): the
/// session id of each job, in the order asked, "" for a job not known.
/// A job's session never changes, so an answer stays true.
struct owner_list {
  std::vector<std::string> job_ids;
  std::vector<std::string> sessions;
};

/// What a cleanup of the store removed.
struct cleanup_done {
  cleanup_result result;
  /// Ids of removed jobs this instance owns (SCHEDULER may hold records).
  std::vector<std::string> removed_own;
};

} // namespace jobd
