#include "orchestrator/controllers/daemonset_math.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/controllers/node_health.h"

namespace switchyard::controllers {

using nlohmann::json;

namespace {

json passthrough_json(const api::Passthrough& p, const char* field) {
  auto it = p.find(field);
  if (it == p.end()) return json();
  return json::parse(it->second, nullptr, false);
}

// A NodeSelectorRequirement against a node's labels (matchExpressions) or fields (matchFields:
// only metadata.name).
bool requirement_matches(const json& r, const api::StringMap& values) {
  const std::string key = r.value("key", "");
  const std::string op = r.value("operator", "");
  std::vector<std::string> list;
  if (r.contains("values") && r["values"].is_array())
    for (const auto& v : r["values"])
      if (v.is_string()) list.push_back(v.get<std::string>());
  auto it = values.find(key);
  const bool has = it != values.end();
  auto in_list = [&] { return has && std::find(list.begin(), list.end(), it->second) != list.end(); };
  if (op == "In") return in_list();
  if (op == "NotIn") return !in_list();
  if (op == "Exists") return has;
  if (op == "DoesNotExist") return !has;
  if (op == "Gt" || op == "Lt") {
    if (!has || list.size() != 1) return false;
    char* end = nullptr;
    const long long mine = std::strtoll(it->second.c_str(), &end, 10);
    if (*end) return false;
    const long long theirs = std::strtoll(list[0].c_str(), &end, 10);
    if (*end) return false;
    return op == "Gt" ? mine > theirs : mine < theirs;
  }
  return false;
}

bool term_matches(const json& term, const api::Node& node) {
  const json exprs = term.value("matchExpressions", json::array());
  const json fields = term.value("matchFields", json::array());
  if (exprs.empty() && fields.empty()) return false;  // an empty term matches nothing
  for (const auto& e : exprs)
    if (!requirement_matches(e, node.metadata.labels)) return false;
  const api::StringMap node_fields{{"metadata.name", node.metadata.name}};
  for (const auto& f : fields)
    if (!requirement_matches(f, node_fields)) return false;
  return true;
}

// GetRequiredNodeAffinity(pod).Match(node): the nodeSelector and the required terms (ORed).
bool fits_node_affinity(const api::PodSpec& spec, const api::Node& node) {
  for (const auto& [k, v] : spec.node_selector)
    if (auto it = node.metadata.labels.find(k); it == node.metadata.labels.end() || it->second != v) return false;
  const json affinity = passthrough_json(spec.passthrough, "affinity");
  if (!affinity.is_object()) return true;
  const json required =
      affinity.value("nodeAffinity", json::object()).value("requiredDuringSchedulingIgnoredDuringExecution", json::object());
  if (!required.is_object() || !required.contains("nodeSelectorTerms")) return true;
  for (const auto& term : required["nodeSelectorTerms"])
    if (term_matches(term, node)) return true;
  return false;
}

bool tolerated(const std::vector<NoExecuteToleration>& tolerations, const api::Taint& taint) {
  return std::any_of(tolerations.begin(), tolerations.end(), [&](const NoExecuteToleration& t) { return t.tolerates(taint); });
}

}  // namespace

api::PodSpec with_daemon_tolerations(api::PodSpec spec) {
  json list = passthrough_json(spec.passthrough, "tolerations");
  if (!list.is_array()) list = json::array();
  std::vector<std::pair<const char*, const char*>> wanted = {
      {"node.kubernetes.io/not-ready", "NoExecute"},      {"node.kubernetes.io/unreachable", "NoExecute"},
      {"node.kubernetes.io/disk-pressure", "NoSchedule"}, {"node.kubernetes.io/memory-pressure", "NoSchedule"},
      {"node.kubernetes.io/pid-pressure", "NoSchedule"},  {"node.kubernetes.io/unschedulable", "NoSchedule"}};
  if (spec.host_network) wanted.emplace_back("node.kubernetes.io/network-unavailable", "NoSchedule");
  for (const auto& [key, effect] : wanted) {
    const json t = {{"key", key}, {"operator", "Exists"}, {"effect", effect}};
    // AddOrUpdateTolerationInPodSpec: one with the same key, operator, value and effect is
    // replaced in place (dropping a tolerationSeconds), else ours is appended.
    bool found = false;
    for (auto& old : list) {
      if (!old.is_object()) continue;
      if (old.value("key", "") == key && old.value("operator", "Equal") == "Exists" && old.value("value", "").empty() &&
          old.value("effect", "") == effect) {
        old = t;
        found = true;
      }
    }
    if (!found) list.push_back(t);
  }
  spec.passthrough["tolerations"] = list.dump();
  return spec;
}

void pin_to_node(api::PodSpec& spec, const std::string& node) {
  json affinity = passthrough_json(spec.passthrough, "affinity");
  if (!affinity.is_object()) affinity = json::object();
  json& node_affinity = affinity["nodeAffinity"];
  if (!node_affinity.is_object()) node_affinity = json::object();
  // ReplaceDaemonSetPodNodeNameNodeAffinity: the controller already checked the node fits, so
  // the scheduler gets only the one term naming it.
  node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
      {"nodeSelectorTerms",
       json::array({{{"matchFields", json::array({{{"key", "metadata.name"}, {"operator", "In"}, {"values", {node}}}})}}})}};
  spec.passthrough["affinity"] = affinity.dump();
}

