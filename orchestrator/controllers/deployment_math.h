// The Deployment controller's arithmetic and bookkeeping, as pure functions over the objects
// (pkg/controller/deployment/util): surge and unavailability from percentages (surge rounds up,
// unavailable rounds down), how far the new ReplicaSet may grow, proportional scaling of every
// active ReplicaSet when a rollout is resized, the pod-template-hash, revisions, and the
// Available/Progressing conditions `kubectl rollout status` reads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/api/types.h"
#include "orchestrator/controllers/workload_pods.h"

namespace switchyard::controllers::deployment {

inline constexpr const char* kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr const char* kRevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history";
inline constexpr const char* kDesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";
inline constexpr const char* kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
inline constexpr const char* kPodTemplateHashLabel = "pod-template-hash";

// intstr.GetScaledValueFromIntOrPercent: an integer, or `percent` of `total` rounded up or down.
int scaled_value(const api::IntOrString& v, int total, bool round_up);
// ResolveFenceposts: {maxSurge, maxUnavailable}; both 0 becomes unavailable 1.
std::pair<int, int> resolve_fenceposts(const api::IntOrString& max_surge, const api::IntOrString& max_unavailable, int desired);
int max_surge(const api::Deployment& d);
int max_unavailable(const api::Deployment& d);

int replicas_of(const api::ReplicaSet& rs);
int replicas_of(const api::Deployment& d);
// Sums over ReplicaSets (null entries ignored): spec.replicas, status.replicas, status.availableReplicas.
int spec_replicas(const std::vector<const api::ReplicaSet*>& rss);
int actual_replicas(const std::vector<const api::ReplicaSet*>& rss);
int available_replicas(const std::vector<const api::ReplicaSet*>& rss);
std::vector<const api::ReplicaSet*> active(const std::vector<const api::ReplicaSet*>& rss);  // spec.replicas > 0

// NewRSNewReplicas: what the new ReplicaSet may be scaled to now.
int new_rs_new_replicas(const api::Deployment& d, const std::vector<const api::ReplicaSet*>& all, const api::ReplicaSet& new_rs);

// Proportional scaling (the scale() of sync.go): the size of each active ReplicaSet after the
// Deployment was resized during a rollout, leftovers to the largest. `all` holds the active ones.
std::vector<std::pair<const api::ReplicaSet*, int>> proportional_sizes(const api::Deployment& d, std::vector<const api::ReplicaSet*> all);

// The template without its pod-template-hash label (EqualIgnoreHash compares these).
api::PodTemplateSpec without_hash(api::PodTemplateSpec t);
// A stable hash of the template (and collisionCount), encoded as upstream's rand.SafeEncodeString:
// FNV-1a 32 over the canonical JSON of the template, not upstream's spew-based bytes.
std::string pod_template_hash(const api::PodTemplateSpec& t, std::optional<std::int32_t> collision_count);

std::int64_t revision_of(const api::ObjectMeta& m);  // 0 when unset or bad
std::int64_t max_revision(const std::vector<const api::ReplicaSet*>& rss);

// The Deployment's annotations an owned ReplicaSet carries (not kubectl's last-applied and not
// the controller's own).
bool copied_annotation(const std::string& key);

// Conditions.
const api::WorkloadCondition* find_condition(const std::vector<api::WorkloadCondition>& cs, const std::string& type);
// SetDeploymentCondition: keeps lastTransitionTime when the status does not change.
void set_condition(std::vector<api::WorkloadCondition>& cs, api::WorkloadCondition c);
void remove_condition(std::vector<api::WorkloadCondition>& cs, const std::string& type);
api::WorkloadCondition make_condition(std::string type, std::string status, std::string reason, std::string message, WallTime now);

bool has_progress_deadline(const api::Deployment& d);
bool complete(const api::Deployment& d, const api::DeploymentStatus& s);
bool progressing(const api::Deployment& d, const api::DeploymentStatus& s);
bool timed_out(const api::Deployment& d, const api::DeploymentStatus& s, WallTime now);

// calculateStatus: counts from the ReplicaSets and the Available condition.
api::DeploymentStatus calculate_status(const api::Deployment& d, const std::vector<const api::ReplicaSet*>& all,
                                       const api::ReplicaSet* new_rs, WallTime now);

}  // namespace switchyard::controllers::deployment
