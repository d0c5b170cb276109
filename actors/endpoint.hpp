// ENDPOINT: one per MCP connection. Parses lines with protocol/, answers what
// the protocol layer answers itself, turns tool calls into typed requests and
// their replies into lines, which it hands to its connection's line_sink
// (the only writer of stdout for the stdio transport).
#pragma once

#include "actors/actors.hpp"
#include "actors/transport/line_sink.hpp"
#include "actors/transport/read_gate.hpp"
#include "protocol/mcp_session.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace jobd {

struct endpoint_config {
  /// The tools as this server offers them (live defaults, caps and job
  /// kinds); null: the built-in configuration.
  std::shared_ptr<const protocol::tool_catalog> tools;
  /// Where replies and notifications go (required). ENDPOINT attaches its
  /// handlers while it lives: a sink that can no longer write makes it
  /// stop, as stdin EOF does.
  std::shared_ptr<line_sink> out;
  /// The gate of the reader that sends us lines (optional): told of every
  /// line handled, so that the reader never runs far ahead of us.
  std::shared_ptr<read_gate> input;
  /// Reported in the error for a line over the limit.
  uint64_t max_line_bytes = 16 * 1024 * 1024;
  /// Called once every job was stopped after a shutdown request.
  std::function<void()> on_stopped;
};

struct endpoint_state {
  protocol::mcp_session session;
  endpoint_config config;
  scheduler_actor scheduler;
  metrics_actor metrics;
  /// Ids (JSON text) of tool calls still being worked on.
  std::set<std::string> in_flight;
  /// In-flight calls the client cancelled: their replies are dropped.
  std::set<std::string> cancelled;
  /// A console_wait_job that asked for progress notifications.
  struct progress_watch {
    std::string request_id;
    std::string token;
    uint64_t last = 0;
  };
  /// Waits with a progress token, by job id.
  std::unordered_map<std::string, std::vector<progress_watch>> watches;
  /// Request id -> job id of its progress watch.
  std::unordered_map<std::string, std::string> watched_job;
  /// Jobs were created or removed since the last list_changed.
  bool list_changed = false;
  bool tick_scheduled = false;
  bool stopping = false;
  static inline const char* name = "endpoint";
};

/// @param scheduler serves the job tools.
/// @param metrics serves console_get_job_metrics.
endpoint_actor::behavior_type
endpoint(endpoint_actor::stateful_pointer<endpoint_state> self,
         scheduler_actor scheduler, metrics_actor metrics,
         endpoint_config config);

} // namespace jobd
