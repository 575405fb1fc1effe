#include "endpoints/node/cluster_records.h"

#include <algorithm>

#include "endpoints/node/snapshot.h"
#include "orchestrator/api/defaults.h"

namespace switchyard::endpoints {

namespace {

bool topology_requested(const api::Service& s) {
  if (s.spec.traffic_distribution) return true;
  for (const char* key : {"service.kubernetes.io/topology-mode", "service.kubernetes.io/topology-aware-hints"}) {
    auto it = s.metadata.annotations.find(key);
    if (it != s.metadata.annotations.end() && it->second != "" && it->second != "Disabled" && it->second != "disabled") return true;
  }
  return false;
}

}  // namespace

ServiceRecord ServiceRecord::parse(const api::Service& s, const std::string& proxy_name) {
  const api::ServiceSpec& spec = s.spec;
  ServiceRecord r;
  r.type = spec.type.empty() ? "ClusterIP" : spec.type;
  r.external_name = spec.external_name;
  r.headless = api::is_headless(spec);
  if (!r.headless) r.cluster_ips = spec.cluster_ips.empty() && !spec.cluster_ip.empty() ? std::vector{spec.cluster_ip} : spec.cluster_ips;
  const bool node_ports = spec.type == "NodePort" || spec.type == "LoadBalancer";
  r.ports.reserve(spec.ports.size());
  for (const auto& p : spec.ports)
    r.ports.push_back({p.name, p.protocol.empty() ? "TCP" : p.protocol, p.port, node_ports ? p.node_port : 0});
  r.external_ips = spec.external_ips;
  if (spec.type == "LoadBalancer") {
    for (const auto& ing : s.status_load_balancer_ingress)
      if (!ing.ip.empty() && ing.ip_mode.value_or("VIP") == "VIP") r.load_balancer_ips.push_back(ing.ip);
    r.load_balancer_source_ranges = spec.load_balancer_source_ranges;
  }
  if (auto lb = s.metadata.annotations.find(kLoadBalancingAnnotation); lb != s.metadata.annotations.end()) r.load_balancing = lb->second;
  if (spec.session_affinity == "ClientIP")
    r.affinity_timeout_seconds = spec.session_affinity_timeout_seconds.value_or(api::kDefaultClientIpTimeoutSeconds);
  r.external_policy_local = api::externally_accessible(spec) && spec.external_traffic_policy == "Local";
  r.internal_policy_local = spec.internal_traffic_policy.value_or("Cluster") == "Local";
  if (spec.type == "LoadBalancer" && r.external_policy_local) r.health_check_node_port = spec.health_check_node_port;
  r.publish_not_ready_addresses = spec.publish_not_ready_addresses;
  r.topology = topology_requested(s);
  r.proxied = spec.type != "ExternalName" && !r.headless;
  if (auto label = s.metadata.labels.find(kServiceProxyNameLabel); label != s.metadata.labels.end() && label->second != proxy_name)
    r.proxied = false;
  return r;
}

const EndpointPool::Part* SliceRecord::with_port(std::int32_t number) const {
  for (const auto& [n, part] : endpoints)
    if (n == number) return &part;
  return nullptr;
}

namespace {

// One slice endpoint as the node sees it (port 0: set per slice port). kube-proxy uses only
// the first address.
Endpoint to_endpoint(const api::EndpointSlice& slice, const api::SliceEndpoint& e, const std::string& node) {
  Endpoint out;
  if (!e.addresses.empty()) out.ip = IpAddress(e.addresses[0]);
  out.family = slice.address_type == "IPv6" ? IpFamily::IPv6 : IpFamily::IPv4;
  out.ready = e.conditions.ready.value_or(true);
  out.serving = e.conditions.serving.value_or(static_cast<bool>(out.ready));
  out.terminating = e.conditions.terminating.value_or(false);
  out.node_name = e.node_name.value_or("");
  out.local = !node.empty() && out.node_name == node;
  out.zone = e.zone.value_or("");
  out.hostname = e.hostname.value_or("");
  if (e.target_ref && e.target_ref->kind == "Pod") out.pod_name = e.target_ref->name;
  if (e.hints) {
    out.zone_hints = e.hints->for_zones;
    out.node_hints = e.hints->for_nodes;
  }
  return out;
}

}  // namespace

SliceRecord SliceRecord::parse(const api::EndpointSlice& s, const std::string& node_name) {
  SliceRecord r;
  if (auto it = s.metadata.labels.find(kServiceNameLabel); it != s.metadata.labels.end()) r.service = it->second;
  r.fqdn = s.address_type == "FQDN";
  r.ports.reserve(s.ports.size());
  for (const auto& p : s.ports) r.ports.push_back({p.name.value_or(""), p.protocol.value_or("TCP"), p.port});

  // Sorted by address as text (stable: of equal addresses the first stays first), the order
  // of every list the Snapshot makes of them.
  std::vector<std::pair<std::string, Endpoint>> sorted;
  sorted.reserve(s.endpoints.size());
  for (const auto& e : s.endpoints) {
    if (e.addresses.empty()) continue;
    Endpoint endpoint = to_endpoint(s, e, node_name);
    if (endpoint.ip.valid()) sorted.emplace_back(endpoint.ip.to_string(), std::move(endpoint));  // not an address: nothing could reach it
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::int32_t> numbers;
  for (const auto& p : r.ports)
    if (p.port && std::find(numbers.begin(), numbers.end(), *p.port) == numbers.end()) numbers.push_back(*p.port);
  if (numbers.empty()) numbers.push_back(0);
  r.endpoints.reserve(numbers.size());
  for (std::int32_t n : numbers) {
    std::vector<Endpoint> part;
    part.reserve(sorted.size());
    for (const auto& [_, e] : sorted) {
      part.push_back(e);
      part.back().port = n;
    }
    r.endpoints.emplace_back(n, std::make_shared<const std::vector<Endpoint>>(std::move(part)));
  }
  return r;
}

}  // namespace switchyard::endpoints
