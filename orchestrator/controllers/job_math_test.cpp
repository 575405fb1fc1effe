#include "orchestrator/controllers/job_math.h"

#include <gtest/gtest.h>

namespace switchyard::controllers {
namespace {

using namespace std::chrono_literals;

TEST(JobMath, IndexSetsRoundTrip) {
  EXPECT_EQ(format_index_set({0, 1, 2, 4, 6, 7}), "0-2,4,6-7");
  EXPECT_EQ(format_index_set({}), "");
  EXPECT_EQ(parse_index_set("0-2,4,6-7", 10), (std::set<int>{0, 1, 2, 4, 6, 7}));
  EXPECT_EQ(parse_index_set("0-2,9", 5), (std::set<int>{0, 1, 2}));  // beyond completions: dropped
}

TEST(JobMath, FailureBackoffDoublesUpToSixMinutes) {
  EXPECT_EQ(failure_backoff(0), 0ms);
  EXPECT_EQ(failure_backoff(1), 10s);
  EXPECT_EQ(failure_backoff(2), 20s);
  EXPECT_EQ(failure_backoff(4), 80s);
  EXPECT_EQ(failure_backoff(7), 360s);
  EXPECT_EQ(failure_backoff(30), 360s);
}

api::Job job(std::optional<int> completions, int parallelism, int backoff_limit = 6) {
  api::Job j;
  j.metadata.name = "pi";
  j.metadata.namespace_ = "ns";
  j.metadata.uid = "u1";
  j.spec.completions = completions;
  j.spec.parallelism = parallelism;
  j.spec.backoff_limit = backoff_limit;
  j.spec.template_.spec.containers.push_back({.name = "c", .image = "busybox"});
  return j;
}

TEST(JobMath, Verdicts) {
  const WallTime now = std::chrono::system_clock::from_time_t(1'800'000'000);
  using O = JobVerdict::Outcome;
  EXPECT_EQ(judge_job(job(3, 2), 2, 0, 1, 0, 0, now).outcome, O::Running);
  EXPECT_EQ(judge_job(job(3, 2), 3, 0, 0, 0, 0, now).outcome, O::Complete);
  // Work queue (no completions): done when one succeeded and none is still running.
  EXPECT_EQ(judge_job(job(std::nullopt, 2), 1, 0, 1, 0, 0, now).outcome, O::Running);
  EXPECT_EQ(judge_job(job(std::nullopt, 2), 1, 0, 0, 0, 0, now).outcome, O::Complete);
  // backoffLimit counts failed pods and container restarts.
  EXPECT_EQ(judge_job(job(1, 1, 2), 0, 2, 1, 0, 0, now).outcome, O::Running);
  const auto failed = judge_job(job(1, 1, 2), 0, 2, 1, 1, 0, now);
  EXPECT_EQ(failed.outcome, O::Failed);
  EXPECT_EQ(failed.reason, "BackoffLimitExceeded");
  // activeDeadlineSeconds from startTime.
  auto j = job(1, 1);
  j.spec.active_deadline_seconds = 30;
  j.status.start_time = format_rfc3339(now - 29s);
  EXPECT_EQ(judge_job(j, 0, 0, 1, 0, 0, now).outcome, O::Running);
  j.status.start_time = format_rfc3339(now - 30s);
  EXPECT_EQ(judge_job(j, 0, 0, 1, 0, 0, now).reason, "DeadlineExceeded");
  // Indexed: complete when every index completed.
  j = job(3, 3);
  j.spec.completion_mode = "Indexed";
  EXPECT_EQ(judge_job(j, 2, 0, 1, 0, 2, now).outcome, O::Running);
  EXPECT_EQ(judge_job(j, 3, 0, 0, 0, 3, now).outcome, O::Complete);
}

TEST(JobMath, IndexedPodCarriesItsIndex) {
  const auto pod = job_pod(job(5, 2), 3);
  EXPECT_EQ(pod.metadata.generate_name, "pi-3-");
  EXPECT_EQ(pod.metadata.annotations.at("batch.kubernetes.io/job-completion-index"), "3");
  EXPECT_EQ(pod.spec.hostname, "pi-3");
  EXPECT_EQ(pod.spec.containers[0].passthrough.at("env"), R"([{"name":"JOB_COMPLETION_INDEX","value":"3"}])");
  EXPECT_EQ(pod.metadata.finalizers, (std::vector<std::string>{"batch.kubernetes.io/job-tracking"}));
  EXPECT_EQ(pod.metadata.owner_references.at(0).kind, "Job");
  EXPECT_EQ(completion_index_of(pod), 3);
  std::vector<const api::Pod*> active{&pod};
  EXPECT_EQ(missing_indexes(5, {0, 1}, active), (std::vector<int>{2, 4}));
}

TEST(JobMath, CountsOnlyPodsStillCarryingTheFinalizerAsNew) {
  auto a = job_pod(job(3, 3), -1), b = a, c = a, d = a;
  a.status.phase = "Succeeded";
  b.status.phase = "Succeeded";
  b.metadata.finalizers.clear();  // counted already
  c.status.phase = "Failed";
  d.status.phase = "Running";
  d.status.conditions.push_back({.type = "Ready", .status = "True"});
  const auto counts = count_job_pods({&a, &b, &c, &d});
  EXPECT_EQ(counts.newly_succeeded.size(), 1U);
  EXPECT_EQ(counts.newly_failed.size(), 1U);
  EXPECT_EQ(counts.active.size(), 1U);
  EXPECT_EQ(counts.ready, 1);
}

}  // namespace
}  // namespace switchyard::controllers
