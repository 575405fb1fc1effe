// What the node knows about one service port and its endpoints, trimmed from the API objects
// to what the dataplanes and DNS need, parsed once (binary addresses, interned node, zone and
// hostname). Plain values: a Snapshot shares them immutably.
#pragma once

#include <compare>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "endpoints/node/interned_string.h"
#include "endpoints/node/ip_address.h"
#include "endpoints/node/shared_string.h"

namespace switchyard::endpoints {

enum class IpFamily : std::uint8_t { IPv4, IPv6 };

// namespace/name:port-name/protocol, as kube-proxy's ServicePortName.
struct ServicePortName {
  std::string namespace_, name, port, protocol;
  auto operator<=>(const ServicePortName&) const = default;
  std::string to_string() const;  // "ns/name:port" ("ns/name" for an unnamed port), protocol appended when not TCP
};

struct ServiceKey {
  std::string namespace_, name;
  auto operator<=>(const ServiceKey&) const = default;
};

struct Endpoint {
  IpAddress ip;
  std::int32_t port = 0;
  IpFamily family = IpFamily::IPv4;
  bool ready = false, serving = false, terminating = false;
  bool local = false;  // on this node
  InternedString node_name, zone, hostname;
  SharedString pod_name;  // shared by the copies of this endpoint (state, port, service)
  std::vector<std::string> zone_hints, node_hints;
  bool operator==(const Endpoint&) const = default;
};

// One eligibility list: indices into its port's `endpoints`, so that each endpoint is stored
// once however many lists it is in (issue #25). A list built by hand (tests, callers of
// categorize_endpoints on their own vector) holds its endpoints itself. Reads as a vector.
class EndpointList {
 public:
  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = Endpoint;
    using difference_type = std::ptrdiff_t;
    using pointer = const Endpoint*;
    using reference = const Endpoint&;
    const_iterator() = default;
    const_iterator(const EndpointList* list, std::size_t i) : list_(list), i_(i) {}
    reference operator*() const { return (*list_)[i_]; }
    pointer operator->() const { return &(*list_)[i_]; }
    reference operator[](difference_type n) const { return (*list_)[i_ + static_cast<std::size_t>(n)]; }
    const_iterator& operator++() { return ++i_, *this; }
    const_iterator operator++(int) { return {list_, i_++}; }
    const_iterator& operator--() { return --i_, *this; }
    const_iterator operator--(int) { return {list_, i_--}; }
    const_iterator& operator+=(difference_type n) { return i_ += static_cast<std::size_t>(n), *this; }
    const_iterator& operator-=(difference_type n) { return i_ -= static_cast<std::size_t>(n), *this; }
    friend const_iterator operator+(const_iterator it, difference_type n) { return it += n; }
    friend const_iterator operator+(difference_type n, const_iterator it) { return it += n; }
    friend const_iterator operator-(const_iterator it, difference_type n) { return it -= n; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) {
      return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    auto operator<=>(const const_iterator& o) const { return i_ <=> o.i_; }

   private:
    const EndpointList* list_ = nullptr;
    std::size_t i_ = 0;
  };
  using iterator = const_iterator;
  using value_type = Endpoint;

  EndpointList() = default;
  EndpointList(std::initializer_list<Endpoint> own) : own_(own) {}
  EndpointList(std::vector<Endpoint> own) : own_(std::move(own)) {}  // NOLINT(google-explicit-constructor)
  // Entries `indices` of `*base`, which must outlive the list (its port's `endpoints`).
  EndpointList(const std::vector<Endpoint>* base, std::vector<std::uint32_t> indices) : base_(base), indices_(std::move(indices)) {}

  std::size_t size() const { return base_ ? indices_.size() : own_.size(); }
  bool empty() const { return size() == 0; }
  const Endpoint& operator[](std::size_t i) const { return base_ ? (*base_)[indices_[i]] : own_[i]; }
  const Endpoint& at(std::size_t i) const;
  const Endpoint& front() const { return (*this)[0]; }
  const Endpoint& back() const { return (*this)[size() - 1]; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size()}; }
  void push_back(Endpoint e);                                          // the list then holds its endpoints itself
  operator std::vector<Endpoint>() const { return {begin(), end()}; }  // NOLINT(google-explicit-constructor)
  bool operator==(const EndpointList& o) const;

