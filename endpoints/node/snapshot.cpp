#include "endpoints/node/snapshot.h"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

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

}  // namespace switchyard::endpoints