std::string target_node_of(const api::Pod& pod) {
  if (!pod.spec.node_name.empty()) return pod.spec.node_name;
  const json affinity = passthrough_json(pod.spec.passthrough, "affinity");
  if (!affinity.is_object()) return "";
  const json required =
      affinity.value("nodeAffinity", json::object()).value("requiredDuringSchedulingIgnoredDuringExecution", json::object());
  for (const auto& term : required.value("nodeSelectorTerms", json::array()))
    for (const auto& f : term.value("matchFields", json::array())) {
      const json values = f.value("values", json::array());
      if (f.value("key", "") == "metadata.name" && f.value("operator", "") == "In" && values.size() == 1 && values[0].is_string())
        return values[0].get<std::string>();
    }
  return "";
}

NodeFit node_should_run_daemon_pod(const api::Node& node, const api::DaemonSet& ds) {
  const auto& tmpl = ds.template_.spec;
  if (!tmpl.node_name.empty() && tmpl.node_name != node.metadata.name) return {};
  if (!fits_node_affinity(tmpl, node)) return {};
  api::Pod pod;
  pod.spec = with_daemon_tolerations(tmpl);
  const auto tolerations = tolerations_of(pod);
  bool fits_taints = true, untolerated_no_execute = false;
  for (const auto& taint : node.taints) {
    if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
    if (tolerated(tolerations, taint)) continue;
    fits_taints = false;
    if (taint.effect == "NoExecute") untolerated_no_execute = true;
  }
  // A pod already running stays unless a NoExecute taint would evict it anyway.
  if (!fits_taints) return {false, !untolerated_no_execute};
  return {true, true};
}

std::optional<int> scaled_value(const api::IntOrString& v, int total) {
  if (!v.is_string) return v.int_value;
  const std::string& s = v.string_value;
  if (s.size() < 2 || s.back() != '%') return std::nullopt;
  char* end = nullptr;
  const long pct = std::strtol(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() - 1) return std::nullopt;
  return static_cast<int>(std::ceil(static_cast<double>(pct) * total / 100.0));
}

RollingBudget rolling_budget(const api::DaemonSet& ds, int desired_nodes) {
  const auto& st = ds.update_strategy;
  if (st.type != "RollingUpdate" || !st.rolling_update) return {};
  RollingBudget b;
  if (st.rolling_update->max_unavailable) b.max_unavailable = scaled_value(*st.rolling_update->max_unavailable, desired_nodes).value_or(0);
  if (st.rolling_update->max_surge) b.max_surge = scaled_value(*st.rolling_update->max_surge, desired_nodes).value_or(0);
  if (desired_nodes > 0 && b.max_unavailable == 0 && b.max_surge == 0) b.max_unavailable = 1;
  return b;
}

