#include "endpoints/node/snapshot.h"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "orchestrator/api/defaults.h"

namespace switchyard::endpoints {

std::string ServicePortName::to_string() const {
  std::string s = port.empty() ? fmt::format("{}/{}", namespace_, name) : fmt::format("{}/{}:{}", namespace_, name, port);
  return protocol == "TCP" || protocol.empty() ? s : s + "/" + protocol;
}

const ServicePortInfo* Snapshot::find(const ServicePortName& n) const {
  auto it = ports_.find(n);
  return it == ports_.end() ? nullptr : it->second.get();
}

const ServiceInfo* Snapshot::find(const ServiceKey& k) const {
  auto it = services_.find(k);
  return it == services_.end() ? nullptr : it->second.get();
}

Snapshot::Snapshot(std::uint64_t generation, PortMap ports, ServiceMap services)
    : generation_(generation), ports_(std::move(ports)), services_(std::move(services)) {
  for (const auto& [_, svc] : services_) reindex(addresses_, nullptr, svc);
}

const std::vector<Snapshot::AddressOwner>& Snapshot::owners_of(const IpAddress& ip) const {
  static const std::vector<AddressOwner> none;
  auto it = addresses_.find(ip);
  return it == addresses_.end() ? none : it->second;
}

namespace {

// The addresses a service answers PTR queries for, with their owner entries.
template <class Fn>
void for_each_address(const ServiceInfo& svc, Fn fn) {
  for (const auto& ip : svc.cluster_ips)
    if (auto a = IpAddress::parse(ip)) fn(*a, -1);
  if (svc.headless)
    for (std::size_t i = 0; i < svc.addresses.size(); ++i) fn(svc.addresses[i].ip, static_cast<std::int32_t>(i));
}

bool owner_before(const Snapshot::AddressOwner& a, const Snapshot::AddressOwner& b) {
  return std::tie(a.service->key, a.address) < std::tie(b.service->key, b.address);
}

}  // namespace

void Snapshot::reindex(AddressMap& addresses, const ServiceInfo* before, const std::shared_ptr<const ServiceInfo>& after) {
  if (before)
    for_each_address(*before, [&](const IpAddress& ip, std::int32_t) {
      auto it = addresses.find(ip);
      if (it == addresses.end()) return;
      std::vector<AddressOwner> owners;
      for (const auto& o : it->second)
        if (o.service->key != before->key) owners.push_back(o);
      if (owners.empty())
        addresses.erase(ip);
      else if (owners.size() != it->second.size())
        addresses.insert_or_assign(ip, std::move(owners));
    });
  if (after)
    for_each_address(*after, [&](const IpAddress& ip, std::int32_t index) {
      if (!ip.valid()) return;
      auto it = addresses.find(ip);
      std::vector<AddressOwner> owners = it == addresses.end() ? std::vector<AddressOwner>{} : it->second;
      AddressOwner owner{after, index};
      owners.insert(std::upper_bound(owners.begin(), owners.end(), owner, owner_before), owner);
      addresses.insert_or_assign(ip, std::move(owners));
    });
}

ClusterState::ClusterState(ClusterStateOptions options) : options_(std::move(options)) {
  node_.name = options_.node_name;
  last_ = std::make_shared<const Snapshot>(0, Snapshot::PortMap{}, Snapshot::ServiceMap{});
}

namespace {

// The Service as ClusterState keeps it: spec and status, and of the metadata only what
// rebuild_service reads (the proxy-name label, the topology and load-balancing annotations).
api::Service kept_form(const api::Service& s) {
  api::Service kept;
  kept.metadata.name = s.metadata.name;
  kept.metadata.namespace_ = s.metadata.namespace_;
  if (auto it = s.metadata.labels.find(kServiceProxyNameLabel); it != s.metadata.labels.end()) kept.metadata.labels.insert(*it);
  for (const char* key : {"service.kubernetes.io/topology-mode", "service.kubernetes.io/topology-aware-hints", kLoadBalancingAnnotation})
    if (auto it = s.metadata.annotations.find(key); it != s.metadata.annotations.end()) kept.metadata.annotations.insert(*it);
  kept.spec = s.spec;
  kept.spec.selector.clear();  // the EndpointSlice controller's business, not the node's
  kept.status_load_balancer_ingress = s.status_load_balancer_ingress;
  return kept;
}

}  // namespace

void ClusterState::upsert(const api::Service& s) {
  ServiceKey k{s.metadata.namespace_, s.metadata.name};
  services_[k] = kept_form(s);
  dirty_.insert(k);
}

void ClusterState::remove_service(const ServiceKey& k) {
  services_.erase(k);
  dirty_.insert(k);
}

static std::string service_of(const api::EndpointSlice& s) {
  auto it = s.metadata.labels.find(kServiceNameLabel);
  return it == s.metadata.labels.end() ? "" : it->second;
}

void ClusterState::upsert(const api::EndpointSlice& s) {
  SliceKey k{s.metadata.namespace_, s.metadata.name};
  if (auto old = slices_.find(k); old != slices_.end()) {
    ServiceKey before{k.namespace_, old->second.service};
    slices_by_service_[before].erase(k);
    dirty_.insert(before);
  }
  SliceRecord record = parse_slice(s);
  ServiceKey owner{k.namespace_, record.service};
  slices_[k] = std::move(record);
  slices_by_service_[owner].insert(k);
  dirty_.insert(owner);
}

void ClusterState::remove_slice(const std::string& namespace_, const std::string& name) {
  SliceKey k{namespace_, name};
  auto it = slices_.find(k);
  if (it == slices_.end()) return;
  ServiceKey owner{namespace_, it->second.service};
  slices_by_service_[owner].erase(k);
  slices_.erase(it);
  dirty_.insert(owner);
}

void ClusterState::set_node(const api::Node& n) {
  auto it = n.metadata.labels.find("topology.kubernetes.io/zone");
  std::string zone = it == n.metadata.labels.end() ? "" : it->second;
  if (zone != node_.zone) all_dirty_ = true;  // every topology decision may change
  node_.zone = std::move(zone);
}

namespace {

bool is_proxied(const api::Service& s, const std::string& proxy_name) {
  if (s.spec.type == "ExternalName" || api::is_headless(s.spec)) return false;
  auto label = s.metadata.labels.find(kServiceProxyNameLabel);
  if (label != s.metadata.labels.end() && label->second != proxy_name) return false;
  return true;
}

bool topology_requested(const api::Service& s) {
  if (s.spec.traffic_distribution) return true;
  for (const char* key : {"service.kubernetes.io/topology-mode", "service.kubernetes.io/topology-aware-hints"}) {
    auto it = s.metadata.annotations.find(key);
    if (it != s.metadata.annotations.end() && it->second != "" && it->second != "Disabled" && it->second != "disabled") return true;
  }
  return false;
}

// One slice endpoint as the node sees it. kube-proxy uses only the first address.
Endpoint to_endpoint(const api::EndpointSlice& slice, const api::SliceEndpoint& e, std::int32_t port, const std::string& node) {
  Endpoint out;
  if (!e.addresses.empty()) out.ip = IpAddress(e.addresses[0]);
  out.port = port;
  out.family = slice.address_type == "IPv6" ? IpFamily::IPv6 : IpFamily::IPv4;
  out.ready = e.conditions.ready.value_or(true);
  out.serving = e.conditions.serving.value_or(out.ready);
  out.terminating = e.conditions.terminating.value_or(false);
  out.node_name = e.node_name.value_or("");
  out.local = !node.empty() && out.node_name == node;
  out.zone = e.zone.value_or("");
  out.hostname = e.hostname.value_or("");
  if (e.target_ref && e.target_ref->kind == "Pod") out.pod_name = e.target_ref->name;
  if (e.hints) {
    out.zone_hints = e.hints->for_zones;
    out.node_hints = e.hints->for_nodes;
  }
  return out;
}

// Keeps one endpoint per key; a ready one wins over one that is not.
template <class Key>
void add_unique(std::map<Key, Endpoint>& set, Key key, Endpoint e) {
  auto [it, inserted] = set.try_emplace(std::move(key), e);
  if (!inserted && e.ready && !it->second.ready) it->second = std::move(e);
}

template <class Key>
std::vector<Endpoint> values(std::map<Key, Endpoint>& m) {
  std::vector<Endpoint> out;
  out.reserve(m.size());
  for (auto& [_, e] : m) out.push_back(std::move(e));
  return out;
}

std::vector<std::uint32_t> of_family(const std::vector<Endpoint>& eps, IpFamily f) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < eps.size(); ++i)
    if (eps[i].family == f) out.push_back(i);
  return out;
}

}  // namespace

