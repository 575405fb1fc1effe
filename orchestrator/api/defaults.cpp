#include "orchestrator/api/defaults.h"

#include "orchestrator/api/names.h"

namespace switchyard::api {

bool externally_accessible(const ServiceSpec& s) {
  return s.type == "LoadBalancer" || s.type == "NodePort" || (s.type == "ClusterIP" && !s.external_ips.empty());
}

bool is_headless(const ServiceSpec& s) { return s.cluster_ip == "None" || (!s.cluster_ips.empty() && s.cluster_ips[0] == "None"); }

static std::string family_of(const std::string& ip) {
  if (is_ipv4(ip)) return "IPv4";
  if (is_ipv6(ip)) return "IPv6";
  return {};
}

// The registry's IP-family defaulting (pkg/registry/core/service/storage: initIPFamilyFields).
static void default_ip_families(ServiceSpec& s, const ClusterNetworkConfig& net) {
  if (s.type == "ExternalName") return;  // no cluster IPs, no families
  const bool headless = is_headless(s);
  if (headless && s.selector.empty()) {
    // Headless without a selector: endpoints may be of any family the cluster has.
    if (!s.ip_family_policy) s.ip_family_policy = "RequireDualStack";
    if (s.ip_families.empty()) s.ip_families = net.service_ip_families;
    return;
  }
  if (!s.ip_family_policy && s.ip_families.size() == 2) s.ip_family_policy = "RequireDualStack";
  if (!s.ip_family_policy) s.ip_family_policy = "SingleStack";
  if (s.ip_families.empty() && !headless) {
    for (const auto& ip : s.cluster_ips) {
      auto f = family_of(ip);
      if (!f.empty()) s.ip_families.push_back(f);
    }
  }
  if (s.ip_families.empty()) s.ip_families.push_back(net.service_ip_families.front());
  if (*s.ip_family_policy != "SingleStack" && s.ip_families.size() == 1 && net.dual_stack()) {
    for (const auto& f : net.service_ip_families)
      if (f != s.ip_families[0]) s.ip_families.push_back(f);
  }
}

void apply_defaults(Service& svc, const ClusterNetworkConfig& net) {
  ServiceSpec& s = svc.spec;
  if (s.session_affinity.empty()) s.session_affinity = "None";
  if (s.session_affinity == "None") s.session_affinity_timeout_seconds.reset();
  if (s.session_affinity == "ClientIP" && !s.session_affinity_timeout_seconds)
    s.session_affinity_timeout_seconds = kDefaultClientIpTimeoutSeconds;
  if (s.type.empty()) s.type = "ClusterIP";
  for (auto& p : s.ports) {
    if (p.protocol.empty()) p.protocol = "TCP";
    if (p.target_port.is_zero() || (p.target_port.is_string && p.target_port.string_value.empty())) p.target_port = IntOrString::of(p.port);
  }
  if (externally_accessible(s) && s.external_traffic_policy.empty()) s.external_traffic_policy = "Cluster";
  if (!s.internal_traffic_policy && (s.type == "NodePort" || s.type == "LoadBalancer" || s.type == "ClusterIP"))
    s.internal_traffic_policy = "Cluster";
  if (s.type == "LoadBalancer" && !s.allocate_load_balancer_node_ports) s.allocate_load_balancer_node_ports = true;
  if (s.type == "LoadBalancer")
    for (auto& ing : svc.status_load_balancer_ingress)
      if (!ing.ip.empty() && !ing.ip_mode) ing.ip_mode = "VIP";
  // clusterIP and clusterIPs describe the same thing; fill whichever is missing.
  if (!s.cluster_ip.empty() && s.cluster_ips.empty()) s.cluster_ips = {s.cluster_ip};
  if (s.cluster_ip.empty() && !s.cluster_ips.empty()) s.cluster_ip = s.cluster_ips[0];
  default_ip_families(s, net);
}

static std::string default_pull_policy(const std::string& image) {
  // ":latest" or no tag means Always, as in the real defaulting.
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  bool has_tag = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  bool has_digest = image.find('@') != std::string::npos;
  if (has_digest) return "IfNotPresent";
  if (!has_tag || image.substr(colon + 1) == "latest") return "Always";
  return "IfNotPresent";
}

static void default_container(Container& c) {
  for (auto& p : c.ports)
    if (p.protocol.empty()) p.protocol = "TCP";
  if (c.image_pull_policy.empty()) c.image_pull_policy = default_pull_policy(c.image);
  if (!c.passthrough.contains("terminationMessagePath")) c.passthrough["terminationMessagePath"] = "\"/dev/termination-log\"";
  if (!c.passthrough.contains("terminationMessagePolicy")) c.passthrough["terminationMessagePolicy"] = "\"File\"";
}

void apply_defaults(PodSpec& s) {
  if (s.restart_policy.empty()) s.restart_policy = "Always";
  if (s.dns_policy.empty()) s.dns_policy = "ClusterFirst";
  if (!s.termination_grace_period_seconds) s.termination_grace_period_seconds = 30;
  if (!s.passthrough.contains("schedulerName")) s.passthrough["schedulerName"] = "\"default-scheduler\"";
  if (!s.passthrough.contains("enableServiceLinks")) s.passthrough["enableServiceLinks"] = "true";
  for (auto& c : s.containers) default_container(c);
  for (auto& c : s.init_containers) default_container(c);
}

void apply_defaults(Pod& p) {
  apply_defaults(p.spec);
  if (p.status.phase.empty()) p.status.phase = "Pending";
}

void apply_defaults(Namespace& n) {
  if (n.status_phase.empty()) n.status_phase = "Active";
  // The API server labels every namespace with its own name.
  n.metadata.labels["kubernetes.io/metadata.name"] = n.metadata.name;
}

void apply_defaults(Endpoints& e) {
  for (auto& sub : e.subsets)
    for (auto& port : sub.ports)
      if (port.protocol.empty()) port.protocol = "TCP";
}

void apply_defaults(EndpointSlice& e) {
  for (auto& port : e.ports) {
    if (!port.protocol) port.protocol = "TCP";
    if (!port.name) port.name = "";
  }
}

void apply_defaults(Node&) {}

void apply_defaults(Lease&) {}

void apply_defaults(Event&) {}

void apply_defaults(Object& o, const ClusterNetworkConfig& net) {
  std::visit(
      [&](auto& obj) {
        if constexpr (std::is_same_v<std::decay_t<decltype(obj)>, Service>)
          apply_defaults(obj, net);
        else
          apply_defaults(obj);
      },
      o);
}

}  // namespace switchyard::api
