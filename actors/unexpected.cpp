#include "actors/unexpected.hpp"

#include "actors/logger.hpp"

#include <caf/mailbox_element.hpp>
#include <caf/sec.hpp>

#include <cstddef>
#include <string>

namespace jobd {

namespace {

// A stray message can be a whole job list: the log keeps its head.
constexpr std::size_t logged_chars = 512;

} // namespace

caf::result<caf::message> log_and_drop(caf::scheduled_actor* self,
                                       caf::message_view& x) {
  auto what = x.content().stringify();
  if (what.size() > logged_chars) {
    what.resize(logged_chars);
    what += "...";
  }
  log::warning(std::string{"unexpected message for "} + self->name() + " ("
               + std::to_string(self->id()) + "), dropped: " + what);
  // A request is answered with the error, so its sender does not wait; an
  // asynchronous message gets nothing (an error here would reach the actor's
  // error handler and end it).
  const auto* element = self->current_mailbox_element();
  if (element != nullptr && element->mid.is_request())
    return caf::make_error(caf::sec::unexpected_message);
  return caf::message{};
}

} // namespace jobd
