// The DaemonSet controller, as kube-controller-manager runs it: shared informers on DaemonSets,
// Pods, Nodes and ControllerRevisions; events enqueue DaemonSet keys; a worker syncs one key:
//  - history: the ControllerRevision of the current template (named NAME-HASH, labelled
//    controller-revision-hash, data a patch that replaces spec.template) is found or created
//    with the next revision number; old ones past revisionHistoryLimit that no pod uses go;
//  - manage: one pod per node that should run it (daemonset_math.h), created with a required
//    node-affinity term naming the node so the default scheduler binds it there; pods on nodes
//    that should not keep one, surplus pods, failed pods (with back-off) and pods of vanished
//    nodes are deleted; never again before the cache has shown the previous creates and deletes
//    (expectations), so a lagging cache never doubles a pod;
//  - RollingUpdate: old pods replaced within maxUnavailable, or surged within maxSurge; OnDelete
//    leaves old pods until someone deletes them;
//  - status: desired/current/ready/updated/available/misscheduled counts and observedGeneration.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"
#include "orchestrator/controllers/daemonset_math.h"
#include "orchestrator/controllers/expectations.h"

namespace switchyard::controllers {

struct DaemonSetControllerStats {
  std::atomic<std::uint64_t> syncs{0}, pods_created{0}, pods_deleted{0}, failed_writes{0}, status_updates{0}, revisions_created{0};
};

struct DaemonSetControllerOptions {
  int workers = 2;
  int burst_replicas = 250;  // creations or deletions per sync, as upstream
  std::function<WallTime()> now = [] { return std::chrono::system_clock::now(); };
};

class DaemonSetController {
 public:
  DaemonSetController(client::SharedInformerFactory& informers, client::ClusterConnection connection,
                      DaemonSetControllerOptions options = {}, const client::Clock& clock = client::Clock::real());
  ~DaemonSetController();
  DaemonSetController(const DaemonSetController&) = delete;
  DaemonSetController& operator=(const DaemonSetController&) = delete;

  void start();
  void stop();
  Result<void> sync(const std::string& key);
  const DaemonSetControllerStats& stats() const { return stats_; }

 private:
  struct Handlers;
  using PodsByNode = std::map<std::string, std::vector<client::ObjectPtr<api::Pod>>>;
  Result<void> sync(const std::string& key, client::ApiClient& api);
  // The current revision's hash (creating or renumbering that revision); the other revisions.
  Result<std::string> construct_history(const api::DaemonSet& ds, std::vector<client::ObjectPtr<api::ControllerRevision>>& old,
                                        client::ApiClient& api);
  void cleanup_history(const api::DaemonSet& ds, const std::vector<client::ObjectPtr<api::ControllerRevision>>& old, const PodsByNode& pods,
                       client::ApiClient& api);
  // Adopts matching orphans and releases owned pods that no longer match; by target node.
  PodsByNode claim_pods(const api::DaemonSet& ds, client::ApiClient& api);
  Result<void> manage(const api::DaemonSet& ds, const std::vector<client::ObjectPtr<api::Node>>& nodes, const PodsByNode& pods,
                      const std::string& hash, client::ApiClient& api);
  Result<void> rolling_update(const api::DaemonSet& ds, const std::vector<client::ObjectPtr<api::Node>>& nodes, const PodsByNode& pods,
                              const std::string& hash, client::ApiClient& api);
  Result<void> sync_nodes(const api::DaemonSet& ds, const std::vector<std::string>& pods_to_delete,
                          const std::vector<std::string>& nodes_to_create, const std::string& hash, client::ApiClient& api);
  Result<void> update_status(const api::DaemonSet& ds, const std::vector<client::ObjectPtr<api::Node>>& nodes, const PodsByNode& pods,
                             const std::string& hash, client::ApiClient& api);
  // A failed pod on `node` is replaced at most after a doubling back-off (1 s to 15 min).
  bool failed_pod_backoff_allows(const std::string& ds_key, const std::string& node);

  void pod_added(const client::ObjectPtr<api::Pod>& pod);
  void pod_updated(const client::ObjectPtr<api::Pod>& old_pod, const client::ObjectPtr<api::Pod>& pod);
  void pod_deleted(const client::ObjectPtr<api::Pod>& pod);
  void enqueue_owner_or_matching(const api::Pod& pod);
  void enqueue_all();
  std::string owner_key(const api::ObjectMeta& m) const;  // the DaemonSet key a controllerRef names, if it exists with that uid
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  DaemonSetControllerOptions options_;
  const client::Clock& clock_;
  client::SharedIndexInformer<api::DaemonSet>& daemonsets_;
  client::SharedIndexInformer<api::Pod>& pods_;
  client::SharedIndexInformer<api::Node>& nodes_;
  client::SharedIndexInformer<api::ControllerRevision>& revisions_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  Expectations expectations_;
  std::mutex backoff_mu_;
  struct Backoff {
    std::chrono::seconds delay{0};
    client::Clock::TimePoint last;
  };
  std::map<std::string, Backoff> failed_backoff_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  DaemonSetControllerStats stats_;
};

}  // namespace switchyard::controllers
