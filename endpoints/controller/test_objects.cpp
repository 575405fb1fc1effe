#include "endpoints/controller/test_objects.h"

#include <algorithm>
#include <stdexcept>

namespace switchyard::slice_controller::testing {

api::Service web_service() {
  api::Service s;
  s.metadata.name = "web";
  s.metadata.namespace_ = "default";
  s.metadata.uid = "uid-svc-web";
  s.spec.selector = {{"app", "web"}};
  s.spec.type = "ClusterIP";
  s.spec.cluster_ip = "10.96.0.10";
  s.spec.cluster_ips = {"10.96.0.10"};
  s.spec.ip_families = {"IPv4"};
  s.spec.ip_family_policy = "SingleStack";
  s.spec.ports = {api::ServicePort{.name = "http", .protocol = "TCP", .port = 80, .target_port = api::IntOrString::of(8080)}};
  return s;
}

api::Pod web_pod(const std::string& name, const std::string& ip, const std::string& node_name) {
  api::Pod p;
  p.metadata.name = name;
  p.metadata.namespace_ = "default";
  p.metadata.uid = "uid-pod-" + name;
  p.metadata.labels = {{"app", "web"}};
  p.spec.node_name = node_name;
  p.spec.containers = {api::Container{
      .name = "app", .image = "nginx", .ports = {api::ContainerPort{.name = "http", .container_port = 8080, .protocol = "TCP"}}}};
  p.status.phase = "Running";
  if (!ip.empty()) {
    p.status.pod_ip = ip;
    p.status.pod_ips = {ip};
  }
  p.status.conditions = {api::PodCondition{.type = "Ready", .status = "True"}};
  return p;
}

api::Node node(const std::string& name, const std::string& zone, const std::string& cpu) {
  api::Node n;
  n.metadata.name = name;
  if (!zone.empty()) n.metadata.labels["topology.kubernetes.io/zone"] = zone;
  n.allocatable = {{"cpu", cpu}};
  n.conditions = {api::NodeCondition{.type = "Ready", .status = "True"}};
  return n;
}

std::vector<std::string> addresses_of(const api::EndpointSlice& slice) {
  std::vector<std::string> out;
  for (const auto& ep : slice.endpoints) out.push_back(ep.addresses.empty() ? "" : ep.addresses.front());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> addresses_of(const std::vector<api::EndpointSlice>& slices) {
  std::vector<std::string> out;
  for (const auto& s : slices)
    for (auto& a : addresses_of(s)) out.push_back(std::move(a));
  std::sort(out.begin(), out.end());
  return out;
}

void FakeSliceStore::apply(const SliceChanges& changes) {
  auto find = [&](const std::string& name) {
    return std::find_if(slices_.begin(), slices_.end(), [&](const auto& s) { return s.metadata.name == name; });
  };
  for (const auto& d : changes.to_delete) {
    auto it = find(d.metadata.name);
    if (it == slices_.end()) throw std::logic_error("delete of unknown slice " + d.metadata.name);
    slices_.erase(it);
  }
  for (const auto& u : changes.to_update) {
    auto it = find(u.metadata.name);
    if (u.metadata.name.empty() || it == slices_.end()) throw std::logic_error("update of unknown slice " + u.metadata.name);
    if (u.metadata.resource_version != it->metadata.resource_version)
      throw std::logic_error("update of " + u.metadata.name + " with a stale resourceVersion");
    *it = u;
    it->metadata.resource_version = std::to_string(next_++);
  }
  for (const auto& c : changes.to_create) {
    if (!c.metadata.name.empty() || c.metadata.generate_name.empty()) throw std::logic_error("create without generateName");
    auto created = c;
    created.metadata.name = c.metadata.generate_name + "x" + std::to_string(next_);
    created.metadata.uid = "uid-slice-" + std::to_string(next_);
    created.metadata.resource_version = std::to_string(next_++);
    slices_.push_back(std::move(created));
  }
}

}  // namespace switchyard::slice_controller::testing
