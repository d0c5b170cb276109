#include "reactor_fixture.hpp"

#include <caf/send.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace jobd::test {

bool recorder::wait_lines(size_t n, std::chrono::milliseconds timeout) {
  return wait_for(timeout, [n](recorder& r) {
    return static_cast<size_t>(std::count(r.out.begin(), r.out.end(), '\n'))
           >= n;
  });
}

pid_t recorder::pid_on_line(size_t i) {
  std::lock_guard<std::mutex> guard{mtx};
  std::istringstream in{out};
  std::string line;
  for (size_t k = 0; std::getline(in, line); ++k)
    if (k == i)
      return static_cast<pid_t>(std::atol(line.c_str()));
  return 0;
}

backend_events::behavior_type recording_sink(backend_events::pointer,
                                             rec_ptr rec) {
  return {
    [rec](atom::spawned, int64_t pid, const std::string& tracking) {
      rec->update([&](recorder& r) {
        if (r.spawned || r.status)
          r.misordered = true;
        r.spawned = true;
        r.pid = pid;
        r.tracking = tracking;
      });
    },
    [rec](atom::spawn_failed, const std::string& code,
          const std::string& message) {
      rec->update([&](recorder& r) { r.failure.emplace(code, message); });
    },
    [rec](atom::data, stream_kind kind, const std::string& bytes) {
      if (rec->consume_delay.count() > 0)
        std::this_thread::sleep_for(rec->consume_delay);
      rec->update([&](recorder& r) {
        if (!r.spawned || r.status
            || (kind == stream_kind::out ? r.out_eofs : r.err_eofs) > 0)
          r.misordered = true;
        r.total_bytes += static_cast<int64_t>(bytes.size());
        if (r.in_flight) {
          r.peak_in_flight = std::max(r.peak_in_flight, r.in_flight->load());
          r.in_flight->fetch_sub(static_cast<int64_t>(bytes.size()));
        }
        if (r.keep_bytes)
          (kind == stream_kind::out ? r.out : r.err) += bytes;
      });
    },
    [rec](atom::eof, stream_kind kind) {
      rec->update([&](recorder& r) {
        auto& eofs = kind == stream_kind::out ? r.out_eofs : r.err_eofs;
        if (!r.spawned || r.status || eofs > 0)
          r.misordered = true;
        ++eofs;
      });
    },
    [rec](atom::usage, const resource_usage& usage) {
      rec->update([&](recorder& r) {
        if (!r.spawned || r.status || r.usage)
          r.misordered = true;
        r.usage = usage;
      });
    },
    [rec](atom::input, atom::eof) {
      rec->update([&](recorder& r) {
        if (!r.spawned || r.status || r.usage || r.input_eofs > 0)
          r.misordered = true;
        ++r.input_eofs;
      });
    },
    // The process kind never reports kind changes.
    [rec](atom::changed) {
      rec->update([](recorder& r) { r.misordered = true; });
    },
    [rec](atom::exited, int32_t status) {
      rec->update([&](recorder& r) {
        // exited is last: both streams ended before it.
        if (!r.spawned || r.status || r.out_eofs != 1 || r.err_eofs != 1)
          r.misordered = true;
        r.status = status;
        r.exited_at = std::chrono::steady_clock::now();
      });
    },
  };
}

launch_spec make_spec(std::vector<std::string> argv) {
  launch_spec spec;
  spec.executable = argv.front();
  spec.argv = std::move(argv);
  return spec;
}

launch_spec make_sh(const std::string& script) {
  return make_spec({"/bin/sh", "-c", script});
}

// -- /proc and cgroup helpers -------------------------------------------------

std::optional<proc_stat> read_stat(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!in || !std::getline(in, text))
    return std::nullopt;
  // The command name may contain spaces: parse after its closing paren.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream rest{text.substr(close + 2)};
  proc_stat st;
  rest >> st.state >> st.ppid >> st.pgrp;
  return st;
}

namespace {

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  if (DIR* dir = ::opendir("/proc")) {
    while (auto* entry = ::readdir(dir)) {
      char* end = nullptr;
      long pid = std::strtol(entry->d_name, &end, 10);
      if (end != entry->d_name && *end == '\0')
        pids.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(dir);
  }
  return pids;
}

} // namespace

std::vector<pid_t> group_members(pid_t pgid) {
  std::vector<pid_t> result;
  for (pid_t pid : all_pids())
    if (auto st = read_stat(pid); st && st->pgrp == pgid && st->state != 'Z')
      result.push_back(pid);
  return result;
}

