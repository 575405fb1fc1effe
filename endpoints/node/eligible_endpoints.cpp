#include "endpoints/node/eligible_endpoints.h"

#include <algorithm>
#include <map>
#include <numeric>

namespace switchyard::endpoints {

namespace {

using Indices = std::vector<std::uint32_t>;

template <class Pred>
Indices filter(const EndpointPool& all, const Indices& eps, Pred keep) {
  Indices out;
  for (auto i : eps)
    if (keep(all[i])) out.push_back(i);
  return out;
}

// Hints are used only when every ready endpoint carries one and at least one is for this
// node's zone (or this node): otherwise routing by them could black-hole traffic.
bool can_use_topology(const EndpointPool& all, const Indices& eps, const NodeTopology& node, bool requested) {
  if (!requested) return false;
  bool for_this_node = false;
  for (auto i : eps) {
    const Endpoint& e = all[i];
    if (!e.ready) continue;
    if (e.zone_hints.empty() && e.node_hints.empty()) return false;
    if (!e.node_hints.empty()) {
      if (e.node_hints.contains(node.name)) for_this_node = true;
      continue;
    }
    if (node.zone.empty()) return false;
    if (e.zone_hints.contains(node.zone)) for_this_node = true;
  }
  return for_this_node;
}

bool available_for_topology(const Endpoint& e, const NodeTopology& node) {
  if (!e.node_hints.empty()) return e.node_hints.contains(node.name);
  return e.zone_hints.contains(node.zone);
}

struct Categorized {
  Indices cluster, local, all_reachable;
  bool has_any = false;
};

Categorized categorize(const EndpointPool& all, const Indices& eps, const ServicePortInfo& port, const NodeTopology& node,
                       bool topology_requested) {
  Categorized out;
  bool use_topology = false;
  bool use_serving_terminating = false;

  if (port.uses_cluster_endpoints()) {
    use_topology = can_use_topology(all, eps, node, topology_requested);
    out.cluster = filter(all, eps, [&](const Endpoint& e) { return e.ready && (!use_topology || available_for_topology(e, node)); });
    // No ready endpoint anywhere: fall back to those still serving while they terminate.
    if (out.cluster.empty()) out.cluster = filter(all, eps, [](const Endpoint& e) { return e.serving && e.terminating; });
    out.has_any = !out.cluster.empty();
  }

  if (!port.uses_local_endpoints()) {
    out.all_reachable = out.cluster;
    return out;
  }

  bool local_ready = false, local_serving_terminating = false;
  for (auto i : eps) {
    const Endpoint& e = all[i];
    if (e.ready) {
      out.has_any = true;
      local_ready |= e.local;
    } else if (e.serving && e.terminating) {
      out.has_any = true;
      local_serving_terminating |= e.local;
    }
  }
  if (local_ready) {
    out.local = filter(all, eps, [](const Endpoint& e) { return e.local && e.ready; });
  } else if (local_serving_terminating) {
    use_serving_terminating = true;
    out.local = filter(all, eps, [](const Endpoint& e) { return e.local && e.serving && e.terminating; });
  }

  if (!port.uses_cluster_endpoints()) {
    out.all_reachable = out.local;
    return out;
  }
  if (!use_topology && !use_serving_terminating) {
    out.all_reachable = out.cluster;  // every ready endpoint: a superset of the local ones
    return out;
  }
  // The union in ip:port order (as text), the cluster's entry first when both hold one.
  std::map<std::pair<std::string, std::int32_t>, std::uint32_t> merged;
  for (auto i : out.cluster) merged.emplace(std::pair{all[i].ip.to_string(), all[i].port}, i);
  for (auto i : out.local) merged.emplace(std::pair{all[i].ip.to_string(), all[i].port}, i);
  for (const auto& [_, i] : merged) out.all_reachable.push_back(i);
  return out;
}

}  // namespace

EligibleEndpoints categorize_endpoints(const std::vector<Endpoint>& eps, const ServicePortInfo& port, const NodeTopology& node,
                                       bool topology_requested) {
  Indices every(eps.size());
  std::iota(every.begin(), every.end(), 0u);
  return categorize_endpoints(EndpointPool::of(eps), every, port, node, topology_requested);
}

EligibleEndpoints categorize_endpoints(const std::shared_ptr<const EndpointPool>& pool, const std::vector<std::uint32_t>& family,
                                       const ServicePortInfo& port, const NodeTopology& node, bool topology_requested) {
  Categorized c = categorize(*pool, family, port, node, topology_requested);
  return {EndpointList(pool, std::move(c.cluster)), EndpointList(pool, std::move(c.local)), EndpointList(pool, std::move(c.all_reachable)),
          c.has_any};
}

}  // namespace switchyard::endpoints
