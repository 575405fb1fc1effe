// One node as the scheduler sees it (upstream's NodeInfo): the Node, its allocatable resources,
// the pods bound or assumed on it, what they request and which host ports they hold.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "orchestrator/scheduler/pod_info.h"

namespace switchyard::scheduler {

struct NodeInfo {
  std::shared_ptr<const api::Node> node;  // null while only pods name it (the Node not seen yet)
  Resources allocatable;
  Resources requested;           // sum of the pods' requests (NodeResourcesFit)
  Resources non_zero_requested;  // with the scoring defaults for pods that request nothing
  std::vector<PodInfoPtr> pods;
  std::size_t pods_with_affinity = 0;  // how many of `pods` carry pod (anti-)affinity terms
  std::vector<HostPort> used_ports;
  // Copied from the Node by set_node: the filters read them for every node of every cycle, and
  // the Node itself is a cache miss away.
  bool unschedulable = false;
  bool tainted = false;  // any taints at all

  const std::string& name() const { return node->metadata.name; }
  const api::StringMap& labels() const { return node->metadata.labels; }
  void set_node(std::shared_ptr<const api::Node> n);
  void add_pod(PodInfoPtr pod);
  // False when no pod with that key is here.
  bool remove_pod(const std::string& key);
  // Whether `port` clashes with one in use (same protocol and port, same or wildcard IP).
  bool port_in_use(const HostPort& port) const;
};

}  // namespace switchyard::scheduler
