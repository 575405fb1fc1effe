// The default profile's filters, following upstream's plugins in behaviour and reason text.
#include "orchestrator/scheduler/filters.h"

#include <algorithm>
#include <climits>

#include <fmt/format.h>

namespace switchyard::scheduler {

namespace {

bool tolerated(const std::vector<Toleration>& tolerations, const api::Taint& taint) {
  return std::any_of(tolerations.begin(), tolerations.end(), [&](const Toleration& t) { return t.tolerates(taint); });
}

const std::string* label(const api::StringMap& labels, const std::string& key) {
  auto it = labels.find(key);
  return it == labels.end() ? nullptr : &it->second;
}

bool terminating(const PodInfo& p) { return p.pod->metadata.deletion_timestamp.has_value(); }

}  // namespace

FilterResult filter_node_unschedulable(const PodInfo& pod, const NodeInfo& node) {
  if (!node.unschedulable) return FilterResult::success();
  // A pod tolerating the unschedulable taint may go to a cordoned node (DaemonSets do).
  const api::Taint taint{"node.kubernetes.io/unschedulable", "", "NoSchedule", ""};
  if (tolerated(pod.tolerations, taint)) return FilterResult::success();
  return FilterResult::fail(FilterCode::UnschedulableAndUnresolvable, reasons::kUnschedulable);
}

FilterResult filter_node_name(const PodInfo& pod, const NodeInfo& node) {
  if (pod.pod->spec.node_name.empty() || pod.pod->spec.node_name == node.name()) return FilterResult::success();
  return FilterResult::fail(FilterCode::UnschedulableAndUnresolvable, reasons::kNodeName);
}

FilterResult filter_taint_toleration(const PodInfo& pod, const NodeInfo& node) {
  if (!node.tainted) return FilterResult::success();
  for (const auto& taint : node.node->taints) {
    if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
    if (!tolerated(pod.tolerations, taint))
      return FilterResult::fail(FilterCode::UnschedulableAndUnresolvable,
                                fmt::format("node(s) had untolerated taint {{{}: {}}}", taint.key, taint.value));
  }
  return FilterResult::success();
}

bool node_matches_pod_affinity_selector(const PodInfo& pod, const api::Node& node) {
  for (const auto& [k, v] : pod.pod->spec.node_selector) {
    const std::string* have = label(node.metadata.labels, k);
    if (!have || *have != v) return false;
  }
  if (pod.required_node_affinity) {
    const auto& terms = *pod.required_node_affinity;
    if (!std::any_of(terms.begin(), terms.end(), [&](const NodeSelectorTerm& t) { return t.matches(node); })) return false;
  }
  return true;
}

FilterResult filter_node_affinity(const PodInfo& pod, const NodeInfo& node) {
  if (node_matches_pod_affinity_selector(pod, *node.node)) return FilterResult::success();
  return FilterResult::fail(FilterCode::UnschedulableAndUnresolvable, reasons::kNodeAffinity);
}

FilterResult filter_node_ports(const PodInfo& pod, const NodeInfo& node) {
  for (const auto& p : pod.host_ports)
    if (node.port_in_use(p)) return FilterResult::fail(FilterCode::Unschedulable, reasons::kNodePorts);
  return FilterResult::success();
}

FilterResult filter_node_resources_fit(const PodInfo& pod, const NodeInfo& node) {
  FilterResult r;
  const Resources& want = pod.requests;
  const Resources& have = node.allocatable;
  const Resources& used = node.requested;
  // Upstream's order: pods, then cpu, memory, ephemeral storage, then scalar resources.
  if (static_cast<std::int64_t>(node.pods.size()) + 1 > have.pods) r.reasons.push_back(reasons::kTooManyPods);
  if (want.milli_cpu > 0 && want.milli_cpu > have.milli_cpu - used.milli_cpu) r.reasons.push_back("Insufficient cpu");
  if (want.memory > 0 && want.memory > have.memory - used.memory) r.reasons.push_back("Insufficient memory");
  if (want.ephemeral_storage > 0 && want.ephemeral_storage > have.ephemeral_storage - used.ephemeral_storage)
    r.reasons.push_back("Insufficient ephemeral-storage");
  for (const auto& [name, quantity] : want.scalar) {
    if (quantity == 0) continue;
    auto a = have.scalar.find(name);
    auto u = used.scalar.find(name);
    const std::int64_t free = (a == have.scalar.end() ? 0 : a->second) - (u == used.scalar.end() ? 0 : u->second);
    if (quantity > free) r.reasons.push_back("Insufficient " + name);
  }
  if (!r.reasons.empty()) r.code = FilterCode::Unschedulable;
  return r;
}

// ---- InterPodAffinity -------------------------------------------------------------------------

namespace {

const api::StringMap* labels_of_namespace(const InterPodAffinityState& s, const std::string& ns) {
  auto it = s.namespace_labels.find(ns);
  return it == s.namespace_labels.end() ? nullptr : &it->second;
}

// What `existing` on `n` adds to (delta 1) or takes from (delta -1) the pod's counts.
void count_inter_pod_affinity(InterPodAffinityState& s, const PodInfo& pod, const PodInfo& existing, const NodeInfo& n, int delta) {
  const bool own_terms = !pod.required_affinity.empty() || !pod.required_anti_affinity.empty();
  // Existing pods' required anti-affinity against the incoming pod.
  for (const auto& t : existing.required_anti_affinity)
    if (term_matches_pod(t, existing.ns(), pod, labels_of_namespace(s, pod.ns())))
      if (const std::string* v = label(n.labels(), t.topology_key)) s.existing_anti_affinity[{t.topology_key, *v}] += delta;
  if (!own_terms) return;
  const api::StringMap* ens = labels_of_namespace(s, existing.ns());
  if (!pod.required_affinity.empty() && std::all_of(pod.required_affinity.begin(), pod.required_affinity.end(),
                                                    [&](const PodAffinityTerm& t) { return term_matches_pod(t, pod.ns(), existing, ens); }))
    for (const auto& t : pod.required_affinity)
      if (const std::string* v = label(n.labels(), t.topology_key)) s.affinity[{t.topology_key, *v}] += delta;
  for (const auto& t : pod.required_anti_affinity)
    if (term_matches_pod(t, pod.ns(), existing, ens))
      if (const std::string* v = label(n.labels(), t.topology_key)) s.anti_affinity[{t.topology_key, *v}] += delta;
}

}  // namespace

InterPodAffinityState prefilter_inter_pod_affinity(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                                                   const std::map<std::string, api::StringMap>& namespace_labels) {
  InterPodAffinityState s;
  const bool own_terms = !pod.required_affinity.empty() || !pod.required_anti_affinity.empty();
  s.namespace_labels = namespace_labels;
  for (const NodeInfo* n : nodes) {
    if (!n->node) continue;
    if (!own_terms && n->pods_with_affinity == 0) continue;
    for (const auto& existing : n->pods)
      if (!terminating(*existing)) count_inter_pod_affinity(s, pod, *existing, *n, 1);
  }
  s.self_affinity = !pod.required_affinity.empty() &&
                    std::all_of(pod.required_affinity.begin(), pod.required_affinity.end(), [&](const PodAffinityTerm& t) {
                      return term_matches_pod(t, pod.ns(), pod, labels_of_namespace(s, pod.ns()));
                    });
  s.active = own_terms || !s.existing_anti_affinity.empty();
  return s;
}

void update_inter_pod_affinity(InterPodAffinityState& s, const PodInfo& pod, const PodInfo& other, const NodeInfo& node, int delta) {
  if (!node.node || terminating(other)) return;
  count_inter_pod_affinity(s, pod, other, node, delta);
  s.active = s.active || !s.existing_anti_affinity.empty();
}

FilterResult filter_inter_pod_affinity(const PodInfo& pod, const NodeInfo& node, const InterPodAffinityState& s) {
  if (!s.active) return FilterResult::success();
  for (const auto& [k, v] : node.labels())
    if (auto it = s.existing_anti_affinity.find({k, v}); it != s.existing_anti_affinity.end() && it->second > 0)
      return FilterResult::fail(FilterCode::Unschedulable, reasons::kExistingAntiAffinity);
  for (const auto& t : pod.required_anti_affinity)
    if (const std::string* v = label(node.labels(), t.topology_key))
      if (auto it = s.anti_affinity.find({t.topology_key, *v}); it != s.anti_affinity.end() && it->second > 0)
        return FilterResult::fail(FilterCode::Unschedulable, reasons::kAntiAffinity);
  if (!pod.required_affinity.empty()) {
    bool pods_exist = true;
    for (const auto& t : pod.required_affinity) {
      const std::string* v = label(node.labels(), t.topology_key);
      if (!v) return FilterResult::fail(FilterCode::UnschedulableAndUnresolvable, reasons::kAffinity);
      auto it = s.affinity.find({t.topology_key, *v});
      if (it == s.affinity.end() || it->second <= 0) pods_exist = false;
    }
    if (!pods_exist) {
      // The first pod of a group that selects itself may go anywhere its terms' keys exist.
      const bool none_anywhere = std::all_of(s.affinity.begin(), s.affinity.end(), [](const auto& pair) { return pair.second <= 0; });
      if (!(none_anywhere && s.self_affinity)) return FilterResult::fail(FilterCode::UnschedulableAndUnresolvable, reasons::kAffinity);
    }
  }
  return FilterResult::success();
}

// ---- PodTopologySpread ------------------------------------------------------------------------

TopologySpreadState prefilter_topology_spread(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes, bool hard) {
  TopologySpreadState s;
  for (const auto& c : pod.spread)
    if ((c.when_unsatisfiable == "DoNotSchedule") == hard)
      s.constraints.push_back({&c, {}, 0, c.has_selector && c.selector.matches(pod.labels())});
  if (s.constraints.empty()) return s;
  for (const NodeInfo* n : nodes) {
    if (!n->node) continue;
    // Every constraint's key must be on the node for it to count as a domain.
    bool all_keys = true;
    for (const auto& c : s.constraints) all_keys = all_keys && label(n->labels(), c.c->topology_key);
    if (!all_keys) continue;
    for (auto& c : s.constraints) {
      if (c.c->honor_node_affinity && !node_matches_pod_affinity_selector(pod, *n->node)) continue;
      if (c.c->honor_taints && std::any_of(n->node->taints.begin(), n->node->taints.end(), [&](const api::Taint& t) {
            return (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerated(pod.tolerations, t);
          }))
        continue;
      int matching = 0;
      if (c.c->has_selector)
        for (const auto& p : n->pods)
          if (p->ns() == pod.ns() && !terminating(*p) && c.c->selector.matches(p->labels())) ++matching;
      c.counts[*label(n->labels(), c.c->topology_key)] += matching;
    }
  }
  for (auto& c : s.constraints) {
    int min = c.counts.empty() ? 0 : INT_MAX;
    for (const auto& [v, n] : c.counts) min = std::min(min, n);
    if (static_cast<int>(c.counts.size()) < c.c->min_domains) min = 0;  // fewer domains than minDomains: the global minimum is 0
    c.min_match = min;
  }
  return s;
}

void update_topology_spread(TopologySpreadState& s, const PodInfo& pod, const PodInfo& other, const NodeInfo& n, int delta) {
  if (s.constraints.empty() || !n.node || other.ns() != pod.ns() || terminating(other)) return;
  for (const auto& c : s.constraints)
    if (!label(n.labels(), c.c->topology_key)) return;  // not a domain (as the PreFilter counts)
  for (auto& c : s.constraints) {
    if (!c.c->has_selector || !c.c->selector.matches(other.labels())) continue;
    if (c.c->honor_node_affinity && !node_matches_pod_affinity_selector(pod, *n.node)) continue;
    if (c.c->honor_taints && std::any_of(n.node->taints.begin(), n.node->taints.end(), [&](const api::Taint& t) {
          return (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerated(pod.tolerations, t);
        }))
      continue;
    c.counts[*label(n.labels(), c.c->topology_key)] += delta;
    int min = c.counts.empty() ? 0 : INT_MAX;
    for (const auto& [v, count] : c.counts) min = std::min(min, count);
    if (static_cast<int>(c.counts.size()) < c.c->min_domains) min = 0;
    c.min_match = min;
  }
}

FilterResult filter_topology_spread(const PodInfo&, const NodeInfo& node, const TopologySpreadState& s) {
  for (const auto& c : s.constraints) {
    const std::string* v = label(node.labels(), c.c->topology_key);
    if (!v) return FilterResult::fail(FilterCode::UnschedulableAndUnresolvable, reasons::kSpreadMissingLabel);
    auto it = c.counts.find(*v);
    const int matching = it == c.counts.end() ? 0 : it->second;
    if (matching + (c.self_match ? 1 : 0) - c.min_match > c.c->max_skew)
      return FilterResult::fail(FilterCode::Unschedulable, reasons::kSpread);
  }
  return FilterResult::success();
}

}  // namespace switchyard::scheduler
