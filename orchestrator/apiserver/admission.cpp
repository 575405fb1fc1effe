// Priority and DefaultTolerationSeconds admission (plugin/pkg/admission/priority and
// plugin/pkg/admission/defaulttolerationseconds).
#include "orchestrator/apiserver/admission.h"

#include <fmt/format.h>

namespace switchyard::apiserver {

namespace {

Json passthrough_json(const api::Passthrough& p, const std::string& key) {
  auto it = p.find(key);
  return it == p.end() ? Json() : Json::parse(it->second, nullptr, false);
}

ApiError forbidden(const ResourceInfo& r, const std::string& name, const std::string& why) {
  return status_error(403, "Forbidden", fmt::format("{} \"{}\" is forbidden: {}", r.group_resource(), name, why),
                      Json{{"name", name}, {"group", r.group}, {"kind", r.plural}});
}

struct ResolvedClass {
  std::string name;
  std::int32_t value = 0;
  Json preemption_policy;  // null when the class has none
};

// Every PriorityClass, from the registry (the API server's own view, never stale).
ApiResult<Json> priority_classes(ObjectRegistry& registry) {
  return registry.list(*find_resource("scheduling.k8s.io", "v1", "priorityclasses"), "", {});
}

ResolvedClass resolved(const Json& pc) {
  return {pc["metadata"].value("name", ""), pc.value("value", 0), pc.value("preemptionPolicy", Json())};
}

// getDefaultPriorityClass: with several (a race), the one with the lowest value.
std::optional<Json> default_class(const Json& list) {
  std::optional<Json> best;
  for (const auto& pc : list["items"])
    if (pc.value("globalDefault", false) && (!best || pc.value("value", 0) < best->value("value", 0))) best = pc;
  return best;
}

ApiResult<void> admit_pod_priority(ObjectRegistry& registry, const ResourceInfo& r, api::Pod& pod, const api::Pod* old) {
  auto& spec = pod.spec.passthrough;
  if (old) {
    // Set on create; an update that leaves them out keeps them (validation forbids changes).
    for (const char* key : {"priority", "preemptionPolicy"})
      if (!spec.contains(key) && old->spec.passthrough.contains(key)) spec[key] = old->spec.passthrough.at(key);
    return {};
  }
  auto classes = priority_classes(registry);
  if (!classes) return std::unexpected(classes.error());
  ResolvedClass cls;
  const Json name = passthrough_json(spec, "priorityClassName");
  if (!name.is_string() || name.get<std::string>().empty()) {
    if (auto d = default_class(*classes)) {
      cls = resolved(*d);
      spec["priorityClassName"] = Json(cls.name).dump();
    }
  } else {
    bool found = false;
    for (const auto& pc : (*classes)["items"])
      if (pc["metadata"].value("name", "") == name.get<std::string>()) {
        cls = resolved(pc);
        found = true;
      }
    if (!found)
      return std::unexpected(
          forbidden(r, pod.metadata.name, fmt::format("no PriorityClass with name {} was found", name.get<std::string>())));
  }
  const Json given = passthrough_json(spec, "priority");
  if (given.is_number_integer() && given.get<std::int64_t>() != cls.value)
    return std::unexpected(forbidden(r, pod.metadata.name,
                                     fmt::format("the integer value of priority ({}) must not be provided in pod spec; priority admission "
                                                 "controller computed {} from the given PriorityClass name",
                                                 given.get<std::int64_t>(), cls.value)));
  spec["priority"] = std::to_string(cls.value);
  if (cls.preemption_policy.is_string()) {
    const Json policy = passthrough_json(spec, "preemptionPolicy");
    if (policy.is_string() && policy != cls.preemption_policy)
      return std::unexpected(forbidden(r, pod.metadata.name,
                                       fmt::format("the string value of PreemptionPolicy ({}) must not be provided in pod spec; priority "
                                                   "admission controller computed {} from the given PriorityClass name",
                                                   policy.get<std::string>(), cls.preemption_policy.get<std::string>())));
    spec["preemptionPolicy"] = cls.preemption_policy.dump();
  }
  return {};
}

// DefaultTolerationSeconds: a toleration with an empty key or effect covers those too.
void add_default_tolerations(api::Pod& pod) {
  Json tolerations = passthrough_json(pod.spec.passthrough, "tolerations");
  if (!tolerations.is_array()) tolerations = Json::array();
  auto tolerates = [&](const char* key) {
    for (const auto& t : tolerations)
      if (t.is_object() && (t.value("key", "") == key || t.value("key", "").empty()) &&
          (t.value("effect", "") == "NoExecute" || t.value("effect", "").empty()))
        return true;
    return false;
  };
  bool changed = false;
  for (const char* key : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})
    if (!tolerates(key)) {
      tolerations.push_back(
          {{"key", key}, {"operator", "Exists"}, {"effect", "NoExecute"}, {"tolerationSeconds", kDefaultTolerationSeconds}});
      changed = true;
    }
  if (changed) pod.spec.passthrough["tolerations"] = tolerations.dump();
}

ApiResult<void> admit_priority_class(ObjectRegistry& registry, const ResourceInfo& r, const api::PriorityClass& pc, bool update) {
  if (!passthrough_json(pc.body, "globalDefault").is_boolean() || !passthrough_json(pc.body, "globalDefault").get<bool>()) return {};
  auto classes = priority_classes(registry);
  if (!classes) return std::unexpected(classes.error());
  auto d = default_class(*classes);
  if (d && (!update || (*d)["metadata"].value("name", "") != pc.metadata.name))
    return std::unexpected(forbidden(
        r, pc.metadata.name,
        fmt::format("PriorityClass {} is already marked as default. Only one default can exist", (*d)["metadata"].value("name", ""))));
  return {};
}

}  // namespace

