// The AUDIT actor on a real actor system (detached, as jobd spawns it) with
// a temporary file: one valid JSON object per line, escaping that no command
// can break out of, redacted environments, size rotation, mode 0600 and a
// refused symlink. Also the pure pieces of actors/audit_format.hpp.
#include "actors/audit.hpp"
#include "actors/audit_format.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace jobd;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) {
      out.push_back(text.substr(start)); // an unterminated line: a failure
      break;
    }
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

job_event event(transition what, job_status status, std::string command) {
  job_event ev;
  ev.what = what;
  ev.job.id = "job_1";
  ev.job.session_id = "s1";
  ev.job.command = std::move(command);
  ev.job.status = status;
  ev.job.pid = 4242;
  return ev;
}

struct audit_test : ::testing::Test {
  static caf::actor_system_config& config() {
    static caf::actor_system_config cfg = [] {
      caf::actor_system_config c;
      c.add_message_types<caf::id_block::jobd>();
      c.set("scheduler.max-threads", 2);
      return c;
    }();
    return cfg;
  }
  caf::actor_system sys{config()};
  caf::scoped_actor self{sys};
  std::string dir;
  std::string path;

  void SetUp() override {
    char tmpl[] = "/tmp/jobd-audit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/audit.jsonl";
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }

  /// Spawns AUDIT on `path` detached; opening must succeed.
  audit_actor spawn(uint64_t max_bytes = 1 << 20, uint64_t keep = 5) {
    auto log
      = std::make_shared<audit_log>(audit_options{path, max_bytes, keep});
    std::string why;
    EXPECT_TRUE(log->open(why)) << why;
    return sys.spawn<caf::detached>(audit, log);
  }

  /// Shuts AUDIT down (its stop entry is written when this returns).
  void stop(const audit_actor& a) {
    bool done = false;
    self->request(a, std::chrono::seconds(10), atom::shutdown_v)
      .receive([&](bool) { done = true; }, [](caf::error&) {});
    EXPECT_TRUE(done);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  /// Every line of the file, each parsed: all must be JSON objects with an
  /// ISO-8601 UTC time with ms and a type.
  std::vector<std::shared_ptr<rapidjson::Document>>
  entries(const std::string& file) {
    static const std::regex iso{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"};
    std::vector<std::shared_ptr<rapidjson::Document>> out;
    auto text = slurp(file);
    EXPECT_TRUE(text.empty() || text.back() == '\n') << "unterminated line";
    for (auto& line : lines_of(text)) {
      auto doc = std::make_shared<rapidjson::Document>();
      doc->Parse(line.c_str(), line.size());
      EXPECT_FALSE(doc->HasParseError()) << line;
      if (doc->HasParseError() || !doc->IsObject()) {
        ADD_FAILURE() << "not an object: " << line;
        continue;
      }
      EXPECT_TRUE(doc->HasMember("time") && (*doc)["time"].IsString()
                  && std::regex_match((*doc)["time"].GetString(), iso))
        << line;
      EXPECT_TRUE(doc->HasMember("type") && (*doc)["type"].IsString()) << line;
      out.push_back(doc);
    }
    return out;
  }
};

std::string s(const rapidjson::Value& v, const char* key) {
  auto i = v.FindMember(key);
  return i != v.MemberEnd() && i->value.IsString() ? i->value.GetString() : "";
}

} // namespace

TEST_F(audit_test, EntriesAreOneJsonObjectPerLine) {
  auto a = spawn();
  caf::anon_send(a, atom::audit_v, atom::start_v, std::string{"mcp-1"},
                 std::string{"client"}, std::string{"1.0"});
  caf::anon_send(a, atom::audit_v, std::string{"mcp-1"},
                 std::string{"console_execute_async"},
                 std::string{R"({"command":"true","sessionId":"s1"})"},
                 std::string{}, int64_t{3});
  caf::anon_send(a, atom::audit_v, std::string{"mcp-1"},
                 std::string{"no_such_tool"}, std::string{"{}"},
                 std::string{"-32602"}, int64_t{0});
  caf::anon_send(a, atom::event_v,
                 event(transition::created, job_status::pending, "true"));
  caf::anon_send(a, atom::event_v,
                 event(transition::started, job_status::running, "true"));
  auto done = event(transition::finished, job_status::completed, "true");
  done.job.exit_code = 0;
  caf::anon_send(a, atom::event_v, done);
  // No state change: not audited.
  caf::anon_send(a, atom::event_v,
                 event(transition::updated, job_status::running, "true"));
  stop(a);
  auto all = entries(path);
  ASSERT_EQ(all.size(), 8u);
  auto& first = *all[0];
  EXPECT_EQ(s(first, "type"), "server");
  EXPECT_EQ(s(first, "event"), "start");
  EXPECT_EQ(first["pid"].GetInt64(), ::getpid());
  EXPECT_EQ(s(*all[1], "type"), "session");
  EXPECT_EQ(s((*all[1])["client"], "name"), "client");
  auto& call = *all[2];
  EXPECT_EQ(s(call, "type"), "tool_call");
  EXPECT_EQ(s(call, "session"), "mcp-1");
  EXPECT_EQ(s(call, "jobSession"), "s1");
  EXPECT_EQ(s(call, "tool"), "console_execute_async");
  EXPECT_EQ(s(call, "outcome"), "ok");
  EXPECT_FALSE(call.HasMember("errorCode"));
  EXPECT_EQ(s(call["arguments"], "command"), "true");
  EXPECT_EQ(call["durationMs"].GetInt64(), 3);
  auto& failed = *all[3];
  EXPECT_EQ(s(failed, "outcome"), "error");
  ASSERT_TRUE(failed["errorCode"].IsInt());
  EXPECT_EQ(failed["errorCode"].GetInt(), -32602);
  EXPECT_EQ(s(*all[4], "event"), "created");
  EXPECT_EQ(s(*all[5], "event"), "started");
  EXPECT_EQ((*all[5])["pid"].GetInt64(), 4242);
  EXPECT_EQ(s(*all[6], "event"), "finished");
  EXPECT_EQ(s(*all[6], "status"), "completed");
  EXPECT_EQ((*all[6])["exitCode"].GetInt(), 0);
  EXPECT_EQ(s(*all[6], "jobId"), "job_1");
  EXPECT_EQ(s(*all[6], "command"), "true");
  EXPECT_EQ(s(*all.back(), "event"), "stop");
}

TEST_F(audit_test, NewlineInCommandCannotForgeAnEntry) {
  auto a = spawn();
  std::string evil = "echo hi\n{\"type\":\"forged\"}\r\n\"\\";
  caf::anon_send(a, atom::event_v,
                 event(transition::created, job_status::pending, evil));
  std::string args = R"({"command":"echo hi\n{\"type\":\"forged\"}"})";
  caf::anon_send(a, atom::audit_v, std::string{"mcp\n{\"type\":\"x\"}"},
                 std::string{"console_execute_async\n"}, args, std::string{},
                 int64_t{1});
  stop(a);
  auto text = slurp(path);
  auto lines = lines_of(text);
  // start, created, tool call, stop: one line each.
  ASSERT_EQ(lines.size(), 4u) << text;
  auto all = entries(path);
  ASSERT_EQ(all.size(), 4u);
  for (auto& e : all)
    EXPECT_NE(s(*e, "type"), "forged");
  EXPECT_EQ(s(*all[1], "command"), evil);
  EXPECT_EQ(s((*all[2])["arguments"], "command"),
            "echo hi\n{\"type\":\"forged\"}");
}