RollingStep plan_rolling_update(const std::vector<DaemonNode>& nodes, RollingBudget budget) {
  RollingStep step;
  // findUpdatedPodsOnNode: at most one updated and one old pod per node, else "not ok".
  struct Split {
    const DaemonNode::PodView *fresh = nullptr, *old = nullptr;
    bool ok = true;
  };
  auto split = [](const DaemonNode& n) {
    Split s;
    for (const auto& p : n.pods) {
      auto& slot = p.updated ? s.fresh : s.old;
      if (slot) s.ok = false;
      slot = &p;
    }
    return s;
  };
  if (budget.max_surge == 0) {
    // Delete old pods while no more than maxUnavailable nodes lack an available pod; an old
    // pod that is unavailable anyway is replaced at once.
    int unavailable = 0;
    std::vector<std::string> allowed, candidates;
    for (const auto& n : nodes) {
      const Split s = split(n);
      if (!s.ok || (!s.old && !s.fresh) || (s.old && s.fresh)) {
        ++unavailable;  // the manage loop creates or deletes here
      } else if (s.fresh) {
        if (!s.fresh->available) ++unavailable;
      } else if (!s.old->available) {
        allowed.push_back(s.old->name);
      } else if (unavailable < budget.max_unavailable) {
        candidates.push_back(s.old->name);
      }
    }
    const int room = std::clamp(budget.max_unavailable - unavailable, 0, static_cast<int>(candidates.size()));
    step.pods_to_delete = std::move(allowed);
    step.pods_to_delete.insert(step.pods_to_delete.end(), candidates.begin(), candidates.begin() + room);
    return step;
  }
  // Surge: a new pod goes next to an old one (at once where the old one is unavailable, else up
  // to maxSurge at a time); the old one goes when the new one is available.
  int surging = 0;
  std::vector<std::string> allowed, candidates;
  for (const auto& n : nodes) {
    const Split s = split(n);
    if (!s.ok) {
      ++surging;
      continue;
    }
    if (!s.old) continue;  // the manage loop handles this node
    if (!s.fresh) {
      if (!s.old->available)
        allowed.push_back(n.name);
      else if (surging < budget.max_surge)
        candidates.push_back(n.name);
      continue;
    }
    if (!s.fresh->available) {
      ++surging;
      continue;
    }
    step.pods_to_delete.push_back(s.old->name);
  }
  const int room = std::clamp(budget.max_surge - surging, 0, static_cast<int>(candidates.size()));
  step.nodes_to_create = std::move(allowed);
  step.nodes_to_create.insert(step.nodes_to_create.end(), candidates.begin(), candidates.begin() + room);
  return step;
}

void sort_daemon_pods(std::vector<const api::Pod*>& pods) {
  std::sort(pods.begin(), pods.end(), [](const api::Pod* a, const api::Pod* b) {
    const bool as = !a->spec.node_name.empty(), bs = !b->spec.node_name.empty();
    if (as != bs) return as;
    const auto ta = parse_rfc3339(a->metadata.creation_timestamp), tb = parse_rfc3339(b->metadata.creation_timestamp);
    if (ta != tb) return ta < tb;
    return a->metadata.name < b->metadata.name;
  });
}

std::vector<const api::Pod*> surplus_daemon_pods(std::vector<const api::Pod*> running, const std::string& hash, bool allows_surge,
                                                 std::int32_t min_ready_seconds, WallTime now) {
  std::vector<const api::Pod*> out;
  if (running.size() <= 1) return out;
  sort_daemon_pods(running);
  if (!allows_surge) {
    out.assign(running.begin() + 1, running.end());
    return out;
  }
  const api::Pod *oldest_new = nullptr, *oldest_old = nullptr;
  for (const auto* p : running) {
    auto it = p->metadata.labels.find(kControllerRevisionHashLabel);
    const bool updated = it != p->metadata.labels.end() && it->second == hash;
    auto& slot = updated ? oldest_new : oldest_old;
    if (!slot) {
      slot = p;
      continue;
    }
    out.push_back(p);
  }
  // Two pods only while the new one is not available yet and the old one still serves.
  if (oldest_new && oldest_old && (!is_pod_ready(*oldest_old) || is_pod_available(*oldest_new, min_ready_seconds, now)))
    out.push_back(oldest_old);
  return out;
}

std::string controller_revision_name(const std::string& owner, const std::string& hash) {
  return (owner.size() > 223 ? owner.substr(0, 223) : owner) + "-" + hash;
}

std::string daemonset_revision_data(const api::DaemonSet& ds) {
  json tmpl = api::encode_object(api::Object{ds})["spec"]["template"];
  tmpl["$patch"] = "replace";
  return json{{"spec", {{"template", tmpl}}}}.dump();
}

}  // namespace switchyard::controllers
