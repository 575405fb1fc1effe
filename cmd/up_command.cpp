// `switchyard up`: a one-node cluster's service networking on this host, in one process: the
// control plane (API server, store, controllers), this host's Node, the `kubernetes` and
// `kube-dns` Services, and the node agent programming the dataplane and serving cluster DNS on
// the node's address, which the kube-dns Service IP is routed to (on every node, to its own).
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstring>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "orchestrator/client/cluster_connection.h"
#include "orchestrator/apiserver/kubeconfig.h"
#include "orchestrator/apiserver/pki.h"
#include "orchestrator/apiserver/resources.h"
#include "cmd/commands.h"
#include "cmd/control_plane.h"
#include "cmd/join_token.h"
#include "cmd/kubelet_endpoint.h"
#include "cmd/pod_network_flag.h"
#include "kubelet/kubelet.h"
#include "kubelet/node/cri_runtime_probe.h"
#include "kubelet/node/node_status.h"
#include "kubelet/runtime/node_runtime.h"
#include "node/agent_config.h"
#include "node/node_agent.h"

namespace switchyard::cmd {

using node::AgentConfig;
using node::NodeAgent;

namespace {

struct UpOptions {
  ControlPlaneOptions control_plane;
  std::string mode = "nftables";
  std::vector<std::string> cluster_cidrs = {"10.244.0.0/16"};
  std::string node_name;  // default: the host name
  std::string node_ip;    // default: the first global IPv4 address of an interface that is up
  std::string cluster_domain = "cluster.local";
  std::string healthz_bind_address = "0.0.0.0:10256";
  std::string metrics_bind_address = "127.0.0.1:10249";
  // eBPF mode: as `switchyard agent`'s flags of the same names.
  std::string cgroup_root;
  std::string bpf_root = "/sys/fs/bpf/switchyard";
  std::vector<std::string> external_interfaces;
  kubelet::runtime::NodeRuntimeOptions runtime;  // the node's container runtime (off unless asked)
  int kubelet_port = 10250;                      // the kubelet's HTTPS endpoint on --node-ip (with a runtime)
  std::string endpoint_handoff_delay = "1s";     // the kubelet's, as `switchyard kubelet`'s flag
  std::string min_sync_period = "10ms";          // the agent's, as `switchyard agent`'s flag
  std::string token_ttl = "24h";                 // the printed join token's lifetime (kubeadm's --token-ttl)
  std::string pod_network = "auto";              // routes to other nodes' pods (with a runtime): cmd/pod_network_flag.h
};

// The flags that name where an eBPF agent attached and pinned, for the commands printed.
std::string ebpf_flags(const UpOptions& o) {
  if (o.mode != "ebpf") return "";
  return fmt::format("{} --bpf-root {}", o.cgroup_root.empty() ? "" : " --cgroup-root " + o.cgroup_root, o.bpf_root);
}

Result<std::string> first_global_ipv4() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return fail(ErrorCode::Internal, std::string("getifaddrs: ") + std::strerror(errno));
  std::string found;
  for (ifaddrs* a = list; a && found.empty(); a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK)) continue;
    const auto ip = ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
    if ((ip >> 16) == 0xA9FE) continue;  // 169.254/16, link-local
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    found = text;
  }
  freeifaddrs(list);
  if (found.empty()) return fail(ErrorCode::NotFound, "no interface that is up has a global IPv4 address: give --node-ip");
  return found;
}

// Creates `body`, replacing an object of that name left by an earlier run (its spec may differ).
Result<void> replace_object(apiserver::ObjectRegistry& registry, const char* group, const char* resource, const std::string& ns,
                            const apiserver::Json& body) {
  const auto* r = apiserver::find_resource(group, "v1", resource);
  const std::string name = body["metadata"]["name"];
  if (auto gone = registry.remove(*r, ns, name); !gone && gone.error().code != 404)
    return fail(ErrorCode::Internal,
                fmt::format("replacing {} {}/{}: {}", resource, ns, name, gone.error().status.value("message", "refused")));
  std::vector<std::string> warnings;
  auto created = registry.create(*r, ns, body, apiserver::FieldValidation::Strict, warnings);
  if (!created)
    return fail(ErrorCode::Internal, fmt::format("{} {}/{}: {}", resource, ns, name, created.error().status.value("message", "refused")));
  return {};
}

