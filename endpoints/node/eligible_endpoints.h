// Which endpoints a service port may use from this node: traffic policies, topology hints and
// the terminating-endpoint fallback, with kube-proxy's rules (pkg/proxy/topology.go).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "endpoints/node/service_port.h"

namespace switchyard::endpoints {

struct NodeTopology {
  std::string name;
  std::string zone;  // the node's topology.kubernetes.io/zone label, empty when unset
};

// Endpoints of one family only. `topology_requested`: the service asks for topology-aware
// routing (topology-mode Auto, or a trafficDistribution). The lists share a copy of `endpoints`.
EligibleEndpoints categorize_endpoints(const std::vector<Endpoint>& endpoints, const ServicePortInfo& port, const NodeTopology& node,
                                       bool topology_requested);
// The same over the entries `family` of `pool` (one family's endpoints of a port); the lists
// index `pool`.
EligibleEndpoints categorize_endpoints(const std::shared_ptr<const EndpointPool>& pool, const std::vector<std::uint32_t>& family,
                                       const ServicePortInfo& port, const NodeTopology& node, bool topology_requested);

}  // namespace switchyard::endpoints
