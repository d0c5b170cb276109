// The pure parts of the slurm kind (protocol/slurm.hpp): options and their
// checks, the script and the sbatch argv, parsing, state mapping.
#include "protocol/slurm.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <sys/wait.h>

namespace jobd::slurm {
namespace {

options parsed(const std::string& json) {
  options opt;
  tool_error err;
  EXPECT_TRUE(parse_options(json, opt, err)) << json << ": " << err.message;
  return opt;
}

std::string refused(const std::string& json) {
  options opt;
  tool_error err;
  EXPECT_FALSE(parse_options(json, opt, err)) << json;
  EXPECT_EQ(err.code, codes::invalid_arguments);
  return err.details["field"];
}

TEST(SlurmOptions, ReadsEveryField) {
  auto opt = parsed(R"({"partition":"gpu-a100","timeLimit":"1-02:03:04",
    "cpus":4,"memory":"4G","gpus":2,"gres":"gpu:a100:2","nodes":1,
    "account":"proj_1","qos":"normal","constraint":"intel&ib",
    "extraArgs":["--exclusive","--hint=nomultithread","--ntasks=2"]})");
  EXPECT_EQ(opt.partition, "gpu-a100");
  EXPECT_EQ(opt.time_limit_s, ((24 + 2) * 60 + 3) * 60 + 4);
  EXPECT_EQ(opt.cpus, 4);
  EXPECT_EQ(opt.memory, "4G");
  EXPECT_EQ(opt.gpus, 2);
  EXPECT_EQ(opt.gres, "gpu:a100:2");
  EXPECT_EQ(opt.nodes, 1);
  EXPECT_EQ(opt.account, "proj_1");
  EXPECT_EQ(opt.qos, "normal");
  EXPECT_EQ(opt.constraint, "intel&ib");
  ASSERT_EQ(opt.extra_args.size(), 3u);
  EXPECT_EQ(parsed("").partition, "");
  EXPECT_EQ(parsed("{}").extra_args.size(), 0u);
  EXPECT_EQ(parsed(R"({"timeLimit":90})").time_limit_s, 90 * 60);
}

TEST(SlurmOptions, RefusesBadValues) {
  EXPECT_EQ(refused(R"({"partition":"-x"})"), "\"kindOptions.partition\"");
  EXPECT_EQ(refused(R"({"partition":"a b"})"), "\"kindOptions.partition\"");
  EXPECT_EQ(refused(R"({"account":"a;rm"})"), "\"kindOptions.account\"");
  EXPECT_EQ(refused(R"({"qos":""})"), "\"kindOptions.qos\"");
  EXPECT_EQ(refused(R"({"memory":"4GB"})"), "\"kindOptions.memory\"");
  EXPECT_EQ(refused(R"({"memory":"-4G"})"), "\"kindOptions.memory\"");
  EXPECT_EQ(refused(R"({"timeLimit":"1:2:3:4"})"), "\"kindOptions.timeLimit\"");
  EXPECT_EQ(refused(R"({"timeLimit":0})"), "\"kindOptions.timeLimit\"");
  EXPECT_EQ(refused(R"({"timeLimit":"x"})"), "\"kindOptions.timeLimit\"");
  EXPECT_EQ(refused(R"({"cpus":0})"), "\"kindOptions.cpus\"");
  EXPECT_EQ(refused(R"({"gres":"--wrap=x"})"), "\"kindOptions.gres\"");
  EXPECT_EQ(refused(R"({"constraint":"a b"})"), "\"kindOptions.constraint\"");
  EXPECT_EQ(refused(R"({"extraArgs":["--exclusive","--wrap=rm -rf /"]})"),
            "\"kindOptions.extraArgs[1]\"");
  EXPECT_EQ(refused(R"({"extraArgs":["--output=/etc/x"]})"),
            "\"kindOptions.extraArgs[0]\"");
  EXPECT_EQ(refused(R"({"extraArgs":["--exclusive --uid=0"]})"),
            "\"kindOptions.extraArgs[0]\"");
  EXPECT_EQ(refused(R"({"extraArgs":[3]})"), "\"kindOptions.extraArgs[0]\"");
}

TEST(SlurmOptions, ExtraArgsAllowlist) {
  EXPECT_EQ(check_extra_arg("--exclusive"), "");
  EXPECT_EQ(check_extra_arg("--cpus-per-task=8"), "");
  EXPECT_EQ(check_extra_arg("--mem-per-cpu=2G"), "");
  EXPECT_EQ(check_extra_arg("--nodelist=node[01-04]"), "");
  EXPECT_EQ(check_extra_arg("--hint=compute_bound"), "");
  EXPECT_NE(check_extra_arg("--hint=anything"), "");
  EXPECT_NE(check_extra_arg("--exclusive=user"), "");
  EXPECT_NE(check_extra_arg("--cpus-per-task"), "");
  EXPECT_NE(check_extra_arg("--cpus-per-task=0"), "");
  EXPECT_NE(check_extra_arg("--cpus-per-task=4 --uid=0"), "");
  EXPECT_NE(check_extra_arg("--nodelist=-x"), "");
  EXPECT_NE(check_extra_arg("--export=ALL"), "");
  EXPECT_NE(check_extra_arg("--chdir=/"), "");
  EXPECT_NE(check_extra_arg("-e"), "");
  EXPECT_NE(check_extra_arg(""), "");
}

TEST(SlurmOptions, TimeLimits) {
  int64_t s = 0;
  EXPECT_TRUE(parse_time_limit("30", s));
  EXPECT_EQ(s, 1800);
  EXPECT_TRUE(parse_time_limit("30:15", s));
  EXPECT_EQ(s, 1815);
  EXPECT_TRUE(parse_time_limit("2:00:00", s));
  EXPECT_EQ(s, 7200);
  EXPECT_TRUE(parse_time_limit("1-12", s));
  EXPECT_EQ(s, 36 * 3600);
  EXPECT_TRUE(parse_time_limit("1-00:30", s));
  EXPECT_EQ(s, 86400 + 1800);
  EXPECT_FALSE(parse_time_limit("", s));
  EXPECT_FALSE(parse_time_limit("0", s));
  EXPECT_FALSE(parse_time_limit("-5", s));
  EXPECT_FALSE(parse_time_limit("1-", s));
  EXPECT_FALSE(parse_time_limit("400-00:00:00", s));
  EXPECT_EQ(format_time_limit(1), "0-00:01:00");
  EXPECT_EQ(format_time_limit(60), "0-00:01:00");
  EXPECT_EQ(format_time_limit(61), "0-00:02:00");
  EXPECT_EQ(format_time_limit(86400 + 3600 * 2 + 59 * 60 + 1), "1-03:00:00");
}

TEST(SlurmScript, QuotesEveryWord) {
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
  job_spec spec;
  spec.command = "python3";
  spec.args = {"train.py", "--name=$(rm -rf /)", "it's", "`x`"};
  spec.environment = {{"A", "x y"}, {"B", "'$HOME'"}};
  auto script = batch_script(spec, "j1");
  EXPECT_NE(script.find("export A='x y'\n"), std::string::npos) << script;
  EXPECT_NE(script.find("export B=''\\''$HOME'\\'''\n"), std::string::npos)
    << script;
  EXPECT_NE(script.find("exec 'python3' 'train.py' '--name=$(rm -rf /)' "
                        "'it'\\''s' '`x`'\n"),
            std::string::npos)
    << script;
  spec.shell = true;
  spec.command = "echo $1";
  spec.args = {"hi"};
  EXPECT_NE(
    batch_script(spec, "j1").find("exec '/bin/sh' '-c' 'echo $1' 'sh' 'hi'\n"),
    std::string::npos);
}

TEST(SlurmScript, RefusesWhatAScriptCannotCarry) {
  job_spec spec;
  spec.command = "x";
  tool_error err;
  EXPECT_TRUE(check_spec(spec, err));
  spec.environment = {{"BAD-NAME", "1"}};
  EXPECT_FALSE(check_spec(spec, err));
  EXPECT_EQ(err.details["field"], "\"environment\"");
  spec.environment = {{"1X", "1"}};
  EXPECT_FALSE(check_spec(spec, err));
  spec.environment.clear();
  spec.args = {std::string("a\0b", 3)};
  EXPECT_FALSE(check_spec(spec, err));
  spec.args.clear();
  spec.input = stdin_mode::pipe;
  EXPECT_FALSE(check_spec(spec, err));
}

TEST(SlurmScript, SbatchArgs) {
  job_spec spec;
  spec.command = "true";
  spec.working_directory = "/work/x y";
  spec.tags = {{"team", "\"nlp\""}, {"run", "3"}};
  auto paths = spool_for("/spool/", "job_1");
  EXPECT_EQ(paths.out, "/spool/job_1/stdout");
  EXPECT_EQ(paths.script, "/spool/job_1/job.sh");
  auto opt = parsed(R"({"partition":"debug","cpus":2,"memory":"1G",
    "extraArgs":["--exclusive"]})");
  auto args = sbatch_args(spec, opt, paths, "job_1", 61000);
  std::vector<std::string> want = {"--parsable",
                                   "--job-name=jobd-job_1",
                                   "--output=/spool/job_1/stdout",
                                   "--error=/spool/job_1/stderr",
                                   "--open-mode=truncate",
                                   "--chdir=/work/x y",
                                   "--time=0-00:02:00",
                                   "--partition=debug",
                                   "--cpus-per-task=2",
                                   "--mem=1G",
                                   "--comment=run=3,team=nlp",
                                   "--exclusive",
                                   "/spool/job_1/job.sh"};
  EXPECT_EQ(args, want);
  opt.time_limit_s = 3600;
  args = sbatch_args(spec, opt, paths, "job_1", 0);
  EXPECT_EQ(args[6], "--time=0-01:00:00");
  std::map<std::string, std::string> many;
  for (int i = 0; i < 100; ++i)
    many["tag" + std::to_string(i)] = "\"v\nw\"";
  auto comment = tags_comment(many);
  EXPECT_LE(comment.size(), 200u);
  EXPECT_EQ(comment.find('\n'), std::string::npos);
}

