// The pod network between nodes (dataplane/podnet, flannel's host-gw and vxlan backends) fed from
// Node objects: an informer on every Node turns the other nodes' podCIDRs, InternalIPs and
// published VTEP MACs into routes, neighbour and FDB entries; this node's VTEP MAC is published on
// its own Node (annotation switchyard.io/vxlan-mac) with the node's own credentials, as flannel
// publishes flannel.alpha.coreos.com/backend-data. Started by `up`, `join` and `agent
// --pod-network`; failures are retried, the kernel state is kept on stop.
#pragma once

#include <memory>
#include <string>

#include "dataplane/podnet/pod_network.h"
#include "orchestrator/client/cluster_connection.h"

namespace switchyard::node {

inline constexpr const char* kVxlanMacAnnotation = "switchyard.io/vxlan-mac";

struct PodNetworkControllerOptions {
  std::string node_name;
  dataplane::podnet::PodNetworkOptions network;  // node_ip, this node's pod_cidrs, cluster_cidrs, mode
};

class PodNetworkController {
 public:
  // Creates (or reuses) the VXLAN device at once, in the calling thread's network namespace; the
  // rest follows on a thread of its own. `connection` must be allowed to list and watch Nodes
  // and patch this node's Node (a kubelet's credentials are).
  static Result<std::unique_ptr<PodNetworkController>> start(PodNetworkControllerOptions options, client::ClusterConnection connection);
  ~PodNetworkController();
  void stop();
  // Every Node listed and the routes programmed from that list once.
  bool synced() const;

  struct Impl;

 private:
  explicit PodNetworkController(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchyard::node
