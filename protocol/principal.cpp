#include "protocol/principal.hpp"

namespace jobd::protocol {

bool valid_principal(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front()))
    return false;
  for (char c : name)
    if (!alnum(c) && c != '_' && c != '.' && c != '@' && c != '-')
      return false;
  return true;
}

std::string session_prefix(std::string_view principal) {
  std::string out{principal};
  out += '/';
  return out;
}

std::string scoped_session(std::string_view principal,
                           std::string_view session_id) {
  auto out = session_prefix(principal);
  out += session_id;
  return out;
}

std::string_view unscoped_session(std::string_view principal,
                                  std::string_view session_id) {
  if (session_id.size() > principal.size()
      && session_id.substr(0, principal.size()) == principal
      && session_id[principal.size()] == '/')
    return session_id.substr(principal.size() + 1);
  return session_id;
}

std::string_view principal_of(std::string_view session_id) {
  auto slash = session_id.find('/');
  if (slash == std::string_view::npos || slash == 0)
    return local_principal;
  return session_id.substr(0, slash);
}

} // namespace jobd::protocol
