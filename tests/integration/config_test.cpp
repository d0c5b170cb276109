// Command line and environment: --help, --version, invalid values, logging.
#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cctype>

using namespace jobd_it;

namespace {

struct setting {
  const char* flag;
  const char* env;
  const char* dflt;
  const char* min;
  const char* max;
  const char* max_plus_one;
};

// 2^53 - 1: the tool schemas' maximum, which durations share.
constexpr const char* max_int = "9007199254740991";
constexpr const char* max_int_plus_one = "9007199254740992";

const setting numeric_settings[] = {
  {"--max-concurrent-jobs", "MAX_CONCURRENT_JOBS", "10", "1", "100000",
   "100001"},
  {"--max-concurrent-jobs-per-session", "MAX_CONCURRENT_JOBS_PER_SESSION", "5",
   "1", "100000", "100001"},
  {"--max-pending-jobs", "MAX_PENDING_JOBS", "10000", "1", max_int,
   max_int_plus_one},
  {"--job-timeout-ms", "JOB_TIMEOUT_MS", "300000", "0", max_int,
   max_int_plus_one},
  {"--retention-ms", "JOB_RETENTION_MS", "86400000", "1", max_int,
   max_int_plus_one},
  {"--cleanup-interval-ms", "JOB_CLEANUP_INTERVAL", "3600000", "10", max_int,
   max_int_plus_one},
  {"--output-buffer-size", "OUTPUT_BUFFER_SIZE", "10000", "1", max_int,
   max_int_plus_one},
  {"--output-buffer-bytes", "OUTPUT_BUFFER_BYTES", "8388608", "1024", max_int,
   max_int_plus_one},
  {"--output-total-bytes", "OUTPUT_TOTAL_BYTES", "1073741824", "1048576",
   max_int, max_int_plus_one},
  {"--kill-grace-ms", "KILL_GRACE_MS", "5000", "0", max_int, max_int_plus_one},
  {"--max-wait-ms", "MAX_WAIT_MS", "60000", "0", max_int, max_int_plus_one},
  {"--max-line-bytes", "MAX_LINE_BYTES", "16777216", "1024", "1073741824",
   "1073741825"},
  {"--max-stdin-bytes", "MAX_STDIN_BYTES", "1048576", "1", "1073741824",
   "1073741825"},
  // Security and quotas (docs/security.md): 0 = none.
  {"--limit-cpu-seconds", "JOBD_LIMIT_CPU_SECONDS", "0", "0", "31622400",
   "31622401"},
  {"--limit-cpu-seconds-max", "JOBD_LIMIT_CPU_SECONDS_MAX", "0", "0",
   "31622400", "31622401"},
  {"--limit-memory-bytes", "JOBD_LIMIT_MEMORY_BYTES", "0", "0",
   "1152921504606846976", "1152921504606846977"},
  {"--limit-memory-bytes-max", "JOBD_LIMIT_MEMORY_BYTES_MAX", "0", "0",
   "1152921504606846976", "1152921504606846977"},
  {"--limit-max-processes", "JOBD_LIMIT_MAX_PROCESSES", "0", "0", "2147483648",
   "2147483649"},
  {"--limit-max-processes-max", "JOBD_LIMIT_MAX_PROCESSES_MAX", "0", "0",
   "2147483648", "2147483649"},
  {"--limit-open-files", "JOBD_LIMIT_OPEN_FILES", "0", "0", "2147483648",
   "2147483649"},
  {"--limit-open-files-max", "JOBD_LIMIT_OPEN_FILES_MAX", "0", "0",
   "2147483648", "2147483649"},
  {"--limit-file-size-bytes", "JOBD_LIMIT_FILE_SIZE_BYTES", "0", "0",
   "1152921504606846976", "1152921504606846977"},
  {"--limit-file-size-bytes-max", "JOBD_LIMIT_FILE_SIZE_BYTES_MAX", "0", "0",
   "1152921504606846976", "1152921504606846977"},
  {"--max-queued-per-session", "JOBD_MAX_QUEUED_PER_SESSION", "0", "0", max_int,
   max_int_plus_one},
  {"--max-retained-per-session", "JOBD_MAX_RETAINED_PER_SESSION", "0", "0",
   max_int, max_int_plus_one},
  {"--max-output-bytes-per-session", "JOBD_MAX_OUTPUT_BYTES_PER_SESSION", "0",
   "0", max_int, max_int_plus_one},
  {"--audit-log-max-bytes", "JOBD_AUDIT_LOG_MAX_BYTES", "67108864", "4096",
   max_int, max_int_plus_one},
  {"--audit-log-keep", "JOBD_AUDIT_LOG_KEEP", "5", "1", "100", "101"},
};

/// Flags a value of `s` needs beside it to be consistent: the global output
/// budget (default 1 GiB, at least 1 MiB) holds at least one job's cap.
std::vector<std::string> companions(const setting& s, const std::string& v) {
  std::string flag = s.flag;
  if (flag == "--output-buffer-bytes" && v == max_int)
    return {"--output-total-bytes", v};
  if (flag == "--output-total-bytes" && v == "1048576")
    return {"--output-buffer-bytes", "1048576"};
  return {};
}

/// Something in jobd's stderr says why it refused to start.
bool names(const std::string& text, const setting& s) {
  std::string bare = std::string(s.flag).substr(2);
  return text.find(bare) != std::string::npos
         || text.find(s.env) != std::string::npos;
}

jobd_options cli(std::vector<std::string> args,
                 std::vector<std::pair<std::string, std::string>> env = {}) {
  jobd_options o;
  o.handshake = false;
  o.protocol_stdout = false;
  o.args = std::move(args);
  o.env = std::move(env);
  return o;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return s;
}

/// Runs jobd with `o`, expects it to exit with `code` within 2 s without
/// touching stdin; returns stdout + stderr.
std::string run_expect_exit(const jobd_options& o, int code) {
  jobd_process j(o);
  auto st = j.wait_exit(2000);
  std::string out;
  while (auto line = j.read_line(200))
    out += *line + "\n";
  auto err = j.stderr_text();
  if (!st) {
    ADD_FAILURE() << "jobd did not exit by itself";
    return out + err;
  }
  EXPECT_TRUE(WIFEXITED(*st));
  if (WIFEXITED(*st)) {
    EXPECT_EQ(WEXITSTATUS(*st), code) << "stderr: " << err;
  }
  return out + "\n" + err;
}

} // namespace

