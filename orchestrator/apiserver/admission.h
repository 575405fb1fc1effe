// The admission plugins kube-apiserver runs by default that Switchyard needs, on a decoded
// object before defaulting and validation:
// - Priority: a new Pod's priorityClassName (or the globalDefault class) resolved to
//   spec.priority and spec.preemptionPolicy, with the real 403 for an unknown class; only one
//   PriorityClass may be globalDefault.
// - DefaultTolerationSeconds: a new Pod tolerates the not-ready and unreachable NoExecute
//   taints for 300 s unless it says otherwise.
#pragma once

#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::apiserver {

inline constexpr std::int64_t kDefaultTolerationSeconds = 300;

// - DefaultStorageClass: a new PersistentVolumeClaim that names no class gets the default one.
// - StorageObjectInUseProtection: new claims and volumes get the kubernetes.io/pvc-protection and
//   kubernetes.io/pv-protection finalizers (storage_admission.cpp).
ApiResult<void> admit_storage(ObjectRegistry& registry, api::Object& obj, const api::Object* old);

// `old`: the stored object on an update, null on a create.
ApiResult<void> run_admission(ObjectRegistry& registry, const ResourceInfo& r, api::Object& obj, const api::Object* old);

// The built-in PriorityClasses (system-node-critical, system-cluster-critical), created at start
// as kube-apiserver's scheduling storage does; existing ones are left alone.
Result<void> ensure_system_priority_classes(ObjectRegistry& registry);

}  // namespace switchyard::apiserver
