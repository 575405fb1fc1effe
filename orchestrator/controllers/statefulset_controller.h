// The StatefulSet controller, as kube-controller-manager runs it: shared informers on
// StatefulSets, Pods, ControllerRevisions and PersistentVolumeClaims; events enqueue StatefulSet
// keys; a worker syncs one
// key from the caches:
//  - the revision the spec asks for (a ControllerRevision SET-HASH, created or renumbered) and the
//    one the set rolls from (status.currentRevision);
//  - claims pods named SET-ORDINAL (adopts matching orphans);
//  - acts on statefulset_math's plan: creates ordinals (hostname = pod name, subdomain =
//    serviceName, the pod-name, pod-index and controller-revision-hash labels), deletes condemned,
//    failed and outdated pods, OrderedReady one at a time or Parallel, RollingUpdate with
//    partition and maxUnavailable, or OnDelete;
//  - before a pod, its claims TEMPLATE-SET-N from volumeClaimTemplates (existing ones reused, one
//    being deleted blocks the pod), mounted as the template's volume of that name; the claims'
//    ownerReferences follow persistentVolumeClaimRetentionPolicy (statefulset_claims.h) so the
//    garbage collector deletes them with the set or with a pod scaled away;
//  - writes status and keeps revisionHistoryLimit old revisions.
// Pod names are deterministic, so a lagging cache or a restart cannot create a pod twice: a
// second create of web-1 gets AlreadyExists.
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
#include "orchestrator/controllers/workload_pods.h"

namespace switchyard::controllers {

struct StatefulSetControllerStats {
  std::atomic<std::uint64_t> syncs{0}, pods_created{0}, pods_deleted{0}, failed_writes{0}, status_updates{0}, revisions_created{0},
      claims_created{0}, claims_updated{0};
};

struct StatefulSetControllerOptions {
  int workers = 2;
  std::function<WallTime()> now = [] { return std::chrono::system_clock::now(); };
};

class StatefulSetController {
 public:
  StatefulSetController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                        StatefulSetControllerOptions options = {}, const client::Clock& clock = client::Clock::real());
  ~StatefulSetController();
  StatefulSetController(const StatefulSetController&) = delete;
  StatefulSetController& operator=(const StatefulSetController&) = delete;

  void start();
  void stop();
  // One StatefulSet key from the caches; an error means "requeue".
  Result<void> sync(const std::string& key);
  const StatefulSetControllerStats& stats() const { return stats_; }

 private:
  struct Handlers;
  Result<void> sync(const std::string& key, client::ApiClient& api);
  void enqueue_for_pod(const api::Pod& pod);
  Result<void> create_missing_claims(client::ApiClient& api, const api::StatefulSet& set,
                                     const std::vector<api::PersistentVolumeClaim>& templates, int ordinal);
  Result<void> update_claim_owners(client::ApiClient& api, const api::StatefulSet& set,
                                   const std::vector<api::PersistentVolumeClaim>& templates, const api::Pod& pod, int ordinal);
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  StatefulSetControllerOptions options_;
  client::SharedIndexInformer<api::StatefulSet>& sets_;
  client::SharedIndexInformer<api::Pod>& pods_;
  client::SharedIndexInformer<api::ControllerRevision>& revisions_;
  client::SharedIndexInformer<api::PersistentVolumeClaim>& claims_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  StatefulSetControllerStats stats_;
};

}  // namespace switchyard::controllers