ClusterState::SliceRecord ClusterState::parse_slice(const api::EndpointSlice& s) const {
  SliceRecord r;
  r.service = service_of(s);
  r.fqdn = s.address_type == "FQDN";
  r.ports.reserve(s.ports.size());
  for (const auto& p : s.ports) r.ports.push_back({p.name.value_or(""), p.protocol.value_or("TCP"), p.port});
  r.endpoints.reserve(s.endpoints.size());
  for (const auto& e : s.endpoints) {
    if (e.addresses.empty()) continue;
    Endpoint endpoint = to_endpoint(s, e, 0, node_.name);
    if (endpoint.ip.valid()) r.endpoints.push_back(std::move(endpoint));  // not an address: nothing could reach it
  }
  return r;
}

void ClusterState::rebuild_service(const ServiceKey& k, Snapshot::PortMap& ports, Snapshot::ServiceMap& services,
                                   Snapshot::AddressMap& addresses) {
  // Drop what the service had; then add it back as it is now.
  if (auto old = services.find(k); old != services.end()) Snapshot::reindex(addresses, old->second.get(), nullptr);
  services.erase(k);
  std::vector<ServicePortName> old_ports;
  for (auto it = ports.lower_bound(ServicePortName{k.namespace_, k.name, "", ""});
       it != ports.end() && it->first.namespace_ == k.namespace_ && it->first.name == k.name; ++it)
    old_ports.push_back(it->first);
  for (const auto& name : old_ports) ports.erase(name);

  auto svc_it = services_.find(k);
  if (svc_it == services_.end()) return;
  const api::Service& svc = svc_it->second;
  const api::ServiceSpec& spec = svc.spec;

  std::vector<const SliceRecord*> slices;
  if (auto s = slices_by_service_.find(k); s != slices_by_service_.end())
    for (const auto& sk : s->second)
      if (auto it = slices_.find(sk); it != slices_.end() && !it->second.fqdn) slices.push_back(&it->second);

  auto info = std::make_shared<ServiceInfo>();
  info->key = k;
  info->type = spec.type.empty() ? "ClusterIP" : spec.type;
  info->headless = api::is_headless(spec);
  info->proxied = is_proxied(svc, options_.proxy_name);
  info->external_name = spec.external_name;
  if (!info->headless)
    info->cluster_ips = spec.cluster_ips.empty() && !spec.cluster_ip.empty() ? std::vector{spec.cluster_ip} : spec.cluster_ips;
  info->publish_not_ready_addresses = spec.publish_not_ready_addresses;
  for (const auto& p : spec.ports) info->ports.push_back({p.name, p.protocol.empty() ? "TCP" : p.protocol, p.port});
  std::map<std::string, Endpoint> by_ip;
  for (const auto* slice : slices)
    for (const auto& e : slice->endpoints) add_unique(by_ip, e.ip.to_string(), e);
  info->addresses = values(by_ip);
  for (const auto* slice : slices)
    for (const auto& sp : slice->ports) {
      NamedPort np{sp.name, sp.protocol, sp.port.value_or(0)};
      if (np.port && std::find(info->endpoint_ports.begin(), info->endpoint_ports.end(), np) == info->endpoint_ports.end())
        info->endpoint_ports.push_back(std::move(np));
    }
  services.insert_or_assign(k, info);
  Snapshot::reindex(addresses, nullptr, info);
  if (!info->proxied) return;

  const bool topology = topology_requested(svc);
  const bool reachable_from_outside = api::externally_accessible(spec);
  for (const auto& p : spec.ports) {
    auto port = std::make_shared<ServicePortInfo>();
    const std::string protocol = p.protocol.empty() ? "TCP" : p.protocol;
    port->name = ServicePortName{k.namespace_, k.name, p.name, protocol};
    port->cluster_ips = info->cluster_ips;
    port->port = p.port;
    port->protocol = protocol;
    if (spec.type == "NodePort" || spec.type == "LoadBalancer") port->node_port = p.node_port;
    port->external_ips = spec.external_ips;
    if (spec.type == "LoadBalancer") {
      for (const auto& ing : svc.status_load_balancer_ingress)
        if (!ing.ip.empty() && ing.ip_mode.value_or("VIP") == "VIP") port->load_balancer_ips.push_back(ing.ip);
      port->load_balancer_source_ranges = spec.load_balancer_source_ranges;
    }
    port->external_policy_local = reachable_from_outside && spec.external_traffic_policy == "Local";
    port->internal_policy_local = spec.internal_traffic_policy.value_or("Cluster") == "Local";
    if (spec.type == "LoadBalancer" && port->external_policy_local) port->health_check_node_port = spec.health_check_node_port;
    if (spec.session_affinity == "ClientIP")
      port->affinity_timeout_seconds = spec.session_affinity_timeout_seconds.value_or(api::kDefaultClientIpTimeoutSeconds);
    if (auto lb = svc.metadata.annotations.find(kLoadBalancingAnnotation); lb != svc.metadata.annotations.end())
      port->load_balancing = lb->second;

    // Endpoints of the slice port with the same name and protocol.
    std::map<std::pair<std::string, std::int32_t>, Endpoint> unique;
    for (const auto* slice : slices)
      for (const auto& sp : slice->ports) {
        if (sp.name != p.name || sp.protocol != protocol || !sp.port) continue;
        for (Endpoint e : slice->endpoints) {
          e.port = *sp.port;
          auto key = std::pair{e.ip.to_string(), *sp.port};  // ordered as text, as before
          add_unique(unique, std::move(key), std::move(e));
        }
      }
    port->endpoints = values(unique);
    // Indices into port->endpoints: the port lives on the heap and never moves.
    port->ipv4 = categorize_endpoints(&port->endpoints, of_family(port->endpoints, IpFamily::IPv4), *port, node_, topology);
    port->ipv6 = categorize_endpoints(&port->endpoints, of_family(port->endpoints, IpFamily::IPv6), *port, node_, topology);
    port->local_ready_endpoints = static_cast<int>(
        std::count_if(port->endpoints.begin(), port->endpoints.end(), [](const Endpoint& e) { return e.local && e.ready; }));
    auto name = port->name;
    ports.insert_or_assign(name, std::move(port));
  }
}

