// Test helpers: Services and EndpointSlices as the API would hold them, fed through
// ClusterState to get the Snapshots a backend consumes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "endpoints/node/snapshot.h"
#include "orchestrator/api/defaults.h"

namespace switchyard::dataplane::test_cluster {

inline api::Service service(std::string name, std::string cluster_ip, std::int32_t port = 80, std::int32_t target = 8080) {
  api::Service s;
  s.metadata.name = std::move(name);
  s.metadata.namespace_ = "shop";
  s.spec.selector = {{"app", s.metadata.name}};
  s.spec.cluster_ip = std::move(cluster_ip);
  s.spec.ports = {api::ServicePort{.name = "http", .port = port, .target_port = api::IntOrString::of(target)}};
  api::apply_defaults(s, {});
  return s;
}

inline api::Service node_port_service(std::string name, std::string cluster_ip, std::int32_t node_port) {
  auto s = service(std::move(name), std::move(cluster_ip));
  s.spec.type = "NodePort";
  s.spec.ports[0].node_port = node_port;
  return s;
}

// One ready endpoint per (ip, node) pair, all on port `target`.
inline api::EndpointSlice slice(const std::string& svc, const std::vector<std::pair<std::string, std::string>>& ip_node,
                                std::int32_t target = 8080, std::string family = "IPv4") {
  api::EndpointSlice s;
  s.metadata.name = svc + (family == "IPv4" ? "-1" : "-v6");
  s.metadata.namespace_ = "shop";
  s.metadata.labels = {{endpoints::kServiceNameLabel, svc}};
  s.address_type = std::move(family);
  for (const auto& [ip, node] : ip_node) {
    api::SliceEndpoint e;
    e.addresses = {ip};
    e.node_name = node;
    e.conditions.ready = true;
    s.endpoints.push_back(e);
  }
  s.ports = {api::SlicePort{.name = "http", .protocol = "TCP", .port = target}};
  return s;
}

// Dual-stack: IPv4 first.
inline api::Service dual_stack(api::Service s, std::string ipv6_cluster_ip) {
  s.spec.cluster_ips = {s.spec.cluster_ip, std::move(ipv6_cluster_ip)};
  s.spec.ip_families = {"IPv4", "IPv6"};
  s.spec.ip_family_policy = "RequireDualStack";
  return s;
}

inline endpoints::ServicePortName http_port(const std::string& svc) { return {"shop", svc, "http", "TCP"}; }

}  // namespace switchyard::dataplane::test_cluster
