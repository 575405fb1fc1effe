// The Job controller's pure decisions (pkg/controller/job): completed-index sets and their
// "0-2,4" form, the pod-failure back-off, and what a Job's pods add up to. No I/O, no clock of
// its own, so unit tests drive them with fixed times.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/api/types.h"
#include "orchestrator/controllers/workload_pods.h"

namespace switchyard::controllers {

inline constexpr const char* kJobTrackingFinalizer = "batch.kubernetes.io/job-tracking";

// "0-2,4" <-> {0,1,2,4}; indexes outside [0, completions) are dropped when parsing.
std::set<int> parse_index_set(const std::string& s, int completions);
std::string format_index_set(const std::set<int>& s);

// The completion index an Indexed Job's pod carries (annotation first, then label); -1 if none.
int completion_index_of(const api::Pod& pod);

// Delay before the next pod after `failures` consecutive failures: 10s, 20s, 40s, … capped at 6m
// (upstream's DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff), scaled by `base`.
std::chrono::milliseconds failure_backoff(int failures, std::chrono::milliseconds base = std::chrono::seconds(10),
                                          std::chrono::milliseconds cap = std::chrono::minutes(6));

// Restarts of a pod's containers (restartPolicy OnFailure counts them as failures).
int container_restarts(const api::Pod& pod);

// The Job's pod, as the controller creates it: the template with the tracking finalizer, the
// controllerRef, and for an Indexed Job the index annotation and label, JOB_COMPLETION_INDEX in
// every container, and the hostname NAME-INDEX.
// `index_failures` (backoffLimitPerIndex) goes into the index-failure-count annotation when set.
api::Pod job_pod(const api::Job& job, int index, int index_failures = 0);

// What the Job's pods say, once they are sorted into the groups the controller acts on.
struct JobPodCounts {
  std::vector<const api::Pod*> active;  // not terminal, not being deleted
  int ready = 0, terminating = 0, restarts = 0;
  std::vector<const api::Pod*> newly_succeeded, newly_failed;  // terminal and still carrying our finalizer
};
JobPodCounts count_job_pods(const std::vector<const api::Pod*>& pods);

// The decision for one sync of a Job that has not finished.
struct JobVerdict {
  enum class Outcome { Running, Complete, Failed } outcome = Outcome::Running;
  std::string reason, message;  // for Failed
};
// `succeeded` and `failed` include what this sync counts; `completed` the completed indexes.
// `failed_indexes`: the indexes failed for good (backoffLimitPerIndex, FailIndex).
JobVerdict judge_job(const api::Job& job, int succeeded, int failed, int active, int restarts, std::size_t completed, WallTime now,
                     std::size_t failed_indexes = 0);

// Indexes an Indexed Job still needs pods for: not completed, not held by an active pod.
std::vector<int> missing_indexes(int completions, const std::set<int>& completed, const std::vector<const api::Pod*>& active,
                                 const std::set<int>& failed = {});

bool job_finished(const api::Job& job);
const api::JobCondition* job_condition(const api::JobStatus& s, const std::string& type);

}  // namespace switchyard::controllers