TEST_F(audit_test, EnvironmentValuesAreRedactedNamesKept) {
  auto a = spawn();
  std::string args = R"({"command":"env","options":{"environment":
    {"SECRET":"hunter2","TOKEN":"hunter2-too"}},
    "job":{"options":{"environment":{"DEEP":"hunter2"}}},
    "jobs":[{"environment":{"IN_ARRAY":"hunter2"}}],
    "other":{"environment":"SECRET=hunter2"}})";
  caf::anon_send(a, atom::audit_v, std::string{"mcp-1"},
                 std::string{"console_create_schedule"}, args,
                 std::string{"INVALID_ARGUMENTS"}, int64_t{0});
  stop(a);
  auto text = slurp(path);
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  auto all = entries(path);
  ASSERT_EQ(all.size(), 3u);
  auto& args_logged = (*all[1])["arguments"];
  auto& env = args_logged["options"]["environment"];
  EXPECT_EQ(s(env, "SECRET"), "[redacted]");
  EXPECT_EQ(s(env, "TOKEN"), "[redacted]");
  EXPECT_EQ(s(args_logged["job"]["options"]["environment"], "DEEP"),
            "[redacted]");
  EXPECT_EQ(s(args_logged["jobs"][0]["environment"], "IN_ARRAY"), "[redacted]");
  EXPECT_EQ(s(args_logged["other"], "environment"), "[redacted]");
  EXPECT_EQ(s(args_logged, "command"), "env");
  EXPECT_EQ(s(*all[1], "errorCode"), "INVALID_ARGUMENTS");
}

