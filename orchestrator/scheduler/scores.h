// The Score plugins of the default profile (0..100 per node after normalizing), and their
// default weights from upstream's default_plugins.go.
#pragma once

#include <cstdint>
#include <vector>

#include "orchestrator/scheduler/node_info.h"

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

// DefaultNormalizeScore: scaled so that the highest is 100; reversed: 100 − that.
void normalize_scores(std::vector<std::int64_t>& scores, bool reverse);

}  // namespace switchyard::scheduler
