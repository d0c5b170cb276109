// What the protocol layer must know of the running server: its name and
// version, the defaults and caps shown in (and enforced by) the tool
// schemas, and the job kinds with the schemas of their options. app/ fills
// it from the live configuration; the defaults here are the built-in ones.
#pragma once

#include "protocol/security_model.hpp"

#include <cstdint>
#include <map>
#include <string>

#ifndef JOBD_VERSION
#error "JOBD_VERSION must be defined (CMake sets it from the project version)"
#endif

namespace jobd::protocol {

/// The largest integer every JSON client reads exactly (2^53 - 1): the
/// maximum of every duration and count in the tool schemas.
inline constexpr int64_t max_json_int = 9007199254740991;

/// The kindOptions schema of a kind that takes no options.
inline constexpr const char* no_kind_options
  = R"({"type":"object","additionalProperties":false,"properties":{}})";

struct server_info {
  std::string name = "jobd";
  std::string version = JOBD_VERSION;
};

struct server_options {
  /// serverInfo of the initialize reply.
  server_info info;
  /// Default job timeout in ms (JOB_TIMEOUT_MS); 0 = none.
  int64_t default_timeout_ms = 300000;
  /// Default SIGTERM-to-SIGKILL grace in ms (KILL_GRACE_MS).
  int64_t default_kill_grace_ms = 5000;
  /// The server's per-job output cap in bytes (OUTPUT_BUFFER_BYTES): the
  /// default of outputByteLimit and its maximum (a job may lower its cap,
  /// never raise it).
  uint64_t output_byte_cap = 8 * 1024 * 1024;
  /// Default and cap of console_wait_job's timeoutMs (MAX_WAIT_MS).
  int64_t max_wait_ms = 60000;
  /// Most bytes queued for one job's stdin (--max-stdin-bytes): more is
  /// refused with STDIN_FULL.
  uint64_t max_stdin_bytes = 1024 * 1024;
  /// Default maxBytes of console_get_job_output.
  uint64_t default_read_bytes = 64 * 1024;
  /// Job kind name -> JSON schema (draft-04 subset, an object schema) of
  /// its `kindOptions`. Names are 1-64 of [A-Za-z0-9_.-].
  std::map<std::string, std::string> kinds = {{"process", no_kind_options}};
  /// The kind of a console_execute_async call without `kind`; must be one
  /// of `kinds`.
  std::string default_kind = "process";
  /// The maxima of options.limits (--limit-...-max; 0 = none): the schema's
  /// `maximum` of each.
  resource_limits limit_maxima{};
  /// options.sandbox can be honoured (Landlock is available); with
  /// `sandbox_forced` (--sandbox-fs) every job is sandboxed anyway.
  bool sandbox_available = false;
  bool sandbox_forced = false;
};

} // namespace jobd::protocol
