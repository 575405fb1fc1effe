// batch/v1: Job and CronJob. The fields the controllers act on are typed; the policies Switchyard
// stores but does not act on yet (podFailurePolicy, successPolicy, scheduling) are kept verbatim.
// Included by types.h after the apps/v1 kinds (it needs LabelSelectorSpec and PodTemplateSpec).
#pragma once

namespace switchyard::api {

// Labels the API server puts on a Job's pod template with the generated selector.
inline constexpr const char* kJobControllerUidLabel = "batch.kubernetes.io/controller-uid";
inline constexpr const char* kJobNameLabel = "batch.kubernetes.io/job-name";
inline constexpr const char* kLegacyJobControllerUidLabel = "controller-uid";
inline constexpr const char* kLegacyJobNameLabel = "job-name";
// An Indexed Job's pods carry their index here (annotation and label) and in JOB_COMPLETION_INDEX.
inline constexpr const char* kJobCompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index";

struct JobCondition {
  std::string type, status, last_probe_time, last_transition_time, reason, message;
  bool operator==(const JobCondition&) const = default;
};

struct UncountedTerminatedPods {
  std::vector<std::string> succeeded, failed;  // pod uids
  bool operator==(const UncountedTerminatedPods&) const = default;
};

struct JobSpec {
  std::optional<std::int32_t> parallelism, completions;
  std::optional<std::int64_t> active_deadline_seconds;
  std::optional<std::int32_t> backoff_limit, backoff_limit_per_index, max_failed_indexes;
  std::optional<LabelSelectorSpec> selector;
  std::optional<bool> manual_selector;
  PodTemplateSpec template_;
  std::optional<std::int32_t> ttl_seconds_after_finished;
  std::optional<std::string> completion_mode;  // NonIndexed | Indexed
  std::optional<bool> suspend;
  std::optional<std::string> pod_replacement_policy, managed_by;
  Passthrough passthrough;  // podFailurePolicy, successPolicy, scheduling
  bool operator==(const JobSpec&) const = default;
};

struct JobStatus {
  std::vector<JobCondition> conditions;
  std::optional<std::string> start_time, completion_time;  // RFC 3339
  std::int32_t active = 0, succeeded = 0, failed = 0;
  std::optional<std::int32_t> terminating, ready;
  std::string completed_indexes;  // "0-2,4"
  std::optional<std::string> failed_indexes;
  std::optional<UncountedTerminatedPods> uncounted_terminated_pods;
  bool operator==(const JobStatus&) const = default;
};

struct Job {
  static constexpr const char* kKind = "Job";
  static constexpr const char* kApiVersion = "batch/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  JobSpec spec;
  JobStatus status;
  bool operator==(const Job&) const = default;
};

struct JobTemplateSpec {
  ObjectMeta metadata;
  JobSpec spec;
  bool operator==(const JobTemplateSpec&) const = default;
};

struct CronJobSpec {
  std::string schedule;
  std::optional<std::string> time_zone;
  std::optional<std::int64_t> starting_deadline_seconds;
  std::string concurrency_policy;  // Allow | Forbid | Replace
  std::optional<bool> suspend;
  JobTemplateSpec job_template;
  std::optional<std::int32_t> successful_jobs_history_limit, failed_jobs_history_limit;
  bool operator==(const CronJobSpec&) const = default;
};

struct CronJobStatus {
  std::vector<ObjectReference> active;
  std::optional<std::string> last_schedule_time, last_successful_time;
  bool operator==(const CronJobStatus&) const = default;
};

struct CronJob {
  static constexpr const char* kKind = "CronJob";
  static constexpr const char* kApiVersion = "batch/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  CronJobSpec spec;
  CronJobStatus status;
  bool operator==(const CronJob&) const = default;
};

}  // namespace switchyard::api
