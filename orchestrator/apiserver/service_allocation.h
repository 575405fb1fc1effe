// What a Service create, update or delete allocates and releases, as the API server's Service
// registry does it (pkg/registry/core/service/storage/alloc.go):
//
// - clusterIPs, one per entry of spec.ipFamilies (already defaulted), unless the Service is
//   headless or ExternalName: the requested spec.clusterIPs[i], or the next free one. On update,
//   only what changed: a type change from ExternalName allocates, a change to ExternalName
//   releases, an added secondary family allocates, a removed one releases.
// - nodePorts for NodePort and LoadBalancer Services (LoadBalancer with
//   allocateLoadBalancerNodePorts=false only allocates requested ones). Entries with the same
//   `port` (TCP and UDP of one port) share one node port. On update a port without a nodePort
//   keeps the one its (port, protocol) had; node ports no longer used are released, all of them
//   on a change to ClusterIP or ExternalName.
// - healthCheckNodePort for LoadBalancer + externalTrafficPolicy Local, from the same range;
//   released when the Service stops needing it.
//
// Errors are those of the real server: a requested value that cannot be had is a 422 on
// spec.clusterIPs / spec.ports[i].nodePort; an exhausted range ("failed to allocate a serviceIP:
// range is full") and Store failures are internal (500) errors.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orchestrator/api/field_error.h"
#include "orchestrator/api/types.h"
#include "orchestrator/apiserver/allocators.h"

namespace switchyard::apiserver {

// The allocators of one API server; they outlive every transaction made with them.
struct ServiceAllocators {
  std::vector<ClusterIpAllocator*> cluster_ips;  // one per configured service CIDR, primary first
  NodePortAllocator* node_ports = nullptr;

  ClusterIpAllocator* for_family(std::string_view family) const;
};

struct ServiceAllocationFailure {
  api::FieldErrors field_errors;  // non-empty: 422 Invalid with these causes
  std::string internal;           // otherwise: a 500 InternalError with this message

  std::string message() const;  // the aggregate of the field errors, or `internal`
};

// "namespace/name": the value of the allocation keys a Service holds.
std::string allocation_owner(const api::Service& svc);

// The allocations of one create/update. Commit after the Service was stored, to release what the
// old object held and the new one no longer does; revert if storing failed, to release what was
// allocated. Destroying an uncommitted transaction reverts it.
class ServiceAllocationTransaction {
 public:
  ServiceAllocationTransaction(ServiceAllocationTransaction&& other) noexcept;
  ServiceAllocationTransaction& operator=(ServiceAllocationTransaction&&) = delete;
  ServiceAllocationTransaction(const ServiceAllocationTransaction&) = delete;
  ~ServiceAllocationTransaction();

  // Releases the deferred values. An error lists what could not be released (leaked until repaired).
  Result<> commit();
  // Releases what this transaction allocated. Errors are returned, the rest is still released.
  Result<> revert();

  const std::vector<std::string>& allocated_ips() const { return allocated_ips_; }
  const std::vector<int>& allocated_ports() const { return allocated_ports_; }
  const std::vector<std::string>& ips_to_release() const { return release_ips_; }
  const std::vector<int>& ports_to_release() const { return release_ports_; }

 private:
  friend class ServiceAllocationBuilder;
  friend Result<> release_service(const ServiceAllocators&, const api::Service&);
  ServiceAllocationTransaction(const ServiceAllocators& allocators, std::string owner);

  Result<> release(const std::vector<std::string>& ips, const std::vector<int>& ports);

  const ServiceAllocators* allocators_;
  std::string owner_;
  std::vector<std::string> allocated_ips_, release_ips_;
  std::vector<int> allocated_ports_, release_ports_;
  bool done_ = false;
};

// Allocates what `svc` needs (old: the stored object on update, nullptr on create) and writes the
// results into svc.spec (clusterIP, clusterIPs, ports[].nodePort, healthCheckNodePort). On failure
// nothing stays allocated and svc is unchanged.
std::expected<ServiceAllocationTransaction, ServiceAllocationFailure> allocate_service(
    const ServiceAllocators& allocators, const api::Service* old, api::Service& svc);

// Releases everything a deleted Service held. An error lists what could not be released.
Result<> release_service(const ServiceAllocators& allocators, const api::Service& svc);

}  // namespace switchyard::apiserver
