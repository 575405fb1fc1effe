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

inline constexpr const char* kDefaultServiceAccount = "default";
inline constexpr const char* kServiceAccountTokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

// - ServiceAccount (when the registry has it on): a new Pod's service account defaulted and
//   required to exist (403), its API token, cluster CA and namespace mounted as the projected
//   volume kube-api-access-XXXXX unless automountServiceAccountToken is false
//   (service_account_admission.cpp).
ApiResult<void> admit_pod_service_account(ObjectRegistry& registry, const ResourceInfo& r, api::Pod& pod);
// kube-apiserver has the plugin on by default; here a registry runs it once the server turns it
// on (ControlPlane does, beside the ServiceAccount controller), so that registries in tests
// without that controller take pods as they are. Turn it off before the registry goes.
void enable_service_account_admission(const ObjectRegistry& registry, bool on);
bool service_account_admission(const ObjectRegistry& registry);

// n characters of the API server's generateName alphabet (no vowels, no 0/1/3).
std::string random_name_suffix(std::size_t n);

// `old`: the stored object on an update, null on a create.
ApiResult<void> run_admission(ObjectRegistry& registry, const ResourceInfo& r, api::Object& obj, const api::Object* old);

// The built-in PriorityClasses (system-node-critical, system-cluster-critical), created at start
// as kube-apiserver's scheduling storage does; existing ones are left alone.
Result<void> ensure_system_priority_classes(ObjectRegistry& registry);

}  // namespace switchyard::apiserver
