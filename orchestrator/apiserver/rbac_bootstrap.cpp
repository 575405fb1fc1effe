#include "orchestrator/apiserver/rbac_bootstrap.h"

#include <algorithm>

#include <fmt/format.h>

#include "orchestrator/apiserver/object_registry.h"

namespace switchyard::apiserver {

namespace {

using Json = nlohmann::json;
using Strings = std::vector<std::string>;

const Strings kRead = {"get", "list", "watch"};
const Strings kWrite = {"create", "delete", "deletecollection", "patch", "update"};
const Strings kReadWrite = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};

Json rule(const Strings& verbs, const Strings& groups, const Strings& resources, const Strings& names = {}) {
  Json r = {{"verbs", verbs}, {"apiGroups", groups}, {"resources", resources}};
  if (!names.empty()) r["resourceNames"] = names;
  return r;
}
Json url_rule(const Strings& verbs, const Strings& urls) { return {{"verbs", verbs}, {"nonResourceURLs", urls}}; }

Json meta(const std::string& name, Json labels = Json::object()) {
  labels["kubernetes.io/bootstrapping"] = "rbac-defaults";
  return {{"name", name}, {"labels", labels}, {"annotations", {{"rbac.authorization.kubernetes.io/autoupdate", "true"}}}};
}

// The rules as an initializer list: a one-rule `{rule(...)}` passed as a Json would be that rule
// itself under clang (a one-element brace list of a Json copies it), an array under GCC.
Json cluster_role(const std::string& name, std::initializer_list<Json> rules, Json labels = Json::object()) {
  Json list = Json::array();
  for (const auto& r : rules) list.push_back(r);
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "ClusterRole"},
          {"metadata", meta(name, std::move(labels))},
          {"rules", std::move(list)}};
}

// A ClusterRole whose rules are those of the roles labelled rbac.authorization.k8s.io/aggregate-to-<to>.
Json aggregated(const std::string& name, const std::string& to, Json labels = Json::object()) {
  Json role = cluster_role(name, {}, std::move(labels));
  Json selectors = Json::array();
  selectors.push_back({{"matchLabels", {{"rbac.authorization.k8s.io/aggregate-to-" + to, "true"}}}});
  role["aggregationRule"] = {{"clusterRoleSelectors", selectors}};
  return role;
}

Json aggregate_to(std::initializer_list<const char*> roles) {
  Json labels = Json::object();
  for (const char* r : roles) labels[fmt::format("rbac.authorization.k8s.io/aggregate-to-{}", r)] = "true";
  return labels;
}

Json binding(const std::string& name, const std::string& role, const std::string& kind, const Strings& subjects) {
  Json s = Json::array();
  for (const auto& n : subjects) s.push_back({{"kind", kind}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", n}});
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "ClusterRoleBinding"},
          {"metadata", meta(name)},
          {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}},
          {"subjects", s}};
}

}  // namespace

