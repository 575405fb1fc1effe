// Snapshot → nftables objects, following kube-proxy's nftables mode: a fixed skeleton per family
// (base chains, dispatch maps, masquerade and reject helpers) and, per service port, its chains,
// affinity sets and map elements. Pure functions: tested without a kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/iptables/nft_model.h"
#include "endpoints/node/service_port.h"

namespace switchyard::dataplane::nft {

struct GeneratorOptions {
  // Pod CIDRs of the cluster (both families mixed): traffic from outside them to a service is
  // masqueraded. Empty: masquerade every ClusterIP connection (kube-proxy's --masquerade-all).
  std::vector<std::string> cluster_cidrs;
  std::uint32_t masquerade_mark = 0x4000;
  // Where node ports answer, per family (kube-proxy's --nodeport-addresses, resolved to this
  // node's addresses by the backend): nullopt, every local address but loopback (`fib daddr type
  // local`); a list, only these addresses (the `nodeport-ips` set), none if it is empty.
  std::optional<std::vector<std::string>> node_port_ipv4, node_port_ipv6;
  const std::optional<std::vector<std::string>>& node_port_ips(IpFamily f) const {
    return f == IpFamily::IPv4 ? node_port_ipv4 : node_port_ipv6;
  }
};

// Names of the fixed chains, sets and maps (the same in both families).
namespace names {
inline constexpr const char* kServicesChain = "services";
inline constexpr const char* kMarkForMasqueradeChain = "mark-for-masquerade";
inline constexpr const char* kMasqueradingChain = "masquerading";
inline constexpr const char* kServiceEndpointsCheckChain = "service-endpoints-check";
inline constexpr const char* kNodePortEndpointsCheckChain = "nodeport-endpoints-check";
inline constexpr const char* kFirewallCheckChain = "firewall-check";
inline constexpr const char* kClusterIpsCheckChain = "cluster-ips-check";
inline constexpr const char* kRejectChain = "reject-chain";
inline constexpr const char* kServiceIpsMap = "service-ips";
inline constexpr const char* kServiceNodePortsMap = "service-nodeports";
inline constexpr const char* kNoEndpointServicesMap = "no-endpoint-services";
inline constexpr const char* kNoEndpointNodePortsMap = "no-endpoint-nodeports";
inline constexpr const char* kFirewallIpsMap = "firewall-ips";
inline constexpr const char* kClusterIpsSet = "cluster-ips";
inline constexpr const char* kHairpinSet = "hairpin-endpoints";
inline constexpr const char* kNodePortIpsSet = "nodeport-ips";
inline constexpr const char* kEndpointGroupPrefix = "endpoints-";  // + N: chain and map
}  // namespace names

IpFamily family_of(const std::string& address);  // by the presence of ':'

// The front table `switchyard`: filter base chains (endpoint checks, firewall, ClusterIP port
// checks, rejects) and masquerading. One per family.
TableSkeleton make_front_skeleton(IpFamily family, const GeneratorOptions& options);
// A service table `switchyard-services-N`: nat base chains dispatching through its service-ips and
// service-nodeports maps to the per-service chains it holds. Services are spread over several
// of them so that the kernel's validation walk at each commit covers one table, not all.
TableSkeleton make_service_table_skeleton(IpFamily family, std::size_t index, const GeneratorOptions& options);
std::string service_table_name(std::size_t index);

// What a service table holds for its ClusterIPs with N endpoints (no affinity, Cluster internal
// policy): a chain `endpoints-N` marking off-cluster clients for masquerade and DNATing through
// the map `endpoints-N` (ClusterIP . protocol . port . index → endpoint address . port). No rule
// per service: the kernel's cost of a full sync is mostly parsing rules (see README).
struct EndpointGroup {
  Set map;
  Chain chain;
};
std::string endpoint_group_name(std::uint32_t endpoints);  // "endpoints-N"
EndpointGroup make_endpoint_group(IpFamily family, std::uint32_t endpoints, const GeneratorOptions& options);

// The chains, sets and elements of one service port in one family. Empty when the port has no
// address of that family or an unsupported protocol. Firewall chains and the elements of the
// front table's maps go to the front table (in_front_table()); the rest to the port's service table.
ServicePortObjects generate_service_port(const endpoints::ServicePortInfo& port, IpFamily family, const GeneratorOptions& options);

// "service-ABCDEFGH-ns/name/tcp/http": a short hash keeps names unique, the rest keeps them readable.
std::string service_chain_base(const endpoints::ServicePortName& name);

}  // namespace switchyard::dataplane::nft
