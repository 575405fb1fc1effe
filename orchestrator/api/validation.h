// Validation as the API server does it on create: the same checks, field paths and messages
// (pkg/apis/core/validation, pkg/apis/discovery/validation, apimachinery's ObjectMeta checks,
// and the Service registry's IP-family and node-port range checks). Run after apply_defaults.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/field_error.h"
#include "orchestrator/api/names.h"
#include "orchestrator/api/selectors.h"
#include "orchestrator/api/types.h"

namespace switchyard::api {

FieldErrors validate_object_meta(const ObjectMeta& m, bool namespaced, NameValidator name_fn);

FieldErrors validate(const Namespace& o);
FieldErrors validate(const Pod& o);
// affinity, tolerations, topologySpreadConstraints (pod_scheduling_validation.cpp)
void validate_pod_scheduling(FieldErrors& errs, const PodSpec& spec);
// volumes and volumeMounts (pod_volume_validation.cpp)
void validate_pod_volumes(FieldErrors& errs, const PodSpec& spec);
FieldErrors validate(const Service& o, const ClusterNetworkConfig& net);
FieldErrors validate(const Endpoints& o);
FieldErrors validate(const EndpointSlice& o);
FieldErrors validate(const Node& o);
FieldErrors validate(const Lease& o);
FieldErrors validate(const Event& o);
// apps/v1 (apps_validation.cpp, pkg/apis/apps/validation).
FieldErrors validate(const ReplicaSet& o);
FieldErrors validate(const Deployment& o);
FieldErrors validate(const DaemonSet& o);
FieldErrors validate(const ControllerRevision& o);
// rbac_validation.cpp (pkg/apis/rbac/validation).
FieldErrors validate(const Role& o);
FieldErrors validate(const ClusterRole& o);
FieldErrors validate(const RoleBinding& o);
FieldErrors validate(const ClusterRoleBinding& o);
// config_validation.cpp: ConfigMap, Secret (per type), ServiceAccount.
FieldErrors validate(const ConfigMap& o);
FieldErrors validate(const Secret& o);
FieldErrors validate(const ServiceAccount& o);
// policy_validation.cpp (pkg/apis/scheduling/validation, pkg/apis/policy/validation).
FieldErrors validate(const PriorityClass& o);
FieldErrors validate(const PodDisruptionBudget& o);
FieldErrors validate_policy_update(const Object& o, const Object& old);
// A metav1.LabelSelector in JSON (null: matches nothing), e.g. a PodDisruptionBudget's.
std::expected<LabelSelector, FieldErrors> label_selector_from_json(const nlohmann::json& selector, const FieldPath& path);
// batch/v1 (batch_validation.cpp, pkg/apis/batch/validation).
FieldErrors validate(const Job& o);
FieldErrors validate(const CronJob& o);
FieldErrors validate_batch_update(const Object& o, const Object& old);
// apps/v1 StatefulSet (statefulset_validation.cpp).
FieldErrors validate(const StatefulSet& o);
FieldErrors validate_statefulset_update(const Object& o, const Object& old);
// Go's %#v of a metav1.LabelSelector and of a map[string]string (apps_validation.cpp).
std::string go_label_selector(const LabelSelectorSpec& s);
std::string go_string_map(const StringMap& m);
// storage_validation.cpp (pkg/apis/core/validation for PV and PVC, pkg/apis/storage/validation).
FieldErrors validate(const PersistentVolume& o);
FieldErrors validate(const PersistentVolumeClaim& o);
FieldErrors validate(const StorageClass& o);
FieldErrors validate_storage_update(const Object& o, const Object& old);
FieldErrors validate(const Object& o, const ClusterNetworkConfig& net);
// What only an update can break (the strategies' ValidateUpdate): the workloads' selectors are
// immutable. `old` is the stored object; empty for kinds with no such rules.
FieldErrors validate_update(const Object& o, const Object& old);
// An immutable ConfigMap's or Secret's data, and a Secret's type (config_validation.cpp).
void validate_config_update(FieldErrors& errs, const Object& o, const Object& old);

// ValidateNonSpecialIP: addresses a Service or Endpoints may not point at (unspecified,
// loopback, link-local, link-local multicast).
void validate_non_special_ip(FieldErrors& errs, const FieldPath& p, const std::string& ip);

// Go's %#v of a []string: []string{"a", "b"}.
std::string go_string_slice(const std::vector<std::string>& v);

// The 422 message: Service "x" is invalid: <aggregate>. `group_kind` is Kind or Kind.group.
std::string invalid_message(std::string_view group_kind, std::string_view name, const FieldErrors& errors);

}  // namespace switchyard::api