  // Indexed lists: the vector they index and the indices (empty for a list of its own).
  const std::vector<Endpoint>* base() const { return base_; }
  const std::vector<std::uint32_t>& indices() const { return indices_; }
  // After the port that owns `from` was copied or moved to `to`.
  void rebase(const std::vector<Endpoint>* from, const std::vector<Endpoint>* to) {
    if (base_ && base_ == from) base_ = to;
  }

 private:
  const std::vector<Endpoint>* base_ = nullptr;
  std::vector<std::uint32_t> indices_;
  std::vector<Endpoint> own_;
};

// The endpoints one traffic path may use, after traffic policies, topology and the
// terminating-endpoint fallback (kube-proxy's CategorizeEndpoints), for one IP family.
struct EligibleEndpoints {
  EndpointList cluster;        // for traffic under Cluster policy
  EndpointList local;          // for traffic under Local policy
  EndpointList all_reachable;  // union: what conntrack cleanup must keep
  bool has_any = false;        // any usable endpoint anywhere: else reject
  bool operator==(const EligibleEndpoints&) const = default;
  void rebase(const std::vector<Endpoint>* from, const std::vector<Endpoint>* to) {
    cluster.rebase(from, to);
    local.rebase(from, to);
    all_reachable.rebase(from, to);
  }
};

struct ServicePortInfo {
  ServicePortInfo() = default;
  // Copies and moves point the eligibility lists at their own `endpoints`.
  ServicePortInfo(const ServicePortInfo& o);
  ServicePortInfo(ServicePortInfo&& o) noexcept;
  ServicePortInfo& operator=(const ServicePortInfo& o);
  ServicePortInfo& operator=(ServicePortInfo&& o) noexcept;

  ServicePortName name;
  std::vector<std::string> cluster_ips;  // primary family first
  std::int32_t port = 0;
  std::string protocol;  // TCP | UDP | SCTP
  std::int32_t node_port = 0;
  std::vector<std::string> external_ips;
  std::vector<std::string> load_balancer_ips;  // status ingress IPs with ipMode VIP
  std::vector<std::string> load_balancer_source_ranges;
  std::int32_t health_check_node_port = 0;
  std::optional<std::int32_t> affinity_timeout_seconds;  // set when sessionAffinity is ClientIP
  bool external_policy_local = false;                    // externalTrafficPolicy Local on an externally reachable service
  bool internal_policy_local = false;
  std::string load_balancing;       // service.switchyard.dev/lb-algorithm: "" (random) or "maglev"
  std::vector<Endpoint> endpoints;  // every endpoint of this port, both families, sorted by ip:port (as text)
  EligibleEndpoints ipv4, ipv6;     // computed for this node: indices into `endpoints`
  int local_ready_endpoints = 0;    // what the health-check node port reports

  bool externally_accessible() const { return node_port != 0 || !load_balancer_ips.empty() || !external_ips.empty(); }
  bool uses_cluster_endpoints() const { return !internal_policy_local || externally_accessible(); }
  bool uses_local_endpoints() const { return internal_policy_local || (external_policy_local && externally_accessible()); }
  const EligibleEndpoints& eligible(IpFamily f) const { return f == IpFamily::IPv4 ? ipv4 : ipv6; }
  bool operator==(const ServicePortInfo&) const = default;
};

// A port as DNS SRV records show it.
struct NamedPort {
  std::string name, protocol;
  std::int32_t port = 0;
  bool operator==(const NamedPort&) const = default;
};

// Every Service, proxied or not, as DNS needs it.
struct ServiceInfo {
  ServiceKey key;
  std::string type;  // ClusterIP | NodePort | LoadBalancer | ExternalName
  bool headless = false;
  bool proxied = false;  // false: headless, ExternalName, or another proxy's service
  std::string external_name;
  std::vector<std::string> cluster_ips;
  std::vector<NamedPort> ports;
  bool publish_not_ready_addresses = false;
  std::vector<Endpoint> addresses;        // one per endpoint IP (ports dropped), sorted, for headless records
  std::vector<NamedPort> endpoint_ports;  // the slices' ports (target ports), for headless SRV records
  bool operator==(const ServiceInfo&) const = default;
};

}  // namespace switchyard::endpoints