// The default StorageClass `local-path`, as k3s ships it: the kubelet's local-path provisioner
// makes the volumes on the node the scheduler picks. Made once; an existing one is left as it is.
Result<void> ensure_local_path_class(apiserver::ObjectRegistry& registry) {
  const auto* r = apiserver::find_resource("storage.k8s.io", "v1", "storageclasses");
  if (registry.get(*r, "", "local-path")) return {};
  std::vector<std::string> warnings;
  auto created =
      registry.create(*r, "",
                      {{"apiVersion", "storage.k8s.io/v1"},
                       {"kind", "StorageClass"},
                       {"metadata", {{"name", "local-path"}, {"annotations", {{"storageclass.kubernetes.io/is-default-class", "true"}}}}},
                       {"provisioner", kubelet::kLocalPathProvisioner},
                       {"reclaimPolicy", "Delete"},
                       {"volumeBindingMode", "WaitForFirstConsumer"}},
                      apiserver::FieldValidation::Strict, warnings);
  if (!created && created.error().code != 409)
    return fail(ErrorCode::Internal, fmt::format("storageclass local-path: {}", created.error().status.value("message", "refused")));
  return {};
}

// kube-dns, internalTrafficPolicy Local: its endpoints are every node's DNS server (the node
// DNS endpoints controller's kube-dns-nodes slice), and each node's pods use their own node's.
// (The Node is the kubelet's to register: start_node_status.)
Result<void> create_cluster_objects(ControlPlane& plane, const std::string& dns_ip) {
  auto& reg = plane.registry();
  if (auto ok = ensure_local_path_class(reg); !ok) return ok;
  return replace_object(
      reg, "", "services", "kube-system",
      {{"apiVersion", "v1"},
       {"kind", "Service"},
       {"metadata", {{"name", "kube-dns"}, {"labels", {{"k8s-app", "kube-dns"}, {"kubernetes.io/name", "CoreDNS"}}}}},
       {"spec",
        {{"clusterIP", dns_ip},
         {"internalTrafficPolicy", "Local"},
         {"ports", {{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}}, {{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}}}}}}});
}

// This host's Node, registered and kept up to date (status, Lease) as a kubelet does; its
// runtime's version and readiness come from CRI when there is one.
Result<std::unique_ptr<kubelet::node::NodeStatusReporter>> start_node_status(const client::ClusterConnection& connection,
                                                                             const UpOptions& o,
                                                                             const kubelet::runtime::NodeRuntime* runtime,
                                                                             int kubelet_port) {
  kubelet::node::NodeStatusOptions status;
  status.node_name = o.node_name;
  status.node_ip = o.node_ip;
  status.pod_cidr = o.runtime.pod_cidr;  // only when given: otherwise the node IPAM controller's
  status.root_dir = o.control_plane.data_dir;
  if (runtime) status.runtime = kubelet::node::cri_runtime_probe(runtime->endpoint());
  status.kubelet_port = kubelet_port;
  return kubelet::node::NodeStatusReporter::start(connection, std::move(status));
}

