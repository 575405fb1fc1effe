// DefaultPreemption (pkg/scheduler/framework/plugins/defaultpreemption and
// framework/preemption): candidates, victims and the choice of one node.
#include "orchestrator/scheduler/preemption.h"

#include <algorithm>
#include <climits>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "orchestrator/api/validation.h"

namespace switchyard::scheduler {

namespace {

using Json = nlohmann::json;

// GetPodStartTime: a pod not started yet counts as the newest.
std::string start_time(const PodInfo& p) {
  return p.pod->status.start_time.empty() ? std::string("9999-12-31T23:59:59Z") : p.pod->status.start_time;
}

// filterPodsWithPDBViolation: pods whose eviction would take a budget below zero, counting the
// pods in order (each spends one of the budget's allowed disruptions).
void split_by_pdb_violation(const std::vector<PodInfoPtr>& pods, const std::vector<DisruptionBudgetInfo>& pdbs,
                            std::vector<PodInfoPtr>& violating, std::vector<PodInfoPtr>& non_violating) {
  std::vector<std::int32_t> allowed;
  for (const auto& b : pdbs) allowed.push_back(b.disruptions_allowed);
  for (const auto& p : pods) {
    bool violates = false;
    for (std::size_t i = 0; i < pdbs.size(); ++i) {
      const auto& b = pdbs[i];
      if (b.ns != p->ns() || b.selector.matches_everything() || b.selector.matches_nothing() || !b.selector.matches(p->labels())) continue;
      if (b.disrupted_pods.contains(p->name())) continue;  // already counted by the eviction API
      if (--allowed[i] < 0) violates = true;
    }
    (violates ? violating : non_violating).push_back(p);
  }
}

std::string histogram(const std::map<std::string, int>& counts) {
  std::vector<std::string> parts;
  for (const auto& [reason, n] : counts) parts.push_back(fmt::format("{} {}", n, reason));
  std::sort(parts.begin(), parts.end());
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

DisruptionBudgetInfo make_disruption_budget_info(const api::PodDisruptionBudget& pdb) {
  DisruptionBudgetInfo out;
  out.ns = pdb.metadata.namespace_;
  auto field = [&](const char* key) {
    auto it = pdb.body.find(key);
    return it == pdb.body.end() ? Json::object() : Json::parse(it->second, nullptr, false);
  };
  const Json spec = field("spec"), status = field("status");
  out.selector = api::LabelSelector::nothing();
  if (spec.is_object() && spec.contains("selector"))
    if (auto s = api::label_selector_from_json(spec["selector"], api::FieldPath("spec.selector"))) out.selector = *s;
  if (status.is_object()) {
    out.disruptions_allowed = status.value("disruptionsAllowed", 0);
    const Json disrupted = status.value("disruptedPods", Json::object());  // items() must not outlive it
    for (const auto& [name, when] : disrupted.items()) out.disrupted_pods.insert(name);
  }
  return out;
}

bool more_important(const PodInfo& a, const PodInfo& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return start_time(a) < start_time(b);
}

std::optional<Victims> select_victims_on_node(const PodInfo& pod, const NodeInfo& node, const std::vector<DisruptionBudgetInfo>& pdbs,
                                              const std::function<FilterResult(const NodeInfo&)>& fits, std::vector<std::string>& why,
                                              const PodChange& changed) {
  NodeInfo trial = node;
  std::vector<PodInfoPtr> potential;
  for (const auto& p : node.pods)
    if (p->priority < pod.priority) potential.push_back(p);
  if (potential.empty()) {
    why = {"No preemption victims found for incoming pod"};
    return std::nullopt;
  }
  for (const auto& p : potential) {
    trial.remove_pod(p->key);
    if (changed) changed(*p, trial, -1);
  }
  if (FilterResult r = fits(trial); !r.ok()) {
    why = r.reasons;
    return std::nullopt;
  }
  std::sort(potential.begin(), potential.end(), [](const PodInfoPtr& a, const PodInfoPtr& b) { return more_important(*a, *b); });
  std::vector<PodInfoPtr> violating, non_violating;
  split_by_pdb_violation(potential, pdbs, violating, non_violating);
  Victims v;
  // Give back each pod, most important first, while the preemptor still fits.
  auto reprieve = [&](const PodInfoPtr& p) {
    trial.add_pod(p);
    if (changed) changed(*p, trial, 1);
    if (fits(trial).ok()) return true;
    trial.remove_pod(p->key);
    if (changed) changed(*p, trial, -1);
    v.pods.push_back(p);
    return false;
  };
  for (const auto& p : violating)
    if (!reprieve(p)) ++v.pdb_violations;
  for (const auto& p : non_violating) reprieve(p);
  std::sort(v.pods.begin(), v.pods.end(), [](const PodInfoPtr& a, const PodInfoPtr& b) { return more_important(*a, *b); });
  return v;
}

std::size_t pick_one_node_for_preemption(const std::vector<PreemptionCandidate>& candidates) {
  std::vector<std::size_t> left(candidates.size());
  for (std::size_t i = 0; i < left.size(); ++i) left[i] = i;
  // Keeps the candidates with the lowest score; returns once one is left.
  auto keep_min = [&](auto score) {
    if (left.size() <= 1) return;
    auto best = score(candidates[left[0]]);
    for (std::size_t i : left) best = std::min(best, score(candidates[i]));
    std::erase_if(left, [&](std::size_t i) { return score(candidates[i]) != best; });
  };
  keep_min([](const PreemptionCandidate& c) { return c.victims.pdb_violations; });
  // A node with no victims at all wins at once (the pod fits there already).
  keep_min([](const PreemptionCandidate& c) -> std::int64_t { return c.victims.pods.empty() ? INT64_MIN : c.victims.pods[0]->priority; });
  keep_min([](const PreemptionCandidate& c) {
    std::int64_t sum = 0;
    for (const auto& p : c.victims.pods) sum += std::int64_t{p->priority} + std::int64_t{INT32_MAX} + 1;
    return sum;
  });
  keep_min([](const PreemptionCandidate& c) { return c.victims.pods.size(); });
  // The latest start among the highest-priority victims' earliest: disturb the youngest work.
  keep_min([](const PreemptionCandidate& c) {
    if (c.victims.pods.empty()) return std::string();
    std::string earliest = start_time(*c.victims.pods[0]);
    for (const auto& p : c.victims.pods)
      if (p->priority == c.victims.pods[0]->priority) earliest = std::min(earliest, start_time(*p));
    // Negated ordering: the latest time is the best, so compare on its complement.
    std::string inverted = earliest;
    for (auto& ch : inverted) ch = static_cast<char>(127 - ch);
    return inverted;
  });
  return left.front();
}

PreemptionResult preempt(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes, const FitError& fit,
                         const std::vector<DisruptionBudgetInfo>& pdbs, const NominatedPods& nominated,
                         const std::map<std::string, api::StringMap>& namespace_labels) {
  PreemptionResult out;
  const InterPodAffinityState cluster_affinity = prefilter_inter_pod_affinity(pod, nodes, namespace_labels);
  const TopologySpreadState cluster_spread = prefilter_topology_spread(pod, nodes, true);
  // Each node is tried on its own copy of the PreFilter state, updated as victims come and go.
  InterPodAffinityState affinity;
  TopologySpreadState spread;
  auto fits = [&](const NodeInfo& n) {
    if (auto with = with_nominated_pods(pod, n, nominated)) return run_filters(pod, *with, affinity, spread);
    return run_filters(pod, n, affinity, spread);
  };
  auto changed = [&](const PodInfo& victim, const NodeInfo& n, int delta) {
    update_inter_pod_affinity(affinity, pod, victim, n, delta);
    update_topology_spread(spread, pod, victim, n, delta);
  };
  // DryRunPreemption stops after max(10% of the nodes, 100) candidates.
  const std::size_t wanted = std::max<std::size_t>(100, nodes.size() / 10);
  std::vector<PreemptionCandidate> candidates;
  std::map<std::string, int> reasons;
  for (const NodeInfo* n : nodes) {
    if (candidates.size() >= wanted) break;
    auto status = fit.statuses.find(n->name());
    if (status == fit.statuses.end()) continue;
    if (status->second.code == FilterCode::UnschedulableAndUnresolvable) {
      ++reasons["Preemption is not helpful for scheduling"];
      continue;
    }
    std::vector<std::string> why;
    affinity = cluster_affinity;
    spread = cluster_spread;
    auto victims = select_victims_on_node(pod, *n, pdbs, fits, why, changed);
    if (!victims) {
      for (const auto& w : why) ++reasons[w];
      continue;
    }
    candidates.push_back({n->name(), std::move(*victims)});
  }
  if (candidates.empty()) {
    out.message = fmt::format("preemption: 0/{} nodes are available: {}.", nodes.size(), histogram(reasons));
    return out;
  }
  PreemptionCandidate& best = candidates[pick_one_node_for_preemption(candidates)];
  out.node = best.node;
  out.victims = std::move(best.victims.pods);
  return out;
}

}  // namespace switchyard::scheduler
