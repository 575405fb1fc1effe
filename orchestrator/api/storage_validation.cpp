// Defaulting and validation of PersistentVolume, PersistentVolumeClaim (pkg/apis/core/v1 defaults,
// pkg/apis/core/validation) and StorageClass (pkg/apis/storage/v1 defaults and validation), on
// their JSON bodies (storage_types.h).
#include <fmt/format.h>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/storage.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {

namespace {

using nlohmann::json;

std::string shown(const json& v) { return v.is_string() ? go_quoted(v.get<std::string>()) : v.dump(); }

// j[key] when it is an object, else {}: never throws on a body of the wrong shape.
json member_object(const json& j, const char* key) {
  if (!j.is_object()) return json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : json::object();
}

json storage_request(const json& spec) { return member_object(member_object(spec, "resources"), "requests").value("storage", json()); }

json object_field(const Passthrough& body, const char* key) {
  json j = body_field(body, key);
  return j.is_object() ? j : json::object();
}

void class_name(FieldErrors& errs, const FieldPath& p, const json& v) {
  if (!v.is_string() || v.get<std::string>().empty()) return;
  for (auto& why : dns1123_subdomain(v.get<std::string>())) errs.push_back(invalid(p, shown(v), why));
}

void access_modes(FieldErrors& errs, const FieldPath& p, const json& modes, const char* required_detail) {
  if (!modes.is_array() || modes.empty()) {
    errs.push_back(required(p, required_detail));
    return;
  }
  bool rwop = false;
  for (const auto& m : modes) {
    rwop |= m == "ReadWriteOncePod";
    if (m != "ReadWriteOnce" && m != "ReadOnlyMany" && m != "ReadWriteMany" && m != "ReadWriteOncePod")
      errs.push_back(not_supported(p, shown(m), {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"}));
  }
  if (rwop && modes.size() > 1) errs.push_back(forbidden(p, "may not use ReadWriteOncePod with other access modes"));
}

void volume_mode(FieldErrors& errs, const FieldPath& p, const json& spec) {
  const json mode = spec.value("volumeMode", json());
  if (!mode.is_null() && mode != "Block" && mode != "Filesystem") errs.push_back(not_supported(p, shown(mode), {"Block", "Filesystem"}));
}

// The PersistentVolumeSource members (core/v1 PersistentVolumeSource).
constexpr const char* kVolumeSources[] = {"gcePersistentDisk",
                                          "awsElasticBlockStore",
                                          "hostPath",
                                          "glusterfs",
                                          "nfs",
                                          "rbd",
                                          "iscsi",
                                          "cinder",
                                          "cephfs",
                                          "fc",
                                          "flocker",
                                          "flexVolume",
                                          "azureFile",
                                          "vsphereVolume",
                                          "quobyte",
                                          "azureDisk",
                                          "photonPersistentDisk",
                                          "portworxVolume",
                                          "scaleIO",
                                          "local",
                                          "storageos",
                                          "csi"};

json volume_source(const json& spec) {
  json source = json::object();
  for (const char* key : kVolumeSources)
    if (spec.contains(key)) source[key] = spec[key];
  return source;
}

}  // namespace

void apply_defaults(PersistentVolume& o) {
  json spec = object_field(o.body, "spec");
  if (text_of(spec, "persistentVolumeReclaimPolicy").empty()) spec["persistentVolumeReclaimPolicy"] = "Retain";
  if (!spec.contains("volumeMode")) spec["volumeMode"] = "Filesystem";
  set_body_field(o.body, "spec", spec);
  json status = object_field(o.body, "status");
  if (text_of(status, "phase").empty()) status["phase"] = "Pending";
  set_body_field(o.body, "status", status);
}

void apply_defaults(PersistentVolumeClaim& o) {
  json spec = object_field(o.body, "spec");
  if (!spec.contains("volumeMode")) spec["volumeMode"] = "Filesystem";
  set_body_field(o.body, "spec", spec);
  json status = object_field(o.body, "status");
  if (text_of(status, "phase").empty()) status["phase"] = "Pending";
  set_body_field(o.body, "status", status);
}

void apply_defaults(StorageClass& o) {
  if (body_field(o.body, "reclaimPolicy").is_null()) set_body_field(o.body, "reclaimPolicy", "Delete");
  if (body_field(o.body, "volumeBindingMode").is_null()) set_body_field(o.body, "volumeBindingMode", "Immediate");
}

// ValidatePersistentVolume / ValidatePersistentVolumeSpec.
FieldErrors validate(const PersistentVolume& o) {
  FieldErrors errs = validate_object_meta(o.metadata, false, &name_is_dns1123_subdomain);
  const json spec = object_field(o.body, "spec");
  const FieldPath sp("spec");
  access_modes(errs, sp.child("accessModes"), spec.value("accessModes", json()), "");
  const json capacity = spec.value("capacity", json::object());
  if (!capacity.is_object() || capacity.empty()) {
    errs.push_back(required(sp.child("capacity")));
  } else {
    if (!capacity.contains("storage") || capacity.size() > 1)
      errs.push_back(not_supported(sp.child("capacity"), capacity.dump(), {"storage"}));
    for (const auto& [key, q] : capacity.items())
      if (!q.is_string() || !quantity_bytes(q.get<std::string>()))
        errs.push_back(invalid(sp.child("capacity").key(key), shown(q),
                               "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
  }
  const json policy = spec.value("persistentVolumeReclaimPolicy", json());
  if (!policy.is_null() && policy != "Delete" && policy != "Recycle" && policy != "Retain")
    errs.push_back(not_supported(sp.child("persistentVolumeReclaimPolicy"), shown(policy), {"Delete", "Recycle", "Retain"}));
  class_name(errs, sp.child("storageClassName"), spec.value("storageClassName", json()));
  volume_mode(errs, sp.child("volumeMode"), spec);
  const json source = volume_source(spec);
  if (source.empty()) errs.push_back(required(sp, "must specify a volume type"));
  if (source.size() > 1)
    for (const auto& [key, value] : source.items())
      if (key != source.begin().key()) errs.push_back(forbidden(sp.child(key), "may not specify more than 1 volume type"));
  if (spec.contains("hostPath") && member_object(spec, "hostPath").value("path", json()) == json())
    errs.push_back(required(sp.child("hostPath").child("path")));
  if (spec.contains("local")) {
    if (member_object(spec, "local").value("path", json()) == json()) errs.push_back(required(sp.child("local").child("path")));
    if (!spec.contains("nodeAffinity")) errs.push_back(required(sp.child("nodeAffinity"), "Local volume requires node affinity"));
  }
  const json claim = spec.value("claimRef", json());
  if (claim.is_object() && !claim.value("name", json()).is_string()) errs.push_back(required(sp.child("claimRef").child("name")));
  return errs;
}

// ValidatePersistentVolumeClaim / ValidatePersistentVolumeClaimSpec.
FieldErrors validate(const PersistentVolumeClaim& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  const json spec = object_field(o.body, "spec");
  const FieldPath sp("spec");
  access_modes(errs, sp.child("accessModes"), spec.value("accessModes", json()), "at least 1 access mode is required");
  if (spec.contains("selector"))
    if (auto s = label_selector_from_json(spec["selector"], sp.child("selector")); !s)
      errs.insert(errs.end(), s.error().begin(), s.error().end());
  const FieldPath storage_path = sp.child("resources").key("storage");
  const json q = storage_request(spec);
  if (q.is_null()) {
    errs.push_back(required(storage_path));
  } else {
    const auto bytes = q.is_string() ? quantity_bytes(q.get<std::string>()) : std::nullopt;
    if (!bytes)
      errs.push_back(invalid(sp.child("resources").child("requests").key("storage"), shown(q),
                             "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
    else if (*bytes <= 0)
      errs.push_back(invalid(storage_path, go_quoted(q.get<std::string>()), "must be greater than zero"));
  }
  class_name(errs, sp.child("storageClassName"), spec.value("storageClassName", json()));
  volume_mode(errs, sp.child("volumeMode"), spec);
  return errs;
}

// ValidateStorageClass.
FieldErrors validate(const StorageClass& o) {
  FieldErrors errs = validate_object_meta(o.metadata, false, &name_is_dns1123_subdomain);
  const json provisioner = body_field(o.body, "provisioner");
  if (!provisioner.is_string() || provisioner.get<std::string>().empty()) {
    errs.push_back(required(FieldPath("provisioner")));
  } else {
    std::string lower = provisioner.get<std::string>();
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& why : qualified_name(lower)) errs.push_back(invalid(FieldPath("provisioner"), shown(provisioner), why));
  }
  const json policy = body_field(o.body, "reclaimPolicy");
  if (!policy.is_null() && policy != "Delete" && policy != "Retain")
    errs.push_back(not_supported(FieldPath("reclaimPolicy"), shown(policy), {"Delete", "Retain"}));
  const json mode = body_field(o.body, "volumeBindingMode");
  if (mode.is_null())
    errs.push_back(required(FieldPath("volumeBindingMode")));
  else if (mode != "Immediate" && mode != "WaitForFirstConsumer")
    errs.push_back(not_supported(FieldPath("volumeBindingMode"), shown(mode), {"Immediate", "WaitForFirstConsumer"}));
  return errs;
}

// ValidatePersistentVolumeUpdate, ValidatePersistentVolumeClaimUpdate, ValidateStorageClassUpdate.
FieldErrors validate_storage_update(const Object& o, const Object& old) {
  FieldErrors errs;
  if (const auto* pv = std::get_if<PersistentVolume>(&o)) {
    const auto& old_pv = std::get<PersistentVolume>(old);
    const json spec = object_field(pv->body, "spec"), old_spec = object_field(old_pv.body, "spec");
    if (volume_source(spec) != volume_source(old_spec))
      errs.push_back(
          forbidden(FieldPath("spec").child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"));
    if (spec.value("volumeMode", json()) != old_spec.value("volumeMode", json()))
      errs.push_back(invalid(FieldPath("volumeMode"), shown(spec.value("volumeMode", json())), "field is immutable"));
    if (old_spec.contains("nodeAffinity") && spec.value("nodeAffinity", json()) != old_spec["nodeAffinity"])
      errs.push_back(invalid(FieldPath("spec").child("nodeAffinity"), "core.VolumeNodeAffinity{...}", "field is immutable"));
  }
  if (const auto* pvc = std::get_if<PersistentVolumeClaim>(&o)) {
    const auto& old_pvc = std::get<PersistentVolumeClaim>(old);
    json spec = object_field(pvc->body, "spec"), old_spec = object_field(old_pvc.body, "spec");
    const bool bound = text_of(object_field(pvc->body, "status"), "phase") == "Bound";
    // The binder fills volumeName once; a bound claim's storage request may grow.
    if (text_of(old_spec, "volumeName").empty()) spec.erase("volumeName"), old_spec.erase("volumeName");
    const json new_size = storage_request(spec), old_size = storage_request(old_spec);
    if (bound && !member_object(member_object(spec, "resources"), "requests").empty()) spec["resources"]["requests"]["storage"] = old_size;
    spec.erase("volumeAttributesClassName"), old_spec.erase("volumeAttributesClassName");
    if (spec != old_spec) {
      std::string diff;
      for (const auto& [key, value] : old_spec.items())
        if (spec.value(key, json()) != value) diff += fmt::format("\n  {}: {} -> {}", key, value.dump(), spec.value(key, json()).dump());
      for (const auto& [key, value] : spec.items())
        if (!old_spec.contains(key)) diff += fmt::format("\n  {}: null -> {}", key, value.dump());
      errs.push_back(
          forbidden(FieldPath("spec"),
                    "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims" + diff));
    }
    const auto new_bytes = new_size.is_string() ? quantity_bytes(new_size.get<std::string>()) : std::nullopt;
    const auto old_bytes = old_size.is_string() ? quantity_bytes(old_size.get<std::string>()) : std::nullopt;
    if (new_bytes && old_bytes && *new_bytes < *old_bytes)
      errs.push_back(
          forbidden(FieldPath("spec").child("resources").child("requests").child("storage"), "field can not be less than previous value"));
  }
  if (const auto* sc = std::get_if<StorageClass>(&o)) {
    const auto& old_sc = std::get<StorageClass>(old);
    for (const char* key : {"parameters", "provisioner", "reclaimPolicy"})
      if (body_field(sc->body, key) != body_field(old_sc.body, key))
        errs.push_back(forbidden(FieldPath(key), fmt::format("updates to {} are forbidden.", key)));
    const json mode = body_field(sc->body, "volumeBindingMode");
    if (mode != body_field(old_sc.body, "volumeBindingMode"))
      errs.push_back(invalid(FieldPath("volumeBindingMode"), shown(mode), "field is immutable"));
  }
  return errs;
}

}  // namespace switchyard::api
