// One scheduling cycle over a list of nodes: PreFilter, Filter (stopping at the first failing
// plugin per node), Score with the default weights, and the choice of the best node (ties
// broken at random, as upstream's selectHost). Nodes are searched from a rotating start and the
// search stops after upstream's adaptive percentageOfNodesToScore feasible nodes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "orchestrator/scheduler/filters.h"

namespace switchyard::scheduler {

// Why a pod fits no node: upstream's FitError, with its message.
struct FitError {
  std::size_t num_all_nodes = 0;
  std::map<std::string, FilterResult> statuses;  // node -> the first filter that failed
  std::string preemption_message;                // the PostFilter's words ("" for none)
  // "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}.
  // preemption: 0/3 nodes are available: …"
  std::string message() const;
};

// Pods nominated onto each node (status.nominatedNodeName) while they wait for their victims to
// go: the filters count them there when their priority is at least the scheduled pod's.
using NominatedPods = std::map<std::string, std::vector<PodInfoPtr>>;

// Every Filter plugin in upstream's order, stopping at the first that fails.
FilterResult run_filters(const PodInfo& pod, const NodeInfo& node, const InterPodAffinityState& affinity,
                         const TopologySpreadState& spread);
// `node` with the nominated pods that `pod` must leave room for; nullopt when there are none.
std::optional<NodeInfo> with_nominated_pods(const PodInfo& pod, const NodeInfo& node, const NominatedPods& nominated);

inline constexpr const char* kNoNodesAvailable = "no nodes available to schedule pods";

struct CycleOptions {
  // 0: adaptive (50% − nodes/125, at least 5%, at least 100 nodes), as upstream's default.
  int percentage_of_nodes_to_score = 0;
};

struct CycleResult {
  std::string node;               // set on success
  std::optional<FitError> error;  // set when no node fits (empty statuses and 0 nodes: no nodes at all)
  std::size_t feasible = 0, evaluated = 0;
};

class SchedulingCycle {
 public:
  explicit SchedulingCycle(CycleOptions options = {}, std::uint64_t seed = std::random_device{}()) : options_(options), rng_(seed) {}
  // `any_pod_affinity`: whether any pod on the nodes carries pod (anti-)affinity terms.
  CycleResult schedule(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                       const std::map<std::string, api::StringMap>& namespace_labels = {}, bool any_pod_affinity = true,
                       const NominatedPods* nominated = nullptr);
  std::size_t nodes_to_find(std::size_t all) const;

 private:
  CycleOptions options_;
  std::mt19937_64 rng_;
  std::size_t next_start_ = 0;
};

}  // namespace switchyard::scheduler
