#include "orchestrator/api/validation.h"

#include <set>

#include <fmt/format.h>

namespace switchyard::api {

std::string go_string_slice(const std::vector<std::string>& v) {
  std::string out = "[]string{";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + go_quoted(v[i]);
  return out + "}";
}

std::string invalid_message(std::string_view group_kind, std::string_view name, const FieldErrors& errors) {
  // ToAggregate drops errors whose message repeats an earlier one.
  FieldErrors unique;
  std::set<std::string> seen;
  for (const auto& e : errors)
    if (seen.insert(e.message()).second) unique.push_back(e);
  std::string head = fmt::format("{} {} is invalid", group_kind, go_quoted(name));
  return unique.empty() ? head : head + ": " + aggregate_message(unique);
}

static void add_each(FieldErrors& errs, const FieldPath& p, const std::string& value, const Problems& problems) {
  for (const auto& msg : problems) errs.push_back(invalid(p, go_quoted(value), msg));
}

static void validate_labels(FieldErrors& errs, const StringMap& labels, const FieldPath& p) {
  for (const auto& [k, v] : labels) {
    add_each(errs, p, k, qualified_name(k));
    add_each(errs, p, v, label_value(v));
  }
}

FieldErrors validate_object_meta(const ObjectMeta& m, bool namespaced, NameValidator name_fn) {
  FieldErrors errs;
  const FieldPath meta("metadata");
  if (!m.generate_name.empty()) add_each(errs, meta.child("generateName"), m.generate_name, name_fn(m.generate_name, true));
  // With only generateName, the server makes the name before it validates: nothing to check yet.
  if (m.name.empty() && m.generate_name.empty())
    errs.push_back(required(meta.child("name"), "name or generateName is required"));
  else if (!m.name.empty())
    add_each(errs, meta.child("name"), m.name, name_fn(m.name, false));
  if (namespaced) {
    if (m.namespace_.empty())
      errs.push_back(required(meta.child("namespace")));
    else
      add_each(errs, meta.child("namespace"), m.namespace_, dns1123_label(m.namespace_));
  } else if (!m.namespace_.empty()) {
    errs.push_back(forbidden(meta.child("namespace"), "not allowed on this type"));
  }
  if (m.generation < 0) errs.push_back(invalid(meta.child("generation"), rendered(m.generation), "must be greater than or equal to 0"));
  validate_labels(errs, m.labels, meta.child("labels"));
  std::size_t annotation_bytes = 0;
  for (const auto& [k, v] : m.annotations) {
    std::string lower = k;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    add_each(errs, meta.child("annotations"), k, qualified_name(lower));
    annotation_bytes += k.size() + v.size();
  }
  if (annotation_bytes > 256 * 1024) {
    FieldError e = too_long(meta.child("annotations"), "", 256 * 1024);
    e.detail = "must have at most 262144 bytes";
    errs.push_back(e);
  }
  for (std::size_t i = 0; i < m.owner_references.size(); ++i) {
    const auto& o = m.owner_references[i];
    const FieldPath p = meta.child("ownerReferences").index(i);
    if (o.api_version.empty()) errs.push_back(invalid(p.child("apiVersion"), go_quoted(o.api_version), "version must not be empty"));
    if (o.kind.empty()) errs.push_back(invalid(p.child("kind"), go_quoted(o.kind), "kind must not be empty"));
    if (o.name.empty()) errs.push_back(invalid(p.child("name"), go_quoted(o.name), "name must not be empty"));
    if (o.uid.empty()) errs.push_back(invalid(p.child("uid"), go_quoted(o.uid), "uid must not be empty"));
  }
  for (std::size_t i = 0; i < m.finalizers.size(); ++i)
    add_each(errs, meta.child("finalizers").index(i), m.finalizers[i], qualified_name(m.finalizers[i]));
  return errs;
}

FieldErrors validate(const Namespace& o) {
  FieldErrors errs = validate_object_meta(o.metadata, false, &name_is_dns1123_label);
  for (std::size_t i = 0; i < o.spec_finalizers.size(); ++i)
    add_each(errs, FieldPath("spec").child("finalizers").index(i), o.spec_finalizers[i], qualified_name(o.spec_finalizers[i]));
  return errs;
}

static void validate_protocol(FieldErrors& errs, const FieldPath& p, const std::string& protocol) {
  if (protocol.empty())
    errs.push_back(required(p));
  else if (protocol != "TCP" && protocol != "UDP" && protocol != "SCTP")
    errs.push_back(not_supported(p, go_quoted(protocol), {"SCTP", "TCP", "UDP"}));
}

static void validate_containers(FieldErrors& errs, const std::vector<Container>& cs, const FieldPath& p, std::set<std::string>& names) {
  for (std::size_t i = 0; i < cs.size(); ++i) {
    const Container& c = cs[i];
    const FieldPath cp = p.index(i);
    if (c.name.empty())
      errs.push_back(required(cp.child("name")));
    else {
      add_each(errs, cp.child("name"), c.name, dns1123_label(c.name));
      if (!names.insert(c.name).second) errs.push_back(duplicate(cp.child("name"), go_quoted(c.name)));
    }
    if (c.image.empty()) errs.push_back(required(cp.child("image")));
    std::set<std::string> port_names;
    for (std::size_t k = 0; k < c.ports.size(); ++k) {
      const ContainerPort& port = c.ports[k];
      const FieldPath pp = cp.child("ports").index(k);
      if (!port.name.empty()) {
        for (const auto& msg : port_name(port.name)) errs.push_back(invalid(pp.child("name"), go_quoted(port.name), msg));
        if (!port_names.insert(port.name).second) errs.push_back(duplicate(pp.child("name"), go_quoted(port.name)));
      }
      if (port.container_port == 0)
        errs.push_back(required(pp.child("containerPort")));
      else
        for (const auto& msg : port_number(port.container_port))
          errs.push_back(invalid(pp.child("containerPort"), rendered(port.container_port), msg));
      if (port.host_port != 0)
        for (const auto& msg : port_number(port.host_port)) errs.push_back(invalid(pp.child("hostPort"), rendered(port.host_port), msg));
      validate_protocol(errs, pp.child("protocol"), port.protocol);
    }
  }
}

FieldErrors validate(const Pod& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  const FieldPath spec("spec");
  std::set<std::string> names;
  if (o.spec.containers.empty()) errs.push_back(required(spec.child("containers")));
  validate_containers(errs, o.spec.init_containers, spec.child("initContainers"), names);
  validate_containers(errs, o.spec.containers, spec.child("containers"), names);
  const auto& rp = o.spec.restart_policy;
  if (rp.empty())
    errs.push_back(required(spec.child("restartPolicy")));
  else if (rp != "Always" && rp != "OnFailure" && rp != "Never")
    errs.push_back(not_supported(spec.child("restartPolicy"), go_quoted(rp), {"Always", "Never", "OnFailure"}));
  const auto& dp = o.spec.dns_policy;
  if (dp.empty())
    errs.push_back(required(spec.child("dnsPolicy")));
  else if (dp != "ClusterFirstWithHostNet" && dp != "ClusterFirst" && dp != "Default" && dp != "None")
    errs.push_back(not_supported(spec.child("dnsPolicy"), go_quoted(dp), {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"}));
  if (!o.spec.hostname.empty()) add_each(errs, spec.child("hostname"), o.spec.hostname, dns1123_label(o.spec.hostname));
  if (!o.spec.subdomain.empty()) add_each(errs, spec.child("subdomain"), o.spec.subdomain, dns1123_label(o.spec.subdomain));
  if (!o.spec.node_name.empty()) add_each(errs, spec.child("nodeName"), o.spec.node_name, dns1123_subdomain(o.spec.node_name));
  validate_labels(errs, o.spec.node_selector, spec.child("nodeSelector"));
  validate_pod_scheduling(errs, o.spec);
  validate_pod_volumes(errs, o.spec);
  if (o.spec.termination_grace_period_seconds && *o.spec.termination_grace_period_seconds < 0)
    errs.push_back(invalid(spec.child("terminationGracePeriodSeconds"), rendered(*o.spec.termination_grace_period_seconds),
                           "must be greater than or equal to 0"));
  const FieldPath status("status");
  if (!o.status.pod_ip.empty()) add_each(errs, status.child("podIP"), o.status.pod_ip, ip_address(o.status.pod_ip));
  for (std::size_t i = 0; i < o.status.pod_ips.size(); ++i)
    add_each(errs, status.child("podIPs").index(i).child("ip"), o.status.pod_ips[i], ip_address(o.status.pod_ips[i]));
  return errs;
}

// ValidateNonSpecialIP: addresses a Service or Endpoints may not point at.
void validate_non_special_ip(FieldErrors& errs, const FieldPath& p, const std::string& ip) {
  if (!is_ipv4(ip) && !is_ipv6(ip)) {
    errs.push_back(invalid(p, go_quoted(ip), "must be a valid IP address"));
    return;
  }
  const bool v4 = is_ipv4(ip);
  auto starts = [&](std::string_view prefix) { return ip.starts_with(prefix); };
  std::string lower = ip;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if ((v4 && ip == "0.0.0.0") || (!v4 && (lower == "::" || lower == "0:0:0:0:0:0:0:0")))
    errs.push_back(invalid(p, go_quoted(ip), fmt::format("may not be unspecified ({})", ip)));
  else if ((v4 && starts("127.")) || (!v4 && (lower == "::1")))
    errs.push_back(invalid(p, go_quoted(ip), "may not be in the loopback range (127.0.0.0/8, ::1/128)"));
  else if ((v4 && starts("169.254.")) ||
           (!v4 && (lower.starts_with("fe8") || lower.starts_with("fe9") || lower.starts_with("fea") || lower.starts_with("feb"))))
    errs.push_back(invalid(p, go_quoted(ip), "may not be in the link-local range (169.254.0.0/16, fe80::/10)"));
  else if ((v4 && starts("224.0.0.")) || (!v4 && lower.starts_with("ff02:")))
    errs.push_back(invalid(p, go_quoted(ip), "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"));
}

FieldErrors validate(const Endpoints& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  for (std::size_t i = 0; i < o.subsets.size(); ++i) {
    const EndpointSubset& s = o.subsets[i];
    const FieldPath sp = FieldPath("subsets").index(i);
    if (s.addresses.empty() && s.not_ready_addresses.empty())
      errs.push_back(required(sp, "must specify `addresses` or `notReadyAddresses`"));
    auto check_addresses = [&](const std::vector<EndpointAddress>& list, const char* key) {
      for (std::size_t k = 0; k < list.size(); ++k) {
        const FieldPath ap = sp.child(key).index(k);
        validate_non_special_ip(errs, ap.child("ip"), list[k].ip);
        if (!list[k].hostname.empty()) add_each(errs, ap.child("hostname"), list[k].hostname, dns1123_label(list[k].hostname));
        if (list[k].node_name && !list[k].node_name->empty())
          add_each(errs, ap.child("nodeName"), *list[k].node_name, dns1123_subdomain(*list[k].node_name));
      }
    };
    check_addresses(s.addresses, "addresses");
    check_addresses(s.not_ready_addresses, "notReadyAddresses");
    for (std::size_t k = 0; k < s.ports.size(); ++k) {
      const EndpointPort& port = s.ports[k];
      const FieldPath pp = sp.child("ports").index(k);
      if (s.ports.size() > 1 && port.name.empty()) errs.push_back(required(pp.child("name")));
      if (!port.name.empty()) add_each(errs, pp.child("name"), port.name, dns1123_label(port.name));
      for (const auto& msg : port_number(port.port)) errs.push_back(invalid(pp.child("port"), rendered(port.port), msg));
      validate_protocol(errs, pp.child("protocol"), port.protocol);
    }
  }
  return errs;
}

FieldErrors validate(const EndpointSlice& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  const auto& type = o.address_type;
  if (type.empty())
    errs.push_back(required(FieldPath("addressType")));
  else if (type != "IPv4" && type != "IPv6" && type != "FQDN")
    errs.push_back(not_supported(FieldPath("addressType"), go_quoted(type), {"FQDN", "IPv4", "IPv6"}));
  if (o.endpoints.size() > 1000) errs.push_back(too_many(FieldPath("endpoints"), o.endpoints.size(), 1000));
  for (std::size_t i = 0; i < o.endpoints.size() && i < 1000; ++i) {
    const SliceEndpoint& e = o.endpoints[i];
    const FieldPath ep = FieldPath("endpoints").index(i);
    if (e.addresses.empty())
      errs.push_back(required(ep.child("addresses"), "must contain at least 1 address"));
    else if (e.addresses.size() > 100)
      errs.push_back(too_many(ep.child("addresses"), e.addresses.size(), 100));
    for (std::size_t k = 0; k < e.addresses.size() && k < 100; ++k) {
      const auto& a = e.addresses[k];
      const FieldPath ap = ep.child("addresses").index(k);
      if (type == "IPv4" && !is_ipv4(a))
        errs.push_back(invalid(ap, go_quoted(a), "must be a valid IPv4 address"));
      else if (type == "IPv6" && !is_ipv6(a))
        errs.push_back(invalid(ap, go_quoted(a), "must be a valid IPv6 address"));
      else if (type == "FQDN")
        add_each(errs, ap, a, dns1123_subdomain(a));
    }
    if (e.hostname) add_each(errs, ep.child("hostname"), *e.hostname, dns1123_label(*e.hostname));
    if (e.node_name) add_each(errs, ep.child("nodeName"), *e.node_name, dns1123_subdomain(*e.node_name));
    if (e.hints && e.hints->for_zones.size() > 8)
      errs.push_back(too_many(ep.child("hints").child("forZones"), e.hints->for_zones.size(), 8));
  }
  if (o.ports.size() > 100) errs.push_back(too_many(FieldPath("ports"), o.ports.size(), 100));
  std::set<std::string> names;
  for (std::size_t i = 0; i < o.ports.size() && i < 100; ++i) {
    const SlicePort& p = o.ports[i];
    const FieldPath pp = FieldPath("ports").index(i);
    const std::string name = p.name.value_or("");
    if (!name.empty()) add_each(errs, pp.child("name"), name, dns1123_label(name));
    if (!names.insert(name).second) errs.push_back(duplicate(pp.child("name"), go_quoted(name)));
    if (p.protocol)
      validate_protocol(errs, pp.child("protocol"), *p.protocol);
    else
      errs.push_back(required(pp.child("protocol")));
    if (p.port && (*p.port < 0 || *p.port > 65535))
      errs.push_back(invalid(pp.child("port"), rendered(*p.port), "must be between 0 and 65535, inclusive"));
  }
  return errs;
}

FieldErrors validate(const Node& o) {
  FieldErrors errs = validate_object_meta(o.metadata, false, &name_is_dns1123_subdomain);
  const FieldPath spec("spec");
  if (!o.pod_cidr.empty()) add_each(errs, spec.child("podCIDR"), o.pod_cidr, cidr(o.pod_cidr));
  for (std::size_t i = 0; i < o.pod_cidrs.size(); ++i)
    add_each(errs, spec.child("podCIDRs").index(i), o.pod_cidrs[i], cidr(o.pod_cidrs[i]));
  if (!o.pod_cidrs.empty() && !o.pod_cidr.empty() && o.pod_cidrs[0] != o.pod_cidr)
    errs.push_back(invalid(spec.child("podCIDRs"), go_string_slice(o.pod_cidrs), "first value must match `podCIDR`"));
  for (std::size_t i = 0; i < o.taints.size(); ++i) {
    const Taint& t = o.taints[i];
    const FieldPath tp = spec.child("taints").index(i);
    add_each(errs, tp.child("key"), t.key, qualified_name(t.key));
    if (!t.value.empty()) add_each(errs, tp.child("value"), t.value, label_value(t.value));
    if (t.effect.empty())
      errs.push_back(required(tp.child("effect")));
    else if (t.effect != "NoSchedule" && t.effect != "PreferNoSchedule" && t.effect != "NoExecute")
      errs.push_back(not_supported(tp.child("effect"), go_quoted(t.effect), {"NoExecute", "NoSchedule", "PreferNoSchedule"}));
  }
  for (std::size_t i = 0; i < o.addresses.size(); ++i)
    if (o.addresses[i].type == "InternalIP" || o.addresses[i].type == "ExternalIP")
      add_each(errs, FieldPath("status").child("addresses").index(i).child("address"), o.addresses[i].address,
               ip_address(o.addresses[i].address));
  return errs;
}

// coordination's ValidateLeaseSpec.
FieldErrors validate(const Lease& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  const FieldPath spec("spec");
  if (o.lease_duration_seconds && *o.lease_duration_seconds <= 0)
    errs.push_back(invalid(spec.child("leaseDurationSeconds"), rendered(*o.lease_duration_seconds), "must be greater than 0"));
  if (o.lease_transitions && *o.lease_transitions < 0)
    errs.push_back(invalid(spec.child("leaseTransitions"), rendered(*o.lease_transitions), "must be greater than or equal to 0"));
  return errs;
}

// core's legacy ValidateEvent: an event about a namespaced object lives in that namespace.
FieldErrors validate(const Event& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  if (!o.involved_object.namespace_.empty() && o.involved_object.namespace_ != o.metadata.namespace_)
    errs.push_back(
        invalid(FieldPath("involvedObject").child("namespace"), go_quoted(o.involved_object.namespace_), "does not match event.namespace"));
  if (o.count < 0) errs.push_back(invalid(FieldPath("count"), rendered(o.count), "must be greater than or equal to 0"));
  return errs;
}

FieldErrors validate(const Object& o, const ClusterNetworkConfig& net) {
  return std::visit(
      [&](const auto& obj) {
        if constexpr (std::is_same_v<std::decay_t<decltype(obj)>, Service>)
          return validate(obj, net);
        else
          return validate(obj);
      },
      o);
}

}  // namespace switchyard::api
