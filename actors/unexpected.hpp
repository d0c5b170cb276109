// What every jobd actor does with a message it has no handler for.
#pragma once

#include <caf/message.hpp>
#include <caf/message_view.hpp>
#include <caf/result.hpp>
#include <caf/scheduled_actor.hpp>

namespace jobd {

/// The default handler of jobd's actors. CAF's own (`print_and_drop`)
/// prints the message on stdout, the protocol channel, and the error it
/// returns ends the actor: an answer sent to the wrong actor then took the
/// STORE down. This one logs the message to stderr and drops it; the actor
/// goes on. A request among them is answered `sec::unexpected_message`.
caf::result<caf::message> log_and_drop(caf::scheduled_actor* self,
                                       caf::message_view& x);

} // namespace jobd
