#include "orchestrator/apiserver/service_allocation.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <fmt/ranges.h>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/validation.h"

namespace switchyard::apiserver {
namespace {

using api::FieldPath;
using api::Service;

bool needs_cluster_ips(const Service& s) { return s.spec.type != "ExternalName" && !api::is_headless(s.spec); }
bool needs_node_ports(const Service& s) { return s.spec.type == "NodePort" || s.spec.type == "LoadBalancer"; }
bool needs_health_check(const Service& s) {
  return s.spec.type == "LoadBalancer" && s.spec.external_traffic_policy == "Local";
}
// LoadBalancer with allocateLoadBalancerNodePorts=false keeps only requested node ports.
bool allocates_node_ports(const Service& s) {
  return s.spec.type == "NodePort" || (s.spec.type == "LoadBalancer" && s.spec.allocate_load_balancer_node_ports.value_or(true));
}

// family -> IP of what a stored Service holds.
std::vector<std::pair<std::string, std::string>> held_ips(const Service& s) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!needs_cluster_ips(s)) return out;
  for (std::size_t i = 0; i < s.spec.ip_families.size() && i < s.spec.cluster_ips.size(); ++i)
    if (!s.spec.cluster_ips[i].empty()) out.emplace_back(s.spec.ip_families[i], s.spec.cluster_ips[i]);
  return out;
}

std::set<int> held_node_ports(const Service& s) {
  std::set<int> out;
  if (!needs_node_ports(s)) return out;
  for (const auto& p : s.spec.ports)
    if (p.node_port != 0) out.insert(p.node_port);
  return out;
}

int held_health_check_port(const Service& s) { return needs_health_check(s) ? s.spec.health_check_node_port : 0; }

ServiceAllocationFailure internal_failure(std::string message) { return {{}, std::move(message)}; }

}  // namespace

ClusterIpAllocator* ServiceAllocators::for_family(std::string_view family) const {
  for (auto* a : cluster_ips)
    if (a->family() == family) return a;
  return nullptr;
}

std::string ServiceAllocationFailure::message() const {
  return field_errors.empty() ? internal : api::aggregate_message(field_errors);
}

std::string allocation_owner(const Service& svc) { return svc.metadata.namespace_ + "/" + svc.metadata.name; }

// ---- ServiceAllocationTransaction ---------------------------------------------------------

ServiceAllocationTransaction::ServiceAllocationTransaction(const ServiceAllocators& allocators, std::string owner)
    : allocators_(&allocators), owner_(std::move(owner)) {}

ServiceAllocationTransaction::ServiceAllocationTransaction(ServiceAllocationTransaction&& o) noexcept
    : allocators_(o.allocators_),
      owner_(std::move(o.owner_)),
      allocated_ips_(std::move(o.allocated_ips_)),
      release_ips_(std::move(o.release_ips_)),
      allocated_ports_(std::move(o.allocated_ports_)),
      release_ports_(std::move(o.release_ports_)),
      done_(o.done_) {
  o.done_ = true;
}

ServiceAllocationTransaction::~ServiceAllocationTransaction() {
  if (done_) return;
  // Nobody is left to report to: log it; AllocationRepair gives the values back.
  if (auto r = revert(); !r)
    spdlog::warn("event=allocation_release_failed error=\"{}\" repair=\"the allocation repair loop releases it\"", r.error().message);
}

Result<> ServiceAllocationTransaction::release(const std::vector<std::string>& ips,
                                                                       const std::vector<int>& ports) {
  std::vector<std::string> failures;
  for (const auto& ip : ips) {
    for (auto* a : allocators_->cluster_ips) {
      if (!a->range().offset_of(ip)) continue;
      if (auto r = a->release(ip, owner_); !r) failures.push_back(fmt::format("IP {}: {}", ip, r.error().message));
    }
  }
  for (int port : ports)
    if (auto r = allocators_->node_ports->release(port, owner_); !r)
      failures.push_back(fmt::format("node port {}: {}", port, r.error().message));
  if (failures.empty()) return {};
  return fail(ErrorCode::Unavailable, fmt::format("service {}: could not release {}", owner_, fmt::join(failures, "; ")));
}

Result<> ServiceAllocationTransaction::commit() {
  done_ = true;
  return release(release_ips_, release_ports_);
}

Result<> ServiceAllocationTransaction::revert() {
  done_ = true;
  return release(allocated_ips_, allocated_ports_);
}

// ---- the allocation of one create/update --------------------------------------------------

