// What the node knows about one service port and its endpoints, trimmed from the API objects
// to what the dataplanes and DNS need, parsed once (binary addresses, interned node, zone and
// hostname). Plain values: a Snapshot shares them immutably.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "endpoints/node/endpoint_list.h"

namespace switchyard::endpoints {

// namespace/name:port-name/protocol, as kube-proxy's ServicePortName.
struct ServicePortName {
  std::string namespace_, name, port, protocol;
  auto operator<=>(const ServicePortName&) const = default;
  std::string to_string() const;  // "ns/name:port" ("ns/name" for an unnamed port), protocol appended when not TCP
};

struct ServiceKey {
  std::string namespace_, name;
  auto operator<=>(const ServiceKey&) const = default;
};

// The endpoints one traffic path may use, after traffic policies, topology and the
// terminating-endpoint fallback (kube-proxy's CategorizeEndpoints), for one IP family.
struct EligibleEndpoints {
  EndpointList cluster;        // for traffic under Cluster policy
  EndpointList local;          // for traffic under Local policy
  EndpointList all_reachable;  // union: what conntrack cleanup must keep
  bool has_any = false;        // any usable endpoint anywhere: else reject
  bool operator==(const EligibleEndpoints&) const = default;
};

struct ServicePortInfo {
  ServicePortName name;
  std::vector<std::string> cluster_ips;  // primary family first
  std::int32_t port = 0;
  std::string protocol;  // TCP | UDP | SCTP
  std::int32_t node_port = 0;
  std::vector<std::string> external_ips;
  std::vector<std::string> load_balancer_ips;  // status ingress IPs with ipMode VIP
  std::vector<std::string> load_balancer_source_ranges;
  std::int32_t health_check_node_port = 0;
  std::optional<std::int32_t> affinity_timeout_seconds;  // set when sessionAffinity is ClientIP
  bool external_policy_local = false;                    // externalTrafficPolicy Local on an externally reachable service
  bool internal_policy_local = false;
  std::string load_balancing;     // service.switchyard.dev/lb-algorithm: "" (random) or "maglev"
  EndpointList endpoints;         // every endpoint of this port, both families, sorted by ip:port (as text)
  EligibleEndpoints ipv4, ipv6;   // computed for this node, in the same pool as `endpoints`
  int local_ready_endpoints = 0;  // what the health-check node port reports

  bool externally_accessible() const { return node_port != 0 || !load_balancer_ips.empty() || !external_ips.empty(); }
  bool uses_cluster_endpoints() const { return !internal_policy_local || externally_accessible(); }
  bool uses_local_endpoints() const { return internal_policy_local || (external_policy_local && externally_accessible()); }
  const EligibleEndpoints& eligible(IpFamily f) const { return f == IpFamily::IPv4 ? ipv4 : ipv6; }
  bool operator==(const ServicePortInfo&) const = default;
};

// A port as DNS SRV records show it.
struct NamedPort {
  std::string name, protocol;
  std::int32_t port = 0;
  bool operator==(const NamedPort&) const = default;
};

// Every Service, proxied or not, as DNS needs it.
struct ServiceInfo {
  ServiceKey key;
  std::string type;  // ClusterIP | NodePort | LoadBalancer | ExternalName
  bool headless = false;
  bool proxied = false;  // false: headless, ExternalName, or another proxy's service
  std::string external_name;
  std::vector<std::string> cluster_ips;
  std::vector<NamedPort> ports;
  bool publish_not_ready_addresses = false;
  EndpointList addresses;                 // one per endpoint IP (their ports mean nothing here), sorted, for headless records
  std::vector<NamedPort> endpoint_ports;  // the slices' ports (target ports), for headless SRV records
  bool operator==(const ServiceInfo&) const = default;
};

}  // namespace switchyard::endpoints
