#include "orchestrator/scheduler/scores.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace switchyard::scheduler {

namespace {

std::int64_t least_requested(std::int64_t requested, std::int64_t capacity) {
  if (capacity == 0 || requested > capacity) return 0;
  return (capacity - requested) * kMaxNodeScore / capacity;
}

}  // namespace

std::int64_t score_least_allocated(const PodInfo& pod, const NodeInfo& node) {
  const std::int64_t cpu = least_requested(node.non_zero_requested.milli_cpu + pod.non_zero_requests.milli_cpu, node.allocatable.milli_cpu);
  const std::int64_t memory = least_requested(node.non_zero_requested.memory + pod.non_zero_requests.memory, node.allocatable.memory);
  return (cpu + memory) / 2;
}

std::int64_t score_balanced_allocation(const PodInfo& pod, const NodeInfo& node) {
  auto fraction = [](std::int64_t requested, std::int64_t capacity) {
    if (capacity == 0) return 1.0;
    return std::min(1.0, static_cast<double>(requested) / static_cast<double>(capacity));
  };
  const double cpu = fraction(node.requested.milli_cpu + pod.requests.milli_cpu, node.allocatable.milli_cpu);
  const double memory = fraction(node.requested.memory + pod.requests.memory, node.allocatable.memory);
  const double std_dev = std::abs(cpu - memory) / 2;  // two resources: |a − b| / 2
  return static_cast<std::int64_t>((1 - std_dev) * static_cast<double>(kMaxNodeScore));
}

std::int64_t score_taint_toleration(const PodInfo& pod, const NodeInfo& node) {
  std::int64_t untolerated = 0;
  if (!node.tainted) return 0;
  for (const auto& taint : node.node->taints) {
    if (taint.effect != "PreferNoSchedule") continue;
    const bool ok = std::any_of(pod.tolerations.begin(), pod.tolerations.end(), [&](const Toleration& t) {
      return (t.effect.empty() || t.effect == "PreferNoSchedule") && t.tolerates(taint);
    });
    if (!ok) ++untolerated;
  }
  return untolerated;
}

std::int64_t score_node_affinity(const PodInfo& pod, const NodeInfo& node) {
  std::int64_t sum = 0;
  for (const auto& t : pod.preferred_node_affinity)
    if (t.weight != 0 && t.preference.matches(*node.node)) sum += t.weight;
  return sum;
}

void normalize_scores(std::vector<std::int64_t>& scores, bool reverse) {
  std::int64_t max = 0;
  for (auto s : scores) max = std::max(max, s);
  if (max == 0) {
    if (reverse) std::fill(scores.begin(), scores.end(), kMaxNodeScore);
    return;
  }
  for (auto& s : scores) {
    s = kMaxNodeScore * s / max;
    if (reverse) s = kMaxNodeScore - s;
  }
}

namespace {

const std::string* label_of(const api::StringMap& labels, const std::string& key) {
  auto it = labels.find(key);
  return it == labels.end() ? nullptr : &it->second;
}

}  // namespace

InterPodAffinityScoreState prescore_inter_pod_affinity(const PodInfo& pod, const std::vector<const NodeInfo*>& all_nodes,
                                                       bool any_pod_affinity,
                                                       const std::map<std::string, api::StringMap>& namespace_labels) {
  InterPodAffinityScoreState s;
  auto ns_labels = [&](const std::string& ns) -> const api::StringMap* {
    auto it = namespace_labels.find(ns);
    return it == namespace_labels.end() ? nullptr : &it->second;
  };
  const api::StringMap* pod_ns_labels = ns_labels(pod.ns());
  const bool own = !pod.preferred_affinity.empty() || !pod.preferred_anti_affinity.empty();
  if (!own && !any_pod_affinity) return s;
  auto add = [&](const NodeInfo& n, const std::string& key, std::int64_t w) {
    if (const std::string* v = label_of(n.labels(), key)) s.pair_scores[{key, *v}] += w;
  };
  for (const NodeInfo* n : all_nodes) {
    if (!n->node || (!own && n->pods_with_affinity == 0)) continue;
    for (const auto& existing : n->pods) {
      if (existing->pod->metadata.deletion_timestamp) continue;
      const api::StringMap* ens = ns_labels(existing->ns());
      for (const auto& t : pod.preferred_affinity)
        if (term_matches_pod(t.term, pod.ns(), *existing, ens)) add(*n, t.term.topology_key, t.weight);
      for (const auto& t : pod.preferred_anti_affinity)
        if (term_matches_pod(t.term, pod.ns(), *existing, ens)) add(*n, t.term.topology_key, -t.weight);
      if (!existing->has_pod_affinity()) continue;
      // The existing pod's terms toward the incoming one; required affinity counts with
      // hardPodAffinityWeight (1).
      for (const auto& t : existing->required_affinity)
        if (term_matches_pod(t, existing->ns(), pod, pod_ns_labels)) add(*n, t.topology_key, 1);
      for (const auto& t : existing->preferred_affinity)
        if (term_matches_pod(t.term, existing->ns(), pod, pod_ns_labels)) add(*n, t.term.topology_key, t.weight);
      for (const auto& t : existing->preferred_anti_affinity)
        if (term_matches_pod(t.term, existing->ns(), pod, pod_ns_labels)) add(*n, t.term.topology_key, -t.weight);
    }
  }
  return s;
}