TEST(Config, HelpListsEveryFlagWithDefault) {
  jobd_process j(cli({"--help"}));
  auto st = j.wait_exit(2000);
  ASSERT_TRUE(st.has_value()) << "--help must exit";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
  std::string text;
  // --help prints text, not JSON-RPC: read raw lines without the JSON check.
  // (The harness would flag them, so read stderr + the raw stdout pipe here.)
  while (auto line = j.read_line(200))
    text += *line + "\n";
  text += j.stderr_text();
  for (auto& s : numeric_settings) {
    EXPECT_NE(text.find(s.flag), std::string::npos)
      << s.flag << " missing from --help:\n"
      << text;
    EXPECT_NE(text.find(s.env), std::string::npos)
      << s.env << " missing from --help";
    EXPECT_NE(text.find(s.dflt), std::string::npos)
      << "default " << s.dflt << " missing from --help";
  }
  for (const char* f : {"--log-level", "LOG_LEVEL", "--help", "--version"})
    EXPECT_NE(text.find(f), std::string::npos) << f << " missing from --help";
}

TEST(Config, Version) {
  jobd_process j(cli({"--version"}));
  auto st = j.wait_exit(2000);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
  std::string text;
  while (auto line = j.read_line(200))
    text += *line + "\n";
  text += j.stderr_text();
  EXPECT_NE(text.find(JOBD_VERSION), std::string::npos) << text;
}

TEST(Config, InvalidFlagValuesExit2NamingTheSetting) {
  for (auto& s : numeric_settings) {
    for (const char* bad :
         {"abc", "-1", "12abc", "99999999999999999999999", ""}) {
      SCOPED_TRACE(std::string(s.flag) + " '" + bad + "'");
      auto text = run_expect_exit(cli({s.flag, bad}), 2);
      std::string bare = std::string(s.flag).substr(2);
      EXPECT_TRUE(text.find(bare) != std::string::npos
                  || text.find(s.env) != std::string::npos)
        << "the message must name the setting: " << text;
    }
  }
}

TEST(Config, InvalidEnvironmentValuesExit2NamingTheSetting) {
  for (auto& s : numeric_settings) {
    SCOPED_TRACE(s.env);
    auto text = run_expect_exit(cli({}, {{s.env, "abc"}}), 2);
    std::string bare = std::string(s.flag).substr(2);
    EXPECT_TRUE(text.find(s.env) != std::string::npos
                || text.find(bare) != std::string::npos)
      << "the message must name the setting: " << text;
  }
}

TEST(Config, InvalidLogLevel) {
  auto text = run_expect_exit(cli({"--log-level", "loud"}), 2);
  EXPECT_TRUE(lower(text).find("log") != std::string::npos) << text;
  auto text2 = run_expect_exit(cli({}, {{"LOG_LEVEL", "loud"}}), 2);
  EXPECT_TRUE(lower(text2).find("log") != std::string::npos) << text2;
}