std::vector<pid_t> my_zombies() {
  std::vector<pid_t> result;
  for (pid_t pid : all_pids())
    if (auto st = read_stat(pid);
        st && st->ppid == ::getpid() && st->state == 'Z')
      result.push_back(pid);
  return result;
}

bool is_gone(pid_t pid) {
  auto st = read_stat(pid);
  return !st || st->state == 'Z';
}

std::string cgroup2_mount() {
  std::ifstream in{"/proc/self/mounts"};
  std::string dev, where, type;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields{line};
    fields >> dev >> where >> type;
    if (type == "cgroup2")
      return where;
  }
  return {};
}

std::string unified_cgroup_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/cgroup"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0)
      return line.substr(3);
  return {};
}

std::vector<std::string> subdirectories(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* entry = ::readdir(d))
      if (entry->d_type == DT_DIR && entry->d_name[0] != '.')
        names.emplace_back(entry->d_name);
    ::closedir(d);
  }
  return names;
}

bool directory_exists(const std::string& dir) {
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string cgroup_label(const std::string& dir) {
  char value[512];
  const auto n = ::getxattr(dir.c_str(), "user.jobd.job", value, sizeof value);
  return n < 0 ? std::string{} : std::string(value, static_cast<size_t>(n));
}

bool cgroup_populated(const std::string& dir) {
  std::ifstream in{dir + "/cgroup.events"};
  std::string key;
  int value = 0;
  while (in >> key >> value)
    if (key == "populated")
      return value != 0;
  return false;
}

bool cgroup_let_go(const std::string& dir) {
  return !directory_exists(dir)
         || (cgroup_label(dir).empty() && !cgroup_populated(dir));
}

// -- fixtures -----------------------------------------------------------------

namespace {

caf::actor_system_config& configured(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::jobd>();
  return cfg;
}

} // namespace

reactor_fixture::reactor_fixture(tree_tracking mode, bool clone_into,
                                 size_t max_free_cgroups)
  : sys{configured(cfg)} {
  // As jobd does (app/main.cpp): a job's orphans come to us, not to init.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  reactor_options options;
  options.tracking = mode;
  options.clone_into_cgroup = clone_into;
  options.max_free_cgroups = max_free_cgroups;
  reactor = std::make_unique<process_reactor>(options);
}

reactor_fixture::~reactor_fixture() {
  // Escapees the test left on purpose: ours to end (we started them).
  for (pid_t pid : strays)
    if (auto st = read_stat(pid); st && st->ppid == ::getpid())
      ::kill(pid, SIGKILL);
  // Whatever a failed test left running dies here, bounded.
  reactor->kill_all(SIGKILL);
  reactor.reset();
  for (pid_t pid : strays)
    eventually(2s, [pid] {
      auto st = read_stat(pid);
      if (st && st->ppid == ::getpid())
        ::waitpid(pid, nullptr, WNOHANG);
      return !read_stat(pid) || read_stat(pid)->ppid != ::getpid();
    });
  sinks.clear();
}

rec_ptr reactor_fixture::start(launch_spec spec, rec_ptr rec) {
  rec->in_flight = spec.in_flight;
  auto sink = sys.spawn(recording_sink, rec);
  sinks.push_back(sink);
  reactor->launch(std::move(spec), sink);
  return rec;
}

rec_ptr reactor_fixture::run(std::vector<std::string> argv) {
  return start(make_spec(std::move(argv)));
}

rec_ptr reactor_fixture::sh(const std::string& script) {
  return start(make_sh(script));
}

void reactor_fixture::stray(pid_t pid) {
  if (pid > 1)
    strays.push_back(pid);
}

std::string reactor_fixture::cgroup_dir_of(pid_t pid) {
  auto rel = unified_cgroup_of(pid);
  if (rel.empty())
    return {};
  return cgroup2_mount() + (rel == "/" ? "" : rel);
}

std::string mode_name(const ::testing::TestParamInfo<tree_tracking>& info) {
  return info.param == tree_tracking::pgroup ? "pgroup" : "cgroup";
}

long cpu_ticks(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!in || !std::getline(in, text))
    return -1;
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return -1;
  std::istringstream rest{text.substr(close + 2)};
  std::string field;
  for (int i = 3; i <= 13; ++i)
    rest >> field;
  long utime = 0;
  long stime = 0;
  rest >> utime >> stime;
  return rest ? utime + stime : -1;
}

} // namespace jobd::test
