// Defaulting as the API server applies it on create and update (pkg/apis/core/v1/defaults.go
// and the Service registry's IP-family rules).
#pragma once

#include <string>
#include <vector>

#include "orchestrator/api/types.h"

namespace switchyard::api {

struct ClusterNetworkConfig {
  // The IP families the service CIDRs cover, primary first: {"IPv4"}, {"IPv6"}, or both.
  std::vector<std::string> service_ip_families{"IPv4"};
  int node_port_min = 30000;
  int node_port_max = 32767;
  bool dual_stack() const { return service_ip_families.size() == 2; }
};

constexpr std::int32_t kDefaultClientIpTimeoutSeconds = 10800;

bool externally_accessible(const ServiceSpec& s);
bool is_headless(const ServiceSpec& s);

void apply_defaults(Service& s, const ClusterNetworkConfig& net);
void apply_defaults(Pod& p);
void apply_defaults(PodSpec& s);  // a Pod's, or a workload's pod template
// apps/v1 (apps_defaults.cpp): replicas 1, RollingUpdate 25%/25%, revisionHistoryLimit 10,
// progressDeadlineSeconds 600, and the pod template's defaults as for Pods.
void apply_defaults(ReplicaSet& r);
void apply_defaults(Deployment& d);
void apply_defaults(DaemonSet& d);  // RollingUpdate, maxUnavailable 1, maxSurge 0, history 10
void apply_defaults(ControllerRevision& c);
// batch/v1 (batch_defaults.cpp): completions/parallelism 1, backoffLimit 6, NonIndexed, the
// generated selector and labels once the Job has a uid; CronJob Allow, history 3 and 1.
void apply_defaults(Job& j);
void apply_defaults(CronJob& c);
// apps/v1 StatefulSet (statefulset_defaults.cpp): OrderedReady, RollingUpdate with partition 0,
// one replica, history 10, Retain/Retain claims.
void apply_defaults(StatefulSet& s);
void apply_defaults(Namespace& n);
void apply_defaults(Endpoints& e);
void apply_defaults(EndpointSlice& e);
void apply_defaults(Node& n);
void apply_defaults(Lease& l);
void apply_defaults(Event& e);
// rbac_validation.cpp: a User or Group subject's apiGroup defaults to rbac.authorization.k8s.io.
void apply_defaults(Role& o);
void apply_defaults(ClusterRole& o);
void apply_defaults(RoleBinding& o);
void apply_defaults(ClusterRoleBinding& o);
// config_validation.cpp: a Secret's stringData folded into data, type Opaque.
void apply_defaults(ConfigMap& o);
void apply_defaults(Secret& o);
void apply_defaults(ServiceAccount& o);
// policy_validation.cpp: a PriorityClass's value (0) and preemptionPolicy (PreemptLowerPriority).
void apply_defaults(PriorityClass& o);
// storage_validation.cpp: reclaim policy Retain, volumeMode Filesystem, phase Pending; a
// StorageClass's reclaimPolicy Delete and volumeBindingMode Immediate.
void apply_defaults(PersistentVolume& o);
void apply_defaults(PersistentVolumeClaim& o);
void apply_defaults(StorageClass& o);
void apply_defaults(PodDisruptionBudget& o);
void apply_defaults(Object& o, const ClusterNetworkConfig& net);

}  // namespace switchyard::api
