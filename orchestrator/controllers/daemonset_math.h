// What the DaemonSet controller decides, as kube-controller-manager's pkg/controller/daemon does,
// as pure functions (no cache, no client):
//  - which nodes a DaemonSet's pod should run on (nodeSelector, required node affinity, taints
//    against the template's tolerations plus the automatic ones) and where an existing pod may
//    stay (it tolerates every NoExecute taint);
//  - the pod a node gets: the template, the automatic tolerations, the controller-revision-hash
//    label and a required node-affinity term `metadata.name In [node]` for the default scheduler;
//  - the RollingUpdate accounting: maxUnavailable and maxSurge scaled on the desired node count,
//    and per sync which old pods to delete and which nodes get a new (surge) pod;
//  - which surplus pods on one node go.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/api/types.h"
#include "orchestrator/controllers/workload_pods.h"

namespace switchyard::controllers {

inline constexpr const char* kControllerRevisionHashLabel = "controller-revision-hash";

// The template with the tolerations every daemon pod gets (AddOrUpdateDaemonPodTolerations):
// not-ready and unreachable NoExecute (no tolerationSeconds, so the pods stay), disk-, memory-
// and pid-pressure and unschedulable NoSchedule, network-unavailable for hostNetwork pods.
api::PodSpec with_daemon_tolerations(api::PodSpec spec);
// The spec's required node affinity replaced by the one term the controller schedules with.
void pin_to_node(api::PodSpec& spec, const std::string& node);
// The node a daemon pod belongs to: spec.nodeName, else the node its matchFields term names.
std::string target_node_of(const api::Pod& pod);

struct NodeFit {
  bool should_run = false;               // a pod should be created here if none is
  bool should_continue_running = false;  // a pod already here may stay
};
// NodeShouldRunDaemonPod.
NodeFit node_should_run_daemon_pod(const api::Node& node, const api::DaemonSet& ds);

// intstr.GetScaledValueFromIntOrPercent(v, total, roundUp=true); nullopt for a bad percent.
std::optional<int> scaled_value(const api::IntOrString& v, int total);

struct RollingBudget {
  int max_surge = 0, max_unavailable = 0;
};
// updatedDesiredNodeCounts: both scaled on the nodes that want a pod; an impossible 0/0 becomes
// maxUnavailable 1. OnDelete: 0/0.
RollingBudget rolling_budget(const api::DaemonSet& ds, int desired_nodes);

// One node as the rolling update sees it: its pods that are not being deleted.
struct DaemonNode {
  std::string name;
  struct PodView {
    std::string name;
    bool updated = false;    // carries the current controller-revision-hash
    bool available = false;  // ready for minReadySeconds
  };
  std::vector<PodView> pods;
};
struct RollingStep {
  std::vector<std::string> pods_to_delete;
  std::vector<std::string> nodes_to_create;  // surge only
  bool operator==(const RollingStep&) const = default;
};
// One sync of the rolling update (rollingUpdate in update.go), nodes in the order given.
RollingStep plan_rolling_update(const std::vector<DaemonNode>& nodes, RollingBudget budget);

// podByCreationTimestampAndPhase: scheduled first, then oldest, then by name.
void sort_daemon_pods(std::vector<const api::Pod*>& pods);

// The pods on a node that should continue running a daemon pod, beyond the one (or, surging,
// two) kept: with no surge all but the oldest; with surge the oldest updated pod and the oldest
// old one, the old one also going once it is not ready or the updated one is available.
std::vector<const api::Pod*> surplus_daemon_pods(std::vector<const api::Pod*> running, const std::string& hash, bool allows_surge,
                                                 std::int32_t min_ready_seconds, WallTime now);

// ControllerRevisionName: the owner's name (cut to 223 characters) and the hash.
std::string controller_revision_name(const std::string& owner, const std::string& hash);
// The revision's data: a patch that replaces spec.template ({"spec":{"template":{…,"$patch":"replace"}}}).
std::string daemonset_revision_data(const api::DaemonSet& ds);

}  // namespace switchyard::controllers
