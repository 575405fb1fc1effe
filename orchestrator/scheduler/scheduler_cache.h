// The scheduler's picture of the cluster (upstream's internal cache): every node with the pods
// bound to it, plus the pods this scheduler assumed onto a node before the binding write came
// back, so the next cycle already sees their requests. Informer events fill it; a binding that
// fails forgets its assumed pod; the bound pod's watch event confirms it.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/scheduler/node_info.h"

namespace switchyard::scheduler {

class SchedulerCache {
 public:
  void add_or_update_node(std::shared_ptr<const api::Node> node);
  void remove_node(const std::string& name);
  // A pod bound to a node (from the informer): added, moved or replaced; confirms an assumed pod.
  void add_or_update_pod(PodInfoPtr pod);
  void remove_pod(const std::string& key);
  // Counts `pod` on `node` until it is confirmed or forgotten.
  void assume_pod(PodInfoPtr pod, const std::string& node);
  void forget_pod(const std::string& key);
  bool is_assumed(const std::string& key) const;
  std::size_t node_count() const;
  std::size_t assumed_count() const;
  // Pods in the cache carrying pod (anti-)affinity terms: with none, InterPodAffinity has nothing
  // to check for a pod without terms of its own and skips its walk over every node.
  std::size_t pods_with_affinity() const { return pods_with_affinity_; }

  // Runs `f(nodes)` with every known Node, under the cache's lock (one scheduling cycle).
  template <class F>
  auto with_nodes(F&& f) {
    std::lock_guard lock(mu_);
    if (list_dirty_) rebuild_list();
    return f(static_cast<const std::vector<const NodeInfo*>&>(list_));
  }
  // Like with_nodes, then assumes `pod` on the node `f` returns (empty: none) in the same lock.
  template <class F>
  std::string pick_and_assume(const PodInfoPtr& pod, F&& f) {
    std::lock_guard lock(mu_);
    if (list_dirty_) rebuild_list();
    std::string node = f(static_cast<const std::vector<const NodeInfo*>&>(list_));
    if (!node.empty()) assume_locked(pod, node);
    return node;
  }

 private:
  NodeInfo& node_slot(const std::string& name);
  void remove_pod_locked(const std::string& key);
  void assume_locked(PodInfoPtr pod, const std::string& node);
  void rebuild_list();

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<NodeInfo>> nodes_;
  std::map<std::string, std::string> pod_nodes_;  // pod key -> node it is counted on
  std::set<std::string> assumed_;
  std::vector<const NodeInfo*> list_;
  bool list_dirty_ = true;
  std::atomic<std::size_t> pods_with_affinity_{0};
};

}  // namespace switchyard::scheduler