int run_up(UpOptions o) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  if (o.node_name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    o.node_name = host;
  }
  if (o.node_ip.empty()) {
    auto ip = first_global_ipv4();
    if (!ip) {
      std::cerr << "error: " << ip.error() << "\n";
      return 1;
    }
    o.node_ip = *ip;
  }
  if (o.control_plane.advertise_address.empty()) o.control_plane.advertise_address = o.node_ip;  // what pods reach 10.96.0.1 at
  o.control_plane.allocate_node_cidrs = true;  // this node's podCIDR, and those of nodes that join
  o.control_plane.cluster_cidrs = o.cluster_cidrs;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The kubelet and the agent speak for themselves, with only their roles' rights (system:node
  // through the system:nodes group, system:switchyard-agent), never with the admin's token.
  auto kubelet_token = apiserver::random_token();
  auto agent_token = apiserver::random_token();
  if (!kubelet_token || !agent_token) {
    std::cerr << "error: " << (kubelet_token ? agent_token.error() : kubelet_token.error()).message << "\n";
    return 1;
  }
  // As kubeadm's clusters: nodes that join present a bootstrap token.
  o.control_plane.enable_bootstrap_token_auth = true;
  o.control_plane.enable_token_cleaner = true;
  // Every node's agent serves cluster DNS: kube-dns gets each Node's address, used node-locally.
  o.control_plane.enable_node_dns_endpoints = true;
  o.control_plane.component_tokens =
      fmt::format("{},system:node:{},,\"system:nodes\"\n{},system:switchyard-agent,,\n", *kubelet_token, o.node_name, *agent_token);
  auto plane = ControlPlane::start(o.control_plane);
  if (!plane) {
    std::cerr << "error: " << plane.error().message << "\n";
    return 1;
  }
  if ((*plane)->kubeconfig().empty()) {
    std::cerr << "error: switchyard up makes its own credentials: leave out --tls-cert-file\n";
    return 2;
  }
  const std::string dns_ip = (*plane)->service_ip(9);  // 10.96.0.10 with the default CIDR, as kubeadm
  if (auto ok = create_cluster_objects(**plane, dns_ip); !ok) {
    std::cerr << "error: " << ok.error() << "\n";
    return 1;
  }
  // What `switchyard join` needs: a bootstrap token and the CA's pin (join_token.h).
  const std::string join_host = (*plane)->advertise_address().empty() ? (*plane)->listen_host() : (*plane)->advertise_address();
  const std::string join_server = apiserver::server_url(join_host, static_cast<std::uint16_t>((*plane)->port()));
  std::string ca_pem;
  {
    std::ifstream in(o.control_plane.data_dir + "/pki/ca.crt");
    std::stringstream text;
    text << in.rdbuf();
    ca_pem = text.str();
  }
  auto join =
      prepare_join((*plane)->registry(), join_server, ca_pem,
                   std::chrono::duration_cast<std::chrono::seconds>(node::parse_go_duration(o.token_ttl).value_or(std::chrono::hours(24))));
  if (!join) {
    std::cerr << "error: join token: " << join.error() << "\n";
    (*plane)->stop();
    return 1;
  }
  auto connection = client::load_kubeconfig((*plane)->kubeconfig());
  if (!connection) {
    std::cerr << fmt::format("error: {}: {}\n", (*plane)->kubeconfig(), connection.error().message);
    return 1;
  }
  client::ClusterConnection kubelet_connection = *connection, agent_connection = *connection;
  kubelet_connection.token = *kubelet_token;
  agent_connection.token = *agent_token;
  std::unique_ptr<kubelet::runtime::NodeRuntime> runtime;
  if (o.runtime.enabled()) {
    o.runtime.node_data_dir = o.control_plane.data_dir;
    auto started = kubelet::runtime::NodeRuntime::start(o.runtime);
    if (!started) {
      std::cerr << "error: container runtime: " << started.error() << "\n";
      (*plane)->stop();
      return 1;
    }
    runtime = std::move(*started);
  }
  // The kubelet's endpoint for logs, exec, attach and port-forward (the API server proxies to it).
  std::unique_ptr<kubelet::server::KubeletServer> kubelet_endpoint;
  if (runtime) {
    auto started = start_kubelet_endpoint({.node_name = o.node_name,
                                           .node_ip = o.node_ip,
                                           .address = o.node_ip,
                                           .port = o.kubelet_port,
                                           .runtime_endpoint = runtime->endpoint(),
                                           .cert_dir = o.control_plane.data_dir + "/kubelet/pki",
                                           .client_ca_file = o.control_plane.data_dir + "/pki/ca.crt",
                                           .ca_key_file = o.control_plane.data_dir + "/pki/ca.key"});
    if (started)
      kubelet_endpoint = std::move(*started);
    else
      spdlog::warn("event=kubelet_endpoint_failed error=\"{}\" effect=\"no kubectl logs/exec/port-forward\"", started.error().message);
  }
  auto node_status = start_node_status(kubelet_connection, o, runtime.get(), kubelet_endpoint ? kubelet_endpoint->port() : 0);
  if (!node_status) {
    std::cerr << "error: " << node_status.error() << "\n";
    if (runtime) runtime->stop();
    (*plane)->stop();
    return 1;
  }
  // As a kubelet: the pod network waits for the Node's podCIDR, from the node IPAM controller.
  auto cidrs = kubelet::node::wait_for_pod_cidrs(kubelet_connection, o.node_name, std::chrono::seconds(60));
  if (!cidrs) {
    std::cerr << "error: " << cidrs.error().message << "\n";
    (*node_status)->stop();
    if (runtime) runtime->stop();
    (*plane)->stop();
    return 1;
  }
  o.runtime.pod_cidr = fmt::format("{}", fmt::join(*cidrs, ","));
  if (runtime) {
    if (auto ok = runtime->set_pod_cidrs(*cidrs); !ok) {
      std::cerr << "error: pod network: " << ok.error().message << "\n";
      (*node_status)->stop();
      runtime->stop();
      (*plane)->stop();
      return 1;
    }
    // containerd reloads the CNI config on its own; the Node reports Ready as soon as it has.
    const auto probe = kubelet::node::cri_runtime_probe(runtime->endpoint());
    for (int i = 0; i < 100 && !probe().ready; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (auto synced = (*node_status)->sync_now(); !synced)
      spdlog::warn("event=node_status_failed node={} error=\"{}\"", o.node_name, synced.error().message);
  }
  // Routes to the pods of nodes that join, with the kubelet's credentials (its Node's VTEP MAC).
  std::unique_ptr<node::PodNetworkController> pod_network;
  if (runtime) pod_network = start_pod_network(o.pod_network, o.node_name, o.node_ip, *cidrs, o.cluster_cidrs, kubelet_connection);
  AgentConfig agent_config;
  agent_config.node_name = o.node_name;
  agent_config.mode = o.mode;
  agent_config.cluster_cidrs = o.cluster_cidrs;
  agent_config.dns_listen = {o.node_ip + ":53"};
  agent_config.cluster_domain = o.cluster_domain;
  agent_config.healthz_bind_address = o.healthz_bind_address;
  agent_config.metrics_bind_address = o.metrics_bind_address;
  agent_config.cgroup_root = o.cgroup_root;
  agent_config.bpf_root = o.bpf_root;
  agent_config.external_interfaces = o.external_interfaces;
  agent_config.min_sync_period = node::parse_go_duration(o.min_sync_period).value_or(agent_config.min_sync_period);
  agent_config.l2_announcements = !o.control_plane.load_balancer_ip_pool.empty();
  auto agent = NodeAgent::start(agent_config, agent_connection);
  if (!agent) {
    std::cerr << "error: " << agent.error().message << "\n";
    return 1;
  }
  // With a runtime, the kubelet runs this node's Pods on it.
  std::unique_ptr<kubelet::Kubelet> pod_loop;
  if (runtime) {
    kubelet::KubeletOptions k;
    k.node = {.node_name = o.node_name,
              .node_ip = o.node_ip,
              .cluster_dns = dns_ip,
              .cluster_domain = o.cluster_domain,
              .root_dir = o.control_plane.data_dir + "/kubelet"};
    k.local_path_dir = o.control_plane.data_dir + "/storage";
    k.runtime_endpoint = runtime->endpoint();
    k.images_hint = fmt::format("switchyard images import --data-dir {} FILE.tar", o.control_plane.data_dir);
    k.endpoint_handoff_delay = endpoint_handoff_delay(o.endpoint_handoff_delay);
    auto started = kubelet::Kubelet::start(k, kubelet_connection);
    if (!started) {
      std::cerr << "error: kubelet: " << started.error() << "\n";
      (*agent)->stop();
      (*node_status)->stop();
      runtime->stop();
      (*plane)->stop();
      return 1;
    }
    pod_loop = std::move(*started);
  }
  for (int i = 0; i < 300 && !(*agent)->ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!(*agent)->ready()) spdlog::warn("event=agent_not_ready_yet waited_s=30");
  const std::string kc = (*plane)->kubeconfig();
  std::cout << fmt::format(
                   "switchyard up: one-node cluster '{}' ready (API server {}:{}, {} dataplane, DNS {} on {}:53)\n\n"
                   "  export KUBECONFIG={}\n"
                   "  kubectl get services -A\n"
                   "  dig @{} kube-dns.kube-system.svc.{} +short          # answers {}\n\n"
                   "Services get cluster IPs from {}; {} e.g. a server on this host at {}.\n"
                   "`switchyard status --mode {}{}` shows what the kernel\n"
                   "holds. Ctrl-C stops everything and leaves the rules in place;\n"
                   "`switchyard agent --cleanup --node-name {} --mode {}{}` removes them.\n",
                   o.node_name, (*plane)->listen_host(), (*plane)->port(), o.mode, dns_ip, o.node_ip, kc, dns_ip, o.cluster_domain, dns_ip,
                   o.control_plane.service_cidr,
                   runtime ? "their endpoints are the Pods they select (`kubectl run`, `kubectl expose`), or an EndpointSlice's,"
                           : "give them endpoints with an EndpointSlice (no container runtime: no Pods run),",
                   o.node_ip, o.mode, o.mode == "ebpf" ? fmt::format(" --bpf-root {}", o.bpf_root) : "", o.node_name, o.mode, ebpf_flags(o))
            << std::flush;
  if (runtime)
    std::cout << fmt::format(
                     "\nContainer runtime: {} {} at {}{} ({} images imported); `switchyard images import --data-dir {} FILE` adds more.\n"
                     "The kubelet runs this node's Pods on it.\n",
                     runtime->version().runtime_name, runtime->version().runtime_version, runtime->endpoint(),
                     runtime->ours() ? ", run by switchyard, pods in " + o.runtime.pod_cidr : "", runtime->images_imported(),
                     o.control_plane.data_dir)
              << std::flush;
  std::cout << fmt::format("\nThe kubernetes Service (https://{}/) reaches the API server at {}:{}.\n", (*plane)->service_ip(0),
                           (*plane)->advertise_address(), (*plane)->port());
  std::cout << fmt::format(
      "\nTo add a node, run on it (the token expires at {}):\n\n"
      "  switchyard join --server {} --token {} --ca-cert-hash {} --data-dir DIR --run-containerd\n",
      join->expiration, join_server, join->token, join->ca_cert_hash);
  if (!o.control_plane.load_balancer_ip_pool.empty())
    std::cout << fmt::format("LoadBalancer Services get addresses from {}; this node answers ARP for them on its links in their subnet.\n",
                             o.control_plane.load_balancer_ip_pool);
  std::cout << std::flush;
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("event=up_stopping signal={} rules=kept", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  if (kubelet_endpoint) kubelet_endpoint->stop();
  if (pod_loop) pod_loop->stop();        // the pods keep running: the next start adopts them
  if (pod_network) pod_network->stop();  // its routes stay: traffic keeps flowing until the next start
  (*agent)->stop();
  (*node_status)->stop();
  if (runtime) runtime->stop();
  (*plane)->stop();
  return 0;
}

}  // namespace

