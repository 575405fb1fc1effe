#include "orchestrator/scheduler/framework.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "orchestrator/scheduler/scores.h"

namespace switchyard::scheduler {

namespace {

// "N reason" per reason, sorted as strings (upstream's sortReasonsHistogram).
std::string histogram(const std::map<std::string, int>& counts) {
  std::vector<std::string> parts;
  for (const auto& [reason, n] : counts) parts.push_back(fmt::format("{} {}", n, reason));
  std::sort(parts.begin(), parts.end());
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

// The first filter that fails says why; each result is returned where it is made (no
// reassignment of a result per filter and node: this runs for hundreds of nodes per pod).
FilterResult run_filters(const PodInfo& pod, const NodeInfo& n, const InterPodAffinityState& affinity, const TopologySpreadState& spread) {
  if (FilterResult r = filter_node_unschedulable(pod, n); !r.ok()) return r;
  if (FilterResult r = filter_node_name(pod, n); !r.ok()) return r;
  if (FilterResult r = filter_taint_toleration(pod, n); !r.ok()) return r;
  if (FilterResult r = filter_node_affinity(pod, n); !r.ok()) return r;
  if (FilterResult r = filter_node_ports(pod, n); !r.ok()) return r;
  if (FilterResult r = filter_node_resources_fit(pod, n); !r.ok()) return r;
  if (FilterResult r = filter_inter_pod_affinity(pod, n, affinity); !r.ok()) return r;
  return filter_topology_spread(pod, n, spread);
}

std::optional<NodeInfo> with_nominated_pods(const PodInfo& pod, const NodeInfo& node, const NominatedPods& nominated) {
  auto it = nominated.find(node.name());
  if (it == nominated.end()) return std::nullopt;
  std::optional<NodeInfo> copy;
  for (const auto& p : it->second) {
    if (p->key == pod.key || p->priority < pod.priority) continue;
    if (!copy) copy = node;
    copy->add_pod(p);
  }
  return copy;
}

std::string FitError::message() const {
  if (num_all_nodes == 0) return kNoNodesAvailable;
  std::map<std::string, int> counts;
  for (const auto& [node, status] : statuses)
    for (const auto& r : status.reasons) ++counts[r];
  std::string out = fmt::format("0/{} nodes are available:", num_all_nodes);
  if (!counts.empty()) out += " " + histogram(counts) + ".";
  if (!preemption_message.empty()) out += " " + preemption_message + ".";
  return out;
}

std::size_t SchedulingCycle::nodes_to_find(std::size_t all) const {
  constexpr std::size_t kMinFeasible = 100;
  if (all < kMinFeasible) return all;
  int percentage = options_.percentage_of_nodes_to_score;
  if (percentage <= 0) percentage = std::max(5, 50 - static_cast<int>(all / 125));
  if (percentage >= 100) return all;
  return std::max(kMinFeasible, all * static_cast<std::size_t>(percentage) / 100);
}

CycleResult SchedulingCycle::schedule(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                                      const std::map<std::string, api::StringMap>& namespace_labels, bool any_pod_affinity,
                                      const NominatedPods* nominated) {
  CycleResult result;
  if (nodes.empty()) {
    result.error = FitError{};
    return result;
  }
  // PreFilter: the cluster-wide state of InterPodAffinity and PodTopologySpread.
  const bool own_terms = !pod.required_affinity.empty() || !pod.required_anti_affinity.empty();
  const InterPodAffinityState affinity =
      own_terms || any_pod_affinity ? prefilter_inter_pod_affinity(pod, nodes, namespace_labels) : InterPodAffinityState{};
  const TopologySpreadState spread = prefilter_topology_spread(pod, nodes, true);

  const std::size_t want = nodes_to_find(nodes.size());
  std::vector<const NodeInfo*> feasible;
  feasible.reserve(want);
  FitError fit;
  fit.num_all_nodes = nodes.size();
  const std::size_t start = next_start_ % nodes.size();
  std::size_t i = 0;
  for (; i < nodes.size() && feasible.size() < want; ++i) {
    const NodeInfo& n = *nodes[(start + i) % nodes.size()];
    FilterResult r = run_filters(pod, n, affinity, spread);
    if (r.ok() && nominated && !nominated->empty())
      if (auto with = with_nominated_pods(pod, n, *nominated)) r = run_filters(pod, *with, affinity, spread);
    if (r.ok())
      feasible.push_back(&n);
    else
      fit.statuses.emplace(n.name(), std::move(r));
  }
  result.evaluated = i;
  result.feasible = feasible.size();
  next_start_ = (start + i) % nodes.size();
  if (feasible.empty()) {
    // PostFilter (DefaultPreemption) without lower-priority victims: its per-node verdicts.
    if (pod.preemption_policy == "Never") {
      fit.preemption_message = "preemption: not eligible due to preemptionPolicy=Never";
    } else {
      std::map<std::string, int> counts;
      for (const auto& [node, status] : fit.statuses)
        ++counts[status.code == FilterCode::UnschedulableAndUnresolvable ? "Preemption is not helpful for scheduling"
                                                                         : "No preemption victims found for incoming pod"];
      fit.preemption_message = fmt::format("preemption: 0/{} nodes are available: {}.", nodes.size(), histogram(counts));
    }
    result.error = std::move(fit);
    return result;
  }
  if (feasible.size() == 1) {
    result.node = feasible[0]->name();
    return result;
  }
  // Score: each plugin's raw scores, normalized where upstream normalizes, times its weight.
  const std::size_t n = feasible.size();
  std::vector<std::int64_t> total(n, 0), taints(n), node_affinity(n);
  for (std::size_t k = 0; k < n; ++k) {
    total[k] += weights::kNodeResourcesFit * score_least_allocated(pod, *feasible[k]);
    total[k] += weights::kBalancedAllocation * score_balanced_allocation(pod, *feasible[k]);
    taints[k] = score_taint_toleration(pod, *feasible[k]);
    node_affinity[k] = score_node_affinity(pod, *feasible[k]);
  }
  normalize_scores(taints, true);
  normalize_scores(node_affinity, false);
  for (std::size_t k = 0; k < n; ++k) total[k] += weights::kTaintToleration * taints[k] + weights::kNodeAffinity * node_affinity[k];
  // InterPodAffinity (preferred terms both ways) and PodTopologySpread (ScheduleAnyway), counted
  // over every node, scored on the feasible ones.
  const auto pod_affinity = prescore_inter_pod_affinity(pod, nodes, any_pod_affinity, namespace_labels);
  if (!pod_affinity.pair_scores.empty()) {
    std::vector<std::int64_t> s(n);
    for (std::size_t k = 0; k < n; ++k) s[k] = score_inter_pod_affinity(*feasible[k], pod_affinity);
    normalize_min_max(s);
    for (std::size_t k = 0; k < n; ++k) total[k] += weights::kInterPodAffinity * s[k];
  }
  const auto soft_spread = prescore_topology_spread(pod, nodes);
  if (!soft_spread.constraints.empty()) {
    std::vector<std::optional<std::int64_t>> raw(n);
    for (std::size_t k = 0; k < n; ++k) raw[k] = score_topology_spread(*feasible[k], soft_spread);
    std::vector<std::int64_t> s;
    normalize_topology_spread(raw, s);
    for (std::size_t k = 0; k < n; ++k) total[k] += weights::kPodTopologySpread * s[k];
  }
  // The best score; among equals each is chosen with equal chance (reservoir sampling).
  std::size_t best = 0, ties = 1;
  for (std::size_t k = 1; k < n; ++k) {
    if (total[k] > total[best]) {
      best = k;
      ties = 1;
    } else if (total[k] == total[best] && std::uniform_int_distribution<std::size_t>(0, ties++)(rng_) == 0) {
      best = k;
    }
  }
  result.node = feasible[best]->name();
  return result;
}

}  // namespace switchyard::scheduler
