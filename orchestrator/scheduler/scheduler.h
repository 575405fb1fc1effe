// The scheduler (kube-scheduler's default profile) on the client library: a Pod informer feeds
// the scheduling queue (pending pods of this scheduler) and the cache (bound pods), a Node
// informer feeds the cache. One thread runs scheduling cycles against the cache; a pool of
// binders writes pods/binding (and the FailedScheduling status and Events) so that a cycle
// never waits for the API server: the chosen node is assumed in the cache at once and
// forgotten if the binding fails.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/scheduler/framework.h"
#include "orchestrator/scheduler/preemption.h"
#include "orchestrator/scheduler/scheduler_cache.h"
#include "orchestrator/scheduler/scheduling_queue.h"

namespace switchyard::scheduler {

struct SchedulerOptions {
  std::string scheduler_name = "default-scheduler";
  int binders = 8;  // concurrent API writes (bindings, status, events)
  CycleOptions cycle;
  QueueOptions queue;
  // The Normal "Scheduled" Event per bound pod, as upstream records it.
  bool record_scheduled_events = true;
};

struct SchedulerStats {
  std::atomic<std::uint64_t> attempts{0}, scheduled{0}, bound{0}, bind_failures{0}, unschedulable{0}, events{0}, event_failures{0},
      events_dropped{0}, preemptions{0}, victims{0};
};

class Scheduler {
 public:
  Scheduler(client::SharedInformerFactory& informers, client::ClusterConnection connection, SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the informers (if their owner has not), the binders and the scheduling loop, which
  // begins once the caches synced.
  void start();
  void stop();
  const SchedulerStats& stats() const { return stats_; }
  const SchedulingQueue& queue() const { return queue_; }
  const SchedulerCache& cache() const { return cache_; }

 private:
  struct Handlers;
  void loop();
  void schedule_one(QueuedPod pod);
  void bind(QueuedPod pod, const std::string& node, client::ApiClient& api);
  void report_unschedulable(const PodInfoPtr& pod, const std::string& message, client::ApiClient& api);
  void record_event(const api::Pod& pod, const std::string& type, const std::string& reason, const std::string& message,
                    client::ApiClient& api);
  // Bindings and failure reports go first; Scheduled Events wait behind them (`deferred`) and are
  // dropped past kMaxDeferred, as upstream's event broadcaster drops under load.
  void submit(std::function<void(client::ApiClient&)> task, bool deferred = false);
  void binder();
  bool responsible_for(const api::Pod& pod) const;
  // Every namespace's labels (InterPodAffinity's namespace lister); empty when no pod in the
  // cluster, nor `pod`, has pod (anti-)affinity terms: nothing would read it.
  std::map<std::string, api::StringMap> namespace_labels(const PodInfo& pod) const;
  // Preemption (scheduler_preemption.cpp): the PostFilter for a pod that fits nowhere. Returns
  // the node it was nominated to (empty: none), and says why not in `fit`.
  std::string post_filter(const PodInfoPtr& pod, FitError& fit);
  // In a binder: victims marked DisruptionTarget and deleted (gracefully), Preempted Events,
  // lower-priority pods nominated there un-nominated, the preemptor's nominatedNodeName.
  void prepare_candidate(const PodInfoPtr& pod, const std::string& node, const std::vector<PodInfoPtr>& victims,
                         const std::vector<PodInfoPtr>& displaced, client::ApiClient& api);
  void nominate(const PodInfoPtr& pod, const std::string& node);
  void unnominate(const std::string& key);
  NominatedPods nominated_snapshot() const;
  void on_pod_added(const client::ObjectPtr<api::Pod>& pod);
  void on_pod_updated(const client::ObjectPtr<api::Pod>& old_pod, const client::ObjectPtr<api::Pod>& pod);
  void on_pod_deleted(const client::ObjectPtr<api::Pod>& pod);

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  SchedulerOptions options_;
  const std::string scheduler_name_json_;  // the name as a pod's passthrough schedulerName holds it (quoted)
  client::SharedIndexInformer<api::Pod>& pods_;
  client::SharedIndexInformer<api::Node>& nodes_;
  client::SharedIndexInformer<api::PodDisruptionBudget>& pdbs_;
  client::SharedIndexInformer<api::Namespace>& namespaces_;  // their labels, for namespaceSelector
  client::SharedIndexInformer<api::PersistentVolumeClaim>& claims_;
  client::SharedIndexInformer<api::PersistentVolume>& volumes_;
  client::SharedIndexInformer<api::StorageClass>& classes_;
  std::unique_ptr<Handlers> handlers_;
  SchedulerCache cache_;
  SchedulingQueue queue_;
  SchedulingCycle cycle_;

  std::mutex tasks_mu_;
  std::condition_variable tasks_cv_;
  std::deque<std::function<void(client::ApiClient&)>> tasks_, deferred_tasks_;
  static constexpr std::size_t kMaxDeferred = 10000;
  std::vector<std::thread> binders_;
  std::thread loop_, flusher_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex nominated_mu_;
  NominatedPods nominated_;                          // node -> pods nominated there
  std::map<std::string, std::string> nominated_on_;  // pod key -> its nominated node

  std::mutex events_mu_;
  std::map<std::string, std::string> last_failure_;  // pod key -> the last FailedScheduling message recorded
  SchedulerStats stats_;
};

}  // namespace switchyard::scheduler
