// The NodeRestriction admission plugin's core (plugin/pkg/admission/noderestriction): what the
// Node authorizer lets every kubelet do to nodes and pods in general (the system:node rules),
// each may do only to its own: modify or delete its own Node; update, delete or evict only pods
// bound to it; create only mirror pods (this server's kubelets make none).
#pragma once

#include <optional>

#include "orchestrator/apiserver/authentication.h"
#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/apiserver/request_attributes.h"

namespace switchyard::apiserver {

// nullopt: allowed (or not a node's request); otherwise the 403. `body`: the request's object
// (a create's), or null.
std::optional<ApiError> node_restriction(ObjectRegistry& registry, const UserInfo& user, const RequestAttributes& a, const Json& body);

}  // namespace switchyard::apiserver
