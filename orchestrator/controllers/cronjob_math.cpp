#include "orchestrator/controllers/cronjob_math.h"

#include <algorithm>

#include <fmt/format.h>

#include "orchestrator/api/cron_schedule.h"
#include "orchestrator/controllers/job_math.h"

namespace switchyard::controllers {

CronJobPlan plan_cronjob(const api::CronJob& cj, WallTime now) {
  CronJobPlan plan;
  auto schedule = api::CronSchedule::parse(cj.spec.schedule);
  if (!schedule) {
    plan.error = schedule.error().message;
    return plan;
  }
  const std::string tz = cj.spec.time_zone.value_or("");
  std::optional<WallTime> earliest;
  if (cj.status.last_schedule_time) earliest = parse_rfc3339(*cj.status.last_schedule_time);
  if (!earliest) earliest = parse_rfc3339(cj.metadata.creation_timestamp);
  if (!earliest) earliest = now;
  if (cj.spec.starting_deadline_seconds) {
    const WallTime window = now - std::chrono::seconds(*cj.spec.starting_deadline_seconds);
    if (window > *earliest) earliest = window;
  }
  // Walk the unmet times; past 100 of them only the count grows (upstream's TooManyMissedTimes).
  for (auto t = schedule->next(*earliest, tz); t && *t <= now; t = schedule->next(*t, tz)) {
    plan.due = *t;
    ++plan.missed;
    if (plan.missed > 100000) break;  // @every 1s over a long outage: enough is known
  }
  plan.next = schedule->next(now, tz);
  if (plan.due && cj.spec.starting_deadline_seconds)
    plan.too_late = *plan.due + std::chrono::seconds(*cj.spec.starting_deadline_seconds) < now;
  return plan;
}

std::string cronjob_job_name(const std::string& cronjob, WallTime scheduled) {
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(scheduled.time_since_epoch()).count();
  return fmt::format("{}-{}", cronjob, minutes);
}

api::Job cronjob_job(const api::CronJob& cj, WallTime scheduled) {
  api::Job job;
  job.metadata = cj.spec.job_template.metadata;
  job.metadata.name = cronjob_job_name(cj.metadata.name, scheduled);
  job.metadata.namespace_ = cj.metadata.namespace_;
  job.metadata.annotations[kCronJobScheduledTimestampAnnotation] = format_rfc3339(scheduled);
  job.metadata.owner_references = {make_controller_ref("batch/v1", "CronJob", cj.metadata)};
  job.spec = cj.spec.job_template.spec;
  return job;
}

std::vector<const api::Job*> jobs_past_history_limit(const std::vector<const api::Job*>& finished, bool succeeded, int limit) {
  std::vector<const api::Job*> picked;
  for (const auto* j : finished)
    if ((job_condition(j->status, "Complete") != nullptr) == succeeded) picked.push_back(j);
  std::ranges::sort(picked, [](const api::Job* a, const api::Job* b) {
    const std::string& sa = a->status.start_time ? *a->status.start_time : a->metadata.creation_timestamp;
    const std::string& sb = b->status.start_time ? *b->status.start_time : b->metadata.creation_timestamp;
    return sa != sb ? sa < sb : a->metadata.name < b->metadata.name;
  });
  if (static_cast<int>(picked.size()) <= std::max(limit, 0)) return {};
  picked.resize(picked.size() - std::max(limit, 0));
  return picked;
}

}  // namespace switchyard::controllers
