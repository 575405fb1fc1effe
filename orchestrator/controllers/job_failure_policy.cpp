// podFailurePolicy matching: exit codes from the pod's (init) container statuses, which the status
// keeps as JSON, and the pod's conditions.
#include "orchestrator/controllers/job_failure_policy.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace switchyard::controllers {

using nlohmann::json;

namespace {

struct Terminated {
  std::string name;
  std::int32_t exit_code = 0;
};

bool operator_matches(std::int32_t code, const api::PodFailurePolicyOnExitCodesRequirement& r) {
  const bool listed = std::ranges::find(r.values, code) != r.values.end();
  if (r.operator_ == "In") return listed;
  if (r.operator_ == "NotIn") return !listed;
  return false;
}

// The first terminated container (non-zero exit) in `key` that the requirement matches.
std::optional<Terminated> match_exit_codes(const api::Pod& pod, const char* key, const api::PodFailurePolicyOnExitCodesRequirement& r) {
  auto it = pod.status.passthrough.find(key);
  if (it == pod.status.passthrough.end()) return std::nullopt;
  const json statuses = json::parse(it->second, nullptr, false);
  if (!statuses.is_array()) return std::nullopt;
  for (const auto& s : statuses) {
    if (!s.is_object() || !s.contains("state") || !s["state"].is_object()) continue;
    const auto& state = s["state"];
    if (!state.contains("terminated") || !state["terminated"].is_object()) continue;  // still running: no exit code
    Terminated t{s.value("name", ""), state["terminated"].value("exitCode", 0)};
    if (r.container_name && *r.container_name != t.name) continue;
    if (t.exit_code != 0 && operator_matches(t.exit_code, r)) return t;
  }
  return std::nullopt;
}

}  // namespace

PodFailureDecision match_pod_failure_policy(const api::PodFailurePolicy* policy, const api::Pod& pod) {
  if (!policy) return {};
  for (std::size_t i = 0; i < policy->rules.size(); ++i) {
    const auto& rule = policy->rules[i];
    if (rule.on_exit_codes) {
      auto t = match_exit_codes(pod, "containerStatuses", *rule.on_exit_codes);
      if (!t) t = match_exit_codes(pod, "initContainerStatuses", *rule.on_exit_codes);
      if (!t) continue;
      if (rule.action == "FailJob")
        return {rule.action, fmt::format("Container {} for pod {}/{} failed with exit code {} matching FailJob rule at index {}", t->name,
                                         pod.metadata.namespace_, pod.metadata.name, t->exit_code, i)};
      return {rule.action, ""};
    }
    if (rule.on_pod_conditions.empty()) continue;
    for (const auto& c : pod.status.conditions)
      for (const auto& pattern : rule.on_pod_conditions)
        if (c.type == pattern.type && c.status == pattern.status) {
          if (rule.action == "FailJob")
            return {rule.action, fmt::format("Pod {}/{} has condition {} matching FailJob rule at index {}", pod.metadata.namespace_,
                                             pod.metadata.name, c.type, i)};
          return {rule.action, ""};
        }
  }
  return {};
}

int index_failure_count(const api::Pod& pod) {
  auto it = pod.metadata.annotations.find(kJobIndexFailureCountAnnotation);
  if (it == pod.metadata.annotations.end()) return 0;
  int n = 0;
  const auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  return ec == std::errc() && ptr == it->second.data() + it->second.size() && n >= 0 ? n : 0;
}

}  // namespace switchyard::controllers
