// `switchyard scheduler`: the scheduler alone, against any API server (ours or a real one):
// pending Pods whose schedulerName is --scheduler-name are bound to Nodes through pods/binding.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cmd/commands.h"
#include "cmd/leader_election.h"
#include "orchestrator/client/cluster_connection.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/scheduler/scheduler.h"

namespace switchyard::cmd {

namespace {

struct SchedulerCommandOptions {
  scheduler::SchedulerOptions scheduler;
  LeaderElectionFlags leader_election;
  std::string kubeconfig;
  std::string servers;  // --master
};

int run_scheduler(SchedulerCommandOptions o) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  auto connection = client::load_connection(o.kubeconfig, o.servers);
  if (!connection) {
    std::cerr << "error: " << connection.error() << "\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::cout << fmt::format("switchyard scheduler: scheduling pods of '{}' on {}:{}{}\n", o.scheduler.scheduler_name, connection->host,
                           connection->port,
                           o.leader_election.enabled
                               ? " while leading Lease " + o.leader_election.resource_namespace + "/" + o.leader_election.resource_name
                               : "")
            << std::flush;
  int sig = 0;
  auto report = [](const scheduler::Scheduler& s) {
    const auto& st = s.stats();
    spdlog::info("event=scheduler_stopped attempts={} bound={} unschedulable={} bind_failures={}", st.attempts.load(), st.bound.load(),
                 st.unschedulable.load(), st.bind_failures.load());
  };
  if (o.leader_election.enabled) {
    ElectedComponent elected(*connection, leader_election_config(o.leader_election, ""), "scheduler",
                             [&](client::SharedInformerFactory& informers) -> Result<std::function<void()>> {
                               auto s = std::make_shared<scheduler::Scheduler>(informers, *connection, o.scheduler);
                               s->start();
                               return [s, report] {
                                 s->stop();
                                 report(*s);
                               };
                             });
    sigwait(&signals, &sig);
    elected.stop();
  } else {
    client::SharedInformerFactory informers(*connection);
    scheduler::Scheduler s(informers, *connection, o.scheduler);
    s.start();
    sigwait(&signals, &sig);
    s.stop();
    informers.stop();
    report(s);
  }
  return 0;
}

}  // namespace

void register_scheduler(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<SchedulerCommandOptions>();
  CLI::App* sub = app.add_subcommand("scheduler", "Bind pending Pods to Nodes (kube-scheduler's default profile)");
  sub->add_option("--kubeconfig", o->kubeconfig, "the API server and credentials (default: the in-cluster service account)");
  sub->add_option("--master", o->servers, kMasterFlagHelp);
  sub->add_option("--scheduler-name", o->scheduler.scheduler_name, "the spec.schedulerName this scheduler serves")->capture_default_str();
  sub->add_option("--binders", o->scheduler.binders, "concurrent binding and status writes")->capture_default_str();
  sub->add_option("--percentage-of-nodes-to-score", o->scheduler.cycle.percentage_of_nodes_to_score,
                  "feasible nodes to find before scoring, in percent of all nodes (0: adaptive, as upstream)")
      ->capture_default_str();
  sub->add_flag("!--no-scheduled-events", o->scheduler.record_scheduled_events, "do not record a Scheduled Event per bound pod");
  add_leader_election_flags(sub, o->leader_election, "kube-scheduler");
  sub->callback([&run, o] { run = [o] { return run_scheduler(*o); }; });
}

}  // namespace switchyard::cmd
