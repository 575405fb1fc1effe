#include "endpoints/node/eligible_endpoints.h"

#include <algorithm>
#include <map>

namespace switchyard::endpoints {

namespace {

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

template <class Pred>
std::vector<Endpoint> filter(const std::vector<Endpoint>& eps, Pred keep) {
  std::vector<Endpoint> out;
  for (const auto& e : eps)
    if (keep(e)) out.push_back(e);
  return out;
}

// Hints are used only when every ready endpoint carries one and at least one is for this
// node's zone (or this node): otherwise routing by them could black-hole traffic.
bool can_use_topology(const std::vector<Endpoint>& eps, const NodeTopology& node, bool requested) {
  if (!requested) return false;
  bool for_this_node = false;
  for (const auto& e : eps) {
    if (!e.ready) continue;
    if (e.zone_hints.empty() && e.node_hints.empty()) return false;
    if (!e.node_hints.empty()) {
      if (has(e.node_hints, node.name)) for_this_node = true;
      continue;
    }
    if (node.zone.empty()) return false;
    if (has(e.zone_hints, node.zone)) for_this_node = true;
  }
  return for_this_node;
}

bool available_for_topology(const Endpoint& e, const NodeTopology& node) {
  if (!e.node_hints.empty()) return has(e.node_hints, node.name);
  return has(e.zone_hints, node.zone);
}

}  // namespace

EligibleEndpoints categorize_endpoints(const std::vector<Endpoint>& eps, const ServicePortInfo& port, const NodeTopology& node,
                                       bool topology_requested) {
  EligibleEndpoints out;
  bool use_topology = false;
  bool use_serving_terminating = false;

  if (port.uses_cluster_endpoints()) {
    use_topology = can_use_topology(eps, node, topology_requested);
    out.cluster = filter(eps, [&](const Endpoint& e) { return e.ready && (!use_topology || available_for_topology(e, node)); });
    // No ready endpoint anywhere: fall back to those still serving while they terminate.
    if (out.cluster.empty()) out.cluster = filter(eps, [](const Endpoint& e) { return e.serving && e.terminating; });
    out.has_any = !out.cluster.empty();
  }

  if (!port.uses_local_endpoints()) {
    out.all_reachable = out.cluster;
    return out;
  }

  bool local_ready = false, local_serving_terminating = false;
  for (const auto& e : eps) {
    if (e.ready) {
      out.has_any = true;
      local_ready |= e.local;
    } else if (e.serving && e.terminating) {
      out.has_any = true;
      local_serving_terminating |= e.local;
    }
  }
  if (local_ready) {
    out.local = filter(eps, [](const Endpoint& e) { return e.local && e.ready; });
  } else if (local_serving_terminating) {
    use_serving_terminating = true;
    out.local = filter(eps, [](const Endpoint& e) { return e.local && e.serving && e.terminating; });
  }

  if (!port.uses_cluster_endpoints()) {
    out.all_reachable = out.local;
    return out;
  }
  if (!use_topology && !use_serving_terminating) {
    out.all_reachable = out.cluster;  // every ready endpoint: a superset of the local ones
    return out;
  }
  std::map<std::pair<std::string, std::int32_t>, Endpoint> merged;
  for (const auto& e : out.cluster) merged.emplace(std::pair{e.ip, e.port}, e);
  for (const auto& e : out.local) merged.emplace(std::pair{e.ip, e.port}, e);
  for (auto& [_, e] : merged) out.all_reachable.push_back(std::move(e));
  return out;
}

}  // namespace switchyard::endpoints