void ClusterState::upsert_namespace(const std::string& name) {
  if (!namespaces_) namespaces_.emplace();
  namespaces_changed_ |= namespaces_->insert(name).second || !last_->namespaces();
}

void ClusterState::remove_namespace(const std::string& name) {
  if (namespaces_ && namespaces_->erase(name)) namespaces_changed_ = true;
}

void ClusterState::upsert(const api::Pod& p) {
  std::vector<IpAddress> ips;
  for (const auto& text : p.status.pod_ips)
    if (auto ip = IpAddress::parse(text); ip && std::find(ips.begin(), ips.end(), *ip) == ips.end()) ips.push_back(*ip);
  if (!pod_addresses_) {
    pod_addresses_.emplace();
    pods_changed_ = true;
  }
  if (auto held = pod_ips_.find({p.metadata.namespace_, p.metadata.name}); held != pod_ips_.end() && held->second == ips) return;
  remove_pod(p.metadata.namespace_, p.metadata.name);
  for (const auto& ip : ips) {
    const Snapshot::PodAddress key{p.metadata.namespace_, ip};
    auto it = pod_addresses_->find(key);
    pod_addresses_->insert_or_assign(key, it == pod_addresses_->end() ? 1u : it->second + 1);
  }
  pod_ips_[{p.metadata.namespace_, p.metadata.name}] = std::move(ips);
  pods_changed_ = true;
}

