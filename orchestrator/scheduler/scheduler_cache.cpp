#include "orchestrator/scheduler/scheduler_cache.h"

namespace switchyard::scheduler {

NodeInfo& SchedulerCache::node_slot(const std::string& name) {
  auto& slot = nodes_[name];
  if (!slot) slot = std::make_unique<NodeInfo>();
  return *slot;
}

void SchedulerCache::rebuild_list() {
  list_.clear();
  list_.reserve(nodes_.size());
  for (const auto& [name, n] : nodes_)
    if (n->node) list_.push_back(n.get());
  list_dirty_ = false;
}

void SchedulerCache::add_or_update_node(std::shared_ptr<const api::Node> node) {
  std::lock_guard lock(mu_);
  NodeInfo& n = node_slot(node->metadata.name);
  if (!n.node) list_dirty_ = true;
  n.set_node(std::move(node));
}

void SchedulerCache::remove_node(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return;
  // Its pods stay counted (they may still run) until their own delete events; only the Node goes.
  if (it->second->pods.empty())
    nodes_.erase(it);
  else
    it->second->node.reset();
  list_dirty_ = true;
}

void SchedulerCache::remove_pod_locked(const std::string& key) {
  auto it = pod_nodes_.find(key);
  if (it == pod_nodes_.end()) return;
  if (auto n = nodes_.find(it->second); n != nodes_.end()) {
    const std::size_t before = n->second->pods_with_affinity;
    n->second->remove_pod(key);
    pods_with_affinity_ -= before - n->second->pods_with_affinity;
    if (!n->second->node && n->second->pods.empty()) nodes_.erase(n);
  }
  pod_nodes_.erase(it);
  assumed_.erase(key);
}

void SchedulerCache::add_or_update_pod(PodInfoPtr pod) {
  std::lock_guard lock(mu_);
  const std::string key = pod->key;
  const std::string node = pod->pod->spec.node_name;
  remove_pod_locked(key);
  if (pod->has_pod_affinity()) ++pods_with_affinity_;
  node_slot(node).add_pod(std::move(pod));
  pod_nodes_[key] = node;
}

void SchedulerCache::remove_pod(const std::string& key) {
  std::lock_guard lock(mu_);
  remove_pod_locked(key);
}

void SchedulerCache::assume_locked(PodInfoPtr pod, const std::string& node) {
  const std::string key = pod->key;
  remove_pod_locked(key);
  if (pod->has_pod_affinity()) ++pods_with_affinity_;
  node_slot(node).add_pod(std::move(pod));
  pod_nodes_[key] = node;
  assumed_.insert(key);
}

void SchedulerCache::assume_pod(PodInfoPtr pod, const std::string& node) {
  std::lock_guard lock(mu_);
  assume_locked(std::move(pod), node);
}

void SchedulerCache::forget_pod(const std::string& key) {
  std::lock_guard lock(mu_);
  if (assumed_.contains(key)) remove_pod_locked(key);
}

bool SchedulerCache::is_assumed(const std::string& key) const {
  std::lock_guard lock(mu_);
  return assumed_.contains(key);
}

std::size_t SchedulerCache::node_count() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [name, info] : nodes_) n += info->node ? 1 : 0;
  return n;
}

std::size_t SchedulerCache::assumed_count() const {
  std::lock_guard lock(mu_);
  return assumed_.size();
}

}  // namespace switchyard::scheduler
