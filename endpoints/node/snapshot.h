// The per-node view of services and endpoints that the dataplanes and DNS read. A Snapshot is
// immutable; ClusterState keeps what it needs of the latest API objects (fed by informers, kept
// as the records of cluster_records.h) and builds a new Snapshot when they change, rebuilding
// only the services that changed and sharing the rest, so that diffing two Snapshots is mostly
// pointer comparisons.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "endpoints/node/chunked_sorted_map.h"
#include "endpoints/node/cluster_records.h"
#include "endpoints/node/eligible_endpoints.h"
#include "endpoints/node/service_port.h"
#include "orchestrator/api/types.h"

namespace switchyard::endpoints {

inline constexpr const char* kServiceProxyNameLabel = "service.kubernetes.io/service-proxy-name";
inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";
inline constexpr const char* kLoadBalancingAnnotation = "service.switchyard.dev/lb-algorithm";

class Snapshot {
 public:
  // Sorted maps whose unchanged chunks successive Snapshots share (chunked_sorted_map.h).
  using PortMap = ChunkedSortedMap<ServicePortName, std::shared_ptr<const ServicePortInfo>>;
  using ServiceMap = ChunkedSortedMap<ServiceKey, std::shared_ptr<const ServiceInfo>>;

  // Who an address belongs to, for PTR answers: a service's cluster IP (address -1), or entry
  // `address` of a headless service's `addresses`.
  struct AddressOwner {
    std::shared_ptr<const ServiceInfo> service;
    std::int32_t address = -1;
  };
  // Address → its owners in service order, cluster IPs first: built with the Snapshot and
  // shared between Snapshots as the services are, so a PTR answer is a lookup.
  using AddressMap = ChunkedSortedMap<IpAddress, std::vector<AddressOwner>>;

  // Builds the address index from `services`.
  Snapshot(std::uint64_t generation, PortMap ports, ServiceMap services);
  // The namespaces that exist, for DNS: a namespace without Services answers NODATA, not
  // NXDOMAIN, as CoreDNS answers from its namespace informer.
  using NamespaceSet = std::set<std::string, std::less<>>;
  // Pod addresses by namespace, for CoreDNS's `pods verified` (a Pod with that IP must exist in
  // that namespace): how many Pods there hold each address.
  struct PodAddress {
    std::string namespace_;
    IpAddress ip;
    auto operator<=>(const PodAddress&) const = default;
  };
  using PodAddressMap = ChunkedSortedMap<PodAddress, std::uint32_t>;
  Snapshot(std::uint64_t generation, PortMap ports, ServiceMap services, AddressMap addresses,
           std::shared_ptr<const NamespaceSet> namespaces = nullptr, std::optional<PodAddressMap> pod_addresses = std::nullopt)
      : generation_(generation),
        ports_(std::move(ports)),
        services_(std::move(services)),
        addresses_(std::move(addresses)),
        namespaces_(std::move(namespaces)),
        pod_addresses_(std::move(pod_addresses)) {}

  // Increases with every change; DNS uses it as the SOA serial.
  std::uint64_t generation() const { return generation_; }
  // Ports of proxied services only (not headless, ExternalName or another proxy's).
  const PortMap& service_ports() const { return ports_; }
  // Every service, for DNS.
  const ServiceMap& services() const { return services_; }
  const ServicePortInfo* find(const ServicePortName& n) const;
  const ServiceInfo* find(const ServiceKey& k) const;
  // The services whose cluster IP `ip` is and the headless services with an endpoint at `ip`.
  const std::vector<AddressOwner>& owners_of(const IpAddress& ip) const;
  const AddressMap& addresses() const { return addresses_; }
  // Null when nobody feeds namespaces (a DNS server on manifests): then a namespace exists when
  // one of its Services does.
  const std::shared_ptr<const NamespaceSet>& namespaces() const { return namespaces_; }
  // None when nobody feeds Pods (the agent does only for `--dns-pods verified`).
  const std::optional<PodAddressMap>& pod_addresses() const { return pod_addresses_; }

  // Keeps `addresses` in step with one service: removes what `before` added, adds `after`'s.
  static void reindex(AddressMap& addresses, const ServiceInfo* before, const std::shared_ptr<const ServiceInfo>& after);

 private:
  std::uint64_t generation_;
  PortMap ports_;
  ServiceMap services_;
  AddressMap addresses_;
  std::shared_ptr<const NamespaceSet> namespaces_;
  std::optional<PodAddressMap> pod_addresses_;
};

struct ClusterStateOptions {
  std::string node_name;
  // Services labelled service.kubernetes.io/service-proxy-name are left to that proxy, unless
  // the label names this one.
  std::string proxy_name;
};

class ClusterState {
 public:
  explicit ClusterState(ClusterStateOptions options);

  void upsert(const api::Service& s);
  void remove_service(const ServiceKey& k);
  void upsert(const api::EndpointSlice& s);
  void remove_slice(const std::string& namespace_, const std::string& name);
  // This node's Node object: its zone decides topology-aware routing.
  void set_node(const api::Node& n);
  // The namespaces that exist (from the first call on, the Snapshot carries them).
  void upsert_namespace(const std::string& name);
  void remove_namespace(const std::string& name);
  // Pods' addresses (status.podIPs), for `pods verified`; from the first call on, the Snapshot
  // carries them.
  void upsert(const api::Pod& p);
  void remove_pod(const std::string& namespace_, const std::string& name);

  bool changed() const { return !dirty_.empty() || all_dirty_ || namespaces_changed_ || pods_changed_; }
  // A new Snapshot reflecting everything so far; the previous one if nothing changed.
  std::shared_ptr<const Snapshot> build();

 private:
  struct SliceKey {
    std::string namespace_, name;
    auto operator<=>(const SliceKey&) const = default;
  };
  void rebuild_service(const ServiceKey& k, Snapshot::PortMap& ports, Snapshot::ServiceMap& services, Snapshot::AddressMap& addresses);

  ClusterStateOptions options_;
  NodeTopology node_;
  // A service's record and the names of its slices (sorted): one entry for both.
  struct ServiceEntry {
    std::optional<ServiceRecord> record;  // none: slices name it, the Service itself is not there
    std::vector<std::string> slices;
  };
  void add_slice(const ServiceKey& service, const std::string& slice);
  void drop_slice(const ServiceKey& service, const std::string& slice);
  std::map<ServiceKey, ServiceEntry> services_;
  std::map<SliceKey, SliceRecord> slices_;
  std::set<ServiceKey> dirty_;
  bool all_dirty_ = false;
  std::uint64_t generation_ = 0;
  std::shared_ptr<const Snapshot> last_;
  std::optional<Snapshot::NamespaceSet> namespaces_;  // none until namespaces are fed
  bool namespaces_changed_ = false;
  std::map<std::pair<std::string, std::string>, std::vector<IpAddress>> pod_ips_;  // by namespace and name
  std::optional<Snapshot::PodAddressMap> pod_addresses_;                           // none until Pods are fed
  bool pods_changed_ = false;
};

}  // namespace switchyard::endpoints
