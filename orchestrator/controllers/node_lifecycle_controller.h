// The node lifecycle controller (kube-controller-manager's nodelifecycle and taint-eviction
// controllers), on shared informers of Nodes, Leases and Pods:
// - a node whose kubelet stopped renewing its Lease and posting its Ready heartbeat for the grace
//   period (40 s) gets Ready (and the pressure conditions) Unknown, "Kubelet stopped posting node
//   status.", and its pods Ready=False so the dataplanes stop sending to them;
// - Ready=Unknown taints it node.kubernetes.io/unreachable (NoSchedule and NoExecute),
//   Ready=False node.kubernetes.io/not-ready, spec.unschedulable (kubectl cordon)
//   node.kubernetes.io/unschedulable:NoSchedule; the taints go when the state does;
// - pods on a node with NoExecute taints they do not tolerate are deleted at once, those that
//   tolerate them for tolerationSeconds when that time has passed (DisruptionTarget condition,
//   TaintManagerEviction Event, a graceful delete);
// - Events as upstream's "node-controller": RegisteredNode and RemovingNode when it first sees a
//   Node and when the Node is gone, NodeNotReady on a Ready node it marks Unknown, and a Warning
//   NodeNotReady "Node is not ready" on each pod it marks Ready=False.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/controllers/node_health.h"

namespace switchyard::controllers {

struct NodeLifecycleOptions {
  std::chrono::milliseconds grace_period{40000};   // --node-monitor-grace-period
  std::chrono::milliseconds monitor_period{1000};  // how often nodes and evictions are checked
  const client::Clock* clock = &client::Clock::real();
};

struct NodeLifecycleStats {
  std::atomic<std::uint64_t> nodes_marked_unknown{0}, taint_updates{0}, pods_marked_not_ready{0}, evictions{0}, write_failures{0};
};

class NodeLifecycleController {
 public:
  NodeLifecycleController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                          NodeLifecycleOptions options = {});
  ~NodeLifecycleController();
  NodeLifecycleController(const NodeLifecycleController&) = delete;
  NodeLifecycleController& operator=(const NodeLifecycleController&) = delete;

  void start();
  void stop();
  // One pass over every node and its pods (the caches must have synced).
  void monitor_once(client::ApiClient& api);
  const NodeLifecycleStats& stats() const { return stats_; }

 private:
  // Returns the node as written (or as it was when nothing needed writing).
  api::Node mark_unknown(const api::Node& node, client::ApiClient& api);
  void mark_pods_not_ready(const std::string& node, client::ApiClient& api);
  void evict(const std::string& pod_key, client::ApiClient& api);

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  NodeLifecycleOptions options_;
  client::SharedIndexInformer<api::Node>& nodes_;
  client::SharedIndexInformer<api::Lease>& leases_;
  client::SharedIndexInformer<api::Pod>& pods_;
  std::mutex mu_;  // the trackers: monitor_once may run from a test beside the loop
  NodeHealthTracker health_;
  TaintEvictionQueue evictions_;
  std::set<std::string> known_nodes_;  // for RegisteredNode and RemovingNode Events
  NodeLifecycleStats stats_;
  std::atomic<bool> stopping_{false};
  std::thread loop_;
};

}  // namespace switchyard::controllers
