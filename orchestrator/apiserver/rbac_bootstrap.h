// kube-apiserver's bootstrap RBAC policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy), the
// part this server's resources and components use: cluster-admin bound to system:masters;
// discovery, basic-user and public-info-viewer for everyone authenticated; the aggregated
// admin, edit and view roles; and the system: roles of the scheduler, the controller manager,
// the node proxier and nodes. Created at start when missing; existing ones are left as they are.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/base/error.h"

namespace switchyard::apiserver {

class ObjectRegistry;

std::vector<nlohmann::json> bootstrap_cluster_roles();
std::vector<nlohmann::json> bootstrap_cluster_role_bindings();
Result<void> ensure_bootstrap_rbac(ObjectRegistry& registry);

}  // namespace switchyard::apiserver