void register_up(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<UpOptions>();
  CLI::App* sub = app.add_subcommand("up", "Run API server, store, controllers, agent and DNS in one process on this host");
  sub->add_option("--data-dir", o->control_plane.data_dir, "directory for the store, certificates and kubeconfig")->required();
  sub->add_option("--mode", o->mode, "dataplane: nftables or ebpf")->check(CLI::IsMember({"ebpf", "nftables"}))->capture_default_str();
  o->control_plane.listen = "0.0.0.0:6443";  // as kube-apiserver's --bind-address: pods and other nodes reach it (authenticated)
  sub->add_option("--listen", o->control_plane.listen, "API server address")->capture_default_str();
  sub->add_option("--advertise-address", o->control_plane.advertise_address,
                  "the API server's address published as the kubernetes Service's endpoint (default: --node-ip)");
  sub->add_option(
      "--load-balancer-ip-pool", o->control_plane.load_balancer_ip_pool,
      "addresses for LoadBalancer Services: IPv4 and IPv6 CIDRs and FIRST-LAST ranges, comma-separated (default: none, they stay "
      "pending)");
  sub->add_flag("!--no-controllers", o->control_plane.run_controllers,
                "do not run the controllers in-process (run `switchyard controller-manager --kubeconfig DIR/kubeconfig "
                "--enable-node-dns-endpoints` instead)");
  sub->add_option("--encryption-provider-config", o->control_plane.encryption_provider_config,
                  "the API server's EncryptionConfiguration file: resources encrypted at rest and their providers");
  sub->add_option("--service-account-signing-key-file", o->control_plane.service_account_signing_key_file,
                  "private key (PEM) that signs service-account tokens; default: DIR/pki/sa.key, made at first start");
  sub->add_option("--service-account-key-file", o->control_plane.service_account_key_files,
                  "more public keys (PEM) that verify service-account tokens; repeatable");
  sub->add_option("--service-account-issuer", o->control_plane.service_account_issuer, "the iss of service-account tokens")
      ->capture_default_str();
  sub->add_option("--service-cidr", o->control_plane.service_cidr,
                  "ClusterIP range; two of different families (comma-separated) for dual-stack Services")
      ->capture_default_str();
  sub->add_option("--node-monitor-grace-period", o->control_plane.node_monitor_grace_period_seconds,
                  "seconds without a Lease renewal or Ready heartbeat before a node is Ready=Unknown and tainted unreachable")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--cluster-cidr", o->cluster_cidrs,
                  "pod CIDRs (one, or one IPv4 and one IPv6): each Node's podCIDR comes from them, and traffic from outside them is "
                  "masqueraded")
      ->delimiter(',');
  sub->add_option("--node-cidr-mask-size", o->control_plane.node_cidr_mask_size,
                  "the mask size of each Node's podCIDR, single-stack (default 24 for IPv4, 64 for IPv6)");
  sub->add_option("--node-cidr-mask-size-ipv4", o->control_plane.node_cidr_mask_size_ipv4,
                  "the mask size of each Node's IPv4 podCIDR (default 24)");
  sub->add_option("--node-cidr-mask-size-ipv6", o->control_plane.node_cidr_mask_size_ipv6,
                  "the mask size of each Node's IPv6 podCIDR (default 64)");
  add_pod_network_flag(sub, o->pod_network);
  sub->add_option("--node-name", o->node_name, "this node's name (default: the host name)");
  sub->add_option("--node-ip", o->node_ip, "this node's address, where cluster DNS is served (default: the first global IPv4)");
  sub->add_option("--cluster-domain", o->cluster_domain, "the cluster DNS domain")->capture_default_str();
  sub->add_option("--healthz-bind-address", o->healthz_bind_address, "the agent's /healthz (\"\" to disable)")->capture_default_str();
  sub->add_option("--metrics-bind-address", o->metrics_bind_address, "the agent's /metrics (\"\" to disable)")->capture_default_str();
  sub->add_option("--cgroup-root", o->cgroup_root,
                  "eBPF: the cgroup whose sockets get ClusterIP load balancing (default: the cgroup v2 root)");
  sub->add_option("--bpf-root", o->bpf_root, "eBPF: where maps and links are pinned, under <dir>/<node name>")->capture_default_str();
  sub->add_option("--external-interfaces", o->external_interfaces,
                  "eBPF: interfaces whose traffic from outside gets NodePort, LoadBalancer and external IPs (comma-separated; "
                  "default: those carrying the node's addresses and default route, followed as they change)")
      ->delimiter(',');
  sub->add_flag("--run-containerd", o->runtime.run_containerd,
                "run and supervise this node's own containerd under <data-dir>/containerd (CRI socket containerd.sock there)");
  sub->add_option("--container-runtime-endpoint", o->runtime.endpoint, "use this CRI socket instead of running containerd");
  sub->add_option("--images-dir", o->runtime.images_dir,
                  "import every image archive (.tar) in this directory at start (implies a runtime)");
  sub->add_option("--pod-cidr", o->runtime.pod_cidr,
                  "this node's pod range for containerd's CNI (default: the Node's spec.podCIDR, from the node IPAM controller)");
  add_endpoint_handoff_flag(sub, o->endpoint_handoff_delay);
  sub->add_option("--min-sync-period", o->min_sync_period, "the agent's shortest time between dataplane syncs (Go duration)")
      ->check([](const std::string& v) {
        auto d = node::parse_go_duration(v);
        return d ? std::string() : d.error().message;
      })
      ->capture_default_str();
  sub->add_option("--kubelet-certificate-authority", o->control_plane.kubelet_certificate_authority,
                  "check kubelets' serving certificates against this CA (DIR/pki/ca.crt signs the in-process kubelet's; "
                  "default: not checked, as kube-apiserver)");
  sub->add_option("--kubelet-port", o->kubelet_port, "the kubelet's HTTPS port on --node-ip (logs, exec, port-forward)")
      ->capture_default_str();
  sub->add_option("--token-ttl", o->token_ttl, "the lifetime of the printed join token (Go duration)")
      ->check([](const std::string& v) {
        auto d = node::parse_go_duration(v);
        return d ? std::string() : d.error().message;
      })
      ->capture_default_str();
  sub->callback([&run, o] { run = [o] { return run_up(*o); }; });
}

}  // namespace switchyard::cmd
