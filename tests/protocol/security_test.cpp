// protocol/security: the rules behind --allow-dir, the command rules,
// --env-policy and the effective limits.
#include "protocol/security.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace jobd;

TEST(SecurityRules, PathWithinNeedsAWholeComponent) {
  EXPECT_TRUE(path_within("/srv/work", "/srv/work"));
  EXPECT_TRUE(path_within("/srv/work/a/b", "/srv/work"));
  EXPECT_FALSE(path_within("/srv/workshop", "/srv/work"));
  EXPECT_FALSE(path_within("/srv", "/srv/work"));
  EXPECT_TRUE(path_within("/anything", "/"));
}

TEST(SecurityRules, DirectoriesOutsideAreRefusedNamingThePath) {
  security_policy p;
  EXPECT_FALSE(check_directory(p, "/anywhere")); // no --allow-dir: any
  p.allow_dirs = {"/srv/a", "/srv/b"};
  EXPECT_FALSE(check_directory(p, "/srv/b/x"));
  auto err = check_directory(p, "/srv/c");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, codes::path_not_allowed);
  EXPECT_EQ(err->details["workingDirectory"], "\"/srv/c\"");
  EXPECT_EQ(err->details["allowedDirectories"], "[\"/srv/a\",\"/srv/b\"]");
}

TEST(SecurityRules, RealPathResolvesDotDot) {
  std::string why;
  auto p = real_path("/usr/../usr/./bin", why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(*p, "/usr/bin");
  EXPECT_FALSE(real_path("/nonexistent/jobd", why));
  EXPECT_FALSE(why.empty());
}

TEST(SecurityRules, GlobAndRegexCommandRules) {
  command_rule glob;
  std::string error;
  ASSERT_TRUE(command_rule::parse("/usr/bin/*", glob, error));
  EXPECT_TRUE(glob.matches("/usr/bin/rm"));
  EXPECT_FALSE(glob.matches("/usr/sbin/rm"));
  command_rule re;
  ASSERT_TRUE(command_rule::parse("re:/usr/bin/(rm|dd)", re, error));
  EXPECT_TRUE(re.matches("/usr/bin/dd"));
  EXPECT_FALSE(re.matches("/usr/bin/ddx")); // whole path
  EXPECT_FALSE(command_rule::parse("re:(", re, error));
  EXPECT_FALSE(command_rule::parse("", re, error));
  // A backtracking engine's worst case is linear here.
  command_rule evil;
  ASSERT_TRUE(command_rule::parse("re:(a*)*b", evil, error));
  EXPECT_FALSE(evil.matches(std::string(100000, 'a')));
}

TEST(SecurityRules, DenyWinsAndAllowNeedsAMatch) {
  security_policy p;
  command_rule rule;
  std::string error;
  ASSERT_TRUE(command_rule::parse("*/rm", rule, error));
  p.deny_commands = {rule};
  auto err = check_command(p, false, "/bin/rm", "/usr/bin/rm");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, codes::command_not_allowed);
  EXPECT_EQ(err->details["executable"], "\"/usr/bin/rm\"");
  // A symlink with another name is judged by its real path too.
  EXPECT_TRUE(check_command(p, false, "/tmp/innocent", "/usr/bin/rm"));
  EXPECT_FALSE(check_command(p, false, "/usr/bin/ls", "/usr/bin/ls"));
  ASSERT_TRUE(command_rule::parse("/usr/bin/ls", rule, error));
  p.allow_commands = {rule};
  EXPECT_FALSE(check_command(p, false, "/bin/ls", "/usr/bin/ls"));
  EXPECT_TRUE(check_command(p, false, "/usr/bin/cat", "/usr/bin/cat"));
  p.allow_commands.clear();
  p.no_shell = true;
  auto sh = check_command(p, true, "/bin/sh", "/usr/bin/dash");
  ASSERT_TRUE(sh);
  EXPECT_NE(sh->message.find("--no-shell"), std::string::npos);
}

