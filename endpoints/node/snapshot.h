// The per-node view of services and endpoints that the dataplanes and DNS read. A Snapshot is
// immutable; ClusterState keeps the latest API objects (fed by informers) and builds a new
// Snapshot when they change, rebuilding only the services that changed and sharing the rest,
// so that diffing two Snapshots is mostly pointer comparisons.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "endpoints/node/eligible_endpoints.h"
#include "endpoints/node/service_port.h"
#include "orchestrator/api/types.h"

namespace switchyard::endpoints {

inline constexpr const char* kServiceProxyNameLabel = "service.kubernetes.io/service-proxy-name";
inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";
inline constexpr const char* kLoadBalancingAnnotation = "service.switchyard.dev/lb-algorithm";

class Snapshot {
 public:
  using PortMap = std::map<ServicePortName, std::shared_ptr<const ServicePortInfo>>;
  using ServiceMap = std::map<ServiceKey, std::shared_ptr<const ServiceInfo>>;

  Snapshot(std::uint64_t generation, PortMap ports, ServiceMap services)
      : generation_(generation), ports_(std::move(ports)), services_(std::move(services)) {}

  // Increases with every change; DNS uses it as the SOA serial.
  std::uint64_t generation() const { return generation_; }
  // Ports of proxied services only (not headless, ExternalName or another proxy's).
  const PortMap& service_ports() const { return ports_; }
  // Every service, for DNS.
  const ServiceMap& services() const { return services_; }
  const ServicePortInfo* find(const ServicePortName& n) const;
  const ServiceInfo* find(const ServiceKey& k) const;

 private:
  std::uint64_t generation_;
  PortMap ports_;
  ServiceMap services_;
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

  bool changed() const { return !dirty_.empty() || all_dirty_; }
  // A new Snapshot reflecting everything so far; the previous one if nothing changed.
  std::shared_ptr<const Snapshot> build();

 private:
  struct SliceKey {
    std::string namespace_, name;
    auto operator<=>(const SliceKey&) const = default;
  };
  void rebuild_service(const ServiceKey& k, Snapshot::PortMap& ports, Snapshot::ServiceMap& services);

  ClusterStateOptions options_;
  NodeTopology node_;
  std::map<ServiceKey, api::Service> services_;
  std::map<SliceKey, api::EndpointSlice> slices_;
  std::map<ServiceKey, std::set<SliceKey>> slices_by_service_;
  std::set<ServiceKey> dirty_;
  bool all_dirty_ = false;
  std::uint64_t generation_ = 0;
  std::shared_ptr<const Snapshot> last_;
};

}  // namespace switchyard::endpoints