ApiResult<void> run_admission(ObjectRegistry& registry, const ResourceInfo& r, api::Object& obj, const api::Object* old) {
  if (auto* pod = std::get_if<api::Pod>(&obj)) {
    if (auto ok = admit_pod_priority(registry, r, *pod, old ? std::get_if<api::Pod>(old) : nullptr); !ok) return ok;
    if (!old) add_default_tolerations(*pod);
    if (!old && service_account_admission(registry))
      if (auto ok = admit_pod_service_account(registry, r, *pod); !ok) return ok;
  }
  if (const auto* pc = std::get_if<api::PriorityClass>(&obj)) return admit_priority_class(registry, r, *pc, old != nullptr);
  return admit_storage(registry, obj, old);
}

Result<void> ensure_system_priority_classes(ObjectRegistry& registry) {
  const ResourceInfo& r = *find_resource("scheduling.k8s.io", "v1", "priorityclasses");
  const struct {
    const char* name;
    std::int32_t value;
    const char* description;
  } classes[] = {
      {api::kSystemNodeCritical, api::kSystemCriticalPriority + 1000,
       "Used for system critical pods that must not be moved from their current node."},
      {api::kSystemClusterCritical, api::kSystemCriticalPriority,
       "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
  };
  for (const auto& c : classes) {
    if (registry.get(r, "", c.name)) continue;
    std::vector<std::string> warnings;
    auto created = registry.create(r, "",
                                   Json{{"apiVersion", "scheduling.k8s.io/v1"},
                                        {"kind", "PriorityClass"},
                                        {"metadata", {{"name", c.name}}},
                                        {"value", c.value},
                                        {"description", c.description}},
                                   FieldValidation::Strict, warnings);
    if (!created && created.error().code != 409)
      return fail(ErrorCode::Internal, fmt::format("creating PriorityClass {}: {}", c.name, created.error().status.value("message", "")));
  }
  return {};
}

}  // namespace switchyard::apiserver
