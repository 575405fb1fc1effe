// The Score plugins of the default profile (0..100 per node after normalizing), and their
// default weights from upstream's default_plugins.go.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "orchestrator/scheduler/filters.h"

namespace switchyard::scheduler {

inline constexpr std::int64_t kMaxNodeScore = 100;

namespace weights {
inline constexpr std::int64_t kTaintToleration = 3;
inline constexpr std::int64_t kNodeAffinity = 2;
inline constexpr std::int64_t kPodTopologySpread = 2;
inline constexpr std::int64_t kInterPodAffinity = 2;
inline constexpr std::int64_t kNodeResourcesFit = 1;  // LeastAllocated strategy
inline constexpr std::int64_t kBalancedAllocation = 1;
}  // namespace weights

// NodeResourcesFit, LeastAllocated on cpu and memory (weight 1 each), with the non-zero requests.
std::int64_t score_least_allocated(const PodInfo& pod, const NodeInfo& node);
// NodeResourcesBalancedAllocation: 100 × (1 − standard deviation of the cpu and memory fractions).
std::int64_t score_balanced_allocation(const PodInfo& pod, const NodeInfo& node);
// TaintToleration: the number of PreferNoSchedule taints the pod does not tolerate (normalized reversed).
std::int64_t score_taint_toleration(const PodInfo& pod, const NodeInfo& node);
// NodeAffinity: the sum of the weights of the preferred terms the node matches (normalized).
std::int64_t score_node_affinity(const PodInfo& pod, const NodeInfo& node);

// InterPodAffinity's preferred terms (and existing pods' terms toward the pod): a score per
// topology pair, summed over the pairs a node has; normalized min..max to 0..100.
struct InterPodAffinityScoreState {
  std::map<TopologyPair, std::int64_t> pair_scores;
};
// `namespace_labels`: labels of each namespace, for namespaceSelector (may be empty).
InterPodAffinityScoreState prescore_inter_pod_affinity(const PodInfo& pod, const std::vector<const NodeInfo*>& all_nodes,
                                                       bool any_pod_affinity,
                                                       const std::map<std::string, api::StringMap>& namespace_labels = {});
std::int64_t score_inter_pod_affinity(const NodeInfo& node, const InterPodAffinityScoreState& state);
void normalize_min_max(std::vector<std::int64_t>& scores);

// PodTopologySpread with ScheduleAnyway: fewer matching pods in the node's domain is better.
struct TopologySpreadScoreState {
  struct Constraint {
    const TopologySpreadConstraint* c = nullptr;
    std::map<std::string, int> counts;  // topology value -> matching pods (all nodes)
    double weight = 1;                  // log(domains + 2)
  };
  std::vector<Constraint> constraints;
};
TopologySpreadScoreState prescore_topology_spread(const PodInfo& pod, const std::vector<const NodeInfo*>& all_nodes);
// nullopt: the node lacks a constraint's key (it scores 0 after normalizing).
std::optional<std::int64_t> score_topology_spread(const NodeInfo& node, const TopologySpreadScoreState& state);
void normalize_topology_spread(std::vector<std::optional<std::int64_t>>& raw, std::vector<std::int64_t>& out);

// DefaultNormalizeScore: scaled so that the highest is 100; reversed: 100 − that.
void normalize_scores(std::vector<std::int64_t>& scores, bool reverse);

}  // namespace switchyard::scheduler