TEST(SlurmScript, SubmitEnvironmentFollowsThePolicy) {
  const std::vector<std::string> server{"PATH=/usr/bin:/bin",
                                        "HOME=/root",
                                        "JOBD_HTTP_TOKEN=secret",
                                        "PLAIN=1",
                                        "SLURM_CONF=/tmp/c/slurm.conf",
                                        "SBATCH_ACCOUNT=ops",
                                        "NOEQUALS"};
  const std::map<std::string, std::string> call{{"CALL", "x"},
                                                {"HOME", "/work"}};
  auto has = [](const std::vector<std::string>& env, const std::string& e) {
    return std::find(env.begin(), env.end(), e) != env.end();
  };
  jobd::security_policy policy;
  policy.own_names = {"JOBD_HTTP_TOKEN"};
  auto inherit = slurm::submit_environment(policy, server, call);
  EXPECT_FALSE(has(inherit, "JOBD_HTTP_TOKEN=secret"));
  EXPECT_TRUE(has(inherit, "PLAIN=1"));
  EXPECT_TRUE(has(inherit, "CALL=x"));
  EXPECT_TRUE(has(inherit, "HOME=/work")); // the call's value wins
  EXPECT_FALSE(has(inherit, "HOME=/root"));
  EXPECT_EQ(
    std::count(inherit.begin(), inherit.end(), "SLURM_CONF=/tmp/c/slurm.conf"),
    1);
  policy.environment = jobd::env_policy::clean;
  auto clean = slurm::submit_environment(policy, server, call);
  EXPECT_FALSE(has(clean, "PLAIN=1"));
  EXPECT_FALSE(has(clean, "JOBD_HTTP_TOKEN=secret"));
  EXPECT_TRUE(has(clean, "PATH=/usr/bin:/bin"));
  EXPECT_TRUE(has(clean, "CALL=x"));
  // The Slurm client's own settings, for sbatch to reach the cluster.
  EXPECT_TRUE(has(clean, "SLURM_CONF=/tmp/c/slurm.conf"));
  EXPECT_TRUE(has(clean, "SBATCH_ACCOUNT=ops"));
  EXPECT_FALSE(has(clean, "NOEQUALS"));
}

