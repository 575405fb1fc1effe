#include "orchestrator/scheduler/node_info.h"

#include <algorithm>

namespace switchyard::scheduler {

void NodeInfo::set_node(std::shared_ptr<const api::Node> n) {
  node = std::move(n);
  allocatable = parse_allocatable(node->allocatable);
  unschedulable = node->unschedulable;
  tainted = !node->taints.empty();
}

void NodeInfo::add_pod(PodInfoPtr pod) {
  requested.add(pod->requests);
  non_zero_requested.add(pod->non_zero_requests);
  for (const auto& p : pod->host_ports) used_ports.push_back(p);
  if (pod->has_pod_affinity()) ++pods_with_affinity;
  pods.push_back(std::move(pod));
}

bool NodeInfo::remove_pod(const std::string& key) {
  auto it = std::find_if(pods.begin(), pods.end(), [&](const PodInfoPtr& p) { return p->key == key; });
  if (it == pods.end()) return false;
  const PodInfoPtr pod = *it;
  *it = std::move(pods.back());
  pods.pop_back();
  requested.subtract(pod->requests);
  non_zero_requested.subtract(pod->non_zero_requests);
  for (const auto& p : pod->host_ports) {
    auto u = std::find_if(used_ports.begin(), used_ports.end(),
                          [&](const HostPort& q) { return q.ip == p.ip && q.protocol == p.protocol && q.port == p.port; });
    if (u != used_ports.end()) used_ports.erase(u);
  }
  if (pod->has_pod_affinity()) --pods_with_affinity;
  return true;
}

bool NodeInfo::port_in_use(const HostPort& port) const {
  auto wildcard = [](const std::string& ip) { return ip.empty() || ip == "0.0.0.0" || ip == "::"; };
  for (const auto& u : used_ports)
    if (u.port == port.port && u.protocol == port.protocol && (u.ip == port.ip || wildcard(u.ip) || wildcard(port.ip))) return true;
  return false;
}

}  // namespace switchyard::scheduler
