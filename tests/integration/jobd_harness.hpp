// Integration-test harness: runs the real jobd binary over pipes and speaks
// newline-delimited JSON-RPC 2.0 with it.
//
// Every line jobd writes on stdout is checked to be one valid JSON-RPC message
// (valid UTF-8, an object with "jsonrpc": "2.0", and either a response or a
// notification); anything else fails the running test. stderr is drained by a
// thread into a buffer. The test process makes itself a child subreaper, so
// processes a job leaves behind end up as its children: the harness reaps
// them (like a good init would) and fails the test if any is still alive once
// jobd has exited.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/schema.h>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace jobd_it {

using Doc = rapidjson::Document;
using DocPtr = std::shared_ptr<Doc>;
using Value = rapidjson::Value;

// -- JSON helpers
// ---------------------------------------------------------------

/// `text` as a JSON string literal (quoted and escaped).
std::string q(const std::string& text);
/// Serializes a value to compact JSON.
std::string to_json(const Value& v);
/// The member at a dotted path ("job.output.chunks"), or nullptr.
const Value* at(const Value& v, const std::string& path);
bool has(const Value& v, const std::string& path);
bool is_null(const Value& v, const std::string& path);
/// The string at `path`; "" (and a test failure) if missing or not a string.
std::string str(const Value& v, const std::string& path);
/// The integer at `path`; -1 (and a test failure) if missing or not an integer.
int64_t num(const Value& v, const std::string& path);
bool boolean(const Value& v, const std::string& path);
/// Parses JSON text (throws nothing; returns a doc with HasParseError()).
DocPtr parse(const std::string& text);
/// Is `s` well-formed UTF-8 (no overlongs, surrogates or code points > 10FFFF)?
bool valid_utf8(const std::string& s);

// -- /proc helpers
// ---------------------------------------------------------------

struct proc_info {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  char state = '?';
  std::string comm;
};

/// Every process visible in /proc.
std::vector<proc_info> list_procs();
/// Processes whose process group is `pgid`, zombies of this test process
/// excluded (they are reaped first).
std::vector<proc_info> procs_in_group(pid_t pgid);
/// Waits until at least `n` live (not zombie) processes are in the group;
/// false on timeout.
bool wait_group_size(pid_t pgid, size_t n, int timeout_ms);
/// Waits until no process of the group is left; false on timeout.
bool wait_group_gone(pid_t pgid, int timeout_ms);
/// Does the pid exist and is it not a zombie?
bool pid_alive(pid_t pid);
/// VmRSS of a process in KiB (-1 if unknown).
long vm_rss_kib(pid_t pid);
/// utime + stime of a process in seconds; -1 if unknown.
double cpu_seconds(pid_t pid);
std::string describe(const std::vector<proc_info>& procs);

/// Command-line arguments from literals.
inline std::vector<std::string> args(std::initializer_list<const char*> list) {
  return std::vector<std::string>(list.begin(), list.end());
}

/// Milliseconds since an arbitrary steady epoch.
int64_t now_ms();
/// Parses an ISO-8601 UTC timestamp with milliseconds into ms since the
/// epoch; -1 if malformed.
int64_t parse_iso_ms(const std::string& text);

// -- tool results
// ------------------------------------------------------------------

struct tool_result {
  /// The whole JSON-RPC response (nullptr if none arrived in time).
  DocPtr response;
  /// The response was a JSON-RPC error.
  bool rpc_error = false;
  int rpc_code = 0;
  std::string rpc_message;
  /// result.isError
  bool is_error = false;
  /// result.structuredContent (nullptr if absent).
  const Value* sc = nullptr;

  bool ok() const {
    return response && !rpc_error && !is_error && sc;
  }
  /// structuredContent.code for isError results.
  std::string code() const;
  /// structuredContent.error for isError results.
  std::string message() const;
  /// structuredContent, or an empty object.
  const Value& operator*() const;
  /// A readable dump for failure messages.
  std::string dump() const;
};

// -- the process
// ---------------------------------------------------------------------

struct jobd_options {
  std::vector<std::string> args;
  /// Environment variables set for jobd (on top of the test's environment,
  /// from which jobd's own settings are removed).
  std::vector<std::pair<std::string, std::string>> env;
  /// Run jobd through this command (its first word an absolute path), e.g.
  /// setpriv to change the user; it must exec jobd, so that pid() is
  /// jobd's.
  std::vector<std::string> exec_prefix;
  /// The jobd executable to run (empty: the one this build made).
  std::string binary;
  /// Send initialize + notifications/initialized at start.
  bool handshake = true;
  std::string protocol_version = "2025-11-25";
  /// Validate every successful structuredContent against the tool's
  /// outputSchema from tools/list.
  bool check_output_schema = true;
  /// stdout carries JSON-RPC (false for --help, --version, bad flags):
  /// lines left unread at the end are checked only when true.
  bool protocol_stdout = true;
};

class jobd_process {
public:
  jobd_process();
  explicit jobd_process(jobd_options opts);
  /// Shorthand: extra command-line arguments only.
  explicit jobd_process(std::vector<std::string> args);
  ~jobd_process();

  jobd_process(const jobd_process&) = delete;
  jobd_process& operator=(const jobd_process&) = delete;