TEST(Config, UnknownFlagAndMissingValue) {
  {
    jobd_process j(cli({"--bogus-flag"}));
    auto st = j.wait_exit(2000);
    ASSERT_TRUE(st.has_value()) << "an unknown flag must stop start-up";
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) != 0);
    EXPECT_NE(j.stderr_text().find("bogus-flag"), std::string::npos)
      << j.stderr_text();
  }
  {
    jobd_process j(cli({"--max-concurrent-jobs"}));
    auto st = j.wait_exit(2000);
    ASSERT_TRUE(st.has_value())
      << "a flag without its value must stop start-up";
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) != 0);
  }
}

TEST(Config, ValidValuesStart) {
  jobd_options o;
  o.args = {"--max-concurrent-jobs",
            "3",
            "--max-concurrent-jobs-per-session",
            "2",
            "--job-timeout-ms",
            "1000",
            "--retention-ms",
            "1000",
            "--cleanup-interval-ms",
            "1000",
            "--output-buffer-size",
            "10",
            "--output-buffer-bytes",
            "4096",
            "--kill-grace-ms",
            "100",
            "--max-wait-ms",
            "1000",
            "--max-line-bytes",
            "100000",
            "--log-level",
            "error"};
  jobd_process j(o);
  auto ping = j.call("ping");
  ASSERT_TRUE(ping);
  auto m = j.tool("console_get_job_metrics", "{}");
  EXPECT_EQ(num(*m, "metrics.concurrency.maximum"), 3);
}

TEST(Config, LogLevelControlsStderrAuditTrail) {
  std::string id;
  std::string info_log;
  {
    jobd_process j(std::vector<std::string>{"--log-level", "info"});
    id = j.submit("sh", "[\"-c\",\"exit 7\"]",
                  R"({"sessionId":"audit-session"})");
    j.wait_terminal(id);
    sleep_ms(100);
    info_log = j.stderr_text();
  }
  size_t lines_with_id = 0;
  bool has_session = false;
  size_t pos = 0;
  while (pos < info_log.size()) {
    auto nl = info_log.find('\n', pos);
    auto line = info_log.substr(pos, nl == std::string::npos ? std::string::npos
                                                             : nl - pos);
    if (line.find(id) != std::string::npos) {
      ++lines_with_id;
      has_session
        = has_session || line.find("audit-session") != std::string::npos;
    }
    if (nl == std::string::npos)
      break;
    pos = nl + 1;
  }
  EXPECT_GE(lines_with_id, 3u)
    << "created, started and finished should each be logged:\n"
    << info_log;
  EXPECT_TRUE(has_session) << info_log;
  {
    jobd_process j(std::vector<std::string>{"--log-level", "off"});
    auto id2 = j.submit("true", "[]");
    j.wait_terminal(id2);
    j.close_stdin();
    j.wait_exit(2000);
    sleep_ms(100);
    EXPECT_EQ(j.stderr_text(), "") << "--log-level off must keep stderr silent";
  }
}

TEST(Config, EveryNumericFlagAtItsMinimumAndMaximumStarts) {
  for (auto& s : numeric_settings) {
    for (std::string value : {s.min, s.max}) {
      SCOPED_TRACE(std::string(s.flag) + " " + value);
      jobd_options o;
      o.args = {s.flag, value};
      for (auto& c : companions(s, value))
        o.args.push_back(c);
      // ping needs no handshake; one that fails must not fail the test yet.
      o.handshake = false;
      jobd_process j(o);
      auto ping = j.await_response(j.send_request("ping"), 3000);
      if (!ping) {
        // Only a resource of this machine may refuse a valid setting: the
        // descriptor limit for the concurrency, or a process limit where
        // no pids cgroup can enforce it (said so, exit 2).
        auto st = j.wait_exit(2000);
        auto err = j.stderr_text();
        ASSERT_TRUE(st.has_value()) << "no reply and no exit: " << err;
        EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 2) << err;
        const std::string flag = s.flag;
        if (flag == "--limit-max-processes") {
          EXPECT_NE(err.find("pids cgroup"), std::string::npos) << err;
          continue;
        }
        EXPECT_EQ(flag, "--max-concurrent-jobs") << err;
        EXPECT_NE(err.find("RLIMIT_NOFILE"), std::string::npos) << err;
        EXPECT_EQ(err.find("invalid value"), std::string::npos) << err;
        continue;
      }
      auto m = j.tool("console_get_job_metrics", "{}");
      EXPECT_TRUE(m.ok()) << m.dump();
      j.close_stdin();
      auto st = j.wait_exit(3000);
      ASSERT_TRUE(st.has_value());
      EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
    }
  }
}