class ServiceAllocationBuilder {
 public:
  ServiceAllocationBuilder(const ServiceAllocators& allocators, const Service* old, Service& svc)
      : allocators_(allocators), old_(old), svc_(svc), txn_(allocators, allocation_owner(svc)) {}

  std::expected<ServiceAllocationTransaction, ServiceAllocationFailure> run() {
    if (auto r = cluster_ips(); !r) return fail(std::move(r.error()));
    if (auto r = node_ports(); !r) return fail(std::move(r.error()));
    if (auto r = health_check_node_port(); !r) return fail(std::move(r.error()));
    return std::move(txn_);
  }

 private:
  using Step = std::expected<void, ServiceAllocationFailure>;

  std::unexpected<ServiceAllocationFailure> fail(ServiceAllocationFailure f) {
    if (auto r = txn_.revert(); !r) f.internal += (f.internal.empty() ? "" : "; ") + r.error().message;
    return std::unexpected(std::move(f));
  }

  const std::string& owner() const { return txn_.owner_; }

  Step cluster_ips() {
    auto& spec = svc_.spec;
    const auto before = old_ ? held_ips(*old_) : std::vector<std::pair<std::string, std::string>>{};
    auto held_for = [&](const std::string& family) -> const std::string* {
      for (const auto& [f, ip] : before)
        if (f == family) return &ip;
      return nullptr;
    };
    if (!needs_cluster_ips(svc_)) {
      for (const auto& [family, ip] : before) txn_.release_ips_.push_back(ip);
      return {};
    }
    const std::vector<std::string> requested = spec.cluster_ips;
    std::vector<std::string> result = spec.cluster_ips;
    result.resize(std::max(result.size(), spec.ip_families.size()));
    for (std::size_t i = 0; i < spec.ip_families.size(); ++i) {
      const std::string& family = spec.ip_families[i];
      if (const std::string* ip = held_for(family)) {  // kept across the update
        if (result[i].empty()) result[i] = *ip;
        continue;
      }
      ClusterIpAllocator* alloc = allocators_.for_family(family);
      if (!alloc)
        return std::unexpected(ServiceAllocationFailure{
            {api::invalid(FieldPath("spec").child("ipFamilies").index(i), api::go_quoted(family),
                          "not configured on this cluster")},
            {}});
      if (!result[i].empty()) {
        if (auto r = alloc->allocate(result[i], owner()); !r) {
          if (is_store_failure(r.error())) return std::unexpected(internal_failure(r.error().message));
          return std::unexpected(ServiceAllocationFailure{
              {api::invalid(FieldPath("spec").child("clusterIPs"), api::go_string_slice(requested),
                            fmt::format("failed to allocate IP {}: {}", result[i], r.error().message))},
              {}});
        }
      } else {
        auto ip = alloc->allocate_next(owner());
        if (!ip) return std::unexpected(internal_failure(fmt::format("failed to allocate a serviceIP: {}", ip.error().message)));
        result[i] = *ip;
      }
      txn_.allocated_ips_.push_back(result[i]);
    }
    // A family the update dropped (dual-stack downgrade) gives its IP back.
    for (const auto& [family, ip] : before)
      if (std::find(spec.ip_families.begin(), spec.ip_families.end(), family) == spec.ip_families.end())
        txn_.release_ips_.push_back(ip);
    result.resize(spec.ip_families.size());
    spec.cluster_ips = std::move(result);
    if (!spec.cluster_ips.empty()) spec.cluster_ip = spec.cluster_ips[0];
    return {};
  }

  // Allocates a requested node port unless this Service already holds it (from before, or from an
  // earlier entry of this call).
  Step claim_port(int port, const FieldPath& path) {
    if (holds(port)) return {};
    if (auto r = allocators_.node_ports->allocate(port, owner()); !r) {
      if (is_store_failure(r.error())) return std::unexpected(internal_failure(r.error().message));
      return std::unexpected(ServiceAllocationFailure{{api::invalid(path, api::rendered(port), r.error().message)}, {}});
    }
    txn_.allocated_ports_.push_back(port);
    return {};
  }

  bool holds(int port) const {
    return old_ports_.contains(port) ||
           std::find(txn_.allocated_ports_.begin(), txn_.allocated_ports_.end(), port) != txn_.allocated_ports_.end();
  }

  std::expected<int, ServiceAllocationFailure> next_port(std::string_view what) {
    auto port = allocators_.node_ports->allocate_next(owner());
    if (!port) return std::unexpected(internal_failure(fmt::format("failed to allocate a {}: {}", what, port.error().message)));
    txn_.allocated_ports_.push_back(*port);
    return *port;
  }

