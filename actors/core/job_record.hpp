// Reading a job's output and answering waits: the same rules for a running
// job (in its core) and for a finished one (its record, in SCHEDULER, after
// the job's actor quit). No CAF.
#pragma once

#include "actors/core/output_buffer.hpp"
#include "protocol/model.hpp"
#include "protocol/pattern.hpp"

#include <memory>

namespace jobd {

/// What a finished job leaves behind: its final status and its output.
struct job_record {
  job_info info;
  std::shared_ptr<output_buffer> output;
};

/// A page of `out` for `q`, stamped with the job's id and status.
output_page read_output(const job_info& info, const output_buffer& out,
                        const output_query& q);

/// The answer to a wait that ends now: the job (with its output counters),
/// its output after `q.since`, and why the wait ended.
wait_result wait_answer(const job_info& info, const output_buffer& out,
                        const wait_query& q, const char* reason);

/// Why a wait ends now, or nullptr if it goes on: "output" when it waits
/// for output and a chunk after `after` matches `pat`, else "exit" when the
/// job ended.
const char* wait_reason(const output_buffer& out, const wait_query& q,
                        uint64_t after, const pattern& pat, bool ended);

} // namespace jobd