std::int64_t score_inter_pod_affinity(const NodeInfo& node, const InterPodAffinityScoreState& state) {
  if (state.pair_scores.empty()) return 0;
  std::int64_t sum = 0;
  for (const auto& [k, v] : node.labels())
    if (auto it = state.pair_scores.find({k, v}); it != state.pair_scores.end()) sum += it->second;
  return sum;
}

void normalize_min_max(std::vector<std::int64_t>& scores) {
  if (scores.empty()) return;
  const auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
  const std::int64_t min = *lo, diff = *hi - *lo;
  for (auto& s : scores)
    s = diff > 0 ? static_cast<std::int64_t>(static_cast<double>(kMaxNodeScore) * static_cast<double>(s - min) / static_cast<double>(diff))
                 : 0;
}

TopologySpreadScoreState prescore_topology_spread(const PodInfo& pod, const std::vector<const NodeInfo*>& all_nodes) {
  TopologySpreadScoreState s;
  for (const auto& c : pod.spread)
    if (c.when_unsatisfiable == "ScheduleAnyway") s.constraints.push_back({&c, {}, 1});
  if (s.constraints.empty()) return s;
  for (const NodeInfo* n : all_nodes) {
    if (!n->node) continue;
    bool all_keys = true;
    for (const auto& c : s.constraints) all_keys = all_keys && label_of(n->labels(), c.c->topology_key);
    if (!all_keys) continue;
    for (auto& c : s.constraints) {
      if (c.c->honor_node_affinity && !node_matches_pod_affinity_selector(pod, *n->node)) continue;
      int matching = 0;
      if (c.c->has_selector)
        for (const auto& p : n->pods)
          if (p->ns() == pod.ns() && !p->pod->metadata.deletion_timestamp && c.c->selector.matches(p->labels())) ++matching;
      c.counts[*label_of(n->labels(), c.c->topology_key)] += matching;
    }
  }
  for (auto& c : s.constraints) c.weight = std::log(static_cast<double>(c.counts.size()) + 2);
  return s;
}

std::optional<std::int64_t> score_topology_spread(const NodeInfo& node, const TopologySpreadScoreState& state) {
  if (state.constraints.empty()) return 0;
  double score = 0;
  for (const auto& c : state.constraints) {
    const std::string* v = label_of(node.labels(), c.c->topology_key);
    if (!v) return std::nullopt;
    auto it = c.counts.find(*v);
    const int count = it == c.counts.end() ? 0 : it->second;
    score += static_cast<double>(count) * c.weight + static_cast<double>(c.c->max_skew - 1);
  }
  return static_cast<std::int64_t>(std::llround(score));
}

void normalize_topology_spread(std::vector<std::optional<std::int64_t>>& raw, std::vector<std::int64_t>& out) {
  std::int64_t min = std::numeric_limits<std::int64_t>::max(), max = 0;
  for (const auto& r : raw)
    if (r) {
      min = std::min(min, *r);
      max = std::max(max, *r);
    }
  out.assign(raw.size(), 0);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (!raw[i]) continue;
    out[i] = max == 0 ? kMaxNodeScore : kMaxNodeScore * (max + min - *raw[i]) / max;
  }
}

}  // namespace switchyard::scheduler
