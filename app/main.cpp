// jobd: wiring, signals and exit codes. Everything else lives in actors/
// and protocol/.
#include "actors/actors.hpp"
#include "actors/audit.hpp"
#include "actors/endpoint.hpp"
#include "actors/job_factory.hpp"
#include "actors/kinds/process/process_job.hpp"
#include "actors/kinds/process/process_reactor.hpp"
#include "actors/kinds/slurm/slurm_job.hpp"
#include "actors/logger.hpp"
#include "actors/metrics.hpp"
#include "actors/scheduler.hpp"
#include "actors/schedules.hpp"
#include "actors/store/store_actor.hpp"
#include "actors/sweeper.hpp"
#include "actors/transport/stdin_reader.hpp"
#include "actors/transport/stdio_sink.hpp"
#include "app/config.hpp"
#include "app/http_setup.hpp"
#include "app/security_setup.hpp"
#include "app/startup.hpp"
#include "protocol/templates.hpp"
#include "protocol/tools.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <future>
#include <iostream>
#include <pthread.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace {

// Runs the actor system until stdin closes or SIGTERM/SIGINT arrives, then
// stops every job. Returns the exit code.
int serve(const jobd::config& cfg, const sigset_t& signals) {
  using namespace jobd;
  auto reactor = std::make_shared<process_reactor>();
  // The store opens on its own thread (schema, integrity check, recovery:
  // most of jobd's start-up) while the policy, the tool schemas, the actor
  // system and the stdio ENDPOINT are made. An early return waits for it in
  // the future's destructor.
  auto opening = std::async(std::launch::async, [&cfg, reactor] {
    // Behind the main thread, which starts what answers initialize: on two
    // cores the two compete, and the client waits only for the main one.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    return open_store(cfg, reactor->cgroup_parent_path());
  });
  auto factory = std::make_shared<job_factory>();
  auto policy = std::make_shared<security_policy>();
  if (std::string why; !make_security_policy(cfg, *reactor, *policy, why)) {
    log::error(why);
    return 2;
  }
  if (cfg.sandbox_fs && policy->allow_dirs.empty())
    log::warning("--sandbox-fs without --allow-dir: a sandboxed job may "
                 "write below its working directory, which the caller "
                 "chooses (workingDirectory \"/\" makes everything "
                 "writable); add --allow-dir to bound where jobs may write");
  factory->add("process", std::make_shared<process_job_kind>(reactor, policy));
  std::shared_ptr<slurm_job_kind> slurm_kind;
  if (!cfg.slurm_spool.empty()) {
    // With a durable store, Slurm jobs outlive a restart of jobd.
    slurm_settings slurm{cfg.slurm_poll_ms, cfg.slurm_spool, cfg.max_slurm_jobs,
                         cfg.slurm_command_timeout_ms, !cfg.ephemeral};
    slurm_kind = std::make_shared<slurm_job_kind>(slurm, policy);
    factory->add("slurm", slurm_kind);
  }
  // The tools as offered: live defaults and caps, and every kind's schema.
  auto options = server_options_of(cfg);
  options.sandbox_available = policy->landlock_abi > 0;
  options.kinds = factory->option_schemas();
  std::shared_ptr<const protocol::tool_catalog> tools;
  try {
    tools = std::make_shared<const protocol::tool_catalog>(options);
  } catch (const std::exception& e) {
    log::error(std::string{"cannot build the tool schemas: "} + e.what());
    return 2;
  }
  // The audit log opens before anything runs: one that cannot be opened (a
  // symlink, no permission) stops jobd instead of leaving it unaudited.
  std::shared_ptr<audit_log> audit_file;
  if (!cfg.audit_log.empty()) {
    audit_file = std::make_shared<audit_log>(audit_options{
      cfg.audit_log, cfg.audit_log_max_bytes, cfg.audit_log_keep});
    if (std::string why; !audit_file->open(why)) {
      log::error("cannot start: " + why);
      return 2;
    }
  }
  // Tokens are read before anything runs: a bad file stops the start.
  std::vector<http_token> tokens;
  if (!cfg.http.empty() && !cfg.http_no_auth) {
    if (std::string why; !load_tokens(cfg.auth_token_file, tokens, why)) {
      log::error("cannot start: " + why);
      return 2;
    }
  }
  std::shared_ptr<protocol::latency_histograms> latency;
  if (!cfg.http.empty()) {
    std::vector<std::string> names;
    for (size_t i = 0; i < protocol::tool_count; ++i)
      names.emplace_back(
        protocol::tool_name(static_cast<protocol::tool_id>(i)));
    latency = std::make_shared<protocol::latency_histograms>(std::move(names));
  }
  caf::actor_system_config sys_cfg;
  sys_cfg.add_message_types<caf::id_block::jobd>();
  // CAF's default work-stealing workers poll and nanosleep while idle, which
  // burns CPU and delays the next message by up to a sleep; a few actors
  // exchanging messages are served better by the shared queue, whose
  // workers block on a condition variable.
  if (std::getenv("JOBD_CAF_WORK_STEALING") == nullptr)
    sys_cfg.set("scheduler.policy", caf::atom("sharing"));
  std::atomic<bool> stopped{false};
  // stdout is written by the sink's own thread, never by an actor; while too
  // many replies wait for the client, the reader reads no more requests.
  auto gate = std::make_shared<read_gate>();
  std::shared_ptr<stdio_sink> out;
  if (!cfg.no_stdio) {
    stdio_sink_options out_options;
    out_options.gate = gate;
    out = std::make_shared<stdio_sink>(take_stdout(), out_options);
  }
  int exit_code = 0;
  {
    caf::actor_system sys{sys_cfg};
    // The audit log first: the first thing it records may be initialize.
    audit_actor auditor;
    if (audit_file)
      auditor = sys.spawn<caf::detached>(audit, audit_file);
    endpoint_config ec;
    ec.max_line_bytes = cfg.max_line_bytes;
    ec.tools = tools;
    ec.audit = auditor;
    // Wakes the main thread at once (SIGUSR1 is blocked and waited for).
    ec.on_stopped = [&stopped] {
      stopped = true;
      ::kill(::getpid(), SIGUSR1);
    };
    // The stdio ENDPOINT and its reader start while the store still opens
    // (most of the start-up): the client's initialize, ping and tools/list
    // are answered at once, its tool calls wait in ENDPOINT until `start`
    // brings SCHEDULER and the rest. Over stdio the one principal is
    // "local"; beside HTTP it is one of several, in its own namespace.
    endpoint_actor ep;
    std::unique_ptr<stdin_reader> reader;
    if (out) {
      auto stdio_ec = ec;
      stdio_ec.out = out;
      stdio_ec.input = gate;
      stdio_ec.scoped = !cfg.http.empty();
      stdio_ec.admin = std::find(cfg.admins.begin(), cfg.admins.end(),
                                 protocol::local_principal)
                       != cfg.admins.end();
      stdio_ec.latency = latency;
      ep = sys.spawn(endpoint, scheduler_actor{}, metrics_actor{},
                     std::move(stdio_ec));
      reader = std::make_unique<stdin_reader>(STDIN_FILENO, ep,
                                              cfg.max_line_bytes, gate);
    }
    auto [db, requeue, first_serial, degraded] = opening.get();
    if (db == nullptr) {
      if (reader)
        reader->stop();
      for (auto& h : {caf::actor_cast<caf::actor>(ep),
                      caf::actor_cast<caf::actor>(auditor)})
        caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
      return 2;
    }
    auto kept
      = sys.spawn(store, db, cfg.max_wait_ms, cfg.retention_ms, degraded);
    std::vector<std::string> apart; // kinds without local slots
    for (auto& [name, schema] : factory->option_schemas())
      if (!factory->find(name)->takes_slot())
        apart.push_back(name);
    auto stats = sys.spawn(metrics, cfg.max_concurrent_jobs,
                           cfg.max_concurrent_jobs_per_session, kept, apart);
    auto sched_cfg = to_scheduler_config(cfg);
    sched_cfg.store = kept;
    sched_cfg.instance = db->instance();
    sched_cfg.first_serial = first_serial;
    sched_cfg.serial_end = first_serial + serial_block;
    sched_cfg.serial_block = serial_block;
    auto sched = sys.spawn(scheduler, sched_cfg, factory_ptr{factory});
    // Subscribed before anything is queued, so it sees every job.
    if (auditor)
      caf::anon_send(sched, atom::subscribe_v, event_listener{auditor});
    caf::anon_send(sched, atom::subscribe_v, event_listener{stats});
    auto sweep = sys.spawn(sweeper, sched,
                           std::chrono::milliseconds(cfg.cleanup_interval_ms),
                           cfg.retention_ms);
    schedules_config schedules_cfg;
    schedules_cfg.store = kept;
    schedules_cfg.scheduler = sched;
    schedules_cfg.metrics = stats;
    schedules_cfg.parse_job
      = [tools](const std::string& job, job_spec& spec, tool_error& err) {
          return protocol::parse_job_object(*tools, job, spec, err);
        };
    // Of the jobd instances sharing a state directory, the one holding this
    // lock fires the schedules; another takes it over when that one ends.
    if (!cfg.ephemeral && degraded.empty())
      schedules_cfg.lead = [fd = std::make_shared<int>(-1),
                            path = cfg.state_dir + "/schedules.lock"] {
        if (*fd >= 0)
          return true;
        int f = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (f >= 0 && ::flock(f, LOCK_EX | LOCK_NB) == 0)
          *fd = f;
        else if (f >= 0)
          ::close(f);
        return *fd >= 0;
      };
    auto timetable = sys.spawn(schedules, std::move(schedules_cfg));
    ec.store = kept;
    ec.schedules = timetable;
    // HTTP before any job is queued: an address that cannot be used stops
    // the start while nothing runs.
    http_service service;
    if (!cfg.http.empty()) {
      http_wiring wiring;
      wiring.system = &sys;
      wiring.scheduler = sched;
      wiring.metrics = stats;
      wiring.base = ec;
      wiring.admins = cfg.admins;
      wiring.latency = latency;
      if (std::string why; !service.start(cfg, tokens, wiring, why)) {
        log::error("cannot start: " + why);
        exit_code = 2;
        stopped = true;
      }
    }
    if (!requeue.jobs.empty() && exit_code == 0)
      caf::anon_send(sched, std::move(requeue));
    if (ep && exit_code == 0) {
      caf::anon_send(sched, atom::subscribe_v, event_listener{ep});
      caf::anon_send(ep, atom::start_v, sched, stats, kept, timetable);
    }
    if (exit_code == 0)
      log::info("jobd " JOBD_VERSION " serving MCP on "
                + std::string{!out               ? "HTTP"
                              : cfg.http.empty() ? "stdio"
                                                 : "stdio and HTTP"}
                + " (process trees as " + reactor->tracking_mode()
                + "; jobs kept in "
                + (cfg.ephemeral || !degraded.empty() ? std::string{"memory"}
                                                      : db->path())
                + " as instance " + db->instance() + "; max "
                + std::to_string(cfg.max_concurrent_jobs) + " jobs, "
                + std::to_string(cfg.max_concurrent_jobs_per_session)
                + " per session)");
    bool asked = false;
    // Without stdio, a signal stops the jobs here (over stdio its ENDPOINT
    // does, as at stdin EOF).
    auto stop_jobs = [&] {
      if (ep) {
        caf::anon_send(ep, atom::shutdown_v);
        return;
      }
      // The handle goes in as a spawn argument: CAF 0.17 dereferences a
      // null argument tuple for a function actor spawned with none.
      sys.spawn(
        [done = ec.on_stopped](caf::event_based_actor* self,
                               scheduler_actor sched) {
          self->request(sched, caf::infinite, atom::shutdown_v)
            .then(
              [self, done](bool) {
                done();
                self->quit();
              },
              [self, done](caf::error&) {
                done();
                self->quit();
              });
        },
        sched);
    };
    auto last_reap = std::chrono::steady_clock::now();
    bool reap_due = false;
    while (!stopped) {
      timespec tick{1, 0};
      auto sig = sigtimedwait(&signals, nullptr, &tick);
      // Orphans of jobs become our zombies: reap them, at most once a second.
      reap_due = reap_due || sig == SIGCHLD;
      if (reap_due
          && std::chrono::steady_clock::now() - last_reap
               >= std::chrono::seconds(1)) {
        reactor->reap_adopted();
        reap_due = false;
        last_reap = std::chrono::steady_clock::now();
      }
      if ((sig == SIGINT || sig == SIGTERM) && !asked) {
        log::info(std::string{"received "} + strsignal(sig) + ", stopping");
        stop_jobs();
        asked = true;
      }
    }
    if (reader)
      reader->stop();
    // Every job stopped: the Slurm commands of their stops ran.
    if (slurm_kind)
      slurm_kind->stop();
    // Every session's ENDPOINT hears its sink closed and quits.
    service.stop();
    for (auto& h :
         {caf::actor_cast<caf::actor>(ep), caf::actor_cast<caf::actor>(sweep),
          caf::actor_cast<caf::actor>(timetable),
          caf::actor_cast<caf::actor>(sched),
          caf::actor_cast<caf::actor>(stats)})
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    // Every job's last row reached the store before SCHEDULER answered the
    // shutdown: commit them, then let the store go.
    {
      caf::scoped_actor self{sys};
      self->request(kept, std::chrono::seconds(5), atom::flush_v)
        .receive([](bool) {},
                 [](caf::error& err) {
                   log::warning("store: last commit failed: "
                                + caf::to_string(err));
                 });
    }
    caf::anon_send_exit(kept, caf::exit_reason::user_shutdown);
    // Behind every event of the jobs stopped above: the stop entry.
    if (auditor) {
      caf::scoped_actor self{sys};
      self->request(auditor, std::chrono::seconds(5), atom::shutdown_v)
        .receive([](bool) {},
                 [](caf::error& err) {
                   log::warning("audit: no stop entry: " + caf::to_string(err));
                 });
      caf::anon_send_exit(auditor, caf::exit_reason::user_shutdown);
    }
  }
  // Every actor is gone: write what the client did not read yet (bounded).
  if (out)
    out->close();
  // Last resort: nothing a job started may outlive us.
  reactor->kill_all(SIGKILL);
  reactor->stop();
  reactor->reap_adopted();
  log::info("jobd stopped");
  return exit_code;
}

} // namespace

