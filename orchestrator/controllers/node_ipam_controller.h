// Node IPAM (kube-controller-manager's nodeipam controller with the RangeAllocator): every
// Node gets spec.podCIDR and spec.podCIDRs, one subnet of each --cluster-cidr family, which
// the kubelet hands to CNI.
//  - Restart-safe: nothing is kept but the Nodes; after the caches synced, the subnets of every
//    Node that has them are marked taken before any Node gets a new one.
//  - A podCIDR set by hand is honoured (marked taken), as upstream's occupyCIDRs.
//  - A deleted Node's subnets go back; Nodes still waiting then get another try.
//  - When the range is exhausted the Node gets a Warning Event `CIDRNotAvailable` ("Node X
//    status is now: CIDRNotAvailable"), once, and waits.
// One worker: allocation is serialized, and the in-memory map holds a subnet from the moment it
// is chosen, so two Nodes never get the same one.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"
#include "orchestrator/controllers/node_cidr_set.h"

namespace switchyard::controllers {

struct NodeIpamOptions {
  std::vector<std::string> cluster_cidrs;  // --cluster-cidr: one CIDR, or one IPv4 and one IPv6
  int node_cidr_mask_size = 0;             // --node-cidr-mask-size (single-stack only; 0: not given)
  int node_cidr_mask_size_ipv4 = 0;        // 0: 24
  int node_cidr_mask_size_ipv6 = 0;        // 0: 64
};

class NodeIpamController {
 public:
  // Fails on options kube-controller-manager refuses (bad CIDRs, mask sizes).
  static Result<std::unique_ptr<NodeIpamController>> create(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                                                            const NodeIpamOptions& options);
  ~NodeIpamController();
  NodeIpamController(const NodeIpamController&) = delete;
  NodeIpamController& operator=(const NodeIpamController&) = delete;

  void start();
  void stop();
  // One Node from the cache (the caches must have synced); an error means "requeue".
  Result<void> sync_node(const std::string& name, client::ApiClient& api);

 private:
  struct Handlers;
  NodeIpamController(client::SharedInformerFactory& informers, client::ClusterConnection connection, std::vector<CidrSet> sets);
  void worker();
  void seed_from_cache();
  // Marks a Node's CIDRs taken in the set of their family (lock held).
  void occupy(const std::string& node, const std::vector<std::string>& cidrs);
  void release(const std::string& node);
  // Gives `cidrs` back to their sets (lock held).
  void unmark(const std::string& node, const std::vector<std::string>& cidrs);

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  client::SharedIndexInformer<api::Node>& nodes_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;

  std::mutex mu_;
  std::vector<CidrSet> sets_;                             // in --cluster-cidr order: podCIDRs' order
  std::map<std::string, std::vector<std::string>> held_;  // Node name -> the CIDRs marked for it
  std::set<std::string> warned_;                          // Nodes told CIDRNotAvailable and still waiting
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

}  // namespace switchyard::controllers
