// `switchyard agent`: the node agent. List+watch of Services, EndpointSlices and this Node
// (kubeconfig or in-cluster), one Snapshot stream feeding the dataplane through the sync loop
// and the cluster DNS server; kube-proxy's /healthz, /livez and /metrics. SIGTERM leaves the
// rules in place (traffic keeps flowing across a restart); --cleanup removes them.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/cluster_connection.h"
#include "node/agent_config.h"
#include "cmd/commands.h"
#include "node/node_agent.h"

namespace switchyard::cmd {

using node::AgentConfig;
using node::cleanup_dataplane;
using node::NodeAgent;
using node::parse_go_duration;

namespace {

struct AgentCommandLine {
  AgentConfig flags;
  std::string config_file;
  std::string servers;  // --master: the kubeconfig's server replaced by one or more
  bool cleanup = false;
  // Flags given on the command line override the file: each knows how to copy itself.
  std::vector<std::pair<CLI::Option*, std::function<void(AgentConfig&, const AgentConfig&)>>> overrides;
};

int run_cleanup(const AgentConfig& c) {
  if (auto ok = cleanup_dataplane(c); !ok) {
    std::cerr << "error: " << ok.error().message << "\n";
    return 1;
  }
  std::cout << fmt::format("switchyard agent: removed every {} rule it had programmed\n", c.mode);
  return 0;
}

Result<client::ClusterConnection> connect_to(const AgentConfig& c, const std::string& servers) {
  auto conn = client::load_connection(c.kubeconfig, servers);
  if (!conn)
    return fail(with_context(conn.error(),
                             c.kubeconfig.empty() ? "in-cluster configuration (no --kubeconfig given)" : "--kubeconfig " + c.kubeconfig));
  conn->protobuf = c.api_content_type == "protobuf";
  return conn;
}

int run_agent(const AgentConfig& c, const std::string& servers) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  auto conn = connect_to(c, servers);
  if (!conn) {
    std::cerr << "error: " << conn.error().message << "\n";
    return 1;
  }
  // Block the signals before any thread starts so that only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto agent = NodeAgent::start(c, *conn);
  if (!agent) {
    std::cerr << "error: " << agent.error().message << "\n";
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("event=agent_stopping signal={} rules=kept", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*agent)->stop();
  return 0;
}

Result<AgentConfig> resolve_config(const AgentCommandLine& cl) {
  AgentConfig c;
  if (!cl.config_file.empty())
    if (auto ok = read_kube_proxy_configuration(cl.config_file, c); !ok) return fail(ok.error());
  for (const auto& [option, copy] : cl.overrides)
    if (option->count() > 0) copy(c, cl.flags);
  if (c.node_name.empty()) return fail(ErrorCode::Invalid, "--node-name is required");
  if (c.mode != "nftables" && c.mode != "ebpf")
    return fail(ErrorCode::Invalid, fmt::format("mode \"{}\": expected nftables or ebpf", c.mode));
  if (c.min_sync_period > c.sync_period)
    return fail(ErrorCode::Invalid,
                fmt::format("minSyncPeriod {} ms is longer than syncPeriod {} ms", c.min_sync_period.count(), c.sync_period.count()));
  return c;
}

}  // namespace

void register_agent(CLI::App& app, std::function<int()>& run) {
  auto cl = std::make_shared<AgentCommandLine>();
  CLI::App* sub = app.add_subcommand("agent", "Run the node agent: service dataplane and cluster DNS for one node");
  AgentConfig& f = cl->flags;
  auto add = [&](CLI::Option* o, std::function<void(AgentConfig&, const AgentConfig&)> copy) {
    cl->overrides.emplace_back(o, std::move(copy));
  };
  add(sub->add_option("--node-name", f.node_name, "this node's name (as its Node object)"),
      [](auto& c, auto& f) { c.node_name = f.node_name; });
  add(sub->add_option("--mode", f.mode, "dataplane: nftables or ebpf")->check(CLI::IsMember({"ebpf", "nftables"})),
      [](auto& c, auto& f) { c.mode = f.mode; });
  add(sub->add_option("--kubeconfig", f.kubeconfig, "kubeconfig file (default: in-cluster configuration)"),
      [](auto& c, auto& f) { c.kubeconfig = f.kubeconfig; });
  sub->add_option("--master", cl->servers, kMasterFlagHelp);
  add(sub->add_option("--api-content-type", f.api_content_type,
                      "what the informers ask the API server for: json, or protobuf (application/vnd.kubernetes.protobuf)")
          ->check(CLI::IsMember({"json", "protobuf"})),
      [](auto& c, auto& f) { c.api_content_type = f.api_content_type; });
  sub->add_option("--config", cl->config_file, "KubeProxyConfiguration file; flags given override it");
  add(sub->add_option("--cluster-cidr", f.cluster_cidrs,
                      "pod CIDRs (repeatable or comma-separated): traffic from outside them is masqueraded")
          ->delimiter(','),
      [](auto& c, auto& f) { c.cluster_cidrs = f.cluster_cidrs; });
  add(sub->add_option("--nodeport-addresses", f.node_port_addresses, "CIDRs of the node addresses that serve NodePorts")->delimiter(','),
      [](auto& c, auto& f) { c.node_port_addresses = f.node_port_addresses; });
  std::shared_ptr<std::string> sync_period = std::make_shared<std::string>(), min_sync_period = std::make_shared<std::string>();
  add(sub->add_option("--sync-period", *sync_period, "longest time between syncs, and the full-resync period (Go duration, default 30s)"),
      [sync_period](auto& c, auto&) { c.sync_period = *parse_go_duration(*sync_period); });
  add(sub->add_option("--min-sync-period", *min_sync_period, "shortest time between syncs (Go duration, default 10ms)"),
      [min_sync_period](auto& c, auto&) { c.min_sync_period = *parse_go_duration(*min_sync_period); });
  for (auto* o : {sub->get_option("--sync-period"), sub->get_option("--min-sync-period")})
    o->check([](const std::string& v) {
      auto d = parse_go_duration(v);
      return d ? std::string() : d.error().message;
    });
  add(sub->add_option("--healthz-bind-address", f.healthz_bind_address, "ADDR:PORT of /healthz, /livez, /readyz (\"\" to disable)")
          ->capture_default_str(),
      [](auto& c, auto& f) { c.healthz_bind_address = f.healthz_bind_address; });
  add(sub->add_option("--metrics-bind-address", f.metrics_bind_address, "ADDR:PORT of /metrics (\"\" to disable)")->capture_default_str(),
      [](auto& c, auto& f) { c.metrics_bind_address = f.metrics_bind_address; });
  add(sub->add_option("--dns-listen", f.dns_listen, "ADDR:PORT to serve cluster DNS on, UDP and TCP (repeatable; none: no DNS)"),
      [](auto& c, auto& f) { c.dns_listen = f.dns_listen; });
  add(sub->add_option("--cluster-domain", f.cluster_domain, "the cluster DNS domain")->capture_default_str(),
      [](auto& c, auto& f) { c.cluster_domain = f.cluster_domain; });
  add(sub->add_option("--dns-upstream", f.dns_upstreams, "ADDR[:PORT] that names outside the cluster domain are forwarded to (repeatable)"),
      [](auto& c, auto& f) { c.dns_upstreams = f.dns_upstreams; });
  add(sub->add_option("--dns-resolv-conf", f.dns_resolv_conf,
                      "without --dns-upstream, forward to this file's nameservers (\"\": do not forward)")
          ->capture_default_str(),
      [](auto& c, auto& f) { c.dns_resolv_conf = f.dns_resolv_conf; });
  add(sub->add_option("--dns-forward-clients", f.dns_forward_clients,
                      "CIDRs whose queries for names outside the cluster are forwarded (default: the cluster CIDRs, the node's "
                      "subnets and loopback; 0.0.0.0/0,::/0 for everyone)")
          ->delimiter(','),
      [](auto& c, auto& f) { c.dns_forward_clients = f.dns_forward_clients; });
  add(sub->add_flag("--dns-autopath", f.dns_autopath,
                    "server-side search path (CoreDNS's autopath) for queries from this node's pods: one round trip with ndots:5"),
      [](auto& c, auto& f) { c.dns_autopath = f.dns_autopath; });
  add(sub->add_option("--dns-pods", f.dns_pods,
                      "pod records A-B-C-D.NS.pod.<domain>, as CoreDNS's `pods`: disabled, insecure (any address) or verified "
                      "(only a Pod's address in its namespace; watches all Pods)")
          ->check(CLI::IsMember({"disabled", "insecure", "verified"}))
          ->capture_default_str(),
      [](auto& c, auto& f) { c.dns_pods = f.dns_pods; });
  add(sub->add_option("--proxy-name", f.proxy_name,
                      "serve Services labelled service.kubernetes.io/service-proxy-name=NAME instead of unlabelled ones"),
      [](auto& c, auto& f) { c.proxy_name = f.proxy_name; });
  add(sub->add_option("--cgroup-root", f.cgroup_root,
                      "eBPF: the cgroup whose sockets get ClusterIP load balancing (default: the cgroup v2 root)"),
      [](auto& c, auto& f) { c.cgroup_root = f.cgroup_root; });
  add(sub->add_option("--bpf-root", f.bpf_root, "eBPF: where maps and links are pinned, under <dir>/<node name>")->capture_default_str(),
      [](auto& c, auto& f) { c.bpf_root = f.bpf_root; });
  add(sub->add_option("--external-interfaces", f.external_interfaces,
                      "eBPF: interfaces whose traffic from outside gets NodePort, LoadBalancer and external IPs (comma-separated; "
                      "default: those carrying the node's addresses and default route, followed as they change)")
          ->delimiter(','),
      [](auto& c, auto& f) { c.external_interfaces = f.external_interfaces; });
  add(sub->add_option("--ebpf-nodeport-mode", f.ebpf_nodeport_mode,
                      "eBPF: tc, or xdp to DNAT established external flows in XDP on the external interfaces")
          ->check(CLI::IsMember({"tc", "xdp"}))
          ->capture_default_str(),
      [](auto& c, auto& f) { c.ebpf_nodeport_mode = f.ebpf_nodeport_mode; });
  add(sub->add_option("--ebpf-map-dynamic-size-ratio", f.ebpf_map_dynamic_size_ratio,
                      "eBPF: share (0-1] of the machine's memory for the preallocated LRU maps (conntrack, socket reverse NAT, "
                      "affinity), as Cilium's bpf-map-dynamic-size-ratio")
          ->check(CLI::Range(0.0, 1.0))
          ->capture_default_str(),
      [](auto& c, auto& f) { c.ebpf_map_dynamic_size_ratio = f.ebpf_map_dynamic_size_ratio; });
  add(sub->add_option("--ebpf-ct-max", f.ebpf_ct_max, "eBPF: entries of each conntrack map (0: from --ebpf-map-dynamic-size-ratio)")
          ->capture_default_str(),
      [](auto& c, auto& f) { c.ebpf_ct_max = f.ebpf_ct_max; });
  add(sub->add_option("--ebpf-lb-map-initial", f.ebpf_lb_map_initial,
                      "eBPF: starting entries of the service and backend maps; they grow with the cluster, without dropping traffic")
          ->capture_default_str(),
      [](auto& c, auto& f) { c.ebpf_lb_map_initial = f.ebpf_lb_map_initial; });
  add(sub->add_option("--ebpf-localhost-nodeports", f.ebpf_localhost_nodeports,
                      "eBPF: the node's own processes reach NodePorts on 127.0.0.1 too (IPv4), as kube-proxy's "
                      "--iptables-localhost-nodeports")
          ->capture_default_str(),
      [](auto& c, auto& f) { c.ebpf_localhost_nodeports = f.ebpf_localhost_nodeports; });
  sub->add_flag("--cleanup", cl->cleanup, "remove everything the agent programmed, then exit");
  sub->callback([&run, cl] {
    run = [cl] {
      if (cl->cleanup) {
        AgentConfig c;
        if (!cl->config_file.empty())
          if (auto ok = read_kube_proxy_configuration(cl->config_file, c); !ok) {
            std::cerr << "error: " << ok.error() << "\n";
            return 2;
          }
        for (const auto& [option, copy] : cl->overrides)
          if (option->count() > 0) copy(c, cl->flags);
        return run_cleanup(c);
      }
      auto c = resolve_config(*cl);
      if (!c) {
        std::cerr << "error: " << c.error() << "\n";
        return 2;
      }
      return run_agent(*c, cl->servers);
    };
  });
}

}  // namespace switchyard::cmd
