#include "orchestrator/controllers/disruption_math.h"

#include <cmath>

#include <fmt/format.h>

namespace switchyard::controllers {

using Json = nlohmann::json;

Result<std::int32_t> scaled_value(const Json& v, std::int32_t total, bool round_up) {
  if (v.is_number_integer()) return v.get<std::int32_t>();
  if (!v.is_string()) return fail(ErrorCode::Invalid, fmt::format("invalid value for IntOrString: {}", v.dump()));
  std::string s = v.get<std::string>();
  if (s.empty() || s.back() != '%')
    return fail(ErrorCode::Invalid, fmt::format("invalid value for IntOrString: invalid type: string is not a percentage"));
  s.pop_back();
  char* end = nullptr;
  const long percent = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0') return fail(ErrorCode::Invalid, fmt::format("invalid value \"{}%\": not a percentage", s));
  const double scaled = static_cast<double>(percent) * total / 100.0;
  return static_cast<std::int32_t>(round_up ? std::ceil(scaled) : std::floor(scaled));
}

Result<BudgetTarget> budget_target(const Json& spec, std::int32_t selected, std::optional<std::int32_t> from_controllers) {
  BudgetTarget t;
  const Json max = spec.value("maxUnavailable", Json()), min = spec.value("minAvailable", Json());
  if (!max.is_null()) {
    if (!from_controllers) return fail(ErrorCode::Invalid, "found no controllers for the pods maxUnavailable counts");
    t.expected_pods = *from_controllers;
    auto unavailable = scaled_value(max, t.expected_pods, true);
    if (!unavailable) return fail(unavailable.error());
    t.desired_healthy = std::max(0, t.expected_pods - *unavailable);
  } else if (min.is_number_integer()) {
    t.expected_pods = selected;
    t.desired_healthy = min.get<std::int32_t>();
  } else if (min.is_string()) {
    if (!from_controllers) return fail(ErrorCode::Invalid, "found no controllers for the pods a percentage minAvailable counts");
    t.expected_pods = *from_controllers;
    auto wanted = scaled_value(min, t.expected_pods, true);
    if (!wanted) return fail(wanted.error());
    t.desired_healthy = *wanted;
  }
  return t;
}

std::map<std::string, std::chrono::system_clock::time_point> live_disrupted_pods(
    const std::map<std::string, std::chrono::system_clock::time_point>& recorded, const std::vector<BudgetPod>& pods,
    std::chrono::system_clock::time_point now) {
  std::map<std::string, std::chrono::system_clock::time_point> out;
  for (const auto& p : pods) {
    auto it = recorded.find(p.name);
    if (it == recorded.end() || p.deleting) continue;             // its deletion was seen: no longer needed
    if (it->second + kDisruptionDeletionTimeout < now) continue;  // the eviction never deleted it
    out.emplace(*it);
  }
  return out;
}

BudgetStatus budget_status(const BudgetTarget& target, const std::vector<BudgetPod>& pods,
                           const std::map<std::string, std::chrono::system_clock::time_point>& disrupted) {
  BudgetStatus s;
  s.expected_pods = target.expected_pods;
  s.desired_healthy = target.desired_healthy;
  for (const auto& p : pods)
    if (!p.deleting && !disrupted.contains(p.name) && p.ready) ++s.current_healthy;
  s.disruptions_allowed = s.expected_pods <= 0 ? 0 : std::max(0, s.current_healthy - s.desired_healthy);
  return s;
}

}  // namespace switchyard::controllers
