// The Node authorizer, as kube-apiserver's --authorization-mode=Node
// (plugin/pkg/auth/authorizer/node): a kubelet (user system:node:NAME in group system:nodes) may
// read a Secret, ConfigMap, PersistentVolumeClaim or PersistentVolume, or request a
// ServiceAccount's token, only when a pod bound to its node uses it; node Leases only its own in
// kube-node-lease; everything else as the system:node ClusterRole's rules say. It decides
// "allow" or "no opinion" (with the reason RBAC's 403 then carries); users that are not nodes get
// no opinion and no reason. Upstream keeps a graph of pods and what they use; this reads the
// node's pods from the registry on each decision that needs them, so a pod bound a moment ago
// counts at once.
//
// Where this differs: list and watch of ConfigMaps, PVCs and PVs across the cluster are still
// allowed by the node rules (the kubelet's informers and its local-path provisioner read them
// that way); Secrets are read per object, as upstream.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "orchestrator/apiserver/authentication.h"
#include "orchestrator/apiserver/rbac_authorizer.h"
#include "orchestrator/apiserver/request_attributes.h"

namespace switchyard::apiserver {

class ObjectRegistry;

// The node a user speaks for (nodeidentifier's rule: group system:nodes and name system:node:N);
// nullopt for other users, "" for a node user without a name.
std::optional<std::string> node_identity(const UserInfo& user);

class NodeAuthorizer {
 public:
  explicit NodeAuthorizer(ObjectRegistry& registry);
  // allowed, or not with the reason (empty for users that are not nodes).
  Decision authorize(const UserInfo& user, const RequestAttributes& a) const;

 private:
  enum class Kind { Secret, ConfigMap, Claim, Volume, ServiceAccount };
  // Whether a pod bound to `node` uses the object (a Volume: through a claim it mounts).
  bool related(const std::string& node, Kind kind, const std::string& ns, const std::string& name) const;
  Decision read_object(const std::string& node, Kind kind, const RequestAttributes& a, bool per_object_only) const;

  ObjectRegistry& registry_;
  std::vector<PolicyRule> node_rules_;
};

}  // namespace switchyard::apiserver
