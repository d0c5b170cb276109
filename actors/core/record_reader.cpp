#include "actors/core/record_reader.hpp"
#include "actors/unexpected.hpp"

#include <caf/event_based_actor.hpp>

namespace jobd {

record_reader_actor::behavior_type
record_reader(record_reader_actor::pointer self, job_info info,
              std::shared_ptr<const output_buffer> output) {
  self->set_default_handler(log_and_drop);
  return {
    [self, info = std::move(info), output = std::move(output)](
      atom::wait, const wait_query& q) -> caf::result<wait_result> {
      self->quit();
      pattern compiled;
      std::string why;
      if (q.until == wait_until::output
          && !pattern::compile(q.pattern, compiled, why))
        return make_tool_error(codes::invalid_arguments,
                               "pattern is not a valid regular expression: "
                                 + why,
                               {{"field", json_quote("pattern")}});
      return wait_answer(info, *output, q,
                         wait_reason(*output, q, 0, compiled, true));
    },
  };
}

} // namespace jobd
