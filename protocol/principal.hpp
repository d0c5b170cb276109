// Principals: who a client is (docs/http.md). Over stdio the one principal
// is "local"; over HTTP it is the name its bearer token maps to. When HTTP
// is on, several principals share one jobd, and each one's sessions live in
// its own namespace: a client's sessionId "build" is "alice/build" inside
// jobd (and in every reply), so per-session limits, quotas, idempotency
// keys and metrics never mix two principals, and a job's owner is the part
// of its session id before the first '/'.
#pragma once

#include <string>
#include <string_view>

namespace jobd::protocol {

inline constexpr std::string_view local_principal = "local";

/// A principal name: 1-64 of [A-Za-z0-9_.@-], starting with a letter or a
/// digit (so it can never contain the '/' that ends a namespace).
bool valid_principal(std::string_view name);

/// The namespace of a principal's sessions: "alice/".
std::string session_prefix(std::string_view principal);

/// A client's session id in its principal's namespace: "alice/build".
std::string scoped_session(std::string_view principal,
                           std::string_view session_id);

/// What the client sees of a scoped session id: "build" for "alice/build"
/// (the id as it is when it is not in that namespace).
std::string_view unscoped_session(std::string_view principal,
                                  std::string_view session_id);

/// The principal a scoped session id belongs to ("alice" for
/// "alice/build"); "local" for a session id without a namespace (jobs made
/// while only stdio was served).
std::string_view principal_of(std::string_view session_id);

} // namespace jobd::protocol
