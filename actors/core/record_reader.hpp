// RECORD READER: answers one pattern wait on a finished job's record off
// SCHEDULER (a hub must not compile patterns or search megabytes of output).
#pragma once

#include "actors/actors.hpp"
#include "actors/core/job_record.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <memory>

namespace jobd {

/// @param info the finished job's status.
/// @param output its record's output: SCHEDULER copies a record before it
///   trims it while a reader still holds it, so this one never changes.
record_reader_actor::behavior_type
record_reader(record_reader_actor::pointer self, job_info info,
              std::shared_ptr<const output_buffer> output);

} // namespace jobd
