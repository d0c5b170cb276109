#include "actors/core/job_record.hpp"

#include <algorithm>

namespace jobd {

output_page read_output(const job_info& info, const output_buffer& out,
                        const output_query& q) {
  auto page = out.read(q);
  page.job_id = info.id;
  page.status = info.status;
  page.finished = is_terminal(info.status);
  page.complete = page.finished && page.next_since >= out.last_sequence();
  return page;
}

wait_result wait_answer(const job_info& info, const output_buffer& out,
                        const wait_query& q, const char* reason) {
  output_query oq;
  oq.since = q.since;
  auto job = info;
  job.output = out.stats();
  return {std::move(job), read_output(info, out, oq), reason};
}

const char* wait_reason(const output_buffer& out, const wait_query& q,
                        uint64_t after, const pattern& pat, bool ended) {
  if (q.until == wait_until::output) {
    bool hit = false;
    out.for_each_after(std::max(after, q.since), [&](const output_chunk& c) {
      hit = hit || pat.search(c.content);
    });
    if (hit)
      return "output";
  }
  return ended ? "exit" : nullptr;
}

} // namespace jobd
