// DefaultPreemption, the PostFilter of the default profile: for a pod that fits no node, find
// the node where evicting lower-priority pods makes it fit, with upstream's choice of victims
// (remove every lower-priority pod, then give back as many as still leave room, most important
// first, PodDisruptionBudget-protected ones before the others) and of the node (fewest PDB
// violations, then the lowest highest victim priority, the smallest priority sum, the fewest
// victims, the latest start among the highest-priority victims).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/api/selectors.h"
#include "orchestrator/scheduler/framework.h"

namespace switchyard::scheduler {

// What preemption reads of a PodDisruptionBudget.
struct DisruptionBudgetInfo {
  std::string ns;
  api::LabelSelector selector;  // empty: matches nothing (as the scheduler reads it)
  std::int32_t disruptions_allowed = 0;
  std::set<std::string> disrupted_pods;  // names the eviction API already counted
};
DisruptionBudgetInfo make_disruption_budget_info(const api::PodDisruptionBudget& pdb);

struct Victims {
  std::vector<PodInfoPtr> pods;  // most important first
  int pdb_violations = 0;
};

struct PreemptionCandidate {
  std::string node;
  Victims victims;
};

struct PreemptionResult {
  std::string node;  // where the pod is nominated; empty when preemption cannot help
  std::vector<PodInfoPtr> victims;
  std::string message;  // FitError's PostFilter words when no node: "preemption: 0/3 nodes are available: …"
};

// MoreImportantPod: higher priority, then the earlier start.
bool more_important(const PodInfo& a, const PodInfo& b);

// SelectVictimsOnNode; nullopt with the reasons in `why` when the pod cannot fit there.
// `changed` (may be null) hears of each pod taken off the node (-1) or given back (+1) before
// `fits` runs again, so that cluster-wide filter state (InterPodAffinity, PodTopologySpread)
// sees the node as it is being tried, as upstream's PreFilterExtensions RemovePod/AddPod.
using PodChange = std::function<void(const PodInfo& victim, const NodeInfo& node, int delta)>;
std::optional<Victims> select_victims_on_node(const PodInfo& pod, const NodeInfo& node, const std::vector<DisruptionBudgetInfo>& pdbs,
                                              const std::function<FilterResult(const NodeInfo&)>& fits, std::vector<std::string>& why,
                                              const PodChange& changed = {});
// pickOneNodeForPreemption: the index of the chosen candidate (candidates must not be empty).
std::size_t pick_one_node_for_preemption(const std::vector<PreemptionCandidate>& candidates);

// The whole PostFilter over `nodes`, given the cycle's FitError.
// `namespace_labels`: for namespaceSelector, as the scheduling cycle's.
PreemptionResult preempt(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes, const FitError& fit,
                         const std::vector<DisruptionBudgetInfo>& pdbs, const NominatedPods& nominated = {},
                         const std::map<std::string, api::StringMap>& namespace_labels = {});

}  // namespace switchyard::scheduler