  Step node_ports() {
    auto& ports = svc_.spec.ports;
    old_ports_ = old_ ? held_node_ports(*old_) : std::set<int>{};
    if (!needs_node_ports(svc_)) {
      // dropTypeDependentFields: node ports carried over unchanged from the old object go away.
      for (auto& p : ports)
        if (old_ports_.contains(p.node_port)) p.node_port = 0;
      for (int port : old_ports_) txn_.release_ports_.push_back(port);
      return {};
    }
    // patchAllocatedValues: on update, an entry without a node port keeps the one its
    // (port, protocol) had.
    if (old_ && needs_node_ports(*old_))
      for (auto& p : ports)
        if (p.node_port == 0)
          for (const auto& o : old_->spec.ports)
            if (o.port == p.port && o.protocol == p.protocol && o.node_port != 0) p.node_port = o.node_port;

    std::map<std::int32_t, int> by_service_port;  // one node port per `port`, shared by TCP and UDP
    for (std::size_t i = 0; i < ports.size(); ++i) {
      auto& p = ports[i];
      const FieldPath path = FieldPath("spec").child("ports").index(i).child("nodePort");
      if (p.node_port == 0 && !allocates_node_ports(svc_)) continue;  // only requested ones
      if (p.node_port != 0) {
        if (auto r = claim_port(p.node_port, path); !r) return r;
        by_service_port.try_emplace(p.port, p.node_port);
        continue;
      }
      if (auto it = by_service_port.find(p.port); it != by_service_port.end()) {
        p.node_port = it->second;
        continue;
      }
      // A later entry of the same port may name the node port this one should share.
      int requested = 0;
      for (std::size_t j = i + 1; j < ports.size() && !requested; ++j)
        if (ports[j].port == p.port) requested = ports[j].node_port;
      if (requested) {
        if (auto r = claim_port(requested, path); !r) return r;
        p.node_port = requested;
      } else {
        auto port = next_port("nodePort");
        if (!port) return std::unexpected(std::move(port.error()));
        p.node_port = *port;
      }
      by_service_port.emplace(p.port, p.node_port);
    }
    for (int port : old_ports_)
      if (std::none_of(ports.begin(), ports.end(), [&](const auto& p) { return p.node_port == port; }))
        txn_.release_ports_.push_back(port);
    return {};
  }

  Step health_check_node_port() {
    auto& hc = svc_.spec.health_check_node_port;
    const int before = old_ ? held_health_check_port(*old_) : 0;
    if (!needs_health_check(svc_)) {
      if (before != 0) {
        txn_.release_ports_.push_back(before);
        if (hc == before) hc = 0;
      }
      return {};
    }
    if (before != 0 && (hc == 0 || hc == before)) {
      hc = before;
      return {};
    }
    if (hc != 0) {
      if (auto r = allocators_.node_ports->allocate(hc, owner()); !r) {
        return std::unexpected(
            internal_failure(fmt::format("failed to allocate requested HealthCheck NodePort {}: {}", hc, r.error().message)));
      }
      txn_.allocated_ports_.push_back(hc);
    } else {
      auto port = next_port("HealthCheck NodePort");
      if (!port) return std::unexpected(std::move(port.error()));
      hc = *port;
    }
    if (before != 0) txn_.release_ports_.push_back(before);
    return {};
  }

  const ServiceAllocators& allocators_;
  const Service* old_;
  Service& svc_;
  ServiceAllocationTransaction txn_;
  std::set<int> old_ports_;
};

std::expected<ServiceAllocationTransaction, ServiceAllocationFailure> allocate_service(
    const ServiceAllocators& allocators, const Service* old, Service& svc) {
  Service working = svc;  // svc stays as given if anything fails
  auto txn = ServiceAllocationBuilder(allocators, old, working).run();
  if (txn) svc = std::move(working);
  return txn;
}

Result<> release_service(const ServiceAllocators& allocators, const Service& svc) {
  std::vector<std::string> ips;
  for (const auto& [family, ip] : held_ips(svc)) ips.push_back(ip);
  const std::set<int> node_ports = held_node_ports(svc);
  std::vector<int> ports(node_ports.begin(), node_ports.end());
  if (int hc = held_health_check_port(svc); hc != 0) ports.push_back(hc);
  ServiceAllocationTransaction txn(allocators, allocation_owner(svc));
  txn.release_ips_ = std::move(ips);
  txn.release_ports_ = std::move(ports);
  return txn.commit();
}

}  // namespace switchyard::apiserver
