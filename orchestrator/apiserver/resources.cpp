#include "orchestrator/apiserver/resources.h"

namespace switchyard::apiserver {

const std::vector<ResourceInfo>& served_resources() {
  static const std::vector<ResourceInfo> resources = {
      {"", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}, {"status", "finalize"}},
      {"", "v1", "pods", "pod", "Pod", true, {"po"}, {"status", "log", "exec", "attach", "portforward", "eviction"}},
      {"", "v1", "services", "service", "Service", true, {"svc"}, {"status"}},
      {"", "v1", "endpoints", "endpoints", "Endpoints", true, {"ep"}, {}},
      {"", "v1", "nodes", "node", "Node", false, {"no"}, {"status"}},
      {"", "v1", "events", "event", "Event", true, {"ev"}, {}},
      {"events.k8s.io", "v1", "events", "event", "Event", true, {"ev"}, {}},
      {"discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, {}, {}},
      {"coordination.k8s.io", "v1", "leases", "lease", "Lease", true, {}, {}},
      {"apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"}, {"status", "scale"}},
      {"apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, {"rs"}, {"status", "scale"}},
      {"apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, {"ds"}, {"status"}},
      {"apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", true, {}, {}},
      {"apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, {"sts"}, {"status", "scale"}},
      {"", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}, {}},
      {"", "v1", "secrets", "secret", "Secret", true, {}, {}},
      {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}, {"token"}},
      {"scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", false, {"pc"}, {}},
      {"policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, {"pdb"}, {"status"}},
      {"", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, {"pv"}, {"status"}},
      {"", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true, {"pvc"}, {"status"}},
      {"storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", false, {"sc"}, {}},
      {"batch", "v1", "jobs", "job", "Job", true, {}, {"status"}},
      // Kept as JSON (certificate_requests.h): no typed form, no protobuf.
      {"certificates.k8s.io",
       "v1",
       "certificatesigningrequests",
       "certificatesigningrequest",
       "CertificateSigningRequest",
       false,
       {"csr"},
       {"approval", "status"}},
      {"batch", "v1", "cronjobs", "cronjob", "CronJob", true, {"cj"}, {"status"}},
      {"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, {}, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, {}, {}},
      {"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, {}, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, {}, {}},
      {"authorization.k8s.io",
       "v1",
       "selfsubjectaccessreviews",
       "selfsubjectaccessreview",
       "SelfSubjectAccessReview",
       false,
       {},
       {},
       false,
       true},
      // kubectl auth whoami: v1 from kubectl 1.28, v1beta1 before.
      {"authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false, {}, {}, false, true},
      {"authentication.k8s.io", "v1beta1", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false, {}, {}, false, true},
      {"authorization.k8s.io", "v1", "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false, {}, {}, false, true},
      {"authorization.k8s.io",
       "v1",
       "localsubjectaccessreviews",
       "localsubjectaccessreview",
       "LocalSubjectAccessReview",
       true,
       {},
       {},
       false,
       true},
      {"authorization.k8s.io",
       "v1",
       "selfsubjectrulesreviews",
       "selfsubjectrulesreview",
       "SelfSubjectRulesReview",
       false,
       {},
       {},
       false,
       true},
  };
  return resources;
}

const ResourceInfo* find_resource(std::string_view group, std::string_view version, std::string_view plural) {
  for (const auto& r : served_resources())
    if (r.group == group && r.version == version && r.plural == plural) return &r;
  return nullptr;
}

const ResourceInfo* find_resource_by_kind(std::string_view api_version, std::string_view kind) {
  for (const auto& r : served_resources())
    if (r.api_version() == api_version && r.kind == kind) return &r;
  return nullptr;
}

}  // namespace switchyard::apiserver