TEST(SlurmParse, SbatchId) {
  std::string id;
  EXPECT_TRUE(parse_job_id("42\n", id));
  EXPECT_EQ(id, "42");
  EXPECT_TRUE(parse_job_id("sbatch: warning: x\n43;cluster\n", id));
  EXPECT_EQ(id, "43");
  EXPECT_FALSE(parse_job_id("", id));
  EXPECT_FALSE(parse_job_id("sbatch: error: Batch job submission failed", id));
}

TEST(SlurmParse, Squeue) {
  auto entries = parse_queue("12|RUNNING|None|node1|debug\n"
                             "13|PENDING|Resources||debug\n"
                             "garbage\n"
                             "14|FAILED|NonZeroExitCode|node1|debug\n");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].job_id, "12");
  EXPECT_EQ(entries[0].state, "RUNNING");
  EXPECT_EQ(entries[0].reason, "");
  EXPECT_EQ(entries[0].nodes, "node1");
  EXPECT_EQ(entries[1].reason, "Resources");
  EXPECT_EQ(entries[1].nodes, "");
  EXPECT_EQ(entries[2].partition, "debug");
  EXPECT_TRUE(parse_queue("").empty());
}

TEST(SlurmParse, Scontrol) {
  job_details d;
  ASSERT_TRUE(
    parse_details("JobId=7 JobName=jobd-x UserId=root(0) JobState=FAILED "
                  "Reason=NonZeroExitCode Dependency=(null) ExitCode=3:0 "
                  "Partition=debug NodeList=node1 Command=/spool/a b/job.sh\n",
                  d));
  EXPECT_EQ(d.job_id, "7");
  EXPECT_EQ(d.state, "FAILED");
  EXPECT_EQ(d.reason, "NonZeroExitCode");
  EXPECT_TRUE(d.has_exit);
  EXPECT_EQ(d.exit_code, 3);
  EXPECT_EQ(d.signal, 0);
  EXPECT_EQ(d.nodes, "node1");
  ASSERT_TRUE(parse_details("JobId=8 JobState=CANCELLED Reason=None "
                            "ExitCode=0:15",
                            d));
  EXPECT_EQ(d.signal, 15);
  EXPECT_EQ(d.reason, "");
  EXPECT_FALSE(parse_details("slurm_load_jobs error: Invalid job id", d));
}

