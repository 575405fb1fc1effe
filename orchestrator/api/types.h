// The Kubernetes objects Switchyard serves and consumes, as plain values.
// Field names follow the v1 wire format; std::optional marks Go pointer fields (absent != zero).
// Fields that Kubernetes defines but Switchyard does not interpret (a Pod's probes, say) are kept
// verbatim in `passthrough` so that nothing a user wrote is lost on a round trip.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace switchyard::api {

using StringMap = std::map<std::string, std::string>;
// field name -> compact JSON text of a field Switchyard keeps but does not interpret
using Passthrough = std::map<std::string, std::string>;

// intstr.IntOrString: a port number or a port name.
struct IntOrString {
  bool is_string = false;
  std::int32_t int_value = 0;
  std::string string_value;

  static IntOrString of(std::int32_t v) { return {false, v, {}}; }
  static IntOrString of(std::string s) { return {true, 0, std::move(s)}; }
  bool is_zero() const { return !is_string && int_value == 0; }
  bool operator==(const IntOrString&) const = default;
};

struct OwnerReference {
  std::string api_version, kind, name, uid;
  std::optional<bool> controller, block_owner_deletion;
  bool operator==(const OwnerReference&) const = default;
};

struct ObjectMeta {
  std::string name, generate_name, namespace_, uid, resource_version;
  std::int64_t generation = 0;
  std::string creation_timestamp;                 // RFC 3339, empty when unset
  std::optional<std::string> deletion_timestamp;  // RFC 3339
  std::optional<std::int64_t> deletion_grace_period_seconds;
  StringMap labels, annotations;
  std::vector<OwnerReference> owner_references;
  std::vector<std::string> finalizers;
  std::string managed_fields_json;  // server-side apply bookkeeping, verbatim
  bool operator==(const ObjectMeta&) const = default;
};

struct ObjectReference {
  std::string kind, namespace_, name, uid, api_version, resource_version, field_path;
  bool operator==(const ObjectReference&) const = default;
};

// ---- Namespace ---------------------------------------------------------------------------
struct Namespace {
  static constexpr const char* kKind = "Namespace";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = false;
  ObjectMeta metadata;
  std::vector<std::string> spec_finalizers;
  std::string status_phase;        // Active | Terminating
  Passthrough status_passthrough;  // conditions (the namespace controller's NamespaceDeletion*)
  bool operator==(const Namespace&) const = default;
};

// ---- Pod ---------------------------------------------------------------------------------
struct ContainerPort {
  std::string name;
  std::int32_t host_port = 0;
  std::int32_t container_port = 0;
  std::string protocol;
  std::string host_ip;
  bool operator==(const ContainerPort&) const = default;
};

struct Container {
  std::string name, image, image_pull_policy, working_dir;
  std::vector<std::string> command, args;
  std::vector<ContainerPort> ports;
  Passthrough passthrough;  // env, resources, probes, volumeMounts, securityContext, ...
  bool operator==(const Container&) const = default;
};

struct PodCondition {
  std::string type, status, last_probe_time, last_transition_time, reason, message;
  bool operator==(const PodCondition&) const = default;
};

struct PodSpec {
  std::vector<Container> init_containers, containers;
  std::string node_name, hostname, subdomain, restart_policy, dns_policy, service_account_name;
  bool host_network = false;
  std::optional<std::int64_t> termination_grace_period_seconds;
  StringMap node_selector;
  Passthrough passthrough;  // volumes, tolerations, affinity, securityContext, dnsConfig, ...
  bool operator==(const PodSpec&) const = default;
};

struct PodStatus {
  std::string phase, host_ip, pod_ip, start_time, reason, message;
  std::vector<std::string> host_ips, pod_ips;  // [{ip: ...}] on the wire
  std::vector<PodCondition> conditions;
  Passthrough passthrough;  // containerStatuses, qosClass, ...
  bool operator==(const PodStatus&) const = default;
};

struct Pod {
  static constexpr const char* kKind = "Pod";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  PodSpec spec;
  PodStatus status;
  bool operator==(const Pod&) const = default;
};

