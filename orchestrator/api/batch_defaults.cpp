// batch/v1 defaulting (pkg/apis/batch/v1/defaults.go) and the Job selector the registry generates
// (pkg/registry/batch/job/strategy.go generateSelector), once the Job has its uid.
#include <limits>

#include "orchestrator/api/defaults.h"

namespace switchyard::api {

namespace {

void generate_selector(Job& j) {
  auto& labels = j.spec.template_.metadata.labels;
  for (const char* k : {kLegacyJobNameLabel, kJobNameLabel}) labels.try_emplace(k, j.metadata.name);
  for (const char* k : {kLegacyJobControllerUidLabel, kJobControllerUidLabel}) labels.try_emplace(k, j.metadata.uid);
  if (!j.spec.selector) j.spec.selector.emplace();
  j.spec.selector->match_labels.try_emplace(kJobControllerUidLabel, j.metadata.uid);
}

}  // namespace

void apply_defaults(Job& j) {
  auto& s = j.spec;
  if (!s.completions && !s.parallelism) s.completions = 1;
  if (!s.parallelism) s.parallelism = 1;
  if (!s.backoff_limit) s.backoff_limit = s.backoff_limit_per_index ? std::numeric_limits<std::int32_t>::max() : 6;
  if (!s.completion_mode) s.completion_mode = "NonIndexed";
  if (!s.suspend) s.suspend = false;
  if (!s.pod_replacement_policy) s.pod_replacement_policy = s.passthrough.contains("podFailurePolicy") ? "Failed" : "TerminatingOrFailed";
  if (!s.manual_selector.value_or(false) && !j.metadata.uid.empty()) generate_selector(j);
  // A Job without labels of its own shows its pods' (the selector's labels included).
  if (j.metadata.labels.empty()) j.metadata.labels = s.template_.metadata.labels;
  apply_defaults(s.template_.spec);
}

void apply_defaults(CronJob& c) {
  auto& s = c.spec;
  if (s.concurrency_policy.empty()) s.concurrency_policy = "Allow";
  if (!s.suspend) s.suspend = false;
  if (!s.successful_jobs_history_limit) s.successful_jobs_history_limit = 3;
  if (!s.failed_jobs_history_limit) s.failed_jobs_history_limit = 1;
  apply_defaults(s.job_template.spec.template_.spec);
}

}  // namespace switchyard::api
