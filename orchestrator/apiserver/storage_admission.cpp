// DefaultStorageClass (plugin/pkg/admission/storage/storageclass/setdefault) and
// StorageObjectInUseProtection (plugin/pkg/admission/storage/storageobjectinuseprotection).
#include <algorithm>

#include "orchestrator/api/storage.h"
#include "orchestrator/apiserver/admission.h"

namespace switchyard::apiserver {

namespace {

void add_finalizer(api::ObjectMeta& m, const char* finalizer) {
  if (std::ranges::find(m.finalizers, finalizer) == m.finalizers.end()) m.finalizers.emplace_back(finalizer);
}

// GetDefaultClass: of several default classes, the newest (then the name first in order).
ApiResult<std::optional<std::string>> default_class(ObjectRegistry& registry) {
  auto classes = registry.list(*find_resource("storage.k8s.io", "v1", "storageclasses"), "", {});
  if (!classes) return std::unexpected(classes.error());
  std::optional<std::string> best;
  std::string best_created;
  for (const auto& sc : (*classes)["items"]) {
    const Json meta = sc.value("metadata", Json::object());
    const Json annotations = meta.value("annotations", Json::object());
    api::ObjectMeta m;
    for (const auto& [k, v] : annotations.items())
      if (v.is_string()) m.annotations[k] = v.get<std::string>();
    if (!api::is_default_class(m)) continue;
    const std::string name = api::text_of(meta, "name"), created = api::text_of(meta, "creationTimestamp");
    if (!best || created > best_created || (created == best_created && name < *best)) best = name, best_created = created;
  }
  return best;
}

}  // namespace

ApiResult<void> admit_storage(ObjectRegistry& registry, api::Object& obj, const api::Object* old) {
  if (old) return {};
  // The strategies' PrepareForCreate: a new claim or volume starts with no status (then Pending).
  if (auto* pvc = std::get_if<api::PersistentVolumeClaim>(&obj)) {
    pvc->body.erase("status");
    add_finalizer(pvc->metadata, api::kPvcProtectionFinalizer);
    // Only a claim that asks for no class at all gets the default; "" asks for no class.
    if (api::pvc_class(*pvc)) return {};
    auto name = default_class(registry);
    if (!name) return std::unexpected(name.error());
    if (!*name) return {};
    Json spec = api::body_field(pvc->body, "spec");
    if (!spec.is_object()) spec = Json::object();
    spec["storageClassName"] = **name;
    api::set_body_field(pvc->body, "spec", spec);
  }
  if (auto* pv = std::get_if<api::PersistentVolume>(&obj)) {
    pv->body.erase("status");
    add_finalizer(pv->metadata, api::kPvProtectionFinalizer);
  }
  return {};
}

}  // namespace switchyard::apiserver
