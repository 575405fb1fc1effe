// `switchyard join`: this host becomes a node of a cluster that `switchyard up` started: its
// credential first (cmd/tls_bootstrap.h: discovery pinned by --ca-cert-hash, a CSR under the
// bootstrap token, the issued client certificate), then the node's parts as `up` runs them
// without the control plane: the container runtime, the kubelet's endpoint, the Node and its
// Lease, the pod network from the Node's podCIDR, the node agent (dataplane and DNS) and the
// kubelet, all speaking as system:node:NAME.
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cmd/advertise_address.h"
#include "cmd/commands.h"
#include "cmd/join_command.h"
#include "cmd/kubelet_endpoint.h"
#include "cmd/pod_network_flag.h"
#include "cmd/tls_bootstrap.h"
#include "kubelet/kubelet.h"
#include "kubelet/node/cri_runtime_probe.h"
#include "kubelet/node/node_status.h"
#include "kubelet/runtime/node_runtime.h"
#include "node/agent_config.h"
#include "node/node_agent.h"
#include "orchestrator/apiserver/bootstrap_tokens.h"
#include "orchestrator/client/api_client.h"

namespace switchyard::cmd {

namespace {

struct JoinOptions {
  TlsBootstrapOptions bootstrap;
  std::string node_ip;  // default: the address of the interface with the default route
  std::string mode = "nftables";
  std::vector<std::string> cluster_cidrs = {"10.244.0.0/16"};
  std::string cluster_domain = "cluster.local";
  std::string healthz_bind_address = "0.0.0.0:10256";
  std::string metrics_bind_address = "127.0.0.1:10249";
  std::string cgroup_root;
  std::string bpf_root = "/sys/fs/bpf/switchyard";
  kubelet::runtime::NodeRuntimeOptions runtime;
  int kubelet_port = 10250;
  std::string endpoint_handoff_delay = "1s";
  int bootstrap_timeout_seconds = 120;
  std::string pod_network = "auto";
};

// The kube-dns Service's address, which the node's pods get as their nameserver.
Result<std::string> cluster_dns_ip(const client::ClusterConnection& node) {
  client::ApiClient api(node);
  auto r = api.get("/api/v1/namespaces/kube-system/services/kube-dns");
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(ErrorCode::Unavailable, fmt::format("reading the kube-dns Service: HTTP {}", r->status));
  auto ip = nlohmann::json::parse(r->body, nullptr, false).value("spec", nlohmann::json::object()).value("clusterIP", "");
  if (ip.empty()) return fail(ErrorCode::Unavailable, "the kube-dns Service has no clusterIP");
  return ip;
}

int exit_code(const Error& e) {
  // 2: a flag to fix; 3: the cluster refused this node's credentials (token, pin); 1: anything else.
  if (e.code == ErrorCode::Invalid) return 2;
  if (e.code == ErrorCode::Unauthorized || e.code == ErrorCode::Forbidden || e.code == ErrorCode::Conflict) return 3;
  return 1;
}

int run_join(JoinOptions o) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  if (!apiserver::parse_bootstrap_token(o.bootstrap.token)) {
    std::cerr << "error: --token: not a bootstrap token: it must be 6 and 16 lowercase letters or digits joined by a dot "
                 "([a-z0-9]{6}.[a-z0-9]{16}), as `switchyard up` prints it\n";
    return 2;
  }
  if (o.bootstrap.node_name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    o.bootstrap.node_name = host;
  }
  if (o.node_ip.empty()) {
    auto ip = default_route_ipv4();
    if (!ip) {
      std::cerr << "error: " << ip.error().message << " (give --node-ip)\n";
      return 2;
    }
    o.node_ip = *ip;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  o.bootstrap.timeout = std::chrono::seconds(o.bootstrap_timeout_seconds);
  auto credential = node_credentials(o.bootstrap);
  if (!credential) {
    std::cerr << "error: " << credential.error().message << "\n";
    return exit_code(credential.error());
  }
  const std::string& name = o.bootstrap.node_name;
  auto dns_ip = cluster_dns_ip(*credential);
  if (!dns_ip) {
    std::cerr << "error: " << dns_ip.error().message << "\n";
    return 1;
  }
  std::unique_ptr<kubelet::runtime::NodeRuntime> runtime;
  if (o.runtime.enabled()) {
    o.runtime.node_data_dir = o.bootstrap.data_dir;
    auto started = kubelet::runtime::NodeRuntime::start(o.runtime);
    if (!started) {
      std::cerr << "error: container runtime: " << started.error() << "\n";
      return 1;
    }
    runtime = std::move(*started);
  }
  // The kubelet's endpoint (logs, exec, port-forward): a self-signed serving certificate, as
  // upstream's kubelet makes without a CA key; clients are the cluster CA's.
  std::unique_ptr<kubelet::server::KubeletServer> kubelet_endpoint;
  if (runtime) {
    auto started = start_kubelet_endpoint({.node_name = name,
                                           .node_ip = o.node_ip,
                                           .address = o.node_ip,
                                           .port = o.kubelet_port,
                                           .runtime_endpoint = runtime->endpoint(),
                                           .cert_dir = o.bootstrap.data_dir + "/kubelet/pki",
                                           .client_ca_file = o.bootstrap.data_dir + "/ca.crt"});
    if (started)
      kubelet_endpoint = std::move(*started);
    else
      spdlog::warn("event=kubelet_endpoint_failed error=\"{}\" effect=\"no kubectl logs/exec/port-forward\"", started.error().message);
  }
  kubelet::node::NodeStatusOptions status;
  status.node_name = name;
  status.node_ip = o.node_ip;
  status.pod_cidr = o.runtime.pod_cidr;
  status.root_dir = o.bootstrap.data_dir;
  if (runtime) status.runtime = kubelet::node::cri_runtime_probe(runtime->endpoint());
  status.kubelet_port = kubelet_endpoint ? kubelet_endpoint->port() : 0;
  auto node_status = kubelet::node::NodeStatusReporter::start(*credential, std::move(status));
  auto stop_all = [&] {
    if (kubelet_endpoint) kubelet_endpoint->stop();
    if (node_status && *node_status) (*node_status)->stop();
    if (runtime) runtime->stop();
  };
  if (!node_status) {
    std::cerr << "error: " << node_status.error() << "\n";
    stop_all();
    return 1;
  }
  auto cidrs = kubelet::node::wait_for_pod_cidrs(*credential, name, std::chrono::seconds(60));
  if (!cidrs) {
    std::cerr << "error: " << cidrs.error().message << "\n";
    stop_all();
    return 1;
  }
  o.runtime.pod_cidr = fmt::format("{}", fmt::join(*cidrs, ","));
  if (runtime) {
    if (auto ok = runtime->set_pod_cidrs(*cidrs); !ok) {
      std::cerr << "error: pod network: " << ok.error().message << "\n";
      stop_all();
      return 1;
    }
    const auto probe = kubelet::node::cri_runtime_probe(runtime->endpoint());
    for (int i = 0; i < 100 && !probe().ready; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (auto synced = (*node_status)->sync_now(); !synced)
      spdlog::warn("event=node_status_failed node={} error=\"{}\"", name, synced.error().message);
  }
  // Routes to the other nodes' pods, with this node's own credentials (it publishes its VTEP MAC).
  std::unique_ptr<node::PodNetworkController> pod_network;
  if (runtime) pod_network = start_pod_network(o.pod_network, name, o.node_ip, *cidrs, o.cluster_cidrs, *credential);
  node::AgentConfig agent_config;
  agent_config.node_name = name;
  agent_config.mode = o.mode;
  agent_config.cluster_cidrs = o.cluster_cidrs;
  agent_config.dns_listen = {o.node_ip + ":53"};
  agent_config.cluster_domain = o.cluster_domain;
  agent_config.healthz_bind_address = o.healthz_bind_address;
  agent_config.metrics_bind_address = o.metrics_bind_address;
  agent_config.cgroup_root = o.cgroup_root;
  agent_config.bpf_root = o.bpf_root;
  auto agent = node::NodeAgent::start(agent_config, *credential);
  if (!agent) {
    std::cerr << "error: " << agent.error().message << "\n";
    stop_all();
    return 1;
  }
  std::unique_ptr<kubelet::Kubelet> pod_loop;
  if (runtime) {
    kubelet::KubeletOptions k;
    k.node = {.node_name = name,
              .node_ip = o.node_ip,
              .cluster_dns = *dns_ip,
              .cluster_domain = o.cluster_domain,
              .root_dir = o.bootstrap.data_dir + "/kubelet"};
    k.local_path_dir = o.bootstrap.data_dir + "/storage";
    k.runtime_endpoint = runtime->endpoint();
    k.images_hint = fmt::format("switchyard images import --data-dir {} FILE.tar", o.bootstrap.data_dir);
    k.endpoint_handoff_delay = endpoint_handoff_delay(o.endpoint_handoff_delay);
    auto started = kubelet::Kubelet::start(k, *credential);
    if (!started) {
      std::cerr << "error: kubelet: " << started.error() << "\n";
      (*agent)->stop();
      stop_all();
      return 1;
    }
    pod_loop = std::move(*started);
  }
  std::cout << fmt::format(
                   "switchyard join: node '{}' joined the cluster at {} as system:node:{} ({} dataplane, DNS on {}:53, pods in {})\n"
                   "Its credential: {}/kubelet.kubeconfig (a later start reuses it; no token needed).\n",
                   name, o.bootstrap.server, name, o.mode, o.node_ip, o.runtime.pod_cidr, o.bootstrap.data_dir)
            << std::flush;
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("event=join_stopping signal={} rules=kept", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  if (pod_loop) pod_loop->stop();        // the pods keep running: the next start adopts them
  if (pod_network) pod_network->stop();  // its routes stay: traffic keeps flowing until the next start
  (*agent)->stop();
  stop_all();
  return 0;
}

}  // namespace

void register_join(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<JoinOptions>();
  CLI::App* sub =
      app.add_subcommand("join", "Make this host a node of a cluster started by `switchyard up` (kubelet, runtime, agent, DNS)");
  sub->add_option("--server", o->bootstrap.server,
                  "the API server, https://HOST:PORT (as `switchyard up` prints it); several, comma-separated, for a control plane of "
                  "several API servers: the node's clients move to the next when one cannot be reached")
      ->required();
  sub->add_option("--token", o->bootstrap.token, "the bootstrap token <id>.<secret> (as `switchyard up` prints it)")->required();
  sub->add_option("--ca-cert-hash", o->bootstrap.ca_cert_hash,
                  "sha256:<hex> of the cluster CA's public key: the server is trusted only if its CA matches")
      ->required();
  sub->add_option("--data-dir", o->bootstrap.data_dir, "directory for the node's credential, kubelet state and containerd")->required();
  sub->add_option("--node-name", o->bootstrap.node_name, "this node's name (default: the host name)");
  sub->add_option("--node-ip", o->node_ip, "this node's address (default: that of the interface with the default route)");
  sub->add_option("--bootstrap-timeout", o->bootstrap_timeout_seconds, "seconds to wait for the node's certificate")->capture_default_str();
  sub->add_option("--mode", o->mode, "dataplane: nftables or ebpf")->check(CLI::IsMember({"ebpf", "nftables"}))->capture_default_str();
  sub->add_option("--cluster-cidr", o->cluster_cidrs, "pod CIDRs of the cluster (as given to `switchyard up`)")->delimiter(',');
  sub->add_option("--cluster-domain", o->cluster_domain, "the cluster DNS domain")->capture_default_str();
  sub->add_option("--healthz-bind-address", o->healthz_bind_address, "the agent's /healthz (\"\" to disable)")->capture_default_str();
  sub->add_option("--metrics-bind-address", o->metrics_bind_address, "the agent's /metrics (\"\" to disable)")->capture_default_str();
  sub->add_option("--cgroup-root", o->cgroup_root, "eBPF: the cgroup whose sockets get ClusterIP load balancing");
  sub->add_option("--bpf-root", o->bpf_root, "eBPF: where maps and links are pinned, under <dir>/<node name>")->capture_default_str();
  sub->add_flag("--run-containerd", o->runtime.run_containerd,
                "run and supervise this node's own containerd under <data-dir>/containerd (CRI socket containerd.sock there)");
  sub->add_option("--container-runtime-endpoint", o->runtime.endpoint, "use this CRI socket instead of running containerd");
  sub->add_option("--images-dir", o->runtime.images_dir,
                  "import every image archive (.tar) in this directory at start (implies a runtime)");
  sub->add_option("--kubelet-port", o->kubelet_port, "the kubelet's HTTPS port on --node-ip (logs, exec, port-forward)")
      ->capture_default_str();
  add_endpoint_handoff_flag(sub, o->endpoint_handoff_delay);
  add_pod_network_flag(sub, o->pod_network);
  sub->callback([&run, o] { run = [o] { return run_join(*o); }; });
}

}  // namespace switchyard::cmd
