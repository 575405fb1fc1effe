// Table columns and cells of PersistentVolume, PersistentVolumeClaim and StorageClass, as
// kube-apiserver's printers write them (pkg/printers/internalversion: printPersistentVolume,
// printPersistentVolumeClaim, printStorageClass).
#include "orchestrator/api/storage.h"
#include "orchestrator/apiserver/api_handler.h"

namespace switchyard::apiserver {

namespace {

Json column(const char* name, const char* type, const char* format = "", int priority = 0) {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", ""}, {"priority", priority}};
}

Json object_at(const Json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_object() ? *it : Json::object();
}

std::string text_at(const Json& o, const char* key, const char* absent = "") {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : absent;
}

// Terminating while a deletionTimestamp is set (the protection finalizers hold it).
std::string phase_of(const Json& o) {
  if (object_at(o, "metadata").contains("deletionTimestamp")) return "Terminating";
  return text_at(object_at(o, "status"), "phase");
}

std::string beta_class_or(const Json& o, const std::string& fallback) {
  const Json annotations = object_at(object_at(o, "metadata"), "annotations");
  return annotations.contains("volume.beta.kubernetes.io/storage-class") ? text_at(annotations, "volume.beta.kubernetes.io/storage-class")
                                                                         : fallback;
}

}  // namespace

std::optional<Json> storage_columns(const std::string& kind) {
  if (kind == "PersistentVolume")
    return Json{column("Name", "string", "name"),     column("Capacity", "string"),
                column("Access Modes", "string"),     column("Reclaim Policy", "string"),
                column("Status", "string"),           column("Claim", "string"),
                column("StorageClass", "string"),     column("VolumeAttributesClass", "string"),
                column("Reason", "string"),           column("Age", "string"),
                column("VolumeMode", "string", "", 1)};
  if (kind == "PersistentVolumeClaim")
    return Json{column("Name", "string", "name"),
                column("Status", "string"),
                column("Volume", "string"),
                column("Capacity", "string"),
                column("Access Modes", "string"),
                column("StorageClass", "string"),
                column("VolumeAttributesClass", "string"),
                column("Age", "string"),
                column("VolumeMode", "string", "", 1)};
  if (kind == "StorageClass")
    return Json{column("Name", "string", "name"),      column("Provisioner", "string"),          column("ReclaimPolicy", "string"),
                column("VolumeBindingMode", "string"), column("AllowVolumeExpansion", "string"), column("Age", "string")};
  return std::nullopt;
}

std::optional<Json> storage_cells(const std::string& kind, const Json& o, const std::string& age) {
  const Json meta = object_at(o, "metadata");
  const std::string name = text_at(meta, "name");
  if (kind == "PersistentVolume") {
    const Json spec = object_at(o, "spec");
    const Json claim = object_at(spec, "claimRef");
    const std::string claim_text = spec.contains("claimRef") ? text_at(claim, "namespace") + "/" + text_at(claim, "name") : "";
    return Json{name,
                text_at(object_at(spec, "capacity"), "storage"),
                api::access_modes_short(spec.value("accessModes", Json())),
                text_at(spec, "persistentVolumeReclaimPolicy"),
                phase_of(o),
                claim_text,
                beta_class_or(o, text_at(spec, "storageClassName")),
                text_at(spec, "volumeAttributesClassName", "<unset>"),
                text_at(object_at(o, "status"), "reason"),
                age,
                text_at(spec, "volumeMode", "<unset>")};
  }
  if (kind == "PersistentVolumeClaim") {
    const Json spec = object_at(o, "spec"), status = object_at(o, "status");
    const std::string volume = text_at(spec, "volumeName");
    // Capacity and access modes are the bound volume's, shown only once bound.
    const std::string capacity = volume.empty() ? "" : text_at(object_at(status, "capacity"), "storage");
    const std::string modes = volume.empty() ? "" : api::access_modes_short(status.value("accessModes", Json()));
    return Json{name,
                phase_of(o),
                volume,
                capacity,
                modes,
                beta_class_or(o, text_at(spec, "storageClassName")),
                text_at(spec, "volumeAttributesClassName", "<unset>"),
                age,
                text_at(spec, "volumeMode", "<unset>")};
  }
  if (kind == "StorageClass") {
    api::ObjectMeta m;
    const Json annotations = object_at(meta, "annotations");  // items() must not outlive it
    for (const auto& [k, v] : annotations.items())
      if (v.is_string()) m.annotations[k] = v.get<std::string>();
    const bool expansion = o.value("allowVolumeExpansion", Json(false)).is_boolean() && o.value("allowVolumeExpansion", false);
    return Json{api::is_default_class(m) ? name + " (default)" : name, text_at(o, "provisioner"),    text_at(o, "reclaimPolicy", "Delete"),
                text_at(o, "volumeBindingMode", "Immediate"),          expansion ? "true" : "false", age};
  }
  return std::nullopt;
}

}  // namespace switchyard::apiserver
