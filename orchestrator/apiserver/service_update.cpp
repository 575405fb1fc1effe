#include "orchestrator/apiserver/service_update.h"

#include <algorithm>
#include <set>

namespace switchyard::apiserver {
namespace {

bool needs_cluster_ip(const api::ServiceSpec& s) { return s.type != "ExternalName"; }
bool needs_node_port(const api::ServiceSpec& s) { return s.type == "NodePort" || s.type == "LoadBalancer"; }
bool needs_health_check_node_port(const api::ServiceSpec& s) { return s.type == "LoadBalancer" && s.external_traffic_policy == "Local"; }
bool needs_external_traffic_policy(const api::ServiceSpec& s) { return needs_node_port(s); }

std::set<int> node_ports(const api::ServiceSpec& s) {
  std::set<int> out;
  for (const auto& p : s.ports)
    if (p.node_port != 0) out.insert(p.node_port);
  return out;
}

// Ports may be added, removed or changed as long as no node port is new.
bool same_node_ports(const api::ServiceSpec& old, const api::ServiceSpec& s) {
  const auto before = node_ports(old), after = node_ports(s);
  return std::includes(before.begin(), before.end(), after.begin(), after.end());
}

// A client that only knows `clusterIP` and changed it: the plural follows unless it was changed too.
void normalize_cluster_ips(const api::ServiceSpec& old, api::ServiceSpec& s) {
  if (old.cluster_ip == s.cluster_ip || s.cluster_ips != old.cluster_ips) return;
  if (s.cluster_ip.empty())
    s.cluster_ips.clear();
  else
    s.cluster_ips = {s.cluster_ip};
}

void drop_type_dependent_fields(const api::ServiceSpec& old, api::ServiceSpec& s) {
  if (needs_cluster_ip(old) && !needs_cluster_ip(s)) {
    if (s.cluster_ip == old.cluster_ip && s.cluster_ips == old.cluster_ips) {
      s.cluster_ip.clear();  // released by the allocation step
      s.cluster_ips.clear();
    }
    if (s.ip_families == old.ip_families) s.ip_families.clear();
    if (s.ip_family_policy.value_or("") == old.ip_family_policy.value_or("")) s.ip_family_policy.reset();
  }
  if (needs_node_port(old) && !needs_node_port(s) && same_node_ports(old, s))
    for (auto& p : s.ports) p.node_port = 0;
  if (needs_health_check_node_port(old) && !needs_health_check_node_port(s) && s.health_check_node_port == old.health_check_node_port)
    s.health_check_node_port = 0;
  if (old.type == "LoadBalancer" && s.type != "LoadBalancer" && s.allocate_load_balancer_node_ports &&
      old.allocate_load_balancer_node_ports && *s.allocate_load_balancer_node_ports == *old.allocate_load_balancer_node_ports)
    s.allocate_load_balancer_node_ports.reset();
  if (old.type == "LoadBalancer" && s.type != "LoadBalancer" && s.load_balancer_class == old.load_balancer_class)
    s.load_balancer_class.reset();
  if (needs_external_traffic_policy(old) && !needs_external_traffic_policy(s) && s.external_traffic_policy == old.external_traffic_policy)
    s.external_traffic_policy.clear();  // defaulting sets it again if externalIPs keep the Service reachable
}

}  // namespace

void prepare_service_update(const api::Service& old, api::Service& updated) {
  normalize_cluster_ips(old.spec, updated.spec);
  drop_type_dependent_fields(old.spec, updated.spec);
  // A load balancer's address goes with the type: de-provisioning is not the user's concern.
  if (updated.spec.type != "LoadBalancer") updated.status_load_balancer_ingress.clear();
}

}  // namespace switchyard::apiserver
