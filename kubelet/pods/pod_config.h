// Pure translation of a Pod (the API object, with the fields our model keeps as passthrough JSON)
// into what CRI runs: the sandbox config (hostname, DNS from dnsPolicy, host network, log
// directory, labels that carry the pod's uid so a restarted kubelet adopts its containers) and
// each container's config (command, env with fieldRef/resourceFieldRef and $(VAR) expansion,
// securityContext, requests/limits as Linux resources, the CRI log path). No runtime needed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kubelet/cri/cri_types.h"
#include "kubelet/volumes/volume_types.h"
#include "orchestrator/api/types.h"
#include "orchestrator/base/error.h"

namespace switchyard::kubelet {

// Labels and annotations kubelet puts on what it asks CRI to run (kubelet's names).
inline constexpr const char* kPodUidLabel = "io.kubernetes.pod.uid";
inline constexpr const char* kPodNameLabel = "io.kubernetes.pod.name";
inline constexpr const char* kPodNamespaceLabel = "io.kubernetes.pod.namespace";
inline constexpr const char* kContainerNameLabel = "io.kubernetes.container.name";
inline constexpr const char* kRestartCountAnnotation = "io.kubernetes.container.restartCount";
inline constexpr const char* kContainerHashAnnotation = "io.kubernetes.container.hash";
inline constexpr const char* kTerminationMessageAnnotation = "io.kubernetes.container.terminationMessagePath";
inline constexpr const char* kTerminationPolicyAnnotation = "io.kubernetes.container.terminationMessagePolicy";
inline constexpr const char* kGraceAnnotation = "io.kubernetes.pod.terminationGracePeriod";

struct NodeSettings {
  std::string node_name;
  std::string node_ip;
  std::string cluster_dns;  // the cluster DNS Service's IP; empty: ClusterFirst falls back to Default
  std::string cluster_domain = "cluster.local";
  std::string root_dir;                          // <root>/pods/<ns>_<name>_<uid>/ holds the CRI logs
  std::string resolv_conf = "/etc/resolv.conf";  // dnsPolicy Default
  std::int64_t node_cpu_millis = 0;              // allocatable, for limits that are not set
  std::int64_t node_memory_bytes = 0;
};

// A field of a passthrough map as JSON (null when absent or unparsable).
nlohmann::json passthrough_field(const api::Passthrough& passthrough, const std::string& field);

// Kubernetes quantities: "250m" → 250 millicores, "1" → 1000; "64Mi" → 67108864 bytes, "1G" → 1e9.
std::optional<std::int64_t> parse_cpu_millis(const std::string& quantity);
std::optional<std::int64_t> parse_bytes(const std::string& quantity);

// "Guaranteed", "Burstable" or "BestEffort", by the API's rules.
std::string qos_class(const api::Pod& pod);

std::string pod_log_directory(const api::Pod& pod, const NodeSettings& node);
std::string pod_full_name(const api::Pod& pod);  // "name_namespace", as kubelet names pods in messages

// The sandbox config; DNS from dnsPolicy/dnsConfig.
Result<cri::PodSandboxConfig> make_sandbox_config(const api::Pod& pod, const NodeSettings& node, std::uint32_t attempt);
// The resolver settings a pod gets.
Result<std::optional<cri::DnsConfig>> pod_dns_config(const api::Pod& pod, const NodeSettings& node);

// What a container's config depends on besides the pod: its status-derived field values.
struct RuntimeFacts {
  std::string pod_ip;
  std::vector<std::string> pod_ips;
  // Where env's configMapKeyRef, secretKeyRef and envFrom read (nullptr: no objects at all).
  const ConfigLookup* config = nullptr;
  // The pod's volumes as made ready on the node (pod_volumes.h), for the volumeMounts.
  std::map<std::string, PreparedVolume> volumes;
};

// A fieldRef's value (metadata.name, status.podIP, metadata.labels['k'], ...) for env and the
// downward API; and a resourceFieldRef's for container `container_name` (empty: the first).
Result<std::string> pod_field_value(const api::Pod& pod, const std::string& path, const RuntimeFacts& facts, const NodeSettings& node);
Result<std::string> container_resource_value(const api::Pod& pod, const std::string& container_name, const nlohmann::json& ref,
                                             const NodeSettings& node);

// Errors are Invalid (CreateContainerConfigError in status): a bad env reference, a quantity
// that does not parse, a secret or configMap we cannot read.
Result<cri::ContainerConfig> make_container_config(const api::Pod& pod, const api::Container& container, std::int32_t restart_count,
                                                   const RuntimeFacts& facts, const NodeSettings& node);

// The container's spec hash kubelet keeps in an annotation: a change means "recreate".
std::string container_hash(const api::Container& container);

// The pod's grace period: deletionGracePeriodSeconds, else terminationGracePeriodSeconds, else 30.
std::chrono::seconds termination_grace(const api::Pod& pod);

}  // namespace switchyard::kubelet
