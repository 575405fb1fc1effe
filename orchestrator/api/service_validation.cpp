// ValidateService (pkg/apis/core/validation) plus the registry's IP-family and node-port checks,
// in the order the real API server evaluates them.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "orchestrator/api/validation.h"

namespace switchyard::api {

namespace {

const FieldPath kSpec("spec");

void add_each(FieldErrors& errs, const FieldPath& p, const std::string& value, const Problems& problems) {
  for (const auto& msg : problems) errs.push_back(invalid(p, go_quoted(value), msg));
}

// Go's %#v of the key validation uses to find duplicate ports.
std::string duplicate_port_key(const ServicePort& p) {
  return fmt::format(
      "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{}, "
      "TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
      go_quoted(p.protocol), p.port);
}

std::string family_of(const std::string& ip) { return is_ipv4(ip) ? "IPv4" : is_ipv6(ip) ? "IPv6" : ""; }

void validate_port(FieldErrors& errs, const ServicePort& port, bool require_name, std::set<std::string>& names, const FieldPath& p) {
  if (require_name && port.name.empty())
    errs.push_back(required(p.child("name")));
  else if (!port.name.empty()) {
    add_each(errs, p.child("name"), port.name, dns1123_label(port.name));
    if (!names.insert(port.name).second) errs.push_back(duplicate(p.child("name"), go_quoted(port.name)));
  }
  for (const auto& msg : port_number(port.port)) errs.push_back(invalid(p.child("port"), rendered(port.port), msg));
  if (port.protocol.empty())
    errs.push_back(required(p.child("protocol")));
  else if (port.protocol != "TCP" && port.protocol != "UDP" && port.protocol != "SCTP")
    errs.push_back(not_supported(p.child("protocol"), go_quoted(port.protocol), {"SCTP", "TCP", "UDP"}));
  if (port.target_port.is_string) {
    for (const auto& msg : api::port_name(port.target_port.string_value))
      errs.push_back(invalid(p.child("targetPort"), go_quoted(port.target_port.string_value), msg));
  } else {
    for (const auto& msg : port_number(port.target_port.int_value))
      errs.push_back(invalid(p.child("targetPort"), rendered(port.target_port.int_value), msg));
  }
  if (port.app_protocol) add_each(errs, p.child("appProtocol"), *port.app_protocol, qualified_name(*port.app_protocol));
}

void validate_session_affinity(FieldErrors& errs, const ServiceSpec& s) {
  const FieldPath cfg = kSpec.child("sessionAffinityConfig");
  if (s.session_affinity.empty())
    errs.push_back(required(kSpec.child("sessionAffinity")));
  else if (s.session_affinity != "ClientIP" && s.session_affinity != "None")
    errs.push_back(not_supported(kSpec.child("sessionAffinity"), go_quoted(s.session_affinity), {"ClientIP", "None"}));
  if (s.session_affinity == "ClientIP") {
    const FieldPath timeout = cfg.child("clientIP").child("timeoutSeconds");
    if (!s.session_affinity_timeout_seconds)
      errs.push_back(required(timeout, "when session affinity type is ClientIP"));
    else if (*s.session_affinity_timeout_seconds <= 0 || *s.session_affinity_timeout_seconds > 86400)
      errs.push_back(invalid(timeout, rendered(*s.session_affinity_timeout_seconds), "must be greater than 0 and less than 86400"));
  } else if (s.session_affinity == "None" && s.session_affinity_timeout_seconds) {
    errs.push_back(forbidden(cfg, "must not be set when session affinity is None"));
  }
}

// ValidateServiceClusterIPsRelatedFields (skipped for ExternalName).
void validate_cluster_ips(FieldErrors& errs, const ServiceSpec& s) {
  const FieldPath ips = kSpec.child("clusterIPs");
  if (!s.cluster_ip.empty() && s.cluster_ips.empty())
    errs.push_back(required(ips));
  else if (!s.cluster_ip.empty() && s.cluster_ips[0] != s.cluster_ip)
    errs.push_back(invalid(ips, go_string_slice(s.cluster_ips), "first value must match `clusterIP`"));
  else if (s.cluster_ip.empty() && !s.cluster_ips.empty())
    errs.push_back(invalid(ips, go_string_slice(s.cluster_ips), "must be empty when `clusterIP` is not specified"));
  std::set<std::string> families;
  for (std::size_t i = 0; i < s.ip_families.size(); ++i) {
    const auto& f = s.ip_families[i];
    if (f != "IPv4" && f != "IPv6") errs.push_back(not_supported(kSpec.child("ipFamilies").index(i), go_quoted(f), {"IPv4", "IPv6"}));
    if (!families.insert(f).second) errs.push_back(duplicate(kSpec.child("ipFamilies").index(i), go_quoted(f)));
  }
  if (s.ip_family_policy && *s.ip_family_policy != "SingleStack" && *s.ip_family_policy != "PreferDualStack" &&
      *s.ip_family_policy != "RequireDualStack")
    errs.push_back(not_supported(kSpec.child("ipFamilyPolicy"), go_quoted(*s.ip_family_policy),
                                 {"PreferDualStack", "RequireDualStack", "SingleStack"}));
  bool bad_ips = false;
  if (!s.cluster_ips.empty() && s.cluster_ips[0] == "None" && s.cluster_ips.size() > 1) {
    errs.push_back(invalid(ips, go_string_slice(s.cluster_ips), "'None' must be the first and only value"));
    bad_ips = true;
  }
  for (std::size_t i = 0; i < s.cluster_ips.size(); ++i) {
    if (i == 0 && s.cluster_ips[0] == "None") continue;
    if (family_of(s.cluster_ips[i]).empty()) {
      errs.push_back(invalid(ips.index(i), go_quoted(s.cluster_ips[i]), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
      bad_ips = true;
    }
  }
  if (s.cluster_ips.size() > 2) {
    errs.push_back(invalid(ips, go_string_slice(s.cluster_ips), "may only hold up to 2 values"));
    bad_ips = true;
  }
  if (bad_ips) return;
  if (s.cluster_ips.size() == 2 && family_of(s.cluster_ips[0]) == family_of(s.cluster_ips[1]))
    errs.push_back(invalid(ips, go_string_slice(s.cluster_ips), "may specify no more than one IP for each IP family"));
  if (!is_headless(s)) {
    for (std::size_t i = 0; i < s.ip_families.size() && i < s.cluster_ips.size(); ++i) {
      const auto& want = s.ip_families[i];
      if ((want == "IPv4" || want == "IPv6") && family_of(s.cluster_ips[i]) != want)
        errs.push_back(invalid(ips.index(i), go_quoted(s.cluster_ips[i]),
                               fmt::format("expected an {} value as indicated by `ipFamilies[{}]`", want, i)));
    }
  }
}

// The registry's checks of families against what the cluster is configured for.
void validate_families_against_cluster(FieldErrors& errs, const ServiceSpec& s, const ClusterNetworkConfig& net) {
  if (s.type == "ExternalName" || !s.ip_family_policy) return;
  const auto& policy = *s.ip_family_policy;
  if (policy == "SingleStack" && s.cluster_ips.size() == 2)
    errs.push_back(invalid(kSpec.child("ipFamilyPolicy"), go_quoted(policy),
                           "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"));
  else if (policy == "SingleStack" && s.ip_families.size() == 2)
    errs.push_back(invalid(kSpec.child("ipFamilyPolicy"), go_quoted(policy),
                           "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"));
  auto configured = [&](const std::string& f) {
    return std::find(net.service_ip_families.begin(), net.service_ip_families.end(), f) != net.service_ip_families.end();
  };
  for (std::size_t i = 0; i < s.cluster_ips.size(); ++i) {
    auto f = family_of(s.cluster_ips[i]);
    if (!f.empty() && !configured(f))
      errs.push_back(invalid(kSpec.child("clusterIPs").index(i), go_string_slice(s.cluster_ips), f + " is not configured on this cluster"));
  }
  if (is_headless(s) && s.selector.empty()) return;  // any family may back a selectorless headless service
  if (policy == "RequireDualStack" && !net.dual_stack())
    errs.push_back(invalid(kSpec.child("ipFamilyPolicy"), go_quoted(policy), "this cluster is not configured for dual-stack services"));
  for (std::size_t i = 0; i < s.ip_families.size(); ++i)
    if ((s.ip_families[i] == "IPv4" || s.ip_families[i] == "IPv6") && !configured(s.ip_families[i]))
      errs.push_back(invalid(kSpec.child("ipFamilies").index(i), go_quoted(s.ip_families[i]), "not configured on this cluster"));
}

void validate_traffic_policies(FieldErrors& errs, const ServiceSpec& s) {
  const bool external = externally_accessible(s);
  const auto& etp = s.external_traffic_policy;
  if (!external && !etp.empty())
    errs.push_back(invalid(kSpec.child("externalTrafficPolicy"), go_quoted(etp), "may only be set for externally-accessible services"));
  if (external && etp.empty())
    errs.push_back(required(kSpec.child("externalTrafficPolicy")));
  else if (external && etp != "Cluster" && etp != "Local")
    errs.push_back(not_supported(kSpec.child("externalTrafficPolicy"), go_quoted(etp), {"Cluster", "Local"}));
  const bool needs_health_check = s.type == "LoadBalancer" && etp == "Local";
  if (!needs_health_check && s.health_check_node_port != 0)
    errs.push_back(invalid(kSpec.child("healthCheckNodePort"), rendered(s.health_check_node_port),
                           "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
  if (needs_health_check && s.health_check_node_port != 0)
    for (const auto& msg : port_number(s.health_check_node_port))
      errs.push_back(invalid(kSpec.child("healthCheckNodePort"), rendered(s.health_check_node_port), msg));
  if (!s.internal_traffic_policy && (s.type == "NodePort" || s.type == "LoadBalancer" || s.type == "ClusterIP"))
    errs.push_back(required(kSpec.child("internalTrafficPolicy")));
  else if (s.internal_traffic_policy && *s.internal_traffic_policy != "Cluster" && *s.internal_traffic_policy != "Local")
    errs.push_back(not_supported(kSpec.child("internalTrafficPolicy"), go_quoted(*s.internal_traffic_policy), {"Cluster", "Local"}));
  if (s.traffic_distribution && *s.traffic_distribution != "PreferClose")
    errs.push_back(not_supported(kSpec.child("trafficDistribution"), go_quoted(*s.traffic_distribution), {"PreferClose"}));
}

}  // namespace

FieldErrors validate(const Service& svc, const ClusterNetworkConfig& net) {
  const ServiceSpec& s = svc.spec;
  FieldErrors errs = validate_object_meta(svc.metadata, true, &name_is_dns1035_label);
  const bool headless = s.cluster_ips.size() == 1 && s.cluster_ips[0] == "None";

  auto mode = svc.metadata.annotations.find("service.kubernetes.io/topology-mode");
  auto hints = svc.metadata.annotations.find("service.kubernetes.io/topology-aware-hints");
  if (mode != svc.metadata.annotations.end() && hints != svc.metadata.annotations.end() && mode->second != hints->second)
    errs.push_back(invalid(FieldPath("metadata").child("annotations").key("service.kubernetes.io/topology-mode"), go_quoted(mode->second),
                           "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified"));

  if (s.ports.empty() && !headless && s.type != "ExternalName") errs.push_back(required(kSpec.child("ports")));
  if (s.type == "LoadBalancer") {
    for (std::size_t i = 0; i < s.ports.size(); ++i)
      if (s.ports[i].port == 10250)
        errs.push_back(
            invalid(kSpec.child("ports").index(i), rendered(10250), "may not expose port 10250 externally since it is used by kubelet"));
    if (headless)
      errs.push_back(invalid(kSpec.child("clusterIPs").index(0), go_quoted("None"), "may not be set to 'None' for LoadBalancer services"));
  } else if (s.type == "NodePort" && headless) {
    errs.push_back(invalid(kSpec.child("clusterIPs").index(0), go_quoted("None"), "may not be set to 'None' for NodePort services"));
  } else if (s.type == "ExternalName") {
    if (!s.cluster_ips.empty()) errs.push_back(forbidden(kSpec.child("clusterIPs"), "may not be set for ExternalName services"));
    if (!s.ip_families.empty()) errs.push_back(forbidden(kSpec.child("ipFamilies"), "may not be set for ExternalName services"));
    if (s.ip_family_policy) errs.push_back(forbidden(kSpec.child("ipFamilyPolicy"), "may not be set for ExternalName services"));
    std::string cname = s.external_name;
    if (cname.ends_with('.')) cname.pop_back();
    if (cname.empty())
      errs.push_back(required(kSpec.child("externalName")));
    else
      add_each(errs, kSpec.child("externalName"), cname, dns1123_subdomain(cname));
  }

  std::set<std::string> names;
  for (std::size_t i = 0; i < s.ports.size(); ++i)
    validate_port(errs, s.ports[i], s.ports.size() > 1, names, kSpec.child("ports").index(i));

  for (const auto& [k, v] : s.selector) {
    add_each(errs, kSpec.child("selector"), k, qualified_name(k));
    add_each(errs, kSpec.child("selector"), v, label_value(v));
  }

  validate_session_affinity(errs, s);
  if (s.type != "ExternalName") validate_cluster_ips(errs, s);

  for (std::size_t i = 0; i < s.external_ips.size(); ++i) {
    const FieldPath p = kSpec.child("externalIPs").index(i);
    if (family_of(s.external_ips[i]).empty())
      errs.push_back(invalid(p, go_quoted(s.external_ips[i]), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
    else
      validate_non_special_ip(errs, p, s.external_ips[i]);
  }

  if (s.type.empty())
    errs.push_back(required(kSpec.child("type")));
  else if (s.type != "ClusterIP" && s.type != "NodePort" && s.type != "LoadBalancer" && s.type != "ExternalName")
    errs.push_back(not_supported(kSpec.child("type"), go_quoted(s.type), {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}));

  std::set<std::pair<std::string, std::int32_t>> node_ports, ports;
  const bool allocates_node_ports = s.type == "NodePort" || s.type == "LoadBalancer";
  for (std::size_t i = 0; i < s.ports.size(); ++i) {
    const ServicePort& p = s.ports[i];
    const FieldPath pp = kSpec.child("ports").index(i);
    if (s.type == "ClusterIP" && p.node_port != 0)
      errs.push_back(forbidden(pp.child("nodePort"), "may not be used when `type` is 'ClusterIP'"));
    if (p.node_port != 0) {
      if (!node_ports.insert({p.protocol, p.node_port}).second) errs.push_back(duplicate(pp.child("nodePort"), rendered(p.node_port)));
      // The node-port allocator's range check, reported on the same path with its own words.
      if (allocates_node_ports && (p.node_port < net.node_port_min || p.node_port > net.node_port_max))
        errs.push_back(invalid(pp.child("nodePort"), rendered(p.node_port),
                               fmt::format("provided port is not in the valid range. The range of valid ports is {}-{}", net.node_port_min,
                                           net.node_port_max)));
    }
    if (!ports.insert({p.protocol, p.port}).second) errs.push_back(duplicate(pp, duplicate_port_key(p)));
  }

  if (!s.load_balancer_source_ranges.empty()) {
    // Kubernetes reports this path with a capital L; kept so that messages match.
    const FieldPath ranges = kSpec.child("LoadBalancerSourceRanges");
    if (s.type != "LoadBalancer") errs.push_back(forbidden(ranges, "may only be used when `type` is 'LoadBalancer'"));
    for (std::size_t i = 0; i < s.load_balancer_source_ranges.size(); ++i) {
      std::string v = s.load_balancer_source_ranges[i];
      while (!v.empty() && v.back() == ' ') v.pop_back();
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      add_each(errs, ranges.index(i), v, cidr(v));
    }
  }
  if (s.allocate_load_balancer_node_ports && s.type != "LoadBalancer")
    errs.push_back(forbidden(kSpec.child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"));
  if (s.load_balancer_class) {
    if (s.type != "LoadBalancer")
      errs.push_back(forbidden(kSpec.child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"));
    else
      add_each(errs, kSpec.child("loadBalancerClass"), *s.load_balancer_class, qualified_name(*s.load_balancer_class));
  }
  validate_traffic_policies(errs, s);
  validate_families_against_cluster(errs, s, net);
  return errs;
}

}  // namespace switchyard::api