void ClusterState::remove_pod(const std::string& namespace_, const std::string& name) {
  auto it = pod_ips_.find({namespace_, name});
  if (it == pod_ips_.end()) return;
  for (const auto& ip : it->second) {
    const Snapshot::PodAddress key{namespace_, ip};
    if (auto held = pod_addresses_->find(key); held != pod_addresses_->end()) {
      if (held->second > 1)
        pod_addresses_->insert_or_assign(key, held->second - 1);
      else
        pod_addresses_->erase(key);
    }
  }
  pod_ips_.erase(it);
  pods_changed_ = true;
}

std::shared_ptr<const Snapshot> ClusterState::build() {
  if (!changed()) return last_;
  Snapshot::PortMap ports = last_->service_ports();
  Snapshot::ServiceMap services = last_->services();
  Snapshot::AddressMap addresses = last_->addresses();
  if (all_dirty_) {
    ports.clear();
    services.clear();
    addresses.clear();
    for (const auto& [k, _] : services_) rebuild_service(k, ports, services, addresses);
  } else {
    for (const auto& k : dirty_) rebuild_service(k, ports, services, addresses);
  }
  dirty_.clear();
  all_dirty_ = false;
  auto namespaces = last_->namespaces();
  if (namespaces_changed_) namespaces = std::make_shared<const Snapshot::NamespaceSet>(*namespaces_);
  namespaces_changed_ = false;
  pods_changed_ = false;
  last_ = std::make_shared<const Snapshot>(++generation_, std::move(ports), std::move(services), std::move(addresses),
                                           std::move(namespaces), pod_addresses_);
  return last_;
}

}  // namespace switchyard::endpoints
