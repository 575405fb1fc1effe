#include "orchestrator/apiserver/node_authorizer.h"

#include <fmt/format.h>

#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/apiserver/rbac_bootstrap.h"

namespace switchyard::apiserver {

namespace {

constexpr std::string_view kNodeUserPrefix = "system:node:";
constexpr std::string_view kNodesGroup = "system:nodes";
constexpr std::string_view kNodeLeaseNamespace = "kube-node-lease";

std::string str(const Json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : "";
}
const Json& field(const Json& o, const char* key) {
  static const Json null;
  return o.is_object() && o.contains(key) ? o[key] : null;
}

// Calls f(container) for the containers, init containers and ephemeral containers of a pod spec.
template <class F>
void each_container(const Json& spec, F f) {
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"})
    if (const Json& cs = field(spec, list); cs.is_array())
      for (const auto& c : cs) f(c);
}

// Whether the pod uses the Secret (kind "secret") or ConfigMap ("configMap") `name`: volumes,
// projected sources, env valueFrom, envFrom and (Secrets) imagePullSecrets, as upstream's graph
// populator reads them (podutil.VisitPodSecretNames / VisitPodConfigmapNames).
bool pod_uses(const Json& spec, bool secret, const std::string& name) {
  const char* volume_key = secret ? "secret" : "configMap";
  const char* volume_name = secret ? "secretName" : "name";
  const char* key_ref = secret ? "secretKeyRef" : "configMapKeyRef";
  const char* env_from_ref = secret ? "secretRef" : "configMapRef";
  if (secret)
    if (const Json& pulls = field(spec, "imagePullSecrets"); pulls.is_array())
      for (const auto& p : pulls)
        if (str(p, "name") == name) return true;
  if (const Json& volumes = field(spec, "volumes"); volumes.is_array())
    for (const auto& v : volumes) {
      if (str(field(v, volume_key), volume_name) == name) return true;
      if (const Json& sources = field(field(v, "projected"), "sources"); sources.is_array())
        for (const auto& s : sources)
          if (str(field(s, volume_key), "name") == name) return true;
      // Volume plugins that name a Secret for their credentials.
      if (secret)
        for (const char* plugin : {"cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos", "csi", "azureFile"}) {
          const Json& p = field(v, plugin);
          if (str(field(p, "secretRef"), "name") == name || str(field(p, "nodePublishSecretRef"), "name") == name ||
              (std::string_view(plugin) == "azureFile" && str(p, "secretName") == name))
            return true;
        }
    }
  bool used = false;
  each_container(spec, [&](const Json& c) {
    if (const Json& env = field(c, "env"); env.is_array())
      for (const auto& e : env)
        if (str(field(field(e, "valueFrom"), key_ref), "name") == name) used = true;
    if (const Json& env_from = field(c, "envFrom"); env_from.is_array())
      for (const auto& e : env_from)
        if (str(field(e, env_from_ref), "name") == name) used = true;
  });
  return used;
}

// The claims a pod mounts: persistentVolumeClaim volumes, and ephemeral volumes (claim POD-VOLUME).
std::vector<std::string> pod_claims(const Json& pod) {
  std::vector<std::string> out;
  const Json& spec = field(pod, "spec");
  if (const Json& volumes = field(spec, "volumes"); volumes.is_array())
    for (const auto& v : volumes) {
      if (auto claim = str(field(v, "persistentVolumeClaim"), "claimName"); !claim.empty()) out.push_back(claim);
      if (field(v, "ephemeral").is_object()) out.push_back(str(field(pod, "metadata"), "name") + "-" + str(v, "name"));
    }
  return out;
}

}  // namespace

std::optional<std::string> node_identity(const UserInfo& user) {
  if (!user.in_group(kNodesGroup)) return std::nullopt;
  if (!user.name.starts_with(kNodeUserPrefix)) return std::nullopt;
  return user.name.substr(kNodeUserPrefix.size());
}

NodeAuthorizer::NodeAuthorizer(ObjectRegistry& registry) : registry_(registry) {
  for (const auto& role : bootstrap_cluster_roles())
    if (role["metadata"]["name"] == "system:node") node_rules_ = rules_of(role);
}

bool NodeAuthorizer::related(const std::string& node, Kind kind, const std::string& ns, const std::string& name) const {
  const ResourceInfo* pods = find_resource("", "v1", "pods");
  ListOptions o;
  o.field_selector = "spec.nodeName=" + node;
  // A PersistentVolume is cluster-scoped: the node's pods in every namespace may reach it.
  auto list = registry_.list(*pods, kind == Kind::Volume ? "" : ns, o);
  if (!list) return false;  // unknown is no relationship: refusing is the safe answer
  for (const auto& pod : (*list)["items"]) {
    const Json& spec = field(pod, "spec");
    switch (kind) {
      case Kind::Secret:
      case Kind::ConfigMap:
        if (pod_uses(spec, kind == Kind::Secret, name)) return true;
        break;
      case Kind::ServiceAccount: {
        auto sa = str(spec, "serviceAccountName");
        if ((sa.empty() ? "default" : sa) == name) return true;
        break;
      }
      case Kind::Claim:
        for (const auto& c : pod_claims(pod))
          if (c == name) return true;
        break;
      case Kind::Volume: {
        const ResourceInfo* claims = find_resource("", "v1", "persistentvolumeclaims");
        const std::string pod_ns = str(field(pod, "metadata"), "namespace");
        for (const auto& c : pod_claims(pod))
          if (auto claim = registry_.get(*claims, pod_ns, c); claim && str(field(*claim, "spec"), "volumeName") == name) return true;
        break;
      }
    }
  }
  return false;
}

Decision NodeAuthorizer::read_object(const std::string& node, Kind kind, const RequestAttributes& a, bool per_object_only) const {
  if (per_object_only) {  // authorizeGet
    if (a.verb != "get") return {false, "can only get individual resources of this type"};
    if (!a.subresource.empty()) return {false, "cannot get subresource"};
  } else {  // authorizeReadNamespacedObject
    if (a.verb != "get" && a.verb != "list" && a.verb != "watch") return {false, "can only read resources of this type"};
    if (!a.subresource.empty()) return {false, "cannot read subresource"};
    if (a.ns.empty()) return {false, "can only read namespaced object of this type"};
  }
  if (a.name.empty()) return {false, "No Object name found"};
  if (!related(node, kind, a.ns, a.name)) return {false, fmt::format("no relationship found between node '{}' and this object", node)};
  return {true, ""};
}

Decision NodeAuthorizer::authorize(const UserInfo& user, const RequestAttributes& a) const {
  const auto node = node_identity(user);
  if (!node) return {};
  if (node->empty()) return {false, fmt::format("unknown node for user \"{}\"", user.name)};
  if (a.resource_request && a.api_group.empty()) {
    if (a.resource == "secrets") return read_object(*node, Kind::Secret, a, false);
    // The kubelet's informers list and watch these across the cluster (see the header).
    const bool whole_list = (a.verb == "list" || a.verb == "watch") && a.name.empty() && a.subresource.empty();
    if (a.resource == "configmaps") {
      if (whole_list) return {true, ""};
      return read_object(*node, Kind::ConfigMap, a, false);
    }
    if (a.resource == "persistentvolumeclaims" || a.resource == "persistentvolumes") {
      const Kind kind = a.resource == "persistentvolumes" ? Kind::Volume : Kind::Claim;
      if (whole_list) return {true, ""};
      // The local-path provisioner (one per kubelet) makes and removes the volumes it provisions.
      if (kind == Kind::Volume && (a.verb == "create" || a.verb == "delete")) return {true, ""};
      return read_object(*node, kind, a, true);
    }
    if (a.resource == "serviceaccounts") {
      if (a.verb != "create" || a.name.empty()) return {false, "can only create tokens for individual service accounts"};
      if (a.subresource != "token") return {false, "can only create token subresource of serviceaccount"};
      if (!related(*node, Kind::ServiceAccount, a.ns, a.name))
        return {false, fmt::format("no relationship found between node '{}' and this object", *node)};
      return {true, ""};
    }
  }
  if (a.resource_request && a.api_group == "coordination.k8s.io" && a.resource == "leases") {
    if (a.verb != "get" && a.verb != "create" && a.verb != "update" && a.verb != "patch" && a.verb != "delete")
      return {false, "can only get, create, update, patch, or delete a node lease"};
    if (a.ns != kNodeLeaseNamespace)
      return {false, fmt::format("can only access leases in the \"{}\" system namespace", kNodeLeaseNamespace)};
    if (a.verb != "create" && a.name != *node) return {false, "can only access node lease with the same name as the requesting node"};
    return {true, ""};
  }
  for (const auto& rule : node_rules_)
    if (rule_allows(rule, a)) return {true, ""};
  return {};
}

}  // namespace switchyard::apiserver
