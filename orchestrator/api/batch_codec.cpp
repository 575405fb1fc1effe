// batch/v1 objects to and from the Kubernetes JSON wire format.
#include "orchestrator/api/batch_codec.h"

#include "orchestrator/api/pod_failure_policy.h"

namespace switchyard::api::codec {

using nlohmann::json;

static void decode_fields(Reader& r, JobCondition& c) {
  r.field("type", c.type);
  r.field("status", c.status);
  r.field("lastProbeTime", c.last_probe_time);
  r.field("lastTransitionTime", c.last_transition_time);
  r.field("reason", c.reason);
  r.field("message", c.message);
}

static void decode_fields(Reader& r, UncountedTerminatedPods& u) {
  r.field("succeeded", u.succeeded);
  r.field("failed", u.failed);
}

static void decode_fields(Reader& r, JobSpec& s) {
  r.field("parallelism", s.parallelism);
  r.field("completions", s.completions);
  r.field("activeDeadlineSeconds", s.active_deadline_seconds);
  r.field("backoffLimit", s.backoff_limit);
  r.field("backoffLimitPerIndex", s.backoff_limit_per_index);
  r.field("maxFailedIndexes", s.max_failed_indexes);
  r.field("selector", s.selector);
  r.field("manualSelector", s.manual_selector);
  r.field("template", s.template_);
  r.field("ttlSecondsAfterFinished", s.ttl_seconds_after_finished);
  r.field("completionMode", s.completion_mode);
  r.field("suspend", s.suspend);
  r.field("podReplacementPolicy", s.pod_replacement_policy);
  r.field("managedBy", s.managed_by);
  decode_pod_failure_policy(r, s);  // typed, kept in passthrough (pod_failure_policy.h)
  r.passthrough({"successPolicy", "scheduling"}, s.passthrough);
}

static void decode_fields(Reader& r, JobStatus& s) {
  r.field("conditions", s.conditions);
  r.field("startTime", s.start_time);
  r.field("completionTime", s.completion_time);
  r.field("active", s.active);
  r.field("succeeded", s.succeeded);
  r.field("failed", s.failed);
  r.field("terminating", s.terminating);
  r.field("ready", s.ready);
  r.field("completedIndexes", s.completed_indexes);
  r.field("failedIndexes", s.failed_indexes);
  r.field("uncountedTerminatedPods", s.uncounted_terminated_pods);
}

static void decode_fields(Reader& r, JobTemplateSpec& t) {
  r.field("metadata", t.metadata);
  r.field("spec", t.spec);
}

static void decode_fields(Reader& r, CronJobSpec& s) {
  r.field("schedule", s.schedule);
  r.field("timeZone", s.time_zone);
  r.field("startingDeadlineSeconds", s.starting_deadline_seconds);
  r.field("concurrencyPolicy", s.concurrency_policy);
  r.field("suspend", s.suspend);
  r.field("jobTemplate", s.job_template);
  r.field("successfulJobsHistoryLimit", s.successful_jobs_history_limit);
  r.field("failedJobsHistoryLimit", s.failed_jobs_history_limit);
}

static void decode_fields(Reader& r, CronJobStatus& s) {
  r.field("active", s.active);
  r.field("lastScheduleTime", s.last_schedule_time);
  r.field("lastSuccessfulTime", s.last_successful_time);
}

static json encode_job_spec(const JobSpec& s) {
  json spec = json::object();
  put(spec, "parallelism", s.parallelism);
  put(spec, "completions", s.completions);
  put(spec, "activeDeadlineSeconds", s.active_deadline_seconds);
  put(spec, "backoffLimit", s.backoff_limit);
  put(spec, "backoffLimitPerIndex", s.backoff_limit_per_index);
  put(spec, "maxFailedIndexes", s.max_failed_indexes);
  if (s.selector) spec["selector"] = encode_selector(*s.selector);
  put(spec, "manualSelector", s.manual_selector);
  spec["template"] = encode_template(s.template_);
  put(spec, "ttlSecondsAfterFinished", s.ttl_seconds_after_finished);
  put(spec, "completionMode", s.completion_mode);
  put(spec, "suspend", s.suspend);
  put(spec, "podReplacementPolicy", s.pod_replacement_policy);
  put(spec, "managedBy", s.managed_by);
  put_passthrough(spec, s.passthrough);
  return spec;
}

void decode_body(Reader& r, Job& o) {
  r.field("spec", o.spec);
  r.field("status", o.status);
}

void decode_body(Reader& r, CronJob& o) {
  r.field("spec", o.spec);
  r.field("status", o.status);
}

void encode_body(json& j, const Job& o) {
  j["spec"] = encode_job_spec(o.spec);
  const auto& s = o.status;
  json status = json::object();
  if (!s.conditions.empty()) {
    json a = json::array();
    for (const auto& c : s.conditions) {
      json x = {{"type", c.type}, {"status", c.status}};
      put(x, "lastProbeTime", c.last_probe_time);
      put(x, "lastTransitionTime", c.last_transition_time);
      put(x, "reason", c.reason);
      put(x, "message", c.message);
      a.push_back(std::move(x));
    }
    status["conditions"] = std::move(a);
  }
  put(status, "startTime", s.start_time);
  put(status, "completionTime", s.completion_time);
  put(status, "active", s.active);
  put(status, "succeeded", s.succeeded);
  put(status, "failed", s.failed);
  put(status, "terminating", s.terminating);
  put(status, "completedIndexes", s.completed_indexes);
  put(status, "failedIndexes", s.failed_indexes);
  if (s.uncounted_terminated_pods) {
    json u = json::object();
    put(u, "succeeded", s.uncounted_terminated_pods->succeeded);
    put(u, "failed", s.uncounted_terminated_pods->failed);
    status["uncountedTerminatedPods"] = std::move(u);
  }
  put(status, "ready", s.ready);
  j["status"] = std::move(status);
}

void encode_body(json& j, const CronJob& o) {
  const auto& s = o.spec;
  json spec = {{"schedule", s.schedule}};
  put(spec, "timeZone", s.time_zone);
  put(spec, "startingDeadlineSeconds", s.starting_deadline_seconds);
  put(spec, "concurrencyPolicy", s.concurrency_policy);
  put(spec, "suspend", s.suspend);
  json tmeta = encode_meta(s.job_template.metadata);
  if (!tmeta.contains("creationTimestamp")) tmeta["creationTimestamp"] = nullptr;  // as Go writes it
  spec["jobTemplate"] = {{"metadata", std::move(tmeta)}, {"spec", encode_job_spec(s.job_template.spec)}};
  put(spec, "successfulJobsHistoryLimit", s.successful_jobs_history_limit);
  put(spec, "failedJobsHistoryLimit", s.failed_jobs_history_limit);
  j["spec"] = std::move(spec);
  json status = json::object();
  if (!o.status.active.empty()) {
    json a = json::array();
    for (const auto& ref : o.status.active) a.push_back(encode(ref));
    status["active"] = std::move(a);
  }
  put(status, "lastScheduleTime", o.status.last_schedule_time);
  put(status, "lastSuccessfulTime", o.status.last_successful_time);
  j["status"] = std::move(status);
}

}  // namespace switchyard::api::codec
