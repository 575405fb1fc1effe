// ClusterState: the records of the API objects and the build of the next Snapshot from them.
#include <algorithm>
#include <map>
#include <tuple>
#include <type_traits>

#include "endpoints/node/snapshot.h"

namespace switchyard::endpoints {

ClusterState::ClusterState(ClusterStateOptions options) : options_(std::move(options)) {
  node_.name = options_.node_name;
  last_ = std::make_shared<const Snapshot>(0, Snapshot::PortMap{}, Snapshot::ServiceMap{});
}

void ClusterState::upsert(const api::Service& s) {
  ServiceKey k{s.metadata.namespace_, s.metadata.name};
  services_[k].record = ServiceRecord::parse(s, options_.proxy_name);
  dirty_.insert(std::move(k));
}

void ClusterState::remove_service(const ServiceKey& k) {
  if (auto it = services_.find(k); it != services_.end()) {
    it->second.record.reset();
    if (it->second.slices.empty()) services_.erase(it);
  }
  dirty_.insert(k);
}

void ClusterState::add_slice(const ServiceKey& service, const std::string& slice) {
  auto& names = services_[service].slices;
  auto at = std::lower_bound(names.begin(), names.end(), slice);
  if (at == names.end() || *at != slice) names.insert(at, slice);
  dirty_.insert(service);
}

void ClusterState::drop_slice(const ServiceKey& service, const std::string& slice) {
  dirty_.insert(service);
  auto it = services_.find(service);
  if (it == services_.end()) return;
  auto& names = it->second.slices;
  if (auto at = std::lower_bound(names.begin(), names.end(), slice); at != names.end() && *at == slice) names.erase(at);
  if (names.empty() && !it->second.record) services_.erase(it);
}

void ClusterState::upsert(const api::EndpointSlice& s) {
  SliceKey k{s.metadata.namespace_, s.metadata.name};
  SliceRecord record = SliceRecord::parse(s, node_.name);
  if (auto old = slices_.find(k); old != slices_.end() && old->second.service != record.service)
    drop_slice({k.namespace_, old->second.service}, k.name);
  add_slice({k.namespace_, record.service}, k.name);
  slices_.insert_or_assign(std::move(k), std::move(record));
}

void ClusterState::remove_slice(const std::string& namespace_, const std::string& name) {
  auto it = slices_.find(SliceKey{namespace_, name});
  if (it == slices_.end()) return;
  drop_slice({namespace_, it->second.service}, name);
  slices_.erase(it);
}

void ClusterState::set_node(const api::Node& n) {
  auto it = n.metadata.labels.find("topology.kubernetes.io/zone");
  std::string zone = it == n.metadata.labels.end() ? "" : it->second;
  if (zone != node_.zone) all_dirty_ = true;  // every topology decision may change
  node_.zone = std::move(zone);
}

namespace {

// One endpoint per key out of `candidates` (pool indices, in slice order), in key order: of
// equal keys the first, unless a later one is ready and it is not (as kube-proxy). `sorted`:
// the candidates are in key order already (they come from one slice's array). With ports,
// the key is address and port (as text, as before); without, the address.
template <bool with_port>
std::vector<std::uint32_t> unique_by(const EndpointPool& pool, std::vector<std::uint32_t> candidates, bool sorted) {
  using Key = std::conditional_t<with_port, std::pair<std::string, std::int32_t>, std::string>;
  auto key_of = [](const Endpoint& e) {
    if constexpr (with_port)
      return std::pair{e.ip.to_string(), e.port};
    else
      return e.ip.to_string();
  };
  auto same = [](const Endpoint& a, const Endpoint& b) { return a.ip == b.ip && (!with_port || a.port == b.port); };
  if (!sorted) {
    std::vector<std::pair<Key, std::uint32_t>> keyed;
    keyed.reserve(candidates.size());
    for (auto i : candidates) keyed.emplace_back(key_of(pool[i]), i);
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t j = 0; j < keyed.size(); ++j) candidates[j] = keyed[j].second;
  }
  std::vector<std::uint32_t> out;
  out.reserve(candidates.size());
  for (auto i : candidates) {
    // Equal keys (equal text is an equal address) are adjacent once sorted.
    if (!out.empty() && same(pool[out.back()], pool[i])) {
      if (pool[i].ready && !pool[out.back()].ready) out.back() = i;
      continue;
    }
    out.push_back(i);
  }
  return out;
}

std::vector<std::uint32_t> of_family(const EndpointList& eps, IpFamily f) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < eps.size(); ++i)
    if (eps[i].family == f) out.push_back(eps.index(i));
  return out;
}

}  // namespace

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

  auto entry = services_.find(k);
  if (entry == services_.end() || !entry->second.record) return;
  const ServiceRecord& svc = *entry->second.record;

  std::vector<const SliceRecord*> slices;
  for (const auto& name : entry->second.slices)
    if (auto it = slices_.find(SliceKey{k.namespace_, name}); it != slices_.end() && !it->second.fqdn) slices.push_back(&it->second);

  // One pool for the service: every slice's arrays, shared with the slice records. `first[i]`
  // is where slice i's arrays start in it.
  std::vector<EndpointPool::Part> parts;
  std::vector<std::uint32_t> first;
  std::uint32_t size = 0;
  for (const auto* slice : slices) {
    first.push_back(size);
    for (const auto& [_, part] : slice->endpoints) {
      parts.push_back(part);
      size += static_cast<std::uint32_t>(part->size());
    }
  }
  auto pool = std::make_shared<const EndpointPool>(std::move(parts));

  auto info = std::make_shared<ServiceInfo>();
  info->key = k;
  info->type = svc.type;
  info->headless = svc.headless;
  info->proxied = svc.proxied;
  info->external_name = svc.external_name;
  info->cluster_ips = svc.cluster_ips;
  info->publish_not_ready_addresses = svc.publish_not_ready_addresses;
  for (const auto& p : svc.ports) info->ports.push_back({p.name, p.protocol, p.port});
  {
    // Each slice's first array: which port it carries does not matter to DNS.
    std::vector<std::uint32_t> candidates;
    for (std::size_t i = 0; i < slices.size(); ++i)
      for (std::uint32_t j = 0; j < slices[i]->endpoints.front().second->size(); ++j) candidates.push_back(first[i] + j);
    info->addresses = EndpointList(pool, unique_by<false>(*pool, std::move(candidates), slices.size() <= 1));
  }
  for (const auto* slice : slices)
    for (const auto& sp : slice->ports) {
      NamedPort np{sp.name, sp.protocol, sp.port.value_or(0)};
      if (np.port && std::find(info->endpoint_ports.begin(), info->endpoint_ports.end(), np) == info->endpoint_ports.end())
        info->endpoint_ports.push_back(std::move(np));
    }
  services.insert_or_assign(k, info);
  Snapshot::reindex(addresses, nullptr, info);
  if (!svc.proxied) return;

  for (const auto& p : svc.ports) {
    auto port = std::make_shared<ServicePortInfo>();
    port->name = ServicePortName{k.namespace_, k.name, p.name, p.protocol};
    port->cluster_ips = svc.cluster_ips;
    port->port = p.port;
    port->protocol = p.protocol;
    port->node_port = p.node_port;
    port->external_ips = svc.external_ips;
    port->load_balancer_ips = svc.load_balancer_ips;
    port->load_balancer_source_ranges = svc.load_balancer_source_ranges;
    port->external_policy_local = svc.external_policy_local;
    port->internal_policy_local = svc.internal_policy_local;
    port->health_check_node_port = svc.health_check_node_port;
    port->affinity_timeout_seconds = svc.affinity_timeout_seconds;
    port->load_balancing = svc.load_balancing;

    // Endpoints of the slice port with the same name and protocol (at most one per slice).
    std::vector<std::uint32_t> candidates;
    int arrays = 0;
    for (std::size_t i = 0; i < slices.size(); ++i)
      for (const auto& sp : slices[i]->ports) {
        if (sp.name != p.name || sp.protocol != p.protocol || !sp.port) continue;
        std::uint32_t start = first[i];
        for (const auto& [n, part] : slices[i]->endpoints) {
          if (n == *sp.port) {
            for (std::uint32_t j = 0; j < part->size(); ++j) candidates.push_back(start + j);
            ++arrays;
            break;
          }
          start += static_cast<std::uint32_t>(part->size());
        }
      }
    port->endpoints = EndpointList(pool, unique_by<true>(*pool, std::move(candidates), arrays <= 1));
    port->ipv4 = categorize_endpoints(pool, of_family(port->endpoints, IpFamily::IPv4), *port, node_, svc.topology);
    port->ipv6 = categorize_endpoints(pool, of_family(port->endpoints, IpFamily::IPv6), *port, node_, svc.topology);
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
    for (const auto& [k, entry] : services_)
      if (entry.record) rebuild_service(k, ports, services, addresses);
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
