// batch/v1 JobSpec.podFailurePolicy as types. The Job keeps the field in JobSpec::passthrough, in
// the canonical form the typed decoder re-encodes (unknown fields and wrong types are refused
// when the Job is decoded, as for any typed field); validation and the Job controller read it
// through pod_failure_policy(). Kept out of types.h so the policy's shape is seen only by the
// code that uses it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/api/types.h"

namespace switchyard::api {

struct PodFailurePolicyOnExitCodesRequirement {
  std::optional<std::string> container_name;
  std::string operator_;  // In | NotIn
  std::vector<std::int32_t> values;
  bool operator==(const PodFailurePolicyOnExitCodesRequirement&) const = default;
};

struct PodFailurePolicyOnPodConditionsPattern {
  std::string type, status;
  bool operator==(const PodFailurePolicyOnPodConditionsPattern&) const = default;
};

// The first rule whose requirement a failed pod meets decides what its failure does.
struct PodFailurePolicyRule {
  std::string action;  // FailJob | FailIndex | Ignore | Count
  std::optional<PodFailurePolicyOnExitCodesRequirement> on_exit_codes;
  std::vector<PodFailurePolicyOnPodConditionsPattern> on_pod_conditions;
  bool operator==(const PodFailurePolicyRule&) const = default;
};

struct PodFailurePolicy {
  std::vector<PodFailurePolicyRule> rules;
  bool operator==(const PodFailurePolicy&) const = default;
};

// The Job's policy; nothing when it has none.
std::optional<PodFailurePolicy> pod_failure_policy(const JobSpec& spec);
// Upstream's JSON (fields without omitempty always written).
nlohmann::json encode_pod_failure_policy(const PodFailurePolicy& p);

namespace codec {
class Reader;
// Decodes spec.podFailurePolicy from `r` (errors and unknown fields under its path) into
// spec.passthrough, canonically encoded.
void decode_pod_failure_policy(Reader& r, JobSpec& spec);
}  // namespace codec

}  // namespace switchyard::api