TEST(SlurmParse, States) {
  EXPECT_EQ(map_state("PENDING").status, job_status::pending);
  EXPECT_FALSE(map_state("PENDING").terminal);
  EXPECT_EQ(map_state("RUNNING").status, job_status::running);
  EXPECT_EQ(map_state("COMPLETING").status, job_status::running);
  EXPECT_FALSE(map_state("COMPLETING").terminal);
  EXPECT_EQ(map_state("COMPLETED").status, job_status::completed);
  EXPECT_TRUE(map_state("COMPLETED").terminal);
  EXPECT_EQ(map_state("FAILED").status, job_status::failed);
  EXPECT_EQ(map_state("FAILED").error_code, "");
  EXPECT_EQ(map_state("NODE_FAIL").error_code, "NODE_FAIL");
  EXPECT_EQ(map_state("OUT_OF_MEMORY").error_code, "OUT_OF_MEMORY");
  EXPECT_EQ(map_state("BOOT_FAIL").error_code, "BOOT_FAIL");
  EXPECT_EQ(map_state("TIMEOUT").status, job_status::failed);
  EXPECT_EQ(map_state("TIMEOUT").error_code, "TIMEOUT");
  EXPECT_EQ(map_state("CANCELLED").status, job_status::cancelled);
  EXPECT_EQ(map_state("CANCELLED by 0").status, job_status::cancelled);
  EXPECT_TRUE(map_state("CANCELLED+").terminal);
}

TEST(SlurmParse, WaitStatus) {
  auto ws = wait_status(3, 0);
  EXPECT_TRUE(WIFEXITED(ws));
  EXPECT_EQ(WEXITSTATUS(ws), 3);
  ws = wait_status(0, 9);
  EXPECT_TRUE(WIFSIGNALED(ws));
  EXPECT_EQ(WTERMSIG(ws), 9);
  EXPECT_TRUE(WIFEXITED(wait_status(0, 0)));
}

TEST(SlurmParse, View) {
  job_view v{"12", "PENDING", "Resources", "", "debug", false};
  EXPECT_EQ(render_view(v),
            R"({"jobId":"12","state":"PENDING","reason":"Resources",)"
            R"("nodes":null,"partition":"debug","reachable":false})");
  // A stored kind_status reads back (re-attaching after a restart).
  job_view back;
  ASSERT_TRUE(parse_view(render_view(v), back));
  EXPECT_EQ(back.job_id, "12");
  EXPECT_EQ(back.state, "PENDING");
  EXPECT_EQ(back.reason, "Resources");
  EXPECT_EQ(back.nodes, "");
  EXPECT_EQ(back.partition, "debug");
  EXPECT_TRUE(queued(back));
  back.state = "RUNNING";
  EXPECT_FALSE(queued(back));
  back.job_id.clear(); // held in jobd, not submitted yet
  EXPECT_TRUE(queued(back));
  for (const char* bad : {"", "[]", "{", "null", "\"x\""})
    EXPECT_FALSE(parse_view(bad, back)) << bad;
}

} // namespace
} // namespace jobd::slurm
