// A Job's podFailurePolicy applied to one failed pod (pkg/controller/job/pod_failure_policy.go):
// the first rule whose requirement the pod meets decides; no match counts the failure as usual.
// Also the per-index failure count an Indexed Job with backoffLimitPerIndex carries on its pods.
#pragma once

#include <string>

#include "orchestrator/api/pod_failure_policy.h"
#include "orchestrator/api/types.h"

namespace switchyard::controllers {

// The annotation upstream keeps the failures of an index on (on the replacement pod).
inline constexpr const char* kJobIndexFailureCountAnnotation = "batch.kubernetes.io/job-index-failure-count";

struct PodFailureDecision {
  std::string action;   // the matched rule's action: FailJob | FailIndex | Ignore | Count; empty if none matched
  std::string message;  // for FailJob, upstream's words
  bool counts() const { return action != "Ignore"; }
};

PodFailureDecision match_pod_failure_policy(const api::PodFailurePolicy* policy, const api::Pod& pod);

// Failures already counted for this pod's index before it was created (its annotation; 0 if none).
int index_failure_count(const api::Pod& pod);

}  // namespace switchyard::controllers
