// pods/eviction (pkg/registry/core/pod/storage/eviction.go).
#include "orchestrator/apiserver/pod_eviction.h"

#include <fmt/format.h>

#include "orchestrator/api/validation.h"

namespace switchyard::apiserver {

namespace {

constexpr const char* kTooMany = "Cannot evict pod as it would violate the pod's disruption budget.";
constexpr std::size_t kMaxDisruptedPods = 2000;  // MaxDisruptedPodSize
constexpr int kRetries = 5;

ApiError too_many_requests(const std::string& cause) {
  return status_error(429, "TooManyRequests", kTooMany, Json{{"causes", {{{"reason", "DisruptionBudget"}, {"message", cause}}}}});
}

ApiError pdb_forbidden(const std::string& pdb, const std::string& why) {
  return status_error(403, "Forbidden", fmt::format("poddisruptionbudget.policy \"{}\" is forbidden: {}", pdb, why),
                      Json{{"name", pdb}, {"group", "policy"}, {"kind", "poddisruptionbudget"}});
}

const ResourceInfo& pods() { return *find_resource("", "v1", "pods"); }
const ResourceInfo& pdbs() { return *find_resource("policy", "v1", "poddisruptionbudgets"); }

bool pod_ready(const Json& pod) {
  for (const auto& c : pod.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

// canIgnorePDB: the pod disrupts nothing more by going.
bool can_ignore_pdb(const Json& pod) {
  const std::string phase = pod.value("status", Json::object()).value("phase", "");
  return phase == "Succeeded" || phase == "Failed" || phase == "Pending" || pod["metadata"].contains("deletionTimestamp");
}

// The budgets in the pod's namespace whose selector picks it (an empty selector picks all).
ApiResult<std::vector<Json>> budgets_for(ObjectRegistry& registry, const Json& pod) {
  const std::string ns = pod["metadata"].value("namespace", "");
  auto list = registry.list(pdbs(), ns, {});
  if (!list) return std::unexpected(list.error());
  api::StringMap labels;
  const Json pod_labels = pod["metadata"].value("labels", Json::object());  // items() must not outlive it
  for (const auto& [k, v] : pod_labels.items())
    if (v.is_string()) labels[k] = v.get<std::string>();
  std::vector<Json> out;
  for (const auto& pdb : (*list)["items"]) {
    auto selector =
        api::label_selector_from_json(pdb.value("spec", Json::object()).value("selector", Json()), api::FieldPath("spec.selector"));
    if (selector && selector->matches(labels)) out.push_back(pdb);
  }
  return out;
}

// The DisruptionAllowed condition as pdbhelper.UpdateDisruptionAllowedCondition sets it.
void set_disruption_allowed_condition(Json& status) {
  const bool allowed = status.value("disruptionsAllowed", 0) > 0;
  Json& conditions = status["conditions"];
  if (!conditions.is_array()) conditions = Json::array();
  Json wanted = {{"type", "DisruptionAllowed"},
                 {"status", allowed ? "True" : "False"},
                 {"reason", allowed ? "SufficientPods" : "InsufficientPods"},
                 {"message", ""},
                 {"observedGeneration", status.value("observedGeneration", 0)},
                 {"lastTransitionTime", now_rfc3339()}};
  for (auto& c : conditions)
    if (c.value("type", "") == "DisruptionAllowed") {
      if (Json(c.value("status", "")) == wanted["status"]) wanted["lastTransitionTime"] = c.value("lastTransitionTime", now_rfc3339());
      c = wanted;
      return;
    }
  conditions.push_back(wanted);
}

// checkAndDecrement, retried on conflicts with a fresh read of the budget.
ApiResult<void> spend_disruption(ObjectRegistry& registry, Json pdb, const std::string& pod_name) {
  const std::string ns = pdb["metadata"].value("namespace", ""), name = pdb["metadata"].value("name", "");
  for (int attempt = 0;; ++attempt) {
    Json& status = pdb["status"];
    if (!status.is_object()) status = Json::object();
    if (status.value("observedGeneration", std::int64_t{0}) < pdb["metadata"].value("generation", std::int64_t{0}))
      return std::unexpected(too_many_requests(fmt::format("The disruption budget {} is still being processed by the server.", name)));
    const int allowed = status.value("disruptionsAllowed", 0);
    if (allowed < 0) return std::unexpected(pdb_forbidden(name, "pdb disruptions allowed is negative"));
    if (status.value("disruptedPods", Json::object()).size() > kMaxDisruptedPods)
      return std::unexpected(pdb_forbidden(name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller"));
    if (allowed == 0)
      return std::unexpected(too_many_requests(fmt::format("The disruption budget {} needs {} healthy pods and has {} currently", name,
                                                           status.value("desiredHealthy", 0), status.value("currentHealthy", 0))));
    status["disruptionsAllowed"] = allowed - 1;
    if (allowed - 1 == 0) set_disruption_allowed_condition(status);
    // Tells the disruption controller this pod is going, so it stops counting it as healthy.
    status["disruptedPods"][pod_name] = now_rfc3339();
    std::vector<std::string> warnings;
    auto updated = registry.update(pdbs(), ns, name, pdb, true, FieldValidation::Ignore, warnings);
    if (updated) return {};
    if (updated.error().code != 409 || attempt + 1 >= kRetries) {
      if (updated.error().code == 409)
        return std::unexpected(status_error(504, "Timeout",
                                            fmt::format("couldn't update PodDisruptionBudget \"{}\" due to conflicts", name),
                                            Json{{"retryAfterSeconds", 10}}));
      return std::unexpected(updated.error());
    }
    auto fresh = registry.get(pdbs(), ns, name);
    if (!fresh) return std::unexpected(fresh.error());
    pdb = std::move(*fresh);
  }
}

// addConditionAndDeletePod: DisruptionTarget=True (EvictionByEvictionAPI), then the delete with
// the eviction's DeleteOptions.
ApiResult<Json> delete_evicted(ObjectRegistry& registry, Json pod, const Json& options) {
  const std::string ns = pod["metadata"].value("namespace", ""), name = pod["metadata"].value("name", "");
  Json& conditions = pod["status"]["conditions"];
  if (!conditions.is_array()) conditions = Json::array();
  bool present = false;
  for (const auto& c : conditions) present |= c.value("type", "") == "DisruptionTarget" && c.value("status", "") == "True";
  if (!present && !pod["metadata"].contains("deletionTimestamp")) {
    conditions.push_back({{"type", "DisruptionTarget"},
                          {"status", "True"},
                          {"reason", "EvictionByEvictionAPI"},
                          {"message", "Eviction API: evicting"},
                          {"lastProbeTime", nullptr},
                          {"lastTransitionTime", now_rfc3339()}});
    std::vector<std::string> warnings;
    if (auto updated = registry.update(pods(), ns, name, pod, true, FieldValidation::Ignore, warnings);
        !updated && updated.error().code == 404)
      return std::unexpected(updated.error());
  }
  std::optional<std::int64_t> grace;
  std::string uid;
  if (options.is_object()) {
    if (options.contains("gracePeriodSeconds") && options["gracePeriodSeconds"].is_number_integer())
      grace = options["gracePeriodSeconds"].get<std::int64_t>();
    if (options.contains("preconditions") && options["preconditions"].is_object()) uid = options["preconditions"].value("uid", "");
  }
  auto removed = registry.remove(pods(), ns, name, uid, grace);
  if (!removed) return std::unexpected(removed.error());
  return Json{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()}, {"status", "Success"}, {"code", 201}};
}

}  // namespace

ApiResult<Json> evict_pod(ObjectRegistry& registry, const std::string& ns, const std::string& name, const Json& eviction) {
  if (!eviction.is_object()) return std::unexpected(bad_request("the body of the request was not an Eviction"));
  if (eviction.value("kind", "Eviction") != "Eviction")
    return std::unexpected(bad_request(fmt::format("the body of the request was a {}, expected an Eviction", eviction.value("kind", ""))));
  const Json meta = eviction.value("metadata", Json::object());
  if (meta.is_object() && meta.value("name", name) != name)
    return std::unexpected(bad_request("name in URL does not match name in Eviction object"));
  if (eviction.contains("deleteOptions") && eviction["deleteOptions"].is_object() && eviction["deleteOptions"].contains("dryRun"))
    return std::unexpected(bad_request("dryRun is not supported by this server"));
  const Json options = eviction.value("deleteOptions", Json());
  auto pod = registry.get(pods(), ns, name);
  if (!pod) return std::unexpected(pod.error());
  if (can_ignore_pdb(*pod)) return delete_evicted(registry, std::move(*pod), options);
  auto budgets = budgets_for(registry, *pod);
  if (!budgets) return std::unexpected(budgets.error());
  if (budgets->size() > 1)
    return std::unexpected(
        status_error(500, "", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."));
  if (budgets->size() == 1) {
    const Json& pdb = budgets->front();
    const Json status = pdb.value("status", Json::object());
    const Json policy = pdb.value("spec", Json::object()).value("unhealthyPodEvictionPolicy", Json());
    // An unready pod disrupts nothing the budget guards: it may go when the policy says so, or
    // when the budget is met without it (IfHealthyBudget), without spending a disruption.
    const bool unhealthy_may_go =
        !pod_ready(*pod) && (policy == "AlwaysAllow" || (status.value("currentHealthy", 0) >= status.value("desiredHealthy", 0) &&
                                                         status.value("desiredHealthy", 0) > 0));
    if (!unhealthy_may_go)
      if (auto spent = spend_disruption(registry, pdb, name); !spent) return std::unexpected(spent.error());
  }
  return delete_evicted(registry, std::move(*pod), options);
}

}  // namespace switchyard::apiserver
