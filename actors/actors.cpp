#include "actors/actors.hpp"

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include <cstdio>

namespace jobd {

namespace {

constexpr auto tool_category = caf::atom("jobd");

} // namespace

caf::error make_tool_error(const char* code, std::string message,
                           std::map<std::string, std::string> details) {
  return caf::error{1, tool_category,
                    caf::make_message(std::string{code}, std::move(message),
                                      std::move(details))};
}

tool_error to_tool_error(caf::actor_system& sys, const caf::error& err) {
  using details = std::map<std::string, std::string>;
  auto& ctx = err.context();
  if (err.category() == tool_category
      && ctx.match_elements<std::string, std::string, details>())
    return {ctx.get_as<std::string>(0), ctx.get_as<std::string>(1),
            ctx.get_as<details>(2)};
  return {codes::internal_error, sys.render(err), {}};
}

} // namespace jobd
