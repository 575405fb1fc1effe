// The table of list fields and their patch strategy. Only lists matter: maps always merge and
// scalars always replace. Lists that Kubernetes marks atomic are listed too (as replace) when a
// user is likely to expect a merge, so that the choice is visible here.
#include <algorithm>
#include <array>

#include "orchestrator/apiserver/patch_schema.h"

namespace switchyard::apiserver {
namespace {

constexpr ListSchema merge_by(std::string_view key) { return {ListStrategy::merge, key}; }
constexpr ListSchema merge_set() { return {ListStrategy::merge, {}}; }
constexpr ListSchema atomic() { return {ListStrategy::replace, {}}; }

// The containers of a PodSpec: containers, initContainers and ephemeralContainers share the
// element type, so their inner lists share the strategy.
#define SWITCHYARD_CONTAINER_LISTS(list)                                                                                                \
  ListRule{"Pod", "spec." list, merge_by("name")}, ListRule{"Pod", "spec." list "[].ports", merge_by("containerPort")},                 \
      ListRule{"Pod", "spec." list "[].env", merge_by("name")}, ListRule{"Pod", "spec." list "[].volumeMounts", merge_by("mountPath")}, \
      ListRule{"Pod", "spec." list "[].volumeDevices", merge_by("devicePath")}, ListRule{"Pod", "spec." list "[].envFrom", atomic()},   \
      ListRule {                                                                                                                        \
    "Pod", "spec." list "[].resizePolicy", atomic()                                                                                     \
  }

constexpr auto kRules = std::to_array<ListRule>({
    // metav1.ObjectMeta
    {"*", "metadata.ownerReferences", merge_by("uid")},
    {"*", "metadata.finalizers", merge_set()},
    {"*", "metadata.managedFields", atomic()},

    // Namespace
    {"Namespace", "spec.finalizers", atomic()},
    {"Namespace", "status.conditions", merge_by("type")},

    // Pod
    SWITCHYARD_CONTAINER_LISTS("containers"),
    SWITCHYARD_CONTAINER_LISTS("initContainers"),
    SWITCHYARD_CONTAINER_LISTS("ephemeralContainers"),
    {"Pod", "spec.volumes", merge_by("name")},  // also retainKeys in Kubernetes
    {"Pod", "spec.imagePullSecrets", merge_by("name")},
    {"Pod", "spec.hostAliases", merge_by("ip")},
    {"Pod", "spec.topologySpreadConstraints", merge_by("topologyKey")},
    {"Pod", "spec.schedulingGates", merge_by("name")},
    {"Pod", "spec.resourceClaims", merge_by("name")},
    {"Pod", "spec.tolerations", atomic()},
    {"Pod", "spec.readinessGates", atomic()},
    {"Pod", "status.conditions", merge_by("type")},
    {"Pod", "status.podIPs", merge_by("ip")},
    {"Pod", "status.hostIPs", merge_by("ip")},

    // Service
    {"Service", "spec.ports", merge_by("port")},
    {"Service", "spec.clusterIPs", atomic()},
    {"Service", "spec.externalIPs", atomic()},
    {"Service", "spec.ipFamilies", atomic()},
    {"Service", "spec.loadBalancerSourceRanges", atomic()},
    {"Service", "status.conditions", merge_by("type")},
    {"Service", "status.loadBalancer.ingress", atomic()},

    // Endpoints: subsets carry no patch strategy, a patch replaces them whole.
    {"Endpoints", "subsets", atomic()},

    // EndpointSlice (discovery/v1): endpoints and ports are +listType=atomic.
    {"EndpointSlice", "endpoints", atomic()},
    {"EndpointSlice", "ports", atomic()},

    // Node. spec.taints has no patchStrategy tag in core/v1: a patch replaces the taint list.
    {"Node", "spec.podCIDRs", merge_set()},
    {"Node", "spec.taints", atomic()},
    {"Node", "status.conditions", merge_by("type")},
    {"Node", "status.addresses", merge_by("type")},
    {"Node", "status.images", atomic()},
    {"Node", "status.volumesInUse", atomic()},
    {"Node", "status.volumesAttached", atomic()},
});

// A workload's pod template (Deployment, ReplicaSet): the PodSpec rules under spec.template.
#define SWITCHYARD_TEMPLATE_LISTS(kind, list)                                                \
  ListRule{kind, "spec.template.spec." list, merge_by("name")},                              \
      ListRule{kind, "spec.template.spec." list "[].ports", merge_by("containerPort")},      \
      ListRule{kind, "spec.template.spec." list "[].env", merge_by("name")},                 \
      ListRule{kind, "spec.template.spec." list "[].volumeMounts", merge_by("mountPath")},   \
      ListRule{kind, "spec.template.spec." list "[].volumeDevices", merge_by("devicePath")}, \
      ListRule{kind, "spec.template.spec." list "[].envFrom", atomic()}, ListRule {          \
    kind, "spec.template.spec." list "[].resizePolicy", atomic()                             \
  }
#define SWITCHYARD_WORKLOAD_RULES(kind)                                                                                                  \
  SWITCHYARD_TEMPLATE_LISTS(kind, "containers"), SWITCHYARD_TEMPLATE_LISTS(kind, "initContainers"),                                      \
      SWITCHYARD_TEMPLATE_LISTS(kind, "ephemeralContainers"), ListRule{kind, "spec.template.spec.volumes", merge_by("name")},            \
      ListRule{kind, "spec.template.spec.imagePullSecrets", merge_by("name")},                                                           \
      ListRule{kind, "spec.template.spec.hostAliases", merge_by("ip")},                                                                  \
      ListRule{kind, "spec.template.spec.topologySpreadConstraints", merge_by("topologyKey")},                                           \
      ListRule{kind, "spec.template.spec.tolerations", atomic()}, ListRule{kind, "spec.selector.matchExpressions", atomic()}, ListRule { \
    kind, "status.conditions", merge_by("type")                                                                                          \
  }

constexpr auto kWorkloadRules =
    std::to_array<ListRule>({SWITCHYARD_WORKLOAD_RULES("Deployment"), SWITCHYARD_WORKLOAD_RULES("ReplicaSet"),
                             SWITCHYARD_WORKLOAD_RULES("DaemonSet"), SWITCHYARD_WORKLOAD_RULES("Job"),
                             // A CronJob's pod template sits one level deeper; its containers and their env merge by name.
                             ListRule{"CronJob", "spec.jobTemplate.spec.template.spec.containers", merge_by("name")},
                             ListRule{"CronJob", "spec.jobTemplate.spec.template.spec.containers[].env", merge_by("name")},
                             ListRule{"CronJob", "status.active", atomic()}, SWITCHYARD_WORKLOAD_RULES("StatefulSet")});

#undef SWITCHYARD_WORKLOAD_RULES
#undef SWITCHYARD_TEMPLATE_LISTS
#undef SWITCHYARD_CONTAINER_LISTS

// The RBAC kinds have no list rules: their lists (rules, subjects) are replaced whole, as upstream.
constexpr std::array<std::string_view, 21> kKinds{"Namespace",
                                                  "Pod",
                                                  "Service",
                                                  "Endpoints",
                                                  "EndpointSlice",
                                                  "Node",
                                                  "Lease",
                                                  "Event",
                                                  "Deployment",
                                                  "ReplicaSet",
                                                  "ControllerRevision",
                                                  "Role",
                                                  "ClusterRole",
                                                  "RoleBinding",
                                                  "ClusterRoleBinding",
                                                  "PriorityClass",
                                                  "PodDisruptionBudget",
                                                  "Job",
                                                  "CronJob",
                                                  "StatefulSet",
                                                  "DaemonSet"};
// ConfigMap, Secret, ServiceAccount: no list rules either (a ServiceAccount's secrets are replaced whole).
// The storage kinds have none either (accessModes, mountOptions are atomic upstream).
constexpr std::array<std::string_view, 6> kConfigKinds{
    "ConfigMap", "Secret", "ServiceAccount", "PersistentVolume", "PersistentVolumeClaim", "StorageClass"};

}  // namespace

bool has_strategic_merge_schema(std::string_view kind) {
  return std::ranges::find(kKinds, kind) != kKinds.end() || std::ranges::find(kConfigKinds, kind) != kConfigKinds.end();
}

std::optional<ListSchema> find_list_schema(std::string_view kind, std::string_view path) {
  for (const ListRule& r : kRules) {
    if ((r.kind == kind || r.kind == "*") && r.path == path) return r.schema;
  }
  for (const ListRule& r : kWorkloadRules)
    if (r.kind == kind && r.path == path) return r.schema;
  return std::nullopt;
}

std::span<const ListRule> list_rules() { return kRules; }

}  // namespace switchyard::apiserver