  pid_t pid() const {
    return pid_;
  }
  bool started() const {
    return pid_ > 0;
  }

  /// Writes `line` plus '\n'. False if jobd's stdin is closed or stuck.
  bool send_line(const std::string& line, int timeout_ms = 10000);
  /// Writes raw bytes.
  bool send_raw(const std::string& bytes, int timeout_ms = 10000);

  /// The next stdout line (without '\n'); nullopt on timeout or EOF.
  std::optional<std::string> read_line(int timeout_ms);
  /// The next stdout line parsed and checked; nullptr on timeout/EOF/garbage.
  DocPtr read_message(int timeout_ms);

  /// Sends a request with a fresh integer id; returns the id.
  int64_t send_request(const std::string& method,
                       const std::string& params_json = "");
  /// The response with this id (others are stashed, notifications kept).
  DocPtr await_response(int64_t id, int timeout_ms = 5000);
  /// The response whose id serializes to `id_json` (e.g. "\"abc\"", "7").
  DocPtr await_response_raw(const std::string& id_json, int timeout_ms = 5000);
  /// send_request + await_response.
  DocPtr call(const std::string& method, const std::string& params_json = "",
              int timeout_ms = 5000);

  /// tools/call; returns the parsed result.
  tool_result tool(const std::string& name, const std::string& args_json = "{}",
                   int timeout_ms = 5000);
  /// Sends a tools/call without waiting; collect with tool_result_of.
  int64_t send_tool(const std::string& name,
                    const std::string& args_json = "{}");
  tool_result tool_result_of(int64_t id, int timeout_ms = 5000);

  /// initialize + notifications/initialized.
  void handshake(const std::string& version = "2025-11-25");

  /// Notifications and server requests received while waiting for responses.
  std::vector<DocPtr> notifications();

  void close_stdin();
  /// waitpid status once jobd exited; nullopt on timeout.
  std::optional<int> wait_exit(int timeout_ms);
  bool exited() const {
    return exit_status_.has_value();
  }
  void kill_signal(int sig);

  std::string stderr_text();
  /// Number of stdout lines that were not valid JSON-RPC messages.
  int bad_lines() const {
    return bad_lines_;
  }

  // -- job helpers
  // ---------------------------------------------------------------
  /// console_execute_async with the given full arguments JSON; returns the
  /// job id ("" and a test failure if it was not accepted).
  std::string submit(const std::string& args_json);
  /// Submits `command` with `args` (JSON array text) and `options` (JSON object
  /// text).
  std::string submit(const std::string& command, const std::string& args_array,
                     const std::string& options_object = "{}");
  /// Submits `script` through `sh -c` (as command "sh" with args).
  std::string submit_sh(const std::string& script,
                        const std::string& options_object = "{}");
  /// console_get_job_status; the `job` object is in result["job"].
  tool_result status(const std::string& job_id);
  /// Polls status every 20 ms until the job is terminal; returns the last
  /// status result (test failure on timeout).
  tool_result wait_terminal(const std::string& job_id, int timeout_ms = 10000);
  /// Polls until the job has status `running`.
  tool_result wait_running(const std::string& job_id, int timeout_ms = 5000);
  /// All output chunks of a job (pages through with since/nextSince).
  std::vector<std::pair<std::string, std::string>>
  all_output(const std::string& job_id, const std::string& extra_options = "");
  /// Concatenated content of one stream ("stdout"/"stderr") or both ("").
  std::string output_text(const std::string& job_id,
                          const std::string& stream = "");
  /// Pids of jobs seen in status replies (each is its process group id).
  std::vector<pid_t> known_job_pids();

private:
  void start(const jobd_options& opts);
  void reader_loop();
  void stderr_loop();
  DocPtr check_message(const std::string& line);
  void fetch_schemas();
  void validate_output(const std::string& tool, const Value& sc);
  void note_pids(const Value& v);

  jobd_options opts_;
  pid_t pid_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::optional<int> exit_status_;
  std::atomic<bool> stop_{false};
  std::thread out_thread_;
  std::thread err_thread_;

  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  bool out_eof_ = false;
  bool err_eof_ = false;
  std::string err_buf_;

  int64_t next_id_ = 1000;
  std::map<std::string, DocPtr> stash_;
  std::vector<DocPtr> notifications_;
  int bad_lines_ = 0;

  bool schemas_fetched_ = false;
  std::map<std::string, std::shared_ptr<rapidjson::SchemaDocument>> schemas_;
  std::vector<DocPtr>
    schema_sources_; // outlive the SchemaDocuments built on them
  std::map<int64_t, std::string> tool_names_;
  std::vector<pid_t> job_pids_;
  bool killed_by_us_ = false;
  /// The temporary state directory made for this jobd (removed with it).
  std::string owned_state_dir_;
};

} // namespace jobd_it

namespace jobd_it {
/// This suite and jobd are built with AddressSanitizer (JOBD_SANITIZE): its
/// quarantine keeps up to 256 MB of freed memory, so RSS bounds are checked
/// in the normal build only.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool under_asan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool under_asan = true;
#else
inline constexpr bool under_asan = false;
#endif
#else
inline constexpr bool under_asan = false;
#endif

inline void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}
} // namespace jobd_it
