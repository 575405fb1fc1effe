// `switchyard kubelet`: the kubelet alone, for a node of a cluster whose API server runs
// elsewhere: the Pods bound to --node-name run on the CRI runtime at
// --container-runtime-endpoint, or on a containerd of its own under --data-dir (as `up` runs it).
#include <chrono>
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cmd/commands.h"
#include "cmd/kubelet_endpoint.h"
#include "kubelet/kubelet.h"
#include "kubelet/node/cri_runtime_probe.h"
#include "kubelet/node/node_status.h"
#include "kubelet/runtime/node_runtime.h"
#include "node/agent_config.h"
#include "orchestrator/client/cluster_connection.h"

namespace switchyard::cmd {

namespace {

struct KubeletCommandOptions {
  kubelet::KubeletOptions kubelet;
  kubelet::runtime::NodeRuntimeOptions runtime;
  std::string kubeconfig;
  std::string servers;  // --master
  std::string data_dir;
  KubeletEndpointOptions endpoint;
  std::string endpoint_handoff_delay = "1s";
};

int run_kubelet(KubeletCommandOptions o) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  if (o.runtime.endpoint.empty() && o.data_dir.empty()) {
    std::cerr << "error: give --container-runtime-endpoint, or --data-dir to run containerd there\n";
    return 2;
  }
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
  if (!o.data_dir.empty()) {
    o.runtime.node_data_dir = o.data_dir;
    if (o.runtime.endpoint.empty()) o.runtime.run_containerd = true;
    if (o.kubelet.node.root_dir.empty()) o.kubelet.node.root_dir = o.data_dir + "/kubelet";
    if (o.kubelet.images_hint == kubelet::KubeletOptions{}.images_hint)
      o.kubelet.images_hint = fmt::format("switchyard images import --data-dir {} FILE.tar", o.data_dir);
  }
  if (o.kubelet.node.root_dir.empty()) o.kubelet.node.root_dir = "/var/lib/switchyard-kubelet";
  // local-path volumes of this node, as `up` keeps them under its data dir.
  if (o.kubelet.local_path_dir.empty())
    o.kubelet.local_path_dir = o.data_dir.empty() ? o.kubelet.node.root_dir + "/storage" : o.data_dir + "/storage";
  auto runtime = kubelet::runtime::NodeRuntime::start(o.runtime);
  if (!runtime) {
    std::cerr << "error: container runtime: " << runtime.error() << "\n";
    return 1;
  }
  o.kubelet.runtime_endpoint = (*runtime)->endpoint();
  o.kubelet.endpoint_handoff_delay = endpoint_handoff_delay(o.endpoint_handoff_delay);
  auto k = kubelet::Kubelet::start(o.kubelet, *connection);
  if (!k) {
    std::cerr << "error: " << k.error() << "\n";
    (*runtime)->stop();
    return 1;
  }
  // The HTTPS endpoint the API server proxies logs, exec, attach and port-forward to: only with
  // a client CA (it serves nobody else), with the given serving certificate or a self-signed one.
  std::unique_ptr<kubelet::server::KubeletServer> endpoint;
  if (!o.endpoint.client_ca_file.empty()) {
    o.endpoint.node_name = o.kubelet.node.node_name;
    o.endpoint.node_ip = o.kubelet.node.node_ip;
    o.endpoint.runtime_endpoint = (*runtime)->endpoint();
    if (o.endpoint.cert_dir.empty()) o.endpoint.cert_dir = o.kubelet.node.root_dir + "/pki";
    auto started = start_kubelet_endpoint(o.endpoint);
    if (!started) {
      std::cerr << "error: kubelet server: " << started.error() << "\n";
      (*k)->stop();
      (*runtime)->stop();
      return 1;
    }
    endpoint = std::move(*started);
  } else {
    std::cerr << "switchyard kubelet: no --client-ca-file, so no HTTPS endpoint: kubectl logs/exec/port-forward will not reach this node\n";
  }
  // As the kubelet's --register-node: the Node, its status and its Lease, with the runtime's health.
  kubelet::node::NodeStatusOptions status;
  status.node_name = o.kubelet.node.node_name;
  status.node_ip = o.kubelet.node.node_ip;
  status.pod_cidr = o.runtime.pod_cidr;
  status.runtime = kubelet::node::cri_runtime_probe((*runtime)->endpoint());
  status.kubelet_port = endpoint ? endpoint->port() : 0;
  auto reporter = kubelet::node::NodeStatusReporter::start(*connection, std::move(status));
  if (!reporter) {
    std::cerr << "error: node status: " << reporter.error() << "\n";
    (*k)->stop();
    (*runtime)->stop();
    return 1;
  }
  // Our containerd's pod network waits for the Node's podCIDR from the node IPAM controller (the
  // API server's --allocate-node-cidrs), unless --pod-cidr named one.
  if ((*runtime)->ours() && o.runtime.pod_cidr.empty()) {
    auto cidrs = kubelet::node::wait_for_pod_cidrs(*connection, o.kubelet.node.node_name, std::chrono::minutes(5));
    auto configured = cidrs ? (*runtime)->set_pod_cidrs(*cidrs) : Result<void>(fail(cidrs.error()));
    if (!configured) {
      std::cerr << "error: pod network: " << configured.error().message << "\n";
      if (endpoint) endpoint->stop();
      (*k)->stop();
      (*reporter)->stop();
      (*runtime)->stop();
      return 1;
    }
  }
  std::cout << fmt::format("switchyard kubelet: node '{}', runtime {} {} at {}\n", o.kubelet.node.node_name,
                           (*runtime)->version().runtime_name, (*runtime)->version().runtime_version, (*runtime)->endpoint())
            << std::flush;
  int sig = 0;
  sigwait(&signals, &sig);
  if (endpoint) endpoint->stop();
  (*k)->stop();
  (*reporter)->stop();
  (*runtime)->stop();
  return 0;
}

}  // namespace

