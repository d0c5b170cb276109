#include "actors/sweeper.hpp"

#include "actors/core/timing.hpp"
#include "actors/unexpected.hpp"

#include <caf/event_based_actor.hpp>

namespace jobd {

sweeper_actor::behavior_type
sweeper(sweeper_actor::stateful_pointer<sweeper_state> self,
        scheduler_actor scheduler, std::chrono::milliseconds interval,
        int64_t retention_ms) {
  self->set_default_handler(log_and_drop);
  auto& st = self->state;
  st.scheduler = std::move(scheduler);
  st.interval = interval;
  st.retention_ms = retention_ms;
  // The interval may be up to 2^53-1 ms: saturate, never wrap to "now".
  self->delayed_send(self, delay_ms(interval.count()), atom::tick_v);
  return {
    // Sweep, then schedule the next sweep.
    [self](atom::tick) {
      auto& st = self->state;
      cleanup_query q;
      // Retention 0 would mean "any age" to cleanup: keep at least 1 ms.
      q.max_age_ms = std::max<int64_t>(st.retention_ms, 1);
      self->request(st.scheduler, caf::infinite, atom::cleanup_v, q)
        .then([](const cleanup_result&) {});
      // Other instances on the state directory may have died meanwhile.
      self->send(st.scheduler, atom::recheck_v);
      self->delayed_send(self, delay_ms(st.interval.count()), atom::tick_v);
    },
  };
}

} // namespace jobd