TEST(Config, EveryNumericSettingOnePastItsRangeExits2NamingIt) {
  for (auto& s : numeric_settings) {
    SCOPED_TRACE(s.flag);
    auto below = std::to_string(std::stoll(s.min) - 1);
    for (auto& bad : {std::string(s.max_plus_one), below}) {
      auto text = run_expect_exit(cli({s.flag, bad}), 2);
      EXPECT_TRUE(names(text, s)) << text;
      EXPECT_NE(text.find("invalid value"), std::string::npos) << text;
      EXPECT_NE(text.find(s.max), std::string::npos)
        << "the message gives the range: " << text;
      auto env_text = run_expect_exit(cli({}, {{s.env, bad}}), 2);
      EXPECT_NE(env_text.find(s.env), std::string::npos) << env_text;
    }
  }
}

TEST(Config, OutputTotalBelowPerJobCapNamesBoth) {
  auto text = run_expect_exit(cli({"--output-total-bytes", "2097152",
                                   "--output-buffer-bytes", "4194304"}),
                              2);
  EXPECT_NE(text.find("--output-total-bytes"), std::string::npos) << text;
  EXPECT_NE(text.find("--output-buffer-bytes"), std::string::npos) << text;
  // The default per-job cap (8 MiB) is more than a 1 MiB budget, also when
  // the budget comes from the environment.
  auto env_text
    = run_expect_exit(cli({}, {{"OUTPUT_TOTAL_BYTES", "1048576"}}), 2);
  EXPECT_NE(env_text.find("OUTPUT_TOTAL_BYTES"), std::string::npos) << env_text;
  EXPECT_NE(env_text.find("OUTPUT_BUFFER_BYTES"), std::string::npos)
    << env_text;
  // Equal is fine.
  jobd_options o;
  o.args
    = {"--output-total-bytes", "4194304", "--output-buffer-bytes", "4194304"};
  jobd_process j(o);
  EXPECT_TRUE(j.call("ping"));
}

TEST(Config, MaxPendingJobsRefusesWithQueueFull) {
  jobd_process j(std::vector<std::string>{"--max-concurrent-jobs", "1",
                                          "--max-pending-jobs", "2"});
  auto running = j.submit("sleep", R"(["5"])");
  auto first = j.submit("sleep", R"(["5"])");
  auto second = j.submit("sleep", R"(["5"])");
  ASSERT_FALSE(running.empty());
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  auto refused
    = j.tool("console_execute_async", R"({"command":"sleep","args":["5"]})");
  EXPECT_TRUE(refused.is_error) << refused.dump();
  EXPECT_EQ(refused.code(), "QUEUE_FULL") << refused.dump();
  // A freed queue place takes a job again.
  auto c = j.tool("console_cancel_job", "{\"jobId\":" + q(first) + "}");
  EXPECT_TRUE(c.ok()) << c.dump();
  EXPECT_FALSE(j.submit("sleep", R"(["5"])").empty());
}

TEST(Config, ToolsListShowsTheConfiguredDefaultsAndCap) {
  jobd_process j(std::vector<std::string>{
    "--job-timeout-ms", "1234", "--kill-grace-ms", "77", "--max-wait-ms", "999",
    "--output-buffer-bytes", "65536"});
  auto list = j.call("tools/list");
  ASSERT_TRUE(list);
  const Value* exec = nullptr;
  const Value* wait = nullptr;
  for (auto& t : (*list)["result"]["tools"].GetArray()) {
    if (str(t, "name") == "console_execute_async")
      exec = &t;
    if (str(t, "name") == "console_wait_job")
      wait = &t;
  }
  ASSERT_TRUE(exec && wait);
  auto& opts = (*exec)["inputSchema"]["properties"]["options"]["properties"];
  EXPECT_EQ(num(opts, "timeout.default"), 1234);
  EXPECT_EQ(num(opts, "killGraceMs.default"), 77);
  EXPECT_EQ(num(opts, "outputByteLimit.default"), 65536);
  EXPECT_EQ(num(opts, "outputByteLimit.maximum"), 65536);
  EXPECT_EQ(num((*wait)["inputSchema"]["properties"], "timeoutMs.default"),
            999);
  // The cap is enforced, not only shown.
  auto r = j.tool("console_execute_async",
                  R"({"command":"true","options":{"outputByteLimit":65537}})");
  EXPECT_EQ(r.code(), "INVALID_ARGUMENTS") << r.dump();
  auto init = j.call("initialize", R"({"protocolVersion":"2025-11-25",)"
                                   R"("capabilities":{},"clientInfo":)"
                                   R"({"name":"t","version":"1"}})");
  ASSERT_TRUE(init);
  EXPECT_EQ(str(*init, "result.serverInfo.version"), JOBD_VERSION);
}
