#include "orchestrator/scheduler/volume_binding.h"

#include <fmt/format.h>

#include "orchestrator/api/storage.h"

namespace switchyard::scheduler {

using Json = nlohmann::json;

VolumePlan plan_volumes(const api::Pod& pod, const client::Indexer<api::PersistentVolumeClaim>& claims,
                        const client::Indexer<api::PersistentVolume>& volumes, const client::Indexer<api::StorageClass>& classes) {
  VolumePlan plan;
  auto it = pod.spec.passthrough.find("volumes");
  if (it == pod.spec.passthrough.end()) return plan;
  const Json list = Json::parse(it->second, nullptr, false);
  if (!list.is_array()) return plan;
  bool unbound_immediate = false;
  for (const auto& v : list) {
    if (!v.is_object() || !v.contains("persistentVolumeClaim") || !v["persistentVolumeClaim"].is_object()) continue;
    const std::string name = api::text_of(v["persistentVolumeClaim"], "claimName");
    const std::string key = pod.metadata.namespace_ + "/" + name;
    const auto claim = claims.get(key);
    if (!claim) {
      plan.unschedulable = fmt::format("persistentvolumeclaim \"{}\" not found", name);
      return plan;
    }
    if (claim->metadata.deletion_timestamp) {
      plan.unschedulable = fmt::format("persistentvolumeclaim \"{}\" is being deleted", name);
      return plan;
    }
    const Json spec = api::body_field(claim->body, "spec");
    const std::string volume_name = spec.is_object() ? api::text_of(spec, "volumeName") : "";
    if (!volume_name.empty()) {
      if (const auto pv = volumes.get(volume_name)) {
        const Json pv_spec = api::body_field(pv->body, "spec");
        if (pv_spec.is_object() && pv_spec.contains("nodeAffinity")) plan.node_affinities.push_back(pv_spec["nodeAffinity"]);
      }
      continue;
    }
    const auto class_name = api::pvc_class(*claim);
    const auto storage_class = class_name && !class_name->empty() ? classes.get(*class_name) : nullptr;
    const bool delayed = storage_class && api::body_field(storage_class->body, "volumeBindingMode") == "WaitForFirstConsumer";
    if (!delayed) {
      unbound_immediate = true;
      continue;
    }
    if (claim->metadata.annotations.contains(api::kSelectedNodeAnnotation))
      plan.waiting_for_volumes = true;
    else
      plan.claims_to_place.push_back(key);
  }
  if (unbound_immediate) plan.unschedulable = "pod has unbound immediate PersistentVolumeClaims";
  return plan;
}

bool node_fits_volumes(const VolumePlan& plan, const NodeInfo& node) {
  if (!node.node) return false;
  for (const auto& affinity : plan.node_affinities)
    if (!api::volume_node_affinity_matches(affinity, node.name(), node.labels())) return false;
  return true;
}

}  // namespace switchyard::scheduler
