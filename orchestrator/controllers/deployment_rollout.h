// One sync of a Deployment once its ReplicaSets are claimed (pkg/controller/deployment: sync.go,
// rolling.go, recreate.go, progress.go): the steps work on a Rollout, which holds copies of the
// objects that each write refreshes, so later steps of the same sync see what was written.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/work_queue.h"
#include "orchestrator/controllers/deployment_math.h"

namespace switchyard::controllers {
struct DeploymentControllerStats;
}

namespace switchyard::controllers::deployment {

struct Rollout {
  api::Deployment d;
  std::vector<api::ReplicaSet> owned;    // claimed, as read
  std::optional<std::size_t> new_index;  // into owned: the ReplicaSet whose template is the Deployment's
  std::vector<std::size_t> old_indices;  // into owned: the others
  client::ApiClient& api;
  WallTime now;
  DeploymentControllerStats& stats;
  client::WorkQueue& queue;
  std::string key;
  // Whether any pod of these ReplicaSets (uids) is still there and not finished (Recreate waits).
  std::function<bool(const std::set<std::string>&)> pods_running = [](const std::set<std::string>&) { return false; };

  const api::ReplicaSet* new_rs() const { return new_index ? &owned[*new_index] : nullptr; }
  std::vector<const api::ReplicaSet*> olds() const;
  std::vector<const api::ReplicaSet*> all() const;  // olds, then the new one
};

// getAllReplicaSetsAndSyncRevision: finds (or, with `create`, makes) the new ReplicaSet and
// brings the revision annotations up to date.
Result<void> resolve(Rollout& r, bool create);
// Any active ReplicaSet whose desired-replicas annotation differs from spec.replicas.
bool is_scaling_event(const Rollout& r);
// DeploymentPaused / DeploymentResumed on the Progressing condition.
Result<void> check_paused_conditions(Rollout& r);
Result<void> scale_only(Rollout& r);
Result<void> rolling_update(Rollout& r);
Result<void> recreate(Rollout& r);
// Status; with `rollout`, the Progressing condition and the progress deadline too.
Result<void> sync_status(Rollout& r, bool rollout);

}  // namespace switchyard::controllers::deployment
