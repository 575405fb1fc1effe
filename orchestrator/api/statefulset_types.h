// apps/v1 StatefulSet. volumeClaimTemplates stay JSON text in spec.passthrough (the storage kinds
// come later in types.h); statefulset_claims.h reads and writes them as PersistentVolumeClaims.
// Included by types.h after the apps/v1 kinds (it needs LabelSelectorSpec and PodTemplateSpec).
#pragma once

namespace switchyard::api {

// Labels the StatefulSet controller puts on each pod (pkg/apis/apps/v1 types.go).
inline constexpr const char* kStatefulSetPodNameLabel = "statefulset.kubernetes.io/pod-name";
inline constexpr const char* kPodIndexLabel = "apps.kubernetes.io/pod-index";
inline constexpr const char* kControllerRevisionHashLabel = "controller-revision-hash";

struct RollingUpdateStatefulSetStrategy {
  std::optional<std::int32_t> partition;
  std::optional<IntOrString> max_unavailable;
  bool operator==(const RollingUpdateStatefulSetStrategy&) const = default;
};

struct StatefulSetUpdateStrategy {
  std::string type;  // RollingUpdate | OnDelete
  std::optional<RollingUpdateStatefulSetStrategy> rolling_update;
  bool operator==(const StatefulSetUpdateStrategy&) const = default;
};

struct StatefulSetPersistentVolumeClaimRetentionPolicy {
  std::string when_deleted, when_scaled;  // Retain | Delete
  bool operator==(const StatefulSetPersistentVolumeClaimRetentionPolicy&) const = default;
};

struct StatefulSetOrdinals {
  std::int32_t start = 0;
  bool operator==(const StatefulSetOrdinals&) const = default;
};

struct StatefulSetSpec {
  std::optional<std::int32_t> replicas;
  std::optional<LabelSelectorSpec> selector;
  PodTemplateSpec template_;
  std::string service_name;
  std::string pod_management_policy;  // OrderedReady | Parallel
  StatefulSetUpdateStrategy update_strategy;
  std::optional<std::int32_t> revision_history_limit;
  std::int32_t min_ready_seconds = 0;
  std::optional<StatefulSetPersistentVolumeClaimRetentionPolicy> persistent_volume_claim_retention_policy;
  std::optional<StatefulSetOrdinals> ordinals;
  Passthrough passthrough;  // volumeClaimTemplates
  bool operator==(const StatefulSetSpec&) const = default;
};

// StatefulSetCondition has no lastUpdateTime; WorkloadCondition's stays empty.
struct StatefulSetStatus {
  std::int64_t observed_generation = 0;
  std::int32_t replicas = 0, ready_replicas = 0, current_replicas = 0, updated_replicas = 0, available_replicas = 0;
  std::string current_revision, update_revision;
  std::optional<std::int32_t> collision_count;
  std::vector<WorkloadCondition> conditions;
  bool operator==(const StatefulSetStatus&) const = default;
};

struct StatefulSet {
  static constexpr const char* kKind = "StatefulSet";
  static constexpr const char* kApiVersion = "apps/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  StatefulSetSpec spec;
  StatefulSetStatus status;
  bool operator==(const StatefulSet&) const = default;
};

}  // namespace switchyard::api
