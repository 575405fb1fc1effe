// `switchyard controller-manager`: the controllers alone, against an API server that runs without
// them (`switchyard apiserver --no-controllers`), as kube-controller-manager beside kube-apiserver.
// Every controller keeps its state in the API (expectations are rebuilt from the caches, finished
// pods are tracked through finalizers), so the process may be killed and restarted at any time.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cmd/commands.h"
#include "cmd/controller_manager.h"
#include "cmd/leader_election.h"
#include "orchestrator/client/cluster_connection.h"
#include "orchestrator/client/informer_factory.h"

namespace switchyard::cmd {

namespace {

struct ControllerManagerCommandOptions {
  ControllerManagerOptions manager;
  LeaderElectionFlags leader_election;
  std::string kubeconfig;
  std::string servers;  // --master
};

int run_controller_manager(const ControllerManagerCommandOptions& o) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  auto connection = client::load_connection(o.kubeconfig, o.servers);
  if (!connection) {
    std::cerr << "error: " << connection.error() << "\n";
    return 2;
  }
  if (auto ok = ControllerManager::check(o.manager); !ok) {
    std::cerr << "error: " << ok.error().describe() << "\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::cout << fmt::format("switchyard controller-manager: running the controllers against {}:{}{}\n", connection->host, connection->port,
                           o.leader_election.enabled
                               ? " while leading Lease " + o.leader_election.resource_namespace + "/" + o.leader_election.resource_name
                               : "")
            << std::flush;
  int sig = 0;
  if (o.leader_election.enabled) {
    // A standby holds no caches; a new leader starts every controller afresh, from the API's state.
    ElectedComponent elected(*connection, leader_election_config(o.leader_election, ""), "controller-manager",
                             [&](client::SharedInformerFactory& informers) -> Result<std::function<void()>> {
                               auto manager = ControllerManager::start(informers, *connection, o.manager);
                               if (!manager) return fail(manager.error());
                               std::shared_ptr<ControllerManager> m = std::move(*manager);
                               return [m] { m->stop(); };
                             });
    sigwait(&signals, &sig);
    elected.stop();
  } else {
    client::SharedInformerFactory informers(*connection);
    auto manager = ControllerManager::start(informers, *connection, o.manager);
    if (!manager) {
      std::cerr << "error: " << manager.error().describe() << "\n";
      return 1;
    }
    sigwait(&signals, &sig);
    (*manager)->stop();
    informers.stop();
  }
  spdlog::info("event=controller_manager_stopped signal={}", sig);
  return 0;
}

}  // namespace

void register_controller_manager(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<ControllerManagerCommandOptions>();
  CLI::App* sub = app.add_subcommand("controller-manager",
                                     "Run the controllers (Deployments, Jobs, StatefulSets, garbage collector, …) against an API server "
                                     "started with --no-controllers, as kube-controller-manager");
  sub->add_option("--kubeconfig", o->kubeconfig, "the API server and credentials (default: the in-cluster service account)");
  sub->add_option("--master", o->servers, kMasterFlagHelp);
  sub->add_option("--load-balancer-ip-pool", o->manager.load_balancer_ip_pool,
                  "addresses for LoadBalancer Services (CIDRs or FIRST-LAST ranges, comma-separated)");
  sub->add_option("--node-monitor-grace-period", o->manager.node_monitor_grace_period_seconds,
                  "seconds without a Lease renewal or Ready heartbeat before a node is Ready=Unknown and tainted unreachable")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_flag("--allocate-node-cidrs", o->manager.allocate_node_cidrs, "give every Node a spec.podCIDR from --cluster-cidr");
  sub->add_flag("--enable-token-cleaner", o->manager.enable_token_cleaner, "delete expired bootstrap-token Secrets (the tokencleaner)");
  sub->add_flag("--enable-node-dns-endpoints", o->manager.enable_node_dns_endpoints,
                "keep kube-system/kube-dns-nodes: one kube-dns endpoint per Node's InternalIP (every node's agent serves DNS)");
  sub->add_option("--cluster-cidr", o->manager.cluster_cidrs, "the pods' CIDR range: one, or one IPv4 and one IPv6 (dual-stack)")
      ->delimiter(',');
  sub->add_option("--node-cidr-mask-size", o->manager.node_cidr_mask_size,
                  "the mask size of each Node's podCIDR, single-stack (default 24 for IPv4, 64 for IPv6)");
  sub->add_option("--node-cidr-mask-size-ipv4", o->manager.node_cidr_mask_size_ipv4,
                  "the mask size of each Node's IPv4 podCIDR (default 24)");
  sub->add_option("--node-cidr-mask-size-ipv6", o->manager.node_cidr_mask_size_ipv6,
                  "the mask size of each Node's IPv6 podCIDR (default 64)");
  add_leader_election_flags(sub, o->leader_election, "kube-controller-manager");
  sub->callback([&run, o] { run = [o] { return run_controller_manager(*o); }; });
}

}  // namespace switchyard::cmd
