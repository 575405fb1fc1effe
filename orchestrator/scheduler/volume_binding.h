// The scheduler's share of volume binding (upstream's VolumeBinding plugin, reduced to what the
// binder and the local-path provisioner need):
//  - a claim that does not exist, or an unbound claim of an Immediate class, keeps the pod
//    Pending (`persistentvolumeclaim "X" not found`, `pod has unbound immediate
//    PersistentVolumeClaims`);
//  - a bound claim's volume node affinity is a filter ("node(s) had volume node affinity conflict");
//  - an unbound claim of a WaitForFirstConsumer class is provisioned where the pod goes: once a
//    node is chosen the scheduler writes volume.kubernetes.io/selected-node on the claim and
//    tries the pod again once the claim is bound.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/api/types.h"
#include "orchestrator/client/indexer.h"
#include "orchestrator/scheduler/node_info.h"

namespace switchyard::scheduler {

inline constexpr const char* kVolumeNodeAffinityConflict = "node(s) had volume node affinity conflict";

struct VolumePlan {
  std::string unschedulable;                    // non-empty: the pod cannot be placed now, and why
  std::vector<nlohmann::json> node_affinities;  // the bound volumes': a node must satisfy each
  std::vector<std::string> claims_to_place;     // "ns/name": WaitForFirstConsumer claims with no node yet
  bool waiting_for_volumes = false;             // a claim has its node and waits for its volume
  bool has_claims() const { return !node_affinities.empty() || !claims_to_place.empty() || waiting_for_volumes; }
};

VolumePlan plan_volumes(const api::Pod& pod, const client::Indexer<api::PersistentVolumeClaim>& claims,
                        const client::Indexer<api::PersistentVolume>& volumes, const client::Indexer<api::StorageClass>& classes);

bool node_fits_volumes(const VolumePlan& plan, const NodeInfo& node);

}  // namespace switchyard::scheduler
