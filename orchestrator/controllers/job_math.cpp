#include "orchestrator/controllers/job_math.h"

#include "orchestrator/controllers/job_failure_policy.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace switchyard::controllers {

using nlohmann::json;

std::set<int> parse_index_set(const std::string& s, int completions) {
  std::set<int> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    const std::string part = s.substr(pos, comma - pos);
    pos = comma + 1;
    const auto dash = part.find('-');
    try {
      const int lo = std::stoi(part.substr(0, dash));
      const int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
      for (int i = std::max(lo, 0); i <= hi && i < completions; ++i) out.insert(i);
    } catch (const std::exception&) {
      continue;  // a malformed piece is ignored, as upstream's parser skips what it cannot read
    }
  }
  return out;
}

std::string format_index_set(const std::set<int>& s) {
  std::string out;
  for (auto it = s.begin(); it != s.end();) {
    const int lo = *it;
    int hi = lo;
    for (++it; it != s.end() && *it == hi + 1; ++it) hi = *it;
    if (!out.empty()) out += ',';
    out += lo == hi ? std::to_string(lo) : fmt::format("{}-{}", lo, hi);
  }
  return out;
}

int completion_index_of(const api::Pod& pod) {
  for (const auto* m : {&pod.metadata.annotations, &pod.metadata.labels}) {
    auto it = m->find(api::kJobCompletionIndexAnnotation);
    if (it == m->end()) continue;
    try {
      return std::stoi(it->second);
    } catch (const std::exception&) {
      return -1;
    }
  }
  return -1;
}

std::chrono::milliseconds failure_backoff(int failures, std::chrono::milliseconds base, std::chrono::milliseconds cap) {
  if (failures <= 0) return std::chrono::milliseconds(0);
  auto d = base;
  for (int i = 1; i < failures && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

int container_restarts(const api::Pod& pod) {
  auto it = pod.status.passthrough.find("containerStatuses");
  if (it == pod.status.passthrough.end()) return 0;
  const json statuses = json::parse(it->second, nullptr, false);
  int n = 0;
  if (statuses.is_array())
    for (const auto& s : statuses) n += s.value("restartCount", 0);
  return n;
}

api::Pod job_pod(const api::Job& job, int index, int index_failures) {
  api::Pod pod;
  const auto& t = job.spec.template_;
  pod.metadata.generate_name = job.metadata.name + "-";
  pod.metadata.namespace_ = job.metadata.namespace_;
  pod.metadata.labels = t.metadata.labels;
  pod.metadata.annotations = t.metadata.annotations;
  pod.metadata.finalizers = t.metadata.finalizers;
  pod.metadata.finalizers.push_back(kJobTrackingFinalizer);
  pod.metadata.owner_references = {make_controller_ref("batch/v1", "Job", job.metadata)};
  pod.spec = t.spec;
  if (index >= 0) {
    const std::string idx = std::to_string(index);
    pod.metadata.generate_name = fmt::format("{}-{}-", job.metadata.name, idx);
    pod.metadata.annotations[api::kJobCompletionIndexAnnotation] = idx;
    pod.metadata.labels[api::kJobCompletionIndexAnnotation] = idx;
    if (job.spec.backoff_limit_per_index) pod.metadata.annotations[kJobIndexFailureCountAnnotation] = std::to_string(index_failures);
    if (pod.spec.hostname.empty()) pod.spec.hostname = fmt::format("{}-{}", job.metadata.name, idx);
    for (auto& c : pod.spec.containers) {
      json env = json::array();
      if (auto e = c.passthrough.find("env"); e != c.passthrough.end()) env = json::parse(e->second, nullptr, false);
      if (!env.is_array()) env = json::array();
      env.push_back({{"name", "JOB_COMPLETION_INDEX"}, {"value", idx}});
      c.passthrough["env"] = env.dump();
    }
  }
  return pod;
}

static bool has_tracking_finalizer(const api::Pod& p) {
  return std::ranges::find(p.metadata.finalizers, std::string(kJobTrackingFinalizer)) != p.metadata.finalizers.end();
}

JobPodCounts count_job_pods(const std::vector<const api::Pod*>& pods) {
  JobPodCounts c;
  for (const auto* p : pods) {
    const bool terminal = p->status.phase == "Succeeded" || p->status.phase == "Failed";
    if (terminal) {
      if (has_tracking_finalizer(*p)) (p->status.phase == "Succeeded" ? c.newly_succeeded : c.newly_failed).push_back(p);
      continue;
    }
    if (p->metadata.deletion_timestamp) {
      ++c.terminating;
      // A pod deleted before it finished still counts as a failure once (upstream: deleted
      // non-terminal pods are failed).
      if (has_tracking_finalizer(*p)) c.newly_failed.push_back(p);
      continue;
    }
    c.active.push_back(p);
    c.ready += is_pod_ready(*p);
    c.restarts += container_restarts(*p);
  }
  return c;
}

const api::JobCondition* job_condition(const api::JobStatus& s, const std::string& type) {
  for (const auto& c : s.conditions)
    if (c.type == type && c.status == "True") return &c;
  return nullptr;
}

bool job_finished(const api::Job& job) { return job_condition(job.status, "Complete") || job_condition(job.status, "Failed"); }

JobVerdict judge_job(const api::Job& job, int succeeded, int failed, int active, int restarts, std::size_t completed, WallTime now,
                     std::size_t failed_indexes) {
  const auto& s = job.spec;
  const bool indexed = s.completion_mode.value_or("NonIndexed") == "Indexed";
  if (indexed && s.max_failed_indexes && failed_indexes > static_cast<std::size_t>(*s.max_failed_indexes))
    return {JobVerdict::Outcome::Failed, "MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes"};
  if (indexed && failed_indexes > 0 && s.completions && static_cast<int>(completed + failed_indexes) >= *s.completions)
    return {JobVerdict::Outcome::Failed, "FailedIndexes", "Job has failed indexes"};
  if (indexed         ? s.completions && static_cast<int>(completed) >= *s.completions
      : s.completions ? succeeded >= *s.completions
                      : succeeded > 0 && active == 0)
    return {JobVerdict::Outcome::Complete, "", ""};
  if (failed + restarts > s.backoff_limit.value_or(6))
    return {JobVerdict::Outcome::Failed, "BackoffLimitExceeded", "Job has reached the specified backoff limit"};
  if (s.active_deadline_seconds && job.status.start_time && !s.suspend.value_or(false))
    if (auto start = parse_rfc3339(*job.status.start_time); start && *start + std::chrono::seconds(*s.active_deadline_seconds) <= now)
      return {JobVerdict::Outcome::Failed, "DeadlineExceeded", "Job was active longer than specified deadline"};
  return {};
}

std::vector<int> missing_indexes(int completions, const std::set<int>& completed, const std::vector<const api::Pod*>& active,
                                 const std::set<int>& failed) {
  std::set<int> held = failed;
  for (const auto* p : active) held.insert(completion_index_of(*p));
  std::vector<int> out;
  for (int i = 0; i < completions; ++i)
    if (!completed.contains(i) && !held.contains(i)) out.push_back(i);
  return out;
}

}  // namespace switchyard::controllers
