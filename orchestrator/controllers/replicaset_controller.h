// The ReplicaSet controller, as kube-controller-manager runs it: shared informers on ReplicaSets
// and Pods; events enqueue ReplicaSet keys ("ns/name"); a worker syncs one key from the caches:
//  - claims pods: adopts orphans its selector matches (controllerRef with controller: true and
//    blockOwnerDeletion), releases owned pods it no longer matches;
//  - creates or deletes the difference to spec.replicas, at most 500 per sync, creations in
//    slow-start batches (1, 2, 4, …), deletions in upstream's ranking, and only when its
//    expectations are met (so a lagging pod cache never over-creates or over-deletes);
//  - writes status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (after
//    minReadySeconds), observedGeneration and the ReplicaFailure condition.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"
#include "orchestrator/controllers/expectations.h"
#include "orchestrator/controllers/workload_pods.h"

namespace switchyard::controllers {

struct ReplicaSetControllerStats {
  std::atomic<std::uint64_t> syncs{0}, pods_created{0}, pods_deleted{0}, failed_writes{0}, status_updates{0};
};

struct ReplicaSetControllerOptions {
  int workers = 5;
  int burst_replicas = 500;  // creations or deletions per sync, as upstream
  // Wall time for availability (minReadySeconds); tests step it.
  std::function<WallTime()> now = [] { return std::chrono::system_clock::now(); };
};

class ReplicaSetController {
 public:
  ReplicaSetController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                       ReplicaSetControllerOptions options = {}, const client::Clock& clock = client::Clock::real());
  ~ReplicaSetController();
  ReplicaSetController(const ReplicaSetController&) = delete;
  ReplicaSetController& operator=(const ReplicaSetController&) = delete;

  void start();
  void stop();
  // One ReplicaSet key from the caches; an error means "requeue".
  Result<void> sync(const std::string& key);
  const ReplicaSetControllerStats& stats() const { return stats_; }
  const Expectations& expectations() const { return expectations_; }

 private:
  struct Handlers;
  Result<void> sync(const std::string& key, client::ApiClient& api);
  // Adopts and releases; returns the active pods the ReplicaSet owns afterwards.
  std::vector<client::ObjectPtr<api::Pod>> claim_pods(const api::ReplicaSet& rs, client::ApiClient& api);
  Result<void> manage_replicas(const std::vector<client::ObjectPtr<api::Pod>>& pods, const api::ReplicaSet& rs, client::ApiClient& api);
  Result<void> update_status(const api::ReplicaSet& rs, const std::vector<client::ObjectPtr<api::Pod>>& pods,
                             const Result<void>& manage_error, client::ApiClient& api);
  void pod_added(const client::ObjectPtr<api::Pod>& pod);
  void pod_updated(const client::ObjectPtr<api::Pod>& old_pod, const client::ObjectPtr<api::Pod>& pod);
  void pod_deleted(const client::ObjectPtr<api::Pod>& pod);
  void enqueue_owner_or_matching(const api::Pod& pod);
  std::string owner_key(const api::Pod& pod) const;  // the RS key its controllerRef names, if that RS exists with that uid
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  ReplicaSetControllerOptions options_;
  client::SharedIndexInformer<api::ReplicaSet>& replicasets_;
  client::SharedIndexInformer<api::Pod>& pods_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  Expectations expectations_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  ReplicaSetControllerStats stats_;
};

}  // namespace switchyard::controllers