// ---- Service -----------------------------------------------------------------------------
struct ServicePort {
  std::string name, protocol;
  std::optional<std::string> app_protocol;
  std::int32_t port = 0;
  IntOrString target_port;
  std::int32_t node_port = 0;
  bool operator==(const ServicePort&) const = default;
};

struct LoadBalancerIngress {
  std::string ip, hostname;
  std::optional<std::string> ip_mode;
  Passthrough passthrough;  // ports
  bool operator==(const LoadBalancerIngress&) const = default;
};

struct ServiceSpec {
  std::vector<ServicePort> ports;
  StringMap selector;
  std::string cluster_ip;
  std::vector<std::string> cluster_ips;
  std::string type;
  std::vector<std::string> external_ips;
  std::string session_affinity;
  std::string load_balancer_ip;
  std::vector<std::string> load_balancer_source_ranges;
  std::string external_name;
  std::string external_traffic_policy;
  std::int32_t health_check_node_port = 0;
  bool publish_not_ready_addresses = false;
  std::optional<std::int32_t> session_affinity_timeout_seconds;  // sessionAffinityConfig.clientIP.timeoutSeconds
  std::vector<std::string> ip_families;
  std::optional<std::string> ip_family_policy;
  std::optional<bool> allocate_load_balancer_node_ports;
  std::optional<std::string> load_balancer_class;
  std::optional<std::string> internal_traffic_policy;
  std::optional<std::string> traffic_distribution;
  bool operator==(const ServiceSpec&) const = default;
};

struct Service {
  static constexpr const char* kKind = "Service";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  ServiceSpec spec;
  std::vector<LoadBalancerIngress> status_load_balancer_ingress;
  Passthrough status_passthrough;  // conditions
  bool operator==(const Service&) const = default;
};

// ---- Endpoints (core/v1) -----------------------------------------------------------------
struct EndpointAddress {
  std::string ip, hostname;
  std::optional<std::string> node_name;
  std::optional<ObjectReference> target_ref;
  bool operator==(const EndpointAddress&) const = default;
};

struct EndpointPort {
  std::string name;
  std::int32_t port = 0;
  std::string protocol;
  std::optional<std::string> app_protocol;
  bool operator==(const EndpointPort&) const = default;
};

struct EndpointSubset {
  std::vector<EndpointAddress> addresses, not_ready_addresses;
  std::vector<EndpointPort> ports;
  bool operator==(const EndpointSubset&) const = default;
};

struct Endpoints {
  static constexpr const char* kKind = "Endpoints";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  std::vector<EndpointSubset> subsets;
  bool operator==(const Endpoints&) const = default;
};

// ---- EndpointSlice (discovery.k8s.io/v1) -------------------------------------------------
struct EndpointConditions {
  std::optional<bool> ready, serving, terminating;
  bool operator==(const EndpointConditions&) const = default;
};

struct EndpointHints {
  std::vector<std::string> for_zones, for_nodes;  // [{name: ...}] on the wire
  bool operator==(const EndpointHints&) const = default;
};

struct SliceEndpoint {
  std::vector<std::string> addresses;
  EndpointConditions conditions;
  std::optional<std::string> hostname, node_name, zone;
  std::optional<ObjectReference> target_ref;
  std::optional<EndpointHints> hints;
  StringMap deprecated_topology;
  bool operator==(const SliceEndpoint&) const = default;
};

struct SlicePort {
  std::optional<std::string> name, protocol, app_protocol;
  std::optional<std::int32_t> port;
  bool operator==(const SlicePort&) const = default;
};

struct EndpointSlice {
  static constexpr const char* kKind = "EndpointSlice";
  static constexpr const char* kApiVersion = "discovery.k8s.io/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  std::string address_type;  // IPv4 | IPv6 | FQDN
  std::vector<SliceEndpoint> endpoints;
  std::vector<SlicePort> ports;
  bool operator==(const EndpointSlice&) const = default;
};

// ---- Node --------------------------------------------------------------------------------
struct Taint {
  std::string key, value, effect, time_added;
  bool operator==(const Taint&) const = default;
};

struct NodeAddress {
  std::string type, address;
  bool operator==(const NodeAddress&) const = default;
};

