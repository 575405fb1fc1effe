// What the scheduler reads of a Pod, parsed once when the Pod enters the queue or the cache
// (upstream's PodInfo): resource requests as NodeResourcesFit counts them, tolerations, node
// and pod (anti-)affinity, topology spread constraints and host ports. The typed api::Pod keeps
// these fields as passthrough JSON; a field the scheduler cannot parse is an error for that pod.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/api/types.h"
#include "orchestrator/base/error.h"

namespace switchyard::scheduler {

// A resource.Quantity ("500m", "1.5Gi", "2e3") as an integer: in thousandths when `milli`
// (CPU), else in units, rounded up as Quantity.Value/MilliValue do.
std::optional<std::int64_t> parse_quantity(std::string_view text, bool milli);

struct Resources {
  std::int64_t milli_cpu = 0, memory = 0, ephemeral_storage = 0, pods = 0;
  std::map<std::string, std::int64_t> scalar;  // extended resources (example.com/gpu), hugepages
  void add(const Resources& o);
  void subtract(const Resources& o);
  void set_max(const Resources& o);  // each resource the larger of the two
  bool operator==(const Resources&) const = default;
};

// Node allocatable from its status.allocatable map.
Resources parse_allocatable(const api::StringMap& allocatable);

struct LabelSelectorRequirement {
  std::string key, op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
};

struct LabelSelector {
  api::StringMap match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool matches(const api::StringMap& labels) const;
};

struct NodeSelectorRequirement {
  std::string key, op;  // In, NotIn, Exists, DoesNotExist, Gt, Lt
  std::vector<std::string> values;
};

struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> match_expressions, match_fields;
  bool matches(const api::Node& node) const;  // an empty term matches nothing
};

struct PreferredSchedulingTerm {
  std::int32_t weight = 0;
  NodeSelectorTerm preference;
};

struct Toleration {
  std::string key, op, value, effect;  // op: Equal (default) or Exists
  bool tolerates(const api::Taint& taint) const;
};

struct PodAffinityTerm {
  LabelSelector selector;
  bool has_selector = false;            // a term without a labelSelector matches no pod
  std::vector<std::string> namespaces;  // empty and no namespaceSelector: the pod's own
  std::optional<LabelSelector> namespace_selector;
  std::string topology_key;
};

struct WeightedPodAffinityTerm {
  std::int32_t weight = 0;
  PodAffinityTerm term;
};

struct TopologySpreadConstraint {
  std::int32_t max_skew = 1;
  std::string topology_key, when_unsatisfiable;  // DoNotSchedule | ScheduleAnyway
  LabelSelector selector;
  bool has_selector = false;
  std::int32_t min_domains = 1;
  bool honor_node_affinity = true, honor_taints = false;  // nodeAffinityPolicy / nodeTaintsPolicy
};

struct HostPort {
  std::string ip, protocol;
  std::int32_t port = 0;
};

struct PodInfo {
  std::shared_ptr<const api::Pod> pod;
  std::string key;              // namespace/name
  Resources requests;           // what NodeResourcesFit counts (pods = 1)
  Resources non_zero_requests;  // with 100m CPU / 200 MiB for containers that request none (scoring)
  std::vector<Toleration> tolerations;
  std::optional<std::vector<NodeSelectorTerm>> required_node_affinity;
  std::vector<PreferredSchedulingTerm> preferred_node_affinity;
  std::vector<PodAffinityTerm> required_affinity, required_anti_affinity;
  std::vector<WeightedPodAffinityTerm> preferred_affinity, preferred_anti_affinity;
  std::vector<TopologySpreadConstraint> spread;
  std::vector<HostPort> host_ports;
  std::string scheduler_name;
  std::int32_t priority = 0;
  std::string preemption_policy;

  const std::string& ns() const { return pod->metadata.namespace_; }
  const std::string& name() const { return pod->metadata.name; }
  const api::StringMap& labels() const { return pod->metadata.labels; }
  bool has_pod_affinity() const {
    return !required_affinity.empty() || !required_anti_affinity.empty() || !preferred_affinity.empty() || !preferred_anti_affinity.empty();
  }
};

using PodInfoPtr = std::shared_ptr<const PodInfo>;

Result<PodInfoPtr> make_pod_info(std::shared_ptr<const api::Pod> pod);

// Whether a pod affinity term selects `other` given the namespace labels of `other`'s namespace
// (namespaceSelector); `owner_ns` is the namespace of the pod that carries the term.
bool term_matches_pod(const PodAffinityTerm& term, const std::string& owner_ns, const PodInfo& other,
                      const api::StringMap* other_namespace_labels);

}  // namespace switchyard::scheduler
