#include "orchestrator/controllers/cronjob_math.h"

#include <gtest/gtest.h>

namespace switchyard::controllers {
namespace {

using namespace std::chrono_literals;

// 2026-12-07 10:00:00 UTC
const WallTime kTen = std::chrono::system_clock::from_time_t(1796637600);

api::CronJob cronjob(const std::string& schedule) {
  api::CronJob c;
  c.metadata.name = "tick";
  c.metadata.namespace_ = "ns";
  c.metadata.uid = "cj-1";
  c.metadata.creation_timestamp = format_rfc3339(kTen);
  c.spec.schedule = schedule;
  c.spec.concurrency_policy = "Allow";
  return c;
}

TEST(CronJobMath, NothingDueBeforeTheFirstTime) {
  const auto plan = plan_cronjob(cronjob("*/5 * * * *"), kTen + 4min);
  EXPECT_FALSE(plan.due);
  ASSERT_TRUE(plan.next);
  EXPECT_EQ(*plan.next, kTen + 5min);
}

TEST(CronJobMath, MostRecentUnmetTimeIsDueAndMissedOnesAreCountedNotBurst) {
  auto c = cronjob("* * * * *");
  c.status.last_schedule_time = format_rfc3339(kTen);
  const auto plan = plan_cronjob(c, kTen + 3min + 30s);
  ASSERT_TRUE(plan.due);
  EXPECT_EQ(*plan.due, kTen + 3min);  // one Job, for the latest time
  EXPECT_EQ(plan.missed, 3);
  EXPECT_EQ(*plan.next, kTen + 4min);
  // A long outage: hundreds missed, still one due time.
  const auto late = plan_cronjob(c, kTen + 5h);
  EXPECT_EQ(late.missed, 300);
  EXPECT_EQ(*late.due, kTen + 5h);
}

TEST(CronJobMath, StartingDeadlineLimitsHowFarBackAndMarksTooLate) {
  auto c = cronjob("0 * * * *");
  c.spec.starting_deadline_seconds = 120;
  c.status.last_schedule_time = format_rfc3339(kTen);
  // 11:00 was due; at 11:01 it may still start.
  auto plan = plan_cronjob(c, kTen + 61min);
  ASSERT_TRUE(plan.due);
  EXPECT_FALSE(plan.too_late);
  // At 11:05 it is outside the window: nothing is due any more.
  plan = plan_cronjob(c, kTen + 65min);
  EXPECT_FALSE(plan.due);
  EXPECT_EQ(*plan.next, kTen + 2h);
}

TEST(CronJobMath, TimeZoneMovesTheInstant) {
  auto c = cronjob("0 12 * * *");
  c.spec.time_zone = "Asia/Kolkata";  // UTC+5:30: noon there is 06:30 UTC
  c.metadata.creation_timestamp = format_rfc3339(kTen - 10h);
  const auto plan = plan_cronjob(c, kTen);
  ASSERT_TRUE(plan.due);
  EXPECT_EQ(*plan.due, kTen - 3h - 30min);
}

TEST(CronJobMath, JobNameIsStablePerScheduledTime) {
  EXPECT_EQ(cronjob_job_name("tick", kTen), "tick-29943960");
  const auto job = cronjob_job(cronjob("* * * * *"), kTen);
  EXPECT_EQ(job.metadata.name, "tick-29943960");
  EXPECT_EQ(job.metadata.annotations.at("batch.kubernetes.io/cronjob-scheduled-timestamp"), "2026-12-07T10:00:00Z");
  EXPECT_EQ(job.metadata.owner_references.at(0).kind, "CronJob");
}

TEST(CronJobMath, HistoryLimitsDropTheOldestFinishedJobs) {
  std::vector<api::Job> jobs(5);
  std::vector<const api::Job*> finished;
  for (int i = 0; i < 5; ++i) {
    jobs[i].metadata.name = "j" + std::to_string(i);
    jobs[i].status.start_time = format_rfc3339(kTen + std::chrono::minutes(i));
    jobs[i].status.conditions.push_back({.type = i == 2 ? "Failed" : "Complete", .status = "True"});
    finished.push_back(&jobs[i]);
  }
  auto ok = jobs_past_history_limit(finished, true, 2);
  ASSERT_EQ(ok.size(), 2U);
  EXPECT_EQ(ok[0]->metadata.name, "j0");
  EXPECT_EQ(ok[1]->metadata.name, "j1");
  EXPECT_TRUE(jobs_past_history_limit(finished, false, 1).empty());
  EXPECT_EQ(jobs_past_history_limit(finished, false, 0).size(), 1U);
}

}  // namespace
}  // namespace switchyard::controllers
