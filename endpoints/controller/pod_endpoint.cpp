#include "endpoints/controller/pod_endpoint.h"

#include <algorithm>

#include "endpoints/controller/ip_address.h"
#include "endpoints/controller/well_known.h"
#include "orchestrator/api/defaults.h"
#include "orchestrator/api/names.h"

namespace switchyard::slice_controller {
namespace {

std::string protocol_or_tcp(const std::string& protocol) { return protocol.empty() ? "TCP" : protocol; }

bool pod_ready(const api::Pod& pod) {
  for (const auto& c : pod.status.conditions)
    if (c.type == "Ready") return c.status == "True";
  return false;
}

// An init container with restartPolicy: Always keeps running next to the app containers.
bool is_sidecar(const api::Container& c) {
  auto policy = c.passthrough.find("restartPolicy");
  return policy != c.passthrough.end() && policy->second == "\"Always\"";
}

std::optional<std::int32_t> named_port_in(const api::Container& c, const std::string& name, const std::string& protocol) {
  for (const auto& port : c.ports)
    if (port.name == name && protocol_or_tcp(port.protocol) == protocol) return port.container_port;
  return std::nullopt;
}

std::vector<std::string> pod_ips(const api::Pod& pod) {
  if (!pod.status.pod_ips.empty()) return pod.status.pod_ips;
  if (!pod.status.pod_ip.empty()) return {pod.status.pod_ip};
  return {};
}

}  // namespace

bool pod_can_be_endpoint(const api::Pod& pod) {
  if (pod.status.phase == "Succeeded" || pod.status.phase == "Failed") return false;
  return !pod.status.pod_ip.empty() || !pod.status.pod_ips.empty();
}

std::vector<std::string> address_types_for_service(const api::Service& service) {
  std::vector<std::string> types;
  for (const auto& family : service.spec.ip_families) {
    std::string_view type = family == "IPv4" ? kAddressTypeIPv4 : family == "IPv6" ? kAddressTypeIPv6 : "";
    if (!type.empty() && std::find(types.begin(), types.end(), type) == types.end()) types.emplace_back(type);
  }
  if (!types.empty()) return types;
  // No ipFamilies: written by an API server that predates them.
  if (!service.spec.cluster_ip.empty() && !api::is_headless(service.spec))
    return {std::string(api::is_ipv6(service.spec.cluster_ip) ? kAddressTypeIPv6 : kAddressTypeIPv4)};
  return {std::string(kAddressTypeIPv4), std::string(kAddressTypeIPv6)};
}

std::optional<std::int32_t> find_target_port(const api::Pod& pod, const api::ServicePort& service_port) {
  const auto& target = service_port.target_port;
  if (!target.is_string) return target.is_zero() ? service_port.port : target.int_value;
  const std::string protocol = protocol_or_tcp(service_port.protocol);
  for (const auto& c : pod.spec.containers)
    if (auto port = named_port_in(c, target.string_value, protocol)) return port;
  for (const auto& c : pod.spec.init_containers)
    if (is_sidecar(c))
      if (auto port = named_port_in(c, target.string_value, protocol)) return port;
  return std::nullopt;
}

std::vector<api::SlicePort> endpoint_ports_for_pod(const api::Service& service, const api::Pod& pod) {
  std::vector<api::SlicePort> ports;
  for (const auto& service_port : service.spec.ports) {
    auto number = find_target_port(pod, service_port);
    if (!number) continue;
    ports.push_back(api::SlicePort{.name = service_port.name,
                                   .protocol = protocol_or_tcp(service_port.protocol),
                                   .app_protocol = service_port.app_protocol,
                                   .port = *number});
  }
  return ports;
}

api::SliceEndpoint pod_to_endpoint(const api::Pod& pod, const std::optional<std::string>& zone, const api::Service& service,
                                   std::string_view address_type) {
  const bool serving = pod_ready(pod);
  const bool terminating = pod.metadata.deletion_timestamp.has_value();
  api::SliceEndpoint ep;
  for (const auto& ip : pod_ips(pod)) {
    auto address = parse_slice_address(ip);
    if (address && address->address_type == address_type) ep.addresses.push_back(address->text);
  }
  // A terminating pod is never "ready", unless the Service publishes not-ready addresses.
  ep.conditions.ready = service.spec.publish_not_ready_addresses || (serving && !terminating);
  ep.conditions.serving = serving;
  ep.conditions.terminating = terminating;
  ep.target_ref =
      api::ObjectReference{.kind = "Pod", .namespace_ = pod.metadata.namespace_, .name = pod.metadata.name, .uid = pod.metadata.uid};
  if (!pod.spec.node_name.empty()) ep.node_name = pod.spec.node_name;
  if (zone && !zone->empty()) ep.zone = zone;
  if (!pod.spec.hostname.empty() && pod.spec.subdomain == service.metadata.name && pod.metadata.namespace_ == service.metadata.namespace_)
    ep.hostname = pod.spec.hostname;
  return ep;
}

}  // namespace switchyard::slice_controller
