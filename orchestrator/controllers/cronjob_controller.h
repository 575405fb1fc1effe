// The CronJob controller (kube-controller-manager's cronjob v2 controller): informers on CronJobs
// and Jobs; a worker syncs one CronJob key:
//  - status.active follows the CronJob's running Jobs; lastSuccessfulTime its newest success;
//  - finished Jobs beyond successful/failedJobsHistoryLimit are deleted, oldest first;
//  - unless suspended, the most recent unmet scheduled time (in spec.timeZone) starts a Job named
//    NAME-<minutes since epoch> (so a restart cannot start one twice), not when it is past
//    startingDeadlineSeconds, not while one runs under Forbid, replacing the running ones under
//    Replace; more than 100 missed times only log TooManyMissedTimes (no burst of Jobs);
//  - the key comes back at the next scheduled time.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/base/error.h"
#include "orchestrator/client/api_client.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/work_queue.h"
#include "orchestrator/controllers/cronjob_math.h"

namespace switchyard::controllers {

struct CronJobControllerStats {
  std::atomic<std::uint64_t> syncs{0}, jobs_created{0}, jobs_deleted{0}, failed_writes{0}, missed_skipped{0};
};

struct CronJobControllerOptions {
  int workers = 2;
  std::function<WallTime()> now = [] { return std::chrono::system_clock::now(); };
};

class CronJobController {
 public:
  CronJobController(client::SharedInformerFactory& informers, client::ClusterConnection connection, CronJobControllerOptions options = {},
                    const client::Clock& clock = client::Clock::real());
  ~CronJobController();
  CronJobController(const CronJobController&) = delete;
  CronJobController& operator=(const CronJobController&) = delete;

  void start();
  void stop();
  Result<void> sync(const std::string& key);
  const CronJobControllerStats& stats() const { return stats_; }

 private:
  struct Handlers;
  Result<void> sync(const std::string& key, client::ApiClient& api);
  void job_event(const api::Job& job);
  void worker();

  client::SharedInformerFactory& informers_;
  client::ClusterConnection connection_;
  CronJobControllerOptions options_;
  client::SharedIndexInformer<api::CronJob>& cronjobs_;
  client::SharedIndexInformer<api::Job>& jobs_;
  std::unique_ptr<Handlers> handlers_;
  client::WorkQueue queue_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  CronJobControllerStats stats_;
};

}  // namespace switchyard::controllers
