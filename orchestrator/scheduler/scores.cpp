#include "orchestrator/scheduler/scores.h"

#include <algorithm>
#include <cmath>

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

}  // namespace switchyard::scheduler
