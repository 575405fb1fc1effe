#include "bench/packet/bench_cluster.h"

#include "orchestrator/api/defaults.h"

namespace switchyard::bench {
namespace {

constexpr const char* kNamespace = "bench";

std::string dotted(int a, std::uint32_t rest) {
  return std::to_string(a) + "." + std::to_string((rest >> 16) & 255) + "." + std::to_string((rest >> 8) & 255) + "." +
         std::to_string(rest & 255);
}

// 10.96.0.0/12 as a real cluster's service CIDR.
std::string cluster_ip(int index) { return dotted(10, (96u << 16) + static_cast<std::uint32_t>(index) + 1); }
// Filler endpoints: 11.0.0.0/8, never routed.
std::string filler_ip(int index) { return dotted(11, static_cast<std::uint32_t>(index) + 1); }

struct PortSpec {
  std::string name, protocol;
  int port, target, node_port;
};

api::Service service(const std::string& name, const std::string& ip, const std::vector<PortSpec>& ports) {
  api::Service s;
  s.metadata.name = name;
  s.metadata.namespace_ = kNamespace;
  s.spec.selector = {{"app", name}};
  s.spec.cluster_ip = ip;
  for (const auto& p : ports) {
    s.spec.ports.push_back(api::ServicePort{
        .name = p.name, .protocol = p.protocol, .port = p.port, .target_port = api::IntOrString::of(p.target), .node_port = p.node_port});
    if (p.node_port != 0) s.spec.type = "NodePort";
  }
  api::apply_defaults(s, {});
  return s;
}

api::EndpointSlice slice(const std::string& name, const std::vector<std::string>& ips, const std::vector<PortSpec>& ports) {
  api::EndpointSlice s;
  s.metadata.name = name + "-1";
  s.metadata.namespace_ = kNamespace;
  s.metadata.labels = {{endpoints::kServiceNameLabel, name}};
  s.address_type = "IPv4";
  for (const auto& ip : ips) {
    api::SliceEndpoint e;
    e.addresses = {ip};
    e.node_name = "node-b";
    e.conditions.ready = true;
    s.endpoints.push_back(e);
  }
  for (const auto& p : ports) s.ports.push_back(api::SlicePort{.name = p.name, .protocol = p.protocol, .port = p.target});
  return s;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void add_kube_proxy_ports(std::vector<KubeProxyServicePort>& out, const std::string& name, const std::string& ip,
                          const std::vector<PortSpec>& ports, const std::vector<std::string>& ips) {
  for (const auto& p : ports) {
    KubeProxyServicePort k{.namespace_ = kNamespace,
                           .name = name,
                           .port_name = p.name,
                           .protocol = lower(p.protocol),
                           .cluster_ip = ip,
                           .port = p.port,
                           .node_port = p.node_port,
                           .endpoints = {}};
    for (const auto& e : ips) k.endpoints.push_back({e, p.target});
    out.push_back(std::move(k));
  }
}

}  // namespace

BenchCluster::BenchCluster(int services, int endpoints_per_service, const std::vector<std::string>& pod_ips) {
  endpoints::ClusterState state({.node_name = "node-a"});
  const std::vector<PortSpec> filler_ports = {{"http", "TCP", 80, 8080, 0}};
  target_.cluster_ip = cluster_ip(services - 1);
  const std::vector<PortSpec> target_ports = {{"crr", "TCP", target_.crr_port, 8080, target_.crr_node_port},
                                              {"bulk", "TCP", target_.bulk_port, 5201, 0},
                                              {"udp", "UDP", target_.udp_port, 9000, 0}};
  std::vector<std::vector<std::string>> endpoint_ips(static_cast<std::size_t>(services));
  for (int s = 0; s < services; ++s) {
    const bool is_target = s == services - 1;
    const std::string name = is_target ? "target" : "svc" + std::to_string(s);
    auto& ips = endpoint_ips[static_cast<std::size_t>(s)];
    if (is_target)
      ips = pod_ips;
    else
      for (int e = 0; e < endpoints_per_service; ++e) ips.push_back(filler_ip(s * endpoints_per_service + e));
    const auto& ports = is_target ? target_ports : filler_ports;
    state.upsert(service(name, cluster_ip(s), ports));
    state.upsert(slice(name, ips, ports));
    add_kube_proxy_ports(ports_, name, cluster_ip(s), ports, ips);
  }
  snapshot_ = state.build();

  // One endpoint change in the middle of the table (N = 1: the target, after its traffic ran).
  const int changed = services / 2;
  const bool is_target = changed == services - 1;
  const std::string name = is_target ? "target" : "svc" + std::to_string(changed);
  const auto& ports = is_target ? target_ports : filler_ports;
  auto ips = endpoint_ips[static_cast<std::size_t>(changed)];
  ips.front() = filler_ip(5'000'000);
  state.upsert(slice(name, ips, ports));
  changed_snapshot_ = state.build();
  changed_ports_ = ports_;
  for (std::size_t i = 0; i < ports_.size(); ++i)
    if (ports_[i].name == name) {
      changed_index_ = i;  // the first port of that service
      removed_ = ports_[i].endpoints.front();
      changed_ports_[i].endpoints.front().ip = ips.front();
      break;
    }
}

std::string BenchCluster::kube_proxy_partial() const {
  return kube_proxy_partial_restore(changed_ports_, changed_ports_[changed_index_], {removed_}, "10.244.0.0/16");
}

}  // namespace switchyard::bench
