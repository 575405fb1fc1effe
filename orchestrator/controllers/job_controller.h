// The Job controller, as kube-controller-manager runs it: shared informers on Jobs and Pods;
// events enqueue Job keys; a worker syncs one Job from the caches:
//  - keeps min(parallelism, what is left) pods running (NonIndexed), or one pod per missing
//    index (Indexed: JOB_COMPLETION_INDEX, the completion-index annotation and label, hostname
//    NAME-INDEX), with expectations so a lagging cache never creates twice, and an exponential
//    back-off (10s doubling, 6m cap) after failures;
//  - counts finished pods exactly once through the batch.kubernetes.io/job-tracking finalizer:
//    a pod's uid goes into status.uncountedTerminatedPods, then its finalizer is removed, then it
//    moves into succeeded/failed (so a controller restart neither loses nor repeats a count);
//  - podFailurePolicy: a failed pod's first matching rule decides (Ignore: not counted, FailJob:
//    a FailureTarget condition, then Failed with reason PodFailurePolicy; FailIndex and
//    backoffLimitPerIndex: the index fails for good, recorded in status.failedIndexes);
//  - Complete when enough pods succeeded; Failed with BackoffLimitExceeded (failures plus
//    container restarts above backoffLimit) or DeadlineExceeded (activeDeadlineSeconds), removing
//    the pods still running; suspend stops the pods (Suspended condition);
//  - ttlSecondsAfterFinished: deletes a finished Job (and so its pods) once the TTL passes.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"
#include "orchestrator/controllers/expectations.h"
#include "orchestrator/controllers/job_math.h"

namespace switchyard::controllers {

struct JobControllerStats {
  std::atomic<std::uint64_t> syncs{0}, pods_created{0}, pods_deleted{0}, failed_writes{0}, status_updates{0}, jobs_deleted{0};
};

struct JobControllerOptions {
  int workers = 5;
  int burst_pods = 500;  // creations per sync
  std::chrono::milliseconds failure_backoff_base = std::chrono::seconds(10);
  std::function<WallTime()> now = [] { return std::chrono::system_clock::now(); };
};

class JobController {
 public:
  JobController(client::SharedInformerFactory& informers, client::ClusterConnection connection, JobControllerOptions options = {},
                const client::Clock& clock = client::Clock::real());
  ~JobController();
  JobController(const JobController&) = delete;
  JobController& operator=(const JobController&) = delete;

  void start();
  void stop();
  Result<void> sync(const std::string& key);
  const JobControllerStats& stats() const { return stats_; }

 private:
  struct Handlers;
  Result<void> sync(const std::string& key, client::ApiClient& api);
  Result<void> sync_finished(const api::Job& job, const std::vector<const api::Pod*>& pods, client::ApiClient& api);
  // Removes our finalizer from `pod` (NotFound counts as done).
  Result<void> release(const api::Pod& pod, client::ApiClient& api);
  // Releases and deletes `pods` (pods the controller itself stops are not failures).
  Result<void> stop_pods(const std::string& key, const std::vector<const api::Pod*>& pods, client::ApiClient& api);
  // `failures`: per index, the failures its replacement carries (backoffLimitPerIndex).
  Result<void> create_pods(const std::string& key, const api::Job& job, const std::vector<int>& indexes, const std::map<int, int>& failures,
                           client::ApiClient& api);
  void pod_event(const api::Pod& pod, bool added, bool deleted);
  // The pod cache shows `pod` without our finalizer (or gone): its release is observed.
  void finalizer_observed(const api::Pod& pod, bool gone);
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  JobControllerOptions options_;
  client::SharedIndexInformer<api::Job>& jobs_;
  client::SharedIndexInformer<api::Pod>& pods_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  Expectations expectations_;
  std::mutex mu_;
  std::map<std::string, WallTime> last_failure_;  // when a Job's latest pod failure was counted
  // Status writes and finalizer removals the caches have not shown yet (upstream's
  // uidTrackingExpectations): a sync on a cache behind our own writes neither counts nor creates.
  std::map<std::string, std::string> written_;  // Job key -> resourceVersion of our last status write
  std::set<std::string> released_;              // pod uids whose tracking finalizer we removed
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  JobControllerStats stats_;
};

}  // namespace switchyard::controllers
