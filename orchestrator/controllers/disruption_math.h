// The disruption controller's arithmetic (pkg/controller/disruption), free of any client: how
// many pods a PodDisruptionBudget expects and needs healthy, how many are healthy, and how many
// may be disrupted now.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/base/error.h"

namespace switchyard::controllers {

// intstr.GetScaledValueFromIntOrPercent: an integer as is, "N%" of `total` (rounded up or down).
Result<std::int32_t> scaled_value(const nlohmann::json& int_or_percent, std::int32_t total, bool round_up);

// What the budget's spec asks of `expected_from_controllers` (the sum of the selected pods'
// controllers' replicas, nullopt when some pod has none) and `selected` pods.
struct BudgetTarget {
  std::int32_t expected_pods = 0, desired_healthy = 0;
};
// minAvailable as an integer counts the selected pods; a percentage or maxUnavailable needs the
// controllers' scale (an error names what is missing).
Result<BudgetTarget> budget_target(const nlohmann::json& spec, std::int32_t selected,
                                   std::optional<std::int32_t> expected_from_controllers);

// One selected pod as the budget sees it.
struct BudgetPod {
  std::string name;
  bool ready = false, deleting = false;
};

// The eviction API's record of pods it is deleting: kept while the pod exists, is not yet being
// deleted and the record is younger than 2 minutes (DeletionTimeout).
inline constexpr std::chrono::seconds kDisruptionDeletionTimeout{120};
std::map<std::string, std::chrono::system_clock::time_point> live_disrupted_pods(
    const std::map<std::string, std::chrono::system_clock::time_point>& recorded, const std::vector<BudgetPod>& pods,
    std::chrono::system_clock::time_point now);

struct BudgetStatus {
  std::int32_t current_healthy = 0, desired_healthy = 0, expected_pods = 0, disruptions_allowed = 0;
};
// countHealthyPods and updatePdbStatus: ready pods not being deleted nor recorded as disrupted.
BudgetStatus budget_status(const BudgetTarget& target, const std::vector<BudgetPod>& pods,
                           const std::map<std::string, std::chrono::system_clock::time_point>& disrupted);

}  // namespace switchyard::controllers