struct NodeCondition {
  std::string type, status, last_heartbeat_time, last_transition_time, reason, message;
  bool operator==(const NodeCondition&) const = default;
};

struct Node {
  static constexpr const char* kKind = "Node";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = false;
  ObjectMeta metadata;
  std::string pod_cidr, provider_id;
  std::vector<std::string> pod_cidrs;
  bool unschedulable = false;
  std::vector<Taint> taints;
  Passthrough spec_passthrough;  // configSource, externalID
  std::vector<NodeAddress> addresses;
  std::vector<NodeCondition> conditions;
  StringMap capacity, allocatable;
  Passthrough status_passthrough;  // nodeInfo, daemonEndpoints, images, ...
  bool operator==(const Node&) const = default;
};

// ---- Lease (coordination.k8s.io/v1) -------------------------------------------------------
// Node heartbeats (kube-node-lease) and leader election. The times are MicroTime: RFC 3339
// with microseconds ("2026-12-07T01:02:03.000004Z").
struct Lease {
  static constexpr const char* kKind = "Lease";
  static constexpr const char* kApiVersion = "coordination.k8s.io/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  std::optional<std::string> holder_identity;
  std::optional<std::int32_t> lease_duration_seconds;
  std::optional<std::string> acquire_time, renew_time;
  std::optional<std::int32_t> lease_transitions;
  Passthrough spec_passthrough;  // strategy, preferredHolder
  bool operator==(const Lease&) const = default;
};

// ---- Event (core/v1) ---------------------------------------------------------------------
// What happened to an object (a kubelet's "Pulled", "Started", "Killing"), kept for an hour.
struct Event {
  static constexpr const char* kKind = "Event";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  ObjectReference involved_object;
  std::string reason, message, type;  // type: Normal | Warning
  std::int32_t count = 0;
  std::string first_timestamp, last_timestamp;  // RFC 3339
  Passthrough passthrough;                      // source, eventTime, series, action, related, reportingComponent, reportingInstance
  bool operator==(const Event&) const = default;
};

// ---- apps/v1: ReplicaSet, Deployment, DaemonSet, ControllerRevision ---------------------
// metav1.LabelSelector as written (selectors.h turns it into a matcher).
struct LabelSelectorRequirement {
  std::string key, operator_;
  std::vector<std::string> values;
  bool operator==(const LabelSelectorRequirement&) const = default;
};

struct LabelSelectorSpec {
  StringMap match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool operator==(const LabelSelectorSpec&) const = default;
};

struct PodTemplateSpec {
  ObjectMeta metadata;
  PodSpec spec;
  bool operator==(const PodTemplateSpec&) const = default;
};

// ReplicaSetCondition and DeploymentCondition (the latter also has lastUpdateTime).
struct WorkloadCondition {
  std::string type, status, last_update_time, last_transition_time, reason, message;
  bool operator==(const WorkloadCondition&) const = default;
};

struct ReplicaSetStatus {
  std::int32_t replicas = 0, fully_labeled_replicas = 0, ready_replicas = 0, available_replicas = 0;
  std::optional<std::int32_t> terminating_replicas;
  std::int64_t observed_generation = 0;
  std::vector<WorkloadCondition> conditions;
  bool operator==(const ReplicaSetStatus&) const = default;
};

struct ReplicaSet {
  static constexpr const char* kKind = "ReplicaSet";
  static constexpr const char* kApiVersion = "apps/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  std::optional<std::int32_t> replicas;
  std::int32_t min_ready_seconds = 0;
  std::optional<LabelSelectorSpec> selector;
  PodTemplateSpec template_;
  ReplicaSetStatus status;
  bool operator==(const ReplicaSet&) const = default;
};

struct RollingUpdateDeployment {
  std::optional<IntOrString> max_unavailable, max_surge;
  bool operator==(const RollingUpdateDeployment&) const = default;
};

struct DeploymentStrategy {
  std::string type;  // RollingUpdate | Recreate
  std::optional<RollingUpdateDeployment> rolling_update;
  bool operator==(const DeploymentStrategy&) const = default;
};

