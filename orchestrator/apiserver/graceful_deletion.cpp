#include "orchestrator/apiserver/graceful_deletion.h"

namespace switchyard::apiserver {

namespace {

using Json = nlohmann::json;

std::optional<std::time_t> parse_rfc3339(const std::string& s) {
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
  return timegm(&tm);
}

// The Pod strategy's CheckGracefulDelete: the grace period a Pod's deletion gets. Unscheduled
// and finished Pods have nothing to stop, so they go at once.
std::int64_t pod_grace_period(const Json& pod, std::optional<std::int64_t> requested) {
  const Json spec = pod.value("spec", Json::object());
  const Json status = pod.value("status", Json::object());
  std::int64_t period = requested ? *requested : spec.value("terminationGracePeriodSeconds", std::int64_t{30});
  if (spec.value("nodeName", "").empty()) period = 0;
  const std::string phase = status.value("phase", "");
  if (phase == "Succeeded" || phase == "Failed") period = 0;
  if (period < 0) period = 1;
  return period;
}

}  // namespace

std::string rfc3339_at(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

DeletionPlan plan_deletion(const ResourceInfo& r, const Json& object, std::optional<std::int64_t> requested, std::time_t now) {
  using Action = DeletionPlan::Action;
  const Json meta = object.value("metadata", Json::object());
  const bool finalizers = !meta.value("finalizers", Json::array()).empty();
  if (meta.contains("deletionTimestamp")) {
    // Being deleted already: a client may only shorten the grace period.
    const Json existing = meta.value("deletionGracePeriodSeconds", Json());
    if (!existing.is_number_integer()) return {finalizers ? Action::Pending : Action::DeleteNow, {}, 0};
    const std::int64_t current = existing.get<std::int64_t>();
    if (current == 0 && !finalizers) return {Action::DeleteNow, {}, 0};
    if (!requested || *requested >= current) return {Action::Pending, {}, current};
    const std::int64_t shorter = std::max<std::int64_t>(*requested, 0);
    const auto stamped = parse_rfc3339(meta.value("deletionTimestamp", ""));
    const std::time_t at = stamped ? *stamped - current + shorter : now + shorter;
    return {Action::Mark, rfc3339_at(at), shorter};
  }
  if (r.group.empty() && r.kind == "Pod") {
    const std::int64_t grace = pod_grace_period(object, requested);
    if (grace > 0) return {Action::Mark, rfc3339_at(now + grace), grace};
  }
  if (finalizers) return {Action::Mark, rfc3339_at(now), 0};
  return {Action::DeleteNow, {}, 0};
}

}  // namespace switchyard::apiserver
