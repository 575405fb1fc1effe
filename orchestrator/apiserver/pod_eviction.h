// The pods/eviction subresource, as kube-apiserver's EvictionREST serves it: a POST of a
// policy/v1 Eviction deletes the pod if no PodDisruptionBudget forbids it. Pods that are
// Pending, finished or already being deleted go at once; otherwise the one PDB selecting the pod
// must allow a disruption (status.disruptionsAllowed > 0, observedGeneration current), which the
// eviction spends (disruptionsAllowed - 1, the pod in status.disruptedPods) before the delete.
// A budget that allows none is 429 "Cannot evict pod as it would violate the pod's disruption
// budget.", which kubectl drain retries.
#pragma once

#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::apiserver {

// `eviction`: the request's body (metadata.name, deleteOptions). The Status to answer with.
ApiResult<Json> evict_pod(ObjectRegistry& registry, const std::string& ns, const std::string& name, const Json& eviction);

}  // namespace switchyard::apiserver
