#include "endpoints/node/service_port.h"

#include <algorithm>
#include <stdexcept>

namespace switchyard::endpoints {

const Endpoint& EndpointList::at(std::size_t i) const {
  if (i >= size()) throw std::out_of_range("EndpointList::at");
  return (*this)[i];
}

void EndpointList::push_back(Endpoint e) {
  if (base_) {
    own_ = *this;
    base_ = nullptr;
    indices_.clear();
  }
  own_.push_back(std::move(e));
}

bool EndpointList::operator==(const EndpointList& o) const {
  if (base_ && base_ == o.base_) return indices_ == o.indices_;
  return size() == o.size() && std::equal(begin(), end(), o.begin());
}

// The copy and the move below list every member: a new member must be added to both (this
// catches it on the project's platform, x86-64 with libstdc++).
static_assert(sizeof(ServicePortInfo) == 704, "ServicePortInfo changed: update its copy and move");

ServicePortInfo::ServicePortInfo(const ServicePortInfo& o) { *this = o; }

ServicePortInfo::ServicePortInfo(ServicePortInfo&& o) noexcept { *this = std::move(o); }

ServicePortInfo& ServicePortInfo::operator=(const ServicePortInfo& o) {
  if (this == &o) return *this;
  name = o.name;
  cluster_ips = o.cluster_ips;
  port = o.port;
  protocol = o.protocol;
  node_port = o.node_port;
  external_ips = o.external_ips;
  load_balancer_ips = o.load_balancer_ips;
  load_balancer_source_ranges = o.load_balancer_source_ranges;
  health_check_node_port = o.health_check_node_port;
  affinity_timeout_seconds = o.affinity_timeout_seconds;
  external_policy_local = o.external_policy_local;
  internal_policy_local = o.internal_policy_local;
  load_balancing = o.load_balancing;
  endpoints = o.endpoints;
  ipv4 = o.ipv4;
  ipv6 = o.ipv6;
  ipv4.rebase(&o.endpoints, &endpoints);
  ipv6.rebase(&o.endpoints, &endpoints);
  local_ready_endpoints = o.local_ready_endpoints;
  return *this;
}

ServicePortInfo& ServicePortInfo::operator=(ServicePortInfo&& o) noexcept {
  if (this == &o) return *this;
  name = std::move(o.name);
  cluster_ips = std::move(o.cluster_ips);
  port = o.port;
  protocol = std::move(o.protocol);
  node_port = o.node_port;
  external_ips = std::move(o.external_ips);
  load_balancer_ips = std::move(o.load_balancer_ips);
  load_balancer_source_ranges = std::move(o.load_balancer_source_ranges);
  health_check_node_port = o.health_check_node_port;
  affinity_timeout_seconds = o.affinity_timeout_seconds;
  external_policy_local = o.external_policy_local;
  internal_policy_local = o.internal_policy_local;
  load_balancing = std::move(o.load_balancing);
  endpoints = std::move(o.endpoints);
  ipv4 = std::move(o.ipv4);
  ipv6 = std::move(o.ipv6);
  ipv4.rebase(&o.endpoints, &endpoints);
  ipv6.rebase(&o.endpoints, &endpoints);
  local_ready_endpoints = o.local_ready_endpoints;
  return *this;
}

}  // namespace switchyard::endpoints
