// The Deployment controller, as kube-controller-manager runs it: shared informers on
// Deployments, ReplicaSets and Pods; events enqueue Deployment keys; a worker syncs one key:
//  - claims ReplicaSets (adopt by selector, release when no longer matching);
//  - paused, or only resized: scales the active ReplicaSets (proportionally during a rollout);
//  - RollingUpdate: grows the new ReplicaSet within maxSurge, shrinks old ones within
//    maxUnavailable (unhealthy replicas first); Recreate: old ones to zero, wait for their pods
//    to go, then the new one up;
//  - the new ReplicaSet is named NAME-HASH with the pod-template-hash label and selector, and
//    carries the revision annotations; old ones beyond revisionHistoryLimit are deleted;
//  - status with the Available and Progressing conditions, ProgressDeadlineExceeded after
//    progressDeadlineSeconds without progress, DeploymentPaused/DeploymentResumed.
// Rollback is kubectl's: `rollout undo` patches the Deployment's template from a ReplicaSet's.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"
#include "orchestrator/controllers/deployment_math.h"

namespace switchyard::controllers {

struct DeploymentControllerStats {
  std::atomic<std::uint64_t> syncs{0}, replicasets_created{0}, replicasets_scaled{0}, replicasets_deleted{0}, failed_writes{0};
};

struct DeploymentControllerOptions {
  int workers = 5;
  std::function<WallTime()> now = [] { return std::chrono::system_clock::now(); };
};

class DeploymentController {
 public:
  DeploymentController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                       DeploymentControllerOptions options = {}, const client::Clock& clock = client::Clock::real());
  ~DeploymentController();
  DeploymentController(const DeploymentController&) = delete;
  DeploymentController& operator=(const DeploymentController&) = delete;

  void start();
  void stop();
  Result<void> sync(const std::string& key);
  const DeploymentControllerStats& stats() const { return stats_; }

 private:
  struct Handlers;
  Result<void> sync(const std::string& key, client::ApiClient& api);
  std::vector<api::ReplicaSet> claim_replicasets(const api::Deployment& d, client::ApiClient& api);
  void enqueue_for_replicaset(const api::ReplicaSet& rs);
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  DeploymentControllerOptions options_;
  client::SharedIndexInformer<api::Deployment>& deployments_;
  client::SharedIndexInformer<api::ReplicaSet>& replicasets_;
  client::SharedIndexInformer<api::Pod>& pods_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  DeploymentControllerStats stats_;
};

}  // namespace switchyard::controllers