std::vector<Json> bootstrap_cluster_roles() {
  return {
      cluster_role("cluster-admin", {rule({"*"}, {"*"}, {"*"}), url_rule({"*"}, {"*"})}),
      cluster_role("system:discovery", {url_rule({"get"}, {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                                           "/openapi/*", "/readyz", "/version", "/version/"})}),
      cluster_role("system:public-info-viewer", {url_rule({"get"}, {"/healthz", "/livez", "/readyz", "/version", "/version/"})}),
      cluster_role("system:basic-user",
                   {rule({"create"}, {"authentication.k8s.io"}, {"selfsubjectreviews"}),
                    rule({"create"}, {"authorization.k8s.io"}, {"selfsubjectaccessreviews", "selfsubjectrulesreviews"})}),
      // For components that authenticate and authorize their own clients through the API server.
      cluster_role("system:auth-delegator", {rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
                                             rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"})}),
      // The user-facing roles, filled by aggregation as upstream's are.
      aggregated("admin", "admin"),
      aggregated("edit", "edit", aggregate_to({"admin"})),
      aggregated("view", "view", aggregate_to({"edit"})),
      cluster_role("system:aggregate-to-admin",
                   {rule(kReadWrite, {"rbac.authorization.k8s.io"}, {"rolebindings", "roles"}),
                    rule({"create"}, {"authorization.k8s.io"}, {"localsubjectaccessreviews"})},
                   aggregate_to({"admin"})),
      cluster_role("system:aggregate-to-edit",
                   {rule(kWrite, {""}, {"pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"}),
                    rule(kRead, {""}, {"pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets"}),
                    rule({"create"}, {""}, {"pods/eviction"}),
                    rule(kWrite, {""},
                         {"configmaps", "endpoints", "events", "persistentvolumeclaims", "replicationcontrollers",
                          "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"}),
                    rule({"create"}, {""}, {"serviceaccounts/token"}), rule({"impersonate"}, {""}, {"serviceaccounts"}),
                    rule(kWrite, {"apps"},
                         {"daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale",
                          "statefulsets", "statefulsets/scale"}),
                    rule(kWrite, {"batch"}, {"cronjobs", "jobs"}), rule(kWrite, {"discovery.k8s.io"}, {"endpointslices"}),
                    rule(kWrite, {"coordination.k8s.io"}, {"leases"})},
                   aggregate_to({"admin", "edit"})),
      cluster_role(
          "system:aggregate-to-view",
          {rule(kRead, {""},
                {"configmaps",
                 "endpoints",
                 "persistentvolumeclaims",
                 "persistentvolumeclaims/status",
                 "pods",
                 "replicationcontrollers",
                 "replicationcontrollers/scale",
                 "serviceaccounts",
                 "services",
                 "services/status",
                 "bindings",
                 "events",
                 "limitranges",
                 "namespaces/status",
                 "pods/log",
                 "pods/status",
                 "replicationcontrollers/status",
                 "resourcequotas",
                 "resourcequotas/status",
                 "namespaces"}),
           rule(kRead, {"apps"},
                {"controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
                 "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"}),
           rule(kRead, {"batch"}, {"cronjobs", "cronjobs/status", "jobs", "jobs/status"}),
           rule(kRead, {"discovery.k8s.io"}, {"endpointslices"}), rule(kRead, {"coordination.k8s.io"}, {"leases"})},
          aggregate_to({"admin", "edit", "view"})),
      // The components' roles (subsets of upstream's, for what this server serves).
      cluster_role(
          "system:kube-scheduler",
          {rule({"create", "patch", "update"}, {"", "events.k8s.io"}, {"events"}), rule({"create"}, {"coordination.k8s.io"}, {"leases"}),
           rule({"get", "update"}, {"coordination.k8s.io"}, {"leases"}, {"kube-scheduler"}),
           rule(kRead, {""}, {"nodes", "namespaces", "services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"}),
           rule({"delete", "get", "list", "watch"}, {""}, {"pods"}), rule({"create"}, {""}, {"bindings", "pods/binding"}),
           rule({"patch", "update"}, {""}, {"pods/status"}), rule(kRead, {"apps"}, {"replicasets", "statefulsets"}),
           rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}), rule(kRead, {"policy"}, {"poddisruptionbudgets"}),
           // system:volume-scheduler's: the selected-node annotation on WaitForFirstConsumer claims.
           rule({"patch", "update"}, {""}, {"persistentvolumeclaims"}), rule(kRead, {"storage.k8s.io"}, {"storageclasses"})}),
      cluster_role(
          "system:kube-controller-manager",
          {rule({"create", "patch", "update"}, {"", "events.k8s.io"}, {"events"}), rule({"create"}, {"coordination.k8s.io"}, {"leases"}),
           rule({"get", "update"}, {"coordination.k8s.io"}, {"leases"}, {"kube-controller-manager"}),
           rule(kRead, {""}, {"namespaces", "nodes", "pods", "services", "endpoints"}),
           rule(kReadWrite, {"discovery.k8s.io"}, {"endpointslices"}),
           rule({"create", "get", "update"}, {""}, {"serviceaccounts", "secrets"}), rule({"create"}, {""}, {"serviceaccounts/token"}),
           rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"})}),
      cluster_role("system:node-proxier", {rule({"list", "watch"}, {""}, {"endpoints", "services"}), rule(kRead, {""}, {"nodes"}),
                                           rule({"create", "patch", "update"}, {"", "events.k8s.io"}, {"events"}),
                                           rule({"list", "watch"}, {"discovery.k8s.io"}, {"endpointslices"})}),
      // The node agent (service proxy and cluster DNS) as `switchyard up` runs it: what its
      // informers read (deploy/rbac.yaml grants the same to the DaemonSet's ServiceAccount), and events.
      cluster_role("system:switchyard-agent",
                   {rule(kRead, {""}, {"services", "nodes", "pods", "namespaces"}), rule(kRead, {"discovery.k8s.io"}, {"endpointslices"}),
                    rule({"create", "patch", "update"}, {"", "events.k8s.io"}, {"events"})}),
      cluster_role(
          "system:node",
          {rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
           rule({"create"}, {"authorization.k8s.io"}, {"localsubjectaccessreviews", "subjectaccessreviews"}),
           rule(kRead, {""}, {"services", "endpoints"}),
           rule({"create", "get", "list", "watch", "delete", "patch", "update"}, {""}, {"nodes"}),
           rule({"patch", "update"}, {""}, {"nodes/status"}), rule({"create", "patch", "update"}, {"", "events.k8s.io"}, {"events"}),
           rule({"get", "list", "watch", "create", "delete"}, {""}, {"pods"}), rule({"patch", "update"}, {""}, {"pods/status"}),
           rule({"create"}, {""}, {"pods/eviction"}),
           rule({"get", "list", "watch"}, {""}, {"configmaps", "secrets", "persistentvolumeclaims", "persistentvolumes"}),
           // The local-path provisioner runs in each kubelet process (upstream's node role has no such rule).
           rule({"create", "delete"}, {""}, {"persistentvolumes"}), rule(kRead, {"storage.k8s.io"}, {"storageclasses"}),
           rule({"create"}, {""}, {"serviceaccounts/token"}),
           rule({"delete", "get", "patch", "update", "create"}, {"coordination.k8s.io"}, {"leases"}),
           rule(kRead, {"discovery.k8s.io"}, {"endpointslices"}),
           // Client certificate rotation (kubelet's certificate manager).
           rule({"create", "get", "list", "watch"}, {"certificates.k8s.io"}, {"certificatesigningrequests"})}),
      // TLS bootstrap (kubelet's --bootstrap-kubeconfig): a bootstrap token may ask for a
      // certificate; the CSR approver approves those whose requester may create .../nodeclient
      // (a new node's first certificate) or .../selfnodeclient (a node renewing its own).
      cluster_role("system:node-bootstrapper",
                   {rule({"create", "get", "list", "watch"}, {"certificates.k8s.io"}, {"certificatesigningrequests"})}),
      cluster_role("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                   {rule({"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/nodeclient"})}),
      cluster_role("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                   {rule({"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/selfnodeclient"})}),
      cluster_role("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
                   {rule({"approve"}, {"certificates.k8s.io"}, {"signers"}, {"kubernetes.io/kube-apiserver-client-kubelet"})}),
      cluster_role("system:certificates.k8s.io:kube-apiserver-client-approver",
                   {rule({"approve"}, {"certificates.k8s.io"}, {"signers"}, {"kubernetes.io/kube-apiserver-client"})}),
  };
}

std::vector<Json> bootstrap_cluster_role_bindings() {
  return {
      binding("cluster-admin", "cluster-admin", "Group", {"system:masters"}),
      binding("system:discovery", "system:discovery", "Group", {"system:authenticated"}),
      binding("system:basic-user", "system:basic-user", "Group", {"system:authenticated"}),
      binding("system:public-info-viewer", "system:public-info-viewer", "Group", {"system:authenticated", "system:unauthenticated"}),
      binding("system:kube-scheduler", "system:kube-scheduler", "User", {"system:kube-scheduler"}),
      binding("system:kube-controller-manager", "system:kube-controller-manager", "User", {"system:kube-controller-manager"}),
      binding("system:node-proxier", "system:node-proxier", "User", {"system:kube-proxy"}),
      binding("system:switchyard-agent", "system:switchyard-agent", "User", {"system:switchyard-agent"}),
      // system:node stays unbound, as upstream's: the Node authorizer (node_authorizer.h) gives
      // each kubelet its rules, limited to its own node's objects.
  };
}

Result<void> ensure_bootstrap_rbac(ObjectRegistry& registry) {
  auto ensure = [&](const char* plural, const Json& object) -> Result<void> {
    const ResourceInfo* res = find_resource("rbac.authorization.k8s.io", "v1", plural);
    const std::string name = object["metadata"]["name"];
    std::vector<std::string> warnings;
    if (auto current = registry.get(*res, "", name)) {
      // kube-apiserver's reconciliation at start: a ClusterRole still marked autoupdate gets the
      // rules this release added (a new resource the agent watches), keeping any the admin added.
      const Json annotations = current->value("metadata", Json::object()).value("annotations", Json::object());
      if (!object.contains("rules") || annotations.value("rbac.authorization.kubernetes.io/autoupdate", "") != "true") return {};
      Json rules = current->value("rules", Json::array());
      bool added = false;
      for (const auto& rule : object["rules"])
        if (std::find(rules.begin(), rules.end(), rule) == rules.end()) {
          rules.push_back(rule);
          added = true;
        }
      if (!added) return {};
      Json updated = *current;
      updated["rules"] = std::move(rules);
      auto written = registry.update(*res, "", name, updated, false, FieldValidation::Strict, warnings);
      if (!written && written.error().code != 409)
        return fail(ErrorCode::Internal, fmt::format("reconcile {} {}: {}", plural, name, written.error().status.value("message", "")));
      return {};
    }
    auto made = registry.create(*res, "", object, FieldValidation::Strict, warnings);
    if (!made && made.error().code != 409)
      return fail(ErrorCode::Internal, fmt::format("bootstrap {} {}: {}", plural, name, made.error().status.value("message", "")));
    return {};
  };
  for (const auto& r : bootstrap_cluster_roles())
    if (auto ok = ensure("clusterroles", r); !ok) return ok;
  for (const auto& b : bootstrap_cluster_role_bindings())
    if (auto ok = ensure("clusterrolebindings", b); !ok) return ok;
  // Earlier releases bound system:node to the group system:nodes (before the Node authorizer):
  // that binding would give every node every Secret, so a data directory that still has it
  // (unchanged, still autoupdate) loses its subjects, as upstream's reconciliation did in 1.8.
  const ResourceInfo* crbs = find_resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings");
  if (auto old = registry.get(*crbs, "", "system:node")) {
    const Json annotations = old->value("metadata", Json::object()).value("annotations", Json::object());
    const Json subjects = old->value("subjects", Json::array());
    const bool legacy = annotations.value("rbac.authorization.kubernetes.io/autoupdate", "") == "true" && subjects.size() == 1 &&
                        subjects[0].value("kind", "") == "Group" && subjects[0].value("name", "") == "system:nodes";
    if (legacy) {
      Json updated = *old;
      updated["subjects"] = Json::array();
      std::vector<std::string> warnings;
      auto written = registry.update(*crbs, "", "system:node", updated, false, FieldValidation::Strict, warnings);
      if (!written && written.error().code != 409)
        return fail(ErrorCode::Internal,
                    fmt::format("unbinding system:node from system:nodes: {}", written.error().status.value("message", "")));
    }
  }
  return {};
}

}  // namespace switchyard::apiserver
