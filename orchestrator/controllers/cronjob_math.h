// The CronJob controller's pure decisions (pkg/controller/cronjob/utils.go): which scheduled time
// is due, whether it is too late to start, the name of its Job, and which finished Jobs the
// history limits drop. Times come in as arguments, so unit tests use a fake clock.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/api/types.h"
#include "orchestrator/controllers/workload_pods.h"

namespace switchyard::controllers {

inline constexpr const char* kCronJobScheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp";

struct CronJobPlan {
  std::optional<WallTime> due;   // the most recent scheduled time not yet run, if any
  int missed = 0;                // how many scheduled times were unmet (more than 100: an event)
  bool too_late = false;         // `due` is past startingDeadlineSeconds
  std::optional<WallTime> next;  // the first scheduled time after `now`
  std::string error;             // an unparsable schedule (validation keeps them out)
};

// What is due at `now`: scheduled times after lastScheduleTime (or the creation time), no
// earlier than now - startingDeadlineSeconds.
CronJobPlan plan_cronjob(const api::CronJob& cj, WallTime now);

// NAME-<minutes since the epoch>: the same scheduled time always names the same Job, so a
// restarted controller cannot start it twice.
std::string cronjob_job_name(const std::string& cronjob, WallTime scheduled);

// The Job for `scheduled`, from the template, owned by the CronJob.
api::Job cronjob_job(const api::CronJob& cj, WallTime scheduled);

// Finished Jobs beyond the history limits, oldest first.
std::vector<const api::Job*> jobs_past_history_limit(const std::vector<const api::Job*>& finished, bool succeeded, int limit);

}  // namespace switchyard::controllers