int main(int argc, char** argv) {
  // Not dumpable, before anything else: a process of the same user (a job)
  // can then neither read /proc/<jobd>/environ, mem or fd, nor ptrace jobd,
  // so jobd's own secrets stay its own. execve makes each job dumpable
  // again; a root job (CAP_SYS_PTRACE) is not stopped by this.
  prctl(PR_SET_DUMPABLE, 0);
  jobd::config cfg;
  std::string message;
  std::vector<std::string> args(argv + 1, argv + argc);
  switch (jobd::parse_config(args, cfg, message)) {
    case jobd::parse_outcome::help:
      std::cout << jobd::usage();
      return 0;
    case jobd::parse_outcome::version:
      std::cout << "jobd " JOBD_VERSION "\n";
      return 0;
    case jobd::parse_outcome::error:
      std::cerr << "jobd: " << message << "\n";
      return 2;
    case jobd::parse_outcome::run:
      break;
  }
  jobd::log::level level;
  jobd::log::parse_level(cfg.log_level, level);
  jobd::log::set_level(level);
  // Signals are taken synchronously by serve(); every thread inherits the
  // mask, so none of CAF's or the reactor's threads is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Orphaned processes of our jobs are re-parented to us, not to init, so
  // none of them outlives jobd and their zombies are reaped promptly.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::signal(SIGPIPE, SIG_IGN);
  if (!jobd::raise_fd_limit(cfg, message)) {
    std::cerr << "jobd: " << message << "\n";
    return 2;
  }
  return serve(cfg, signals);
}
