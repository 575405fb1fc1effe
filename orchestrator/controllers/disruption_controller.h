// The disruption controller (kube-controller-manager's): keeps each PodDisruptionBudget's status
// (expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed, disruptedPods, the
// DisruptionAllowed condition, observedGeneration) from the pods its selector picks and, for a
// percentage or maxUnavailable, their controllers' replicas (ReplicaSets, and the Deployments
// above them). The eviction subresource spends what this computes.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"

namespace switchyard::controllers {

class DisruptionController {
 public:
  DisruptionController(client::SharedInformerFactory& informers, client::ClusterConnection connection);
  ~DisruptionController();
  DisruptionController(const DisruptionController&) = delete;
  DisruptionController& operator=(const DisruptionController&) = delete;

  void start();
  void stop();
  // One budget from the cache; an error means "requeue".
  Result<void> sync(const std::string& key, client::ApiClient& api);

 private:
  struct Handlers;
  void worker();
  void enqueue_namespace(const std::string& ns);
  // The replicas of the selected pods' controllers, nullopt when a pod has none we can read.
  std::optional<std::int32_t> expected_from_controllers(const std::vector<client::ObjectPtr<api::Pod>>& pods) const;

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  client::SharedIndexInformer<api::PodDisruptionBudget>& pdbs_;
  client::SharedIndexInformer<api::Pod>& pods_;
  client::SharedIndexInformer<api::ReplicaSet>& replicasets_;
  client::SharedIndexInformer<api::Deployment>& deployments_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

}  // namespace switchyard::controllers
