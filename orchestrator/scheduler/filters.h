// The Filter plugins of the default profile, each a pure function of the pod, one node and
// (for InterPodAffinity and PodTopologySpread) the state their PreFilter computed over every
// node. The reason strings are upstream's: FailedScheduling events count nodes per reason.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "orchestrator/scheduler/node_info.h"

namespace switchyard::scheduler {

enum class FilterCode { Success, Unschedulable, UnschedulableAndUnresolvable };

struct FilterResult {
  FilterCode code = FilterCode::Success;
  std::vector<std::string> reasons;
  bool ok() const { return code == FilterCode::Success; }
  static FilterResult success() { return {}; }
  static FilterResult fail(FilterCode c, std::string reason) { return {c, {std::move(reason)}}; }
};

namespace reasons {
inline constexpr const char* kUnschedulable = "node(s) were unschedulable";
inline constexpr const char* kNodeName = "node(s) didn't match the requested node name";
inline constexpr const char* kNodeAffinity = "node(s) didn't match Pod's node affinity/selector";
inline constexpr const char* kNodePorts = "node(s) didn't have free ports for the requested pod ports";
inline constexpr const char* kTooManyPods = "Too many pods";
inline constexpr const char* kExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules";
inline constexpr const char* kAffinity = "node(s) didn't match pod affinity rules";
inline constexpr const char* kAntiAffinity = "node(s) didn't match pod anti-affinity rules";
inline constexpr const char* kSpread = "node(s) didn't match pod topology spread constraints";
inline constexpr const char* kSpreadMissingLabel = "node(s) didn't match pod topology spread constraints (missing required label)";
}  // namespace reasons

FilterResult filter_node_unschedulable(const PodInfo& pod, const NodeInfo& node);
FilterResult filter_node_name(const PodInfo& pod, const NodeInfo& node);
FilterResult filter_taint_toleration(const PodInfo& pod, const NodeInfo& node);
FilterResult filter_node_affinity(const PodInfo& pod, const NodeInfo& node);
FilterResult filter_node_ports(const PodInfo& pod, const NodeInfo& node);
FilterResult filter_node_resources_fit(const PodInfo& pod, const NodeInfo& node);

// Whether the node passes the pod's nodeSelector and required node affinity.
bool node_matches_pod_affinity_selector(const PodInfo& pod, const api::Node& node);

// A (topology key, value) pair.
using TopologyPair = std::pair<std::string, std::string>;

// InterPodAffinity's PreFilter: counts per topology pair over every node.
struct InterPodAffinityState {
  std::map<TopologyPair, int> existing_anti_affinity;      // existing pods whose required anti-affinity matches the pod
  std::map<TopologyPair, int> affinity;                    // pods matching all of the pod's required affinity terms
  std::map<TopologyPair, int> anti_affinity;               // pods matching one of the pod's required anti-affinity terms
  bool active = false;                                     // anything to check at all
  bool self_affinity = false;                              // the pod matches all its own required affinity terms
  std::map<std::string, api::StringMap> namespace_labels;  // for namespaceSelector, kept for update_inter_pod_affinity
};
// `namespace_labels`: labels of each namespace, for namespaceSelector (may be empty).
InterPodAffinityState prefilter_inter_pod_affinity(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                                                   const std::map<std::string, api::StringMap>& namespace_labels);
FilterResult filter_inter_pod_affinity(const PodInfo& pod, const NodeInfo& node, const InterPodAffinityState& state);
// PreFilterExtensions AddPod/RemovePod: `other` added to (delta 1) or removed from (delta -1)
// `node`, as preemption tries the pod with victims removed.
void update_inter_pod_affinity(InterPodAffinityState& state, const PodInfo& pod, const PodInfo& other, const NodeInfo& node, int delta);

// PodTopologySpread's PreFilter for DoNotSchedule constraints.
struct TopologySpreadState {
  struct Constraint {
    const TopologySpreadConstraint* c = nullptr;
    std::map<std::string, int> counts;  // topology value -> matching pods
    int min_match = 0;
    bool self_match = false;
  };
  std::vector<Constraint> constraints;
};
TopologySpreadState prefilter_topology_spread(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes, bool hard);
FilterResult filter_topology_spread(const PodInfo& pod, const NodeInfo& node, const TopologySpreadState& state);
void update_topology_spread(TopologySpreadState& state, const PodInfo& pod, const PodInfo& other, const NodeInfo& node, int delta);

}  // namespace switchyard::scheduler
