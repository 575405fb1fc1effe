// The pod network between nodes, as flannel programs it: for every other node, its pod CIDR is
// routed to it either directly (host-gw: `podCIDR via nodeIP`, when the node's address is on a
// subnet this node is connected to) or through a kernel VXLAN device (`sy-vxlan`, VNI 1, port
// 8472: an FDB entry remote VTEP MAC → remote node IP, a permanent neighbour entry remote
// gateway → remote VTEP MAC, and `podCIDR via gateway dev sy-vxlan onlink`, the gateway being
// the network address of the remote pod CIDR, which the remote device holds as a /32).
//
// sync() takes the whole set of peers and programs the difference from what it programmed last;
// its first call (and the first after a failure) reads what the kernel holds instead (routes
// with our route protocol, the device's permanent neighbour and FDB entries), so leftovers of
// nodes deleted while the agent was down go and everything else is replaced in place. Nothing is
// removed on stop: traffic keeps flowing across a restart, and the device is reused.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/podnet/rtnetlink.h"

namespace switchyard::dataplane::podnet {

enum class PodNetworkMode { Auto, HostGw, Vxlan, None };
Result<PodNetworkMode> parse_pod_network_mode(std::string_view text);  // auto | host-gw | vxlan | none
std::string_view to_string(PodNetworkMode mode);

inline constexpr const char* kVxlanDevice = "sy-vxlan";

struct PodNetworkOptions {
  PodNetworkMode mode = PodNetworkMode::Auto;
  std::string node_ip;                     // this node's address: the VXLAN device's local address
  std::vector<std::string> pod_cidrs;      // this node's (IPv4 ones are used)
  std::vector<std::string> cluster_cidrs;  // addresses in them are not "connected subnets" (bridges, VTEPs)
  std::string vxlan_device = kVxlanDevice;
  std::uint32_t vni = 1;
  std::uint16_t vxlan_port = 8472;  // the Linux kernel's and flannel's
  bool masquerade = true;           // pod traffic leaving the cluster CIDRs is SNATed (masquerade.h)
};

// Another node, as its Node object says.
struct PeerNode {
  std::string name;
  std::string node_ip;  // its InternalIP
  std::vector<std::string> pod_cidrs;
  std::string vtep_mac;  // its published VXLAN device address ("" if none)
};

// What the kernel should hold for a set of peers (a pure function of its inputs: table-tested).
struct PodNetworkPlan {
  std::map<Ipv4Prefix, Route> routes;
  std::map<std::uint32_t, Neighbour> neighbours;
  std::map<std::pair<Mac, std::uint32_t>, FdbEntry> fdb;
  std::vector<std::pair<std::string, std::string>> peers;    // name → "host-gw" | "vxlan"
  std::vector<std::pair<std::string, std::string>> skipped;  // name → why
};
PodNetworkPlan plan_pod_network(const PodNetworkOptions& options, const std::vector<Ipv4Prefix>& connected_subnets, int vxlan_ifindex,
                                const std::vector<PeerNode>& peers);

class PodNetwork {
 public:
  // In the calling thread's network namespace: opens rtnetlink and, in auto and vxlan modes,
  // creates the VXLAN device or reuses the one there (recreated if its VNI, port or local
  // address differ); then the masquerade table (masquerade.h).
  static Result<std::unique_ptr<PodNetwork>> create(PodNetworkOptions options);
  // This node's VTEP MAC ("" without a VXLAN device): what the Node object publishes.
  const std::string& vtep_mac() const { return vtep_mac_; }
  Result<void> sync(const std::vector<PeerNode>& peers);

 private:
  PodNetwork(PodNetworkOptions options, std::unique_ptr<Rtnetlink> nl) : options_(std::move(options)), nl_(std::move(nl)) {}
  Result<void> ensure_vxlan_device();
  Result<void> read_kernel_state();

  PodNetworkOptions options_;
  std::unique_ptr<Rtnetlink> nl_;
  int vxlan_ifindex_ = 0;
  std::string vtep_mac_;
  bool programmed_known_ = false;  // programmed_ mirrors the kernel (false: read it first)
  PodNetworkPlan programmed_;
};

}  // namespace switchyard::dataplane::podnet
