// scheduling.k8s.io/v1 PriorityClass and policy/v1 PodDisruptionBudget. Their bodies are kept as
// JSON text (as the RBAC kinds'): the admission, scheduler and disruption controller read the
// few fields they need, and policy_validation.cpp checks them as pkg/apis/scheduling/validation
// and pkg/apis/policy/validation do. Included by types.h after ObjectMeta.
#pragma once

#include <cstdint>

namespace switchyard::api {

// The built-in classes (pkg/apis/scheduling: SystemNodeCritical, SystemClusterCritical).
inline constexpr const char* kSystemNodeCritical = "system-node-critical";
inline constexpr const char* kSystemClusterCritical = "system-cluster-critical";
inline constexpr std::int32_t kSystemCriticalPriority = 2000000000;
inline constexpr std::int32_t kHighestUserDefinablePriority = 1000000000;

struct PriorityClass {
  static constexpr const char* kKind = "PriorityClass";
  static constexpr const char* kApiVersion = "scheduling.k8s.io/v1";
  static constexpr bool kNamespaced = false;
  ObjectMeta metadata;
  Passthrough body;  // value, globalDefault, description, preemptionPolicy
  bool operator==(const PriorityClass&) const = default;
};

struct PodDisruptionBudget {
  static constexpr const char* kKind = "PodDisruptionBudget";
  static constexpr const char* kApiVersion = "policy/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  Passthrough body;  // spec, status
  bool operator==(const PodDisruptionBudget&) const = default;
};

}  // namespace switchyard::api
