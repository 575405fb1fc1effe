// What the workload controllers (ReplicaSet, Deployment) ask of Pods and owners, as
// kube-controller-manager's controller_utils and podutil answer it: active, ready, available
// after minReadySeconds, the controllerRef, the ranking of pods to delete first, and the
// slow-start batches of creations.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/api/selectors.h"
#include "orchestrator/api/types.h"

namespace switchyard::controllers {

using WallTime = std::chrono::system_clock::time_point;

// RFC 3339 ("2026-12-07T01:02:03Z", fractions allowed) to a time; nullopt when unset or bad.
std::optional<WallTime> parse_rfc3339(const std::string& s);
std::string format_rfc3339(WallTime t);

// Not Succeeded, not Failed, not being deleted.
bool is_pod_active(const api::Pod& p);
bool is_pod_ready(const api::Pod& p);
// Ready for at least minReadySeconds at `now`.
bool is_pod_available(const api::Pod& p, std::int32_t min_ready_seconds, WallTime now);

// The ownerReference with controller: true, if any.
const api::OwnerReference* controller_ref(const api::ObjectMeta& m);
api::OwnerReference make_controller_ref(const std::string& api_version, const std::string& kind, const api::ObjectMeta& owner);

// A workload's selector as a matcher; nothing for a missing or invalid selector.
api::LabelSelector selector_of(const std::optional<api::LabelSelectorSpec>& s);

// Pods in the order to delete them (ActivePodsWithRanks): unassigned before assigned, Pending
// before Unknown before Running, not ready before ready, lower pod-deletion-cost first, pods
// doubled up on a node (higher `rank`) first, ready for less time first, more restarts first,
// newer first. `rank[i]` belongs to pods[i].
struct RankedPod {
  const api::Pod* pod;
  int rank = 0;
};
void sort_for_deletion(std::vector<RankedPod>& pods);
// The `diff` pods of `owned` to delete, ranked by how many of `related` (the owner's pods and its
// siblings') share each one's node.
std::vector<const api::Pod*> pods_to_delete(const std::vector<const api::Pod*>& owned, const std::vector<const api::Pod*>& related,
                                            int diff);

// slowStartBatch: calls fn `count` times in batches of 1, 2, 4, …; stops after the first batch
// in which a call failed. Returns how many calls succeeded.
int slow_start_batch(int count, int initial_batch, const std::function<bool()>& fn);

}  // namespace switchyard::controllers
