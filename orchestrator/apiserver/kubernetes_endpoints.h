// The `kubernetes` Service's endpoints, as kube-apiserver's endpoint reconciler publishes them:
// the Endpoints `default/kubernetes` (labelled so the mirroring controller leaves it alone) and
// the EndpointSlice `default/kubernetes`, each holding <advertise address>:<secure port> under
// the port name `https`. Written straight to the registry, like the Service itself.
#pragma once

#include <string>

#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/base/error.h"

namespace switchyard::apiserver {

// Creates both objects, or updates them when they hold another address or port. Idempotent:
// objects that already say the same are not written.
Result<> reconcile_kubernetes_endpoints(ObjectRegistry& registry, const std::string& advertise_ip, int port);

}  // namespace switchyard::apiserver