void add_endpoint_handoff_flag(CLI::App* sub, std::string& text) {
  sub->add_option("--endpoint-handoff-delay", text,
                  "after a gracefully deleted pod's Service endpoints are marked not ready, how long it keeps running before "
                  "preStop and SIGTERM, so that every node's dataplane stops sending it connections first (Go duration; 0 disables)")
      ->check([](const std::string& v) {
        auto d = node::parse_go_duration(v);
        return d ? std::string() : d.error().message;
      })
      ->capture_default_str();
}

std::chrono::milliseconds endpoint_handoff_delay(const std::string& text) {
  return node::parse_go_duration(text).value_or(std::chrono::milliseconds(0));
}

void register_kubelet(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<KubeletCommandOptions>();
  CLI::App* sub = app.add_subcommand("kubelet", "Run this node's Pods on a CRI runtime (containerd)");
  sub->add_option("--node-name", o->kubelet.node.node_name, "the Node whose Pods this kubelet runs")->required();
  sub->add_option("--node-ip", o->kubelet.node.node_ip, "this node's address (status.hostIP, host-network pods' podIP)");
  sub->add_option("--kubeconfig", o->kubeconfig, "the API server and credentials (default: the in-cluster service account)");
  sub->add_option("--master", o->servers, kMasterFlagHelp);
  sub->add_option("--container-runtime-endpoint", o->runtime.endpoint, "the CRI socket of a running runtime");
  sub->add_option("--data-dir", o->data_dir, "run containerd under <dir>/containerd (and keep pod logs under <dir>/kubelet)");
  sub->add_option("--images-dir", o->runtime.images_dir, "import every image archive (.tar) in this directory at start");
  sub->add_option("--pod-cidr", o->runtime.pod_cidr,
                  "this node's pod range, for our containerd's CNI (default: the Node's spec.podCIDR, from the node IPAM controller)");
  sub->add_option("--cluster-dns", o->kubelet.node.cluster_dns, "the cluster DNS Service IP for dnsPolicy ClusterFirst");
  sub->add_option("--cluster-domain", o->kubelet.node.cluster_domain, "the cluster DNS domain")->capture_default_str();
  sub->add_option("--root-dir", o->kubelet.node.root_dir, "where pod logs live: <dir>/pods/<ns>_<name>_<uid>/");
  add_endpoint_handoff_flag(sub, o->endpoint_handoff_delay);
  sub->add_option("--address", o->endpoint.address, "the IP the HTTPS endpoint listens on")->capture_default_str();
  sub->add_option("--port", o->endpoint.port, "the HTTPS endpoint's port (logs, exec, attach, port-forward)")->capture_default_str();
  sub->add_option("--client-ca-file", o->endpoint.client_ca_file,
                  "serve the HTTPS endpoint to clients with a certificate from this CA (the API server's kubelet client certificate)");
  sub->add_option("--tls-cert-file", o->endpoint.tls_cert_file, "the endpoint's serving certificate (default: self-signed, in --cert-dir)");
  sub->add_option("--tls-private-key-file", o->endpoint.tls_key_file, "the key of --tls-cert-file");
  sub->add_option("--cert-dir", o->endpoint.cert_dir, "where a self-signed serving certificate is kept (default: <root-dir>/pki)");
  sub->callback([&run, o] { run = [o] { return run_kubelet(*o); }; });
}

}  // namespace switchyard::cmd