TEST(SecurityRules, EnvironmentPolicies) {
  security_policy p;
  p.own_names = {"MAX_CONCURRENT_JOBS"};
  std::vector<std::string> server
    = {"PATH=/bin", "HOME=/root", "JOBD_TOKEN=s", "MAX_CONCURRENT_JOBS=3",
       "APP=1",     "LC_ALL=C",   "APP_KEY=2",    "broken"};
  auto names = [](const std::vector<std::string>& env) {
    std::string out;
    for (auto& e : env)
      out += e.substr(0, e.find('=')) + " ";
    return out;
  };
  EXPECT_EQ(names(job_environment(p, server, {{"X", "1"}})),
            "PATH HOME APP LC_ALL APP_KEY X ");
  p.environment = env_policy::clean;
  EXPECT_EQ(names(job_environment(p, server, {})), "PATH HOME LC_ALL ");
  p.environment = env_policy::allowlist;
  p.env_allow = {"APP_*"};
  EXPECT_EQ(names(job_environment(p, server, {})), "PATH HOME LC_ALL APP_KEY ");
  // The call's variables win over the server's.
  auto env = job_environment(p, server, {{"PATH", "/mine"}});
  EXPECT_NE(std::find(env.begin(), env.end(), "PATH=/mine"), env.end());
  EXPECT_EQ(std::count_if(env.begin(), env.end(),
                          [](auto& e) { return e.rfind("PATH=", 0) == 0; }),
            1);
}

TEST(SecurityRules, EnvironmentNames) {
  EXPECT_TRUE(valid_env_name("A_B"));
  EXPECT_FALSE(valid_env_name(""));
  EXPECT_FALSE(valid_env_name("A=B"));
  EXPECT_FALSE(valid_env_name(std::string("A\0B", 3)));
  EXPECT_TRUE(valid_env_name(std::string(255, 'A')));
  EXPECT_FALSE(valid_env_name(std::string(256, 'A')));
}

TEST(SecurityRules, EffectiveLimitsFromDefaultsAndMaxima) {
  security_policy p;
  resource_limits asked;
  resource_limits out;
  EXPECT_FALSE(effective_limits(p, asked, out));
  EXPECT_FALSE(out.any());
  p.limit_defaults.open_files = 256;
  p.limit_maxima.memory_bytes = 1 << 30;
  asked.cpu_seconds = 5;
  EXPECT_FALSE(effective_limits(p, asked, out));
  EXPECT_EQ(out.cpu_seconds, 5);
  EXPECT_EQ(out.open_files, 256);
  EXPECT_EQ(out.memory_bytes, 1 << 30); // the maximum binds a call without one
  asked.memory_bytes = (int64_t{1} << 30) + 1;
  auto err = effective_limits(p, asked, out);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, codes::invalid_arguments);
  EXPECT_EQ(err->details["field"], "\"options.limits.memoryBytes\"");
  asked.memory_bytes = int64_t{1} << 30; // at the maximum: fine
  EXPECT_FALSE(effective_limits(p, asked, out));
}

TEST(SecurityRules, MaxProcessesNeedsAPidsCgroup) {
  security_policy p;
  resource_limits l;
  std::map<std::string, std::string> by;
  l.max_processes = 10;
  auto err = limit_enforcement(p, l, by);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->details["field"], "\"options.limits.maxProcesses\"");
  p.pids_cgroup = "cgroup-v1";
  l.memory_bytes = 1 << 20;
  l.file_size_bytes = 1;
  EXPECT_FALSE(limit_enforcement(p, l, by));
  EXPECT_EQ(by["maxProcesses"], "cgroup-v1");
  EXPECT_EQ(by["memoryBytes"], "rlimit-as"); // no memory cgroup
  EXPECT_EQ(by["fileSizeBytes"], "rlimit");
  EXPECT_EQ(by.count("cpuSeconds"), 0u);
}
