// Reading the storage kinds' JSON bodies (storage_types.h): shared by validation, the API server's
// admission and tables, the binder, the provisioner, the scheduler and the kubelet.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "orchestrator/api/types.h"

namespace switchyard::api {

// One top-level field of a passthrough body, parsed; null when absent or not JSON.
nlohmann::json body_field(const Passthrough& body, const std::string& key);
void set_body_field(Passthrough& body, const std::string& key, const nlohmann::json& value);
// j[key] when j is an object and that member a string, else "" (never throws on a wrong shape).
std::string text_of(const nlohmann::json& j, const char* key);

// A resource.Quantity as whole bytes ("1Gi", "500M", "1.5Gi", "1e3"), rounded up; nullopt when
// it is not a quantity or overflows.
std::optional<std::int64_t> quantity_bytes(std::string_view text);

// helper.GetAccessModesAsString: "RWO,ROX,RWX,RWOP" in that order, each at most once.
std::string access_modes_short(const nlohmann::json& modes);

// helper.GetPersistentVolumeClass / GetPersistentVolumeClaimClass: the beta annotation first,
// then spec.storageClassName. A claim with neither (nullopt) has no class requested at all.
std::string pv_class(const PersistentVolume& pv);
std::optional<std::string> pvc_class(const PersistentVolumeClaim& pvc);

// A PersistentVolume's spec.nodeAffinity.required (a NodeSelector: terms ORed, expressions ANDed)
// against a node's name and labels; true when the volume has no node affinity.
bool volume_node_affinity_matches(const nlohmann::json& node_affinity, const std::string& node_name, const StringMap& node_labels);

// A StorageClass marked default by storageclass.kubernetes.io/is-default-class (or the beta key).
bool is_default_class(const ObjectMeta& m);

}  // namespace switchyard::api