struct DeploymentStatus {
  std::int64_t observed_generation = 0;
  std::int32_t replicas = 0, updated_replicas = 0, ready_replicas = 0, available_replicas = 0, unavailable_replicas = 0;
  std::optional<std::int32_t> terminating_replicas, collision_count;
  std::vector<WorkloadCondition> conditions;
  bool operator==(const DeploymentStatus&) const = default;
};

struct Deployment {
  static constexpr const char* kKind = "Deployment";
  static constexpr const char* kApiVersion = "apps/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  std::optional<std::int32_t> replicas;
  std::optional<LabelSelectorSpec> selector;
  PodTemplateSpec template_;
  DeploymentStrategy strategy;
  std::int32_t min_ready_seconds = 0;
  std::optional<std::int32_t> revision_history_limit;
  bool paused = false;
  std::optional<std::int32_t> progress_deadline_seconds;
  DeploymentStatus status;
  bool operator==(const Deployment&) const = default;
};

// DaemonSet: one pod per eligible node.
struct RollingUpdateDaemonSet {
  std::optional<IntOrString> max_unavailable, max_surge;
  bool operator==(const RollingUpdateDaemonSet&) const = default;
};

struct DaemonSetUpdateStrategy {
  std::string type;  // RollingUpdate | OnDelete
  std::optional<RollingUpdateDaemonSet> rolling_update;
  bool operator==(const DaemonSetUpdateStrategy&) const = default;
};

struct DaemonSetStatus {
  std::int32_t current_number_scheduled = 0, number_misscheduled = 0, desired_number_scheduled = 0, number_ready = 0;
  std::int64_t observed_generation = 0;
  std::int32_t updated_number_scheduled = 0, number_available = 0, number_unavailable = 0;
  std::optional<std::int32_t> collision_count;
  std::vector<WorkloadCondition> conditions;  // DaemonSetCondition: no lastUpdateTime
  bool operator==(const DaemonSetStatus&) const = default;
};

struct DaemonSet {
  static constexpr const char* kKind = "DaemonSet";
  static constexpr const char* kApiVersion = "apps/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  std::optional<LabelSelectorSpec> selector;
  PodTemplateSpec template_;
  DaemonSetUpdateStrategy update_strategy;
  std::int32_t min_ready_seconds = 0;
  std::optional<std::int32_t> revision_history_limit;
  DaemonSetStatus status;
  bool operator==(const DaemonSet&) const = default;
};

// The history DaemonSets and StatefulSets keep (the DaemonSet controller writes and reads them).
struct ControllerRevision {
  static constexpr const char* kKind = "ControllerRevision";
  static constexpr const char* kApiVersion = "apps/v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  std::string data_json;  // runtime.RawExtension, verbatim
  std::int64_t revision = 0;
  bool operator==(const ControllerRevision&) const = default;
};

}  // namespace switchyard::api

#include "orchestrator/api/rbac_types.h"         // NOLINT: needs ObjectMeta and Passthrough
#include "orchestrator/api/config_types.h"       // NOLINT: needs ObjectMeta and Passthrough
#include "orchestrator/api/policy_types.h"       // NOLINT: needs ObjectMeta and Passthrough
#include "orchestrator/api/batch_types.h"        // NOLINT: needs PodTemplateSpec and LabelSelectorSpec
#include "orchestrator/api/statefulset_types.h"  // NOLINT: needs PodTemplateSpec and WorkloadCondition
#include "orchestrator/api/storage_types.h"      // NOLINT: needs ObjectMeta and Passthrough

namespace switchyard::api {

// Any object Switchyard knows, as decoded from a manifest or a request body.
using Object =
    std::variant<Namespace, Pod, Service, Endpoints, EndpointSlice, Node, Lease, Event, ReplicaSet, Deployment, DaemonSet,
                 ControllerRevision, Role, ClusterRole, RoleBinding, ClusterRoleBinding, ConfigMap, Secret, ServiceAccount, PriorityClass,
                 PodDisruptionBudget, Job, CronJob, StatefulSet, PersistentVolume, PersistentVolumeClaim, StorageClass>;

ObjectMeta& meta_of(Object& o);
const ObjectMeta& meta_of(const Object& o);
const char* kind_of(const Object& o);
const char* api_version_of(const Object& o);
bool is_namespaced(const Object& o);

}  // namespace switchyard::api