TEST_F(audit_test, LongStringsAreShortened) {
  std::string big(100000, 'x');
  auto line = audit_format::tool_call_line(
    0, "mcp", "t", "{\"command\":\"" + big + "\"}", "", 0);
  EXPECT_LT(line.size(), 1000u);
  EXPECT_NE(line.find("(100000 bytes)"), std::string::npos) << line;
  // Many strings, each under the limit, together over the whole limit.
  std::string many = "[";
  for (int i = 0; i < 100; ++i)
    many += (i ? ",\"" : "\"") + std::string(4000, 'y') + "\"";
  many += "]";
  line = audit_format::tool_call_line(0, "mcp", "t", "{\"args\":" + many + "}",
                                      "", 0);
  EXPECT_LT(line.size(), 2000u);
  rapidjson::Document doc;
  doc.Parse(line.c_str());
  EXPECT_FALSE(doc.HasParseError());
}

TEST_F(audit_test, RotationKeepsExactlyKeepOldFilesAndSplitsNoEntry) {
  constexpr uint64_t keep = 3;
  auto a = spawn(4096, keep);
  constexpr int n = 300;
  for (int i = 0; i < n; ++i)
    caf::anon_send(a, atom::audit_v, std::string{"mcp-1"},
                   "tool_" + std::to_string(i), std::string{"{}"},
                   std::string{}, int64_t{0});
  stop(a);
  EXPECT_TRUE(exists(path));
  for (uint64_t k = 1; k <= keep; ++k)
    EXPECT_TRUE(exists(path + "." + std::to_string(k))) << k;
  EXPECT_FALSE(exists(path + "." + std::to_string(keep + 1)));
  // Oldest first: the entries read in order are consecutive, and end with
  // the last call and the stop entry.
  std::vector<std::string> tools;
  for (auto k = keep; k >= 1; --k) {
    auto file = path + "." + std::to_string(k);
    EXPECT_LE(slurp(file).size(), 4096u) << file;
    EXPECT_EQ(mode_of(file), 0600u);
    for (auto& e : entries(file))
      tools.push_back(s(*e, "tool"));
  }
  EXPECT_LE(slurp(path).size(), 4096u);
  EXPECT_EQ(mode_of(path), 0600u);
  auto current = entries(path);
  ASSERT_FALSE(current.empty());
  EXPECT_EQ(s(*current.back(), "event"), "stop");
  for (auto& e : current)
    if (s(*e, "type") == "tool_call")
      tools.push_back(s(*e, "tool"));
  ASSERT_GT(tools.size(), 20u);
  int first = std::stoi(tools.front().substr(5));
  for (size_t i = 0; i < tools.size(); ++i)
    EXPECT_EQ(tools[i], "tool_" + std::to_string(first + static_cast<int>(i)));
  EXPECT_EQ(tools.back(), "tool_" + std::to_string(n - 1));
}

TEST_F(audit_test, FileIsMode0600EvenWhenItExisted) {
  {
    auto a = spawn();
    stop(a);
  }
  EXPECT_EQ(mode_of(path), 0600u);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto before = slurp(path);
  {
    auto a = spawn();
    stop(a);
  }
  EXPECT_EQ(mode_of(path), 0600u);
  auto after = slurp(path);
  // Appended to, not truncated.
  EXPECT_EQ(after.substr(0, before.size()), before);
  EXPECT_EQ(entries(path).size(), 4u);
}

TEST_F(audit_test, SymlinkPathIsRefused) {
  auto target = dir + "/target";
  { std::ofstream{target} << "precious\n"; }
  ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0);
  audit_log log{audit_options{path, 4096, 1}};
  std::string why;
  EXPECT_FALSE(log.open(why));
  EXPECT_NE(why.find("symbolic link"), std::string::npos) << why;
  EXPECT_EQ(slurp(target), "precious\n");
  // A directory is refused as well.
  audit_log on_dir{audit_options{dir, 4096, 1}};
  EXPECT_FALSE(on_dir.open(why));
}

TEST(audit_format, ReadsRequestsAndReplies) {
  audit_format::request_view r;
  EXPECT_FALSE(audit_format::read_request(R"({"method":"ping","id":1})", r));
  ASSERT_TRUE(audit_format::read_request(
    R"({"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x","arguments":{"k":1}}})",
    r));
  EXPECT_EQ(r.id, "\"a\"");
  EXPECT_EQ(r.tool, "x");
  EXPECT_EQ(r.arguments, R"({"k":1})");
  ASSERT_TRUE(audit_format::read_request(
    R"({"id":1,"method":"initialize","params":{"clientInfo":{"name":"c","version":"2"}}})",
    r));
  EXPECT_EQ(r.client_name, "c");
  EXPECT_EQ(r.client_version, "2");
  EXPECT_EQ(audit_format::reply_error_code(
              R"({"id":1,"error":{"code":-32602,"message":"m"}})"),
            "-32602");
  EXPECT_EQ(
    audit_format::reply_error_code(
      R"({"id":1,"result":{"isError":true,"structuredContent":{"code":"JOB_NOT_FOUND"}}})"),
    "JOB_NOT_FOUND");
  EXPECT_EQ(audit_format::reply_error_code(R"({"id":1,"result":{}})"), "");
}
