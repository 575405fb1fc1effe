// Parsing of the scheduler's view of a Pod from its spec (passthrough JSON for the fields the
// typed model does not interpret) and resource.Quantity arithmetic.
#include "orchestrator/scheduler/pod_info.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace switchyard::scheduler {

using Json = nlohmann::json;

std::optional<std::int64_t> parse_quantity(std::string_view s, bool milli) {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  __int128 mantissa = 0;
  int decimals = 0, digits = 0;
  bool point = false;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.' && !point) {
      point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    if (++digits > 30) return std::nullopt;
    mantissa = mantissa * 10 + (c - '0');
    if (point) ++decimals;
  }
  if (digits == 0) return std::nullopt;
  std::string_view suffix = s.substr(i);
  int exp10 = milli ? 3 : 0, exp2 = 0;
  if (suffix.empty()) {
  } else if (suffix == "m")
    exp10 -= 3;
  else if (suffix == "k")
    exp10 += 3;
  else if (suffix == "M")
    exp10 += 6;
  else if (suffix == "G")
    exp10 += 9;
  else if (suffix == "T")
    exp10 += 12;
  else if (suffix == "P")
    exp10 += 15;
  else if (suffix == "E")
    exp10 += 18;
  else if (suffix == "Ki")
    exp2 = 10;
  else if (suffix == "Mi")
    exp2 = 20;
  else if (suffix == "Gi")
    exp2 = 30;
  else if (suffix == "Ti")
    exp2 = 40;
  else if (suffix == "Pi")
    exp2 = 50;
  else if (suffix == "Ei")
    exp2 = 60;
  else if (suffix[0] == 'e' || suffix[0] == 'E') {
    int e = 0;
    bool neg = false;
    std::size_t j = 1;
    if (j < suffix.size() && (suffix[j] == '+' || suffix[j] == '-')) neg = suffix[j++] == '-';
    if (j >= suffix.size()) return std::nullopt;
    for (; j < suffix.size(); ++j) {
      if (suffix[j] < '0' || suffix[j] > '9' || e > 100) return std::nullopt;
      e = e * 10 + (suffix[j] - '0');
    }
    exp10 += neg ? -e : e;
  } else {
    return std::nullopt;
  }
  exp10 -= decimals;
  const __int128 limit = static_cast<__int128>(std::numeric_limits<std::int64_t>::max());
  __int128 v = mantissa;
  for (int k = 0; k < exp2; ++k)
    if ((v *= 2) > limit) return std::nullopt;
  for (; exp10 > 0; --exp10)
    if ((v *= 10) > limit) return std::nullopt;
  if (exp10 < 0) {
    __int128 d = 1;
    for (; exp10 < 0 && d < limit; ++exp10) d *= 10;
    v = (v + d - 1) / d;  // rounded up, as Quantity.Value does
  }
  if (v > limit) return std::nullopt;
  return static_cast<std::int64_t>(negative ? -v : v);
}

void Resources::add(const Resources& o) {
  milli_cpu += o.milli_cpu;
  memory += o.memory;
  ephemeral_storage += o.ephemeral_storage;
  pods += o.pods;
  for (const auto& [k, v] : o.scalar) scalar[k] += v;
}

void Resources::subtract(const Resources& o) {
  milli_cpu -= o.milli_cpu;
  memory -= o.memory;
  ephemeral_storage -= o.ephemeral_storage;
  pods -= o.pods;
  for (const auto& [k, v] : o.scalar) scalar[k] -= v;
}

void Resources::set_max(const Resources& o) {
  milli_cpu = std::max(milli_cpu, o.milli_cpu);
  memory = std::max(memory, o.memory);
  ephemeral_storage = std::max(ephemeral_storage, o.ephemeral_storage);
  pods = std::max(pods, o.pods);
  for (const auto& [k, v] : o.scalar) scalar[k] = std::max(scalar[k], v);
}

namespace {

// One resource name and quantity into `r`; unknown names are scalar (extended) resources.
void add_quantity(Resources& r, const std::string& name, std::string_view quantity) {
  if (name == "cpu") {
    r.milli_cpu += parse_quantity(quantity, true).value_or(0);
  } else if (name == "memory") {
    r.memory += parse_quantity(quantity, false).value_or(0);
  } else if (name == "ephemeral-storage") {
    r.ephemeral_storage += parse_quantity(quantity, false).value_or(0);
  } else if (name == "pods") {
    r.pods += parse_quantity(quantity, false).value_or(0);
  } else if (name.find('/') != std::string::npos || name.starts_with("hugepages-")) {
    r.scalar[name] += parse_quantity(quantity, false).value_or(0);
  }
}

Json passthrough(const api::Passthrough& p, const char* field) {
  auto it = p.find(field);
  if (it == p.end()) return Json();
  Json j = Json::parse(it->second, nullptr, false);
  return j.is_discarded() ? Json() : j;
}

const Json& member(const Json& j, const char* name) {
  static const Json null;
  if (!j.is_object()) return null;
  auto it = j.find(name);
  return it == j.end() ? null : *it;
}

std::string string_of(const Json& j, const char* name) {
  const Json& v = member(j, name);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::vector<std::string> strings_of(const Json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// A container's requests (limits stand in for missing requests, as the API server defaults them).
void container_requests(const Json& resources, Resources& exact, Resources& non_zero) {
  Json requests = member(resources, "requests");
  const Json& limits = member(resources, "limits");
  if (!requests.is_object()) requests = Json::object();
  if (limits.is_object())
    for (const auto& [k, v] : limits.items())
      if (!requests.contains(k)) requests[k] = v;
  for (const auto& [k, v] : requests.items())
    if (v.is_string())
      add_quantity(exact, k, v.get<std::string>());
    else if (v.is_number())
      add_quantity(exact, k, v.dump());
  non_zero = exact;
  if (!requests.contains("cpu")) non_zero.milli_cpu = 100;                  // DefaultMilliCPURequest
  if (!requests.contains("memory")) non_zero.memory = 200LL * 1024 * 1024;  // DefaultMemoryRequest
}

LabelSelector label_selector(const Json& j) {
  LabelSelector s;
  const Json& ml = member(j, "matchLabels");
  if (ml.is_object())
    for (const auto& [k, v] : ml.items())
      if (v.is_string()) s.match_labels[k] = v.get<std::string>();
  const Json& me = member(j, "matchExpressions");
  if (me.is_array())
    for (const auto& e : me)
      s.match_expressions.push_back({string_of(e, "key"), string_of(e, "operator"), strings_of(member(e, "values"))});
  return s;
}

NodeSelectorTerm node_selector_term(const Json& j) {
  NodeSelectorTerm t;
  for (const char* field : {"matchExpressions", "matchFields"}) {
    const Json& list = member(j, field);
    auto& out = std::string_view(field) == "matchFields" ? t.match_fields : t.match_expressions;
    if (list.is_array())
      for (const auto& e : list) out.push_back({string_of(e, "key"), string_of(e, "operator"), strings_of(member(e, "values"))});
  }
  return t;
}

PodAffinityTerm pod_affinity_term(const Json& j) {
  PodAffinityTerm t;
  const Json& sel = member(j, "labelSelector");
  t.has_selector = sel.is_object();
  if (t.has_selector) t.selector = label_selector(sel);
  t.namespaces = strings_of(member(j, "namespaces"));
  const Json& nsel = member(j, "namespaceSelector");
  if (nsel.is_object()) t.namespace_selector = label_selector(nsel);
  t.topology_key = string_of(j, "topologyKey");
  return t;
}

void affinity_terms(const Json& section, std::vector<PodAffinityTerm>& required, std::vector<WeightedPodAffinityTerm>& preferred) {
  const Json& req = member(section, "requiredDuringSchedulingIgnoredDuringExecution");
  if (req.is_array())
    for (const auto& t : req) required.push_back(pod_affinity_term(t));
  const Json& pref = member(section, "preferredDuringSchedulingIgnoredDuringExecution");
  if (pref.is_array())
    for (const auto& t : pref) {
      const Json& w = member(t, "weight");
      preferred.push_back({w.is_number_integer() ? w.get<std::int32_t>() : 0, pod_affinity_term(member(t, "podAffinityTerm"))});
    }
}

bool requirement_matches(const std::string& op, const std::vector<std::string>& values, const std::string* value) {
  const bool has = value != nullptr;
  if (op == "In") return has && std::find(values.begin(), values.end(), *value) != values.end();
  if (op == "NotIn") return !has || std::find(values.begin(), values.end(), *value) == values.end();
  if (op == "Exists") return has;
  if (op == "DoesNotExist") return !has;
  if (op == "Gt" || op == "Lt") {
    if (!has || values.size() != 1) return false;
    try {
      const long long have = std::stoll(*value), want = std::stoll(values[0]);
      return op == "Gt" ? have > want : have < want;
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

}  // namespace

Resources parse_allocatable(const api::StringMap& allocatable) {
  Resources r;
  for (const auto& [k, v] : allocatable) add_quantity(r, k, v);
  return r;
}

bool LabelSelector::matches(const api::StringMap& labels) const {
  for (const auto& [k, v] : match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& e : match_expressions) {
    auto it = labels.find(e.key);
    if (!requirement_matches(e.op, e.values, it == labels.end() ? nullptr : &it->second)) return false;
  }
  return true;
}

bool NodeSelectorTerm::matches(const api::Node& node) const {
  if (match_expressions.empty() && match_fields.empty()) return false;
  for (const auto& e : match_expressions) {
    auto it = node.metadata.labels.find(e.key);
    if (!requirement_matches(e.op, e.values, it == node.metadata.labels.end() ? nullptr : &it->second)) return false;
  }
  for (const auto& e : match_fields) {
    if (e.key != "metadata.name") return false;
    if (!requirement_matches(e.op, e.values, &node.metadata.name)) return false;
  }
  return true;
}

bool Toleration::tolerates(const api::Taint& taint) const {
  if (!effect.empty() && effect != taint.effect) return false;
  if (!key.empty() && key != taint.key) return false;
  if (op == "Exists") return true;  // an empty key with Exists tolerates everything
  if (op.empty() || op == "Equal") return value == taint.value;
  return false;
}

bool term_matches_pod(const PodAffinityTerm& term, const std::string& owner_ns, const PodInfo& other,
                      const api::StringMap* other_namespace_labels) {
  if (!term.has_selector) return false;
  bool ns_ok;
  if (!term.namespaces.empty() || term.namespace_selector) {
    ns_ok = std::find(term.namespaces.begin(), term.namespaces.end(), other.ns()) != term.namespaces.end();
    if (!ns_ok && term.namespace_selector) {
      const auto& s = *term.namespace_selector;
      const bool everything = s.match_labels.empty() && s.match_expressions.empty();
      ns_ok = everything || (other_namespace_labels && s.matches(*other_namespace_labels));
    }
  } else {
    ns_ok = other.ns() == owner_ns;
  }
  return ns_ok && term.selector.matches(other.labels());
}

Result<PodInfoPtr> make_pod_info(std::shared_ptr<const api::Pod> pod) {
  auto info = std::make_shared<PodInfo>();
  info->key = pod->metadata.namespace_ + "/" + pod->metadata.name;
  const api::PodSpec& spec = pod->spec;
  // NodeResourcesFit: the sum of the app containers (and restartable init containers, which run
  // alongside them), against the largest init container plus the sidecars started before it.
  Resources sum, sum_nz, sidecars, sidecars_nz, init_max, init_max_nz;
  for (const auto& c : spec.containers) {
    Resources r, nz;
    container_requests(passthrough(c.passthrough, "resources"), r, nz);
    sum.add(r);
    sum_nz.add(nz);
  }
  for (const auto& c : spec.init_containers) {
    Resources r, nz;
    container_requests(passthrough(c.passthrough, "resources"), r, nz);
    if (passthrough(c.passthrough, "restartPolicy") == "Always") {
      sidecars.add(r);
      sidecars_nz.add(nz);
      r = sidecars;
      nz = sidecars_nz;
    } else {
      r.add(sidecars);
      nz.add(sidecars_nz);
    }
    init_max.set_max(r);
    init_max_nz.set_max(nz);
  }
  sum.add(sidecars);
  sum_nz.add(sidecars_nz);
  sum.set_max(init_max);
  sum_nz.set_max(init_max_nz);
  const Json overhead = passthrough(spec.passthrough, "overhead");
  if (overhead.is_object())
    for (const auto& [k, v] : overhead.items())
      if (v.is_string()) {
        add_quantity(sum, k, v.get<std::string>());
        add_quantity(sum_nz, k, v.get<std::string>());
      }
  sum.pods = 1;
  info->requests = std::move(sum);
  info->non_zero_requests = std::move(sum_nz);

  const Json tolerations = passthrough(spec.passthrough, "tolerations");
  if (tolerations.is_array())
    for (const auto& t : tolerations)
      info->tolerations.push_back({string_of(t, "key"), string_of(t, "operator"), string_of(t, "value"), string_of(t, "effect")});

  const Json affinity = passthrough(spec.passthrough, "affinity");
  const Json& node_affinity = member(affinity, "nodeAffinity");
  const Json& required = member(node_affinity, "requiredDuringSchedulingIgnoredDuringExecution");
  if (required.is_object()) {
    std::vector<NodeSelectorTerm> terms;
    const Json& list = member(required, "nodeSelectorTerms");
    if (list.is_array())
      for (const auto& t : list) terms.push_back(node_selector_term(t));
    info->required_node_affinity = std::move(terms);
  }
  const Json& preferred = member(node_affinity, "preferredDuringSchedulingIgnoredDuringExecution");
  if (preferred.is_array())
    for (const auto& p : preferred) {
      const Json& w = member(p, "weight");
      info->preferred_node_affinity.push_back(
          {w.is_number_integer() ? w.get<std::int32_t>() : 0, node_selector_term(member(p, "preference"))});
    }
  affinity_terms(member(affinity, "podAffinity"), info->required_affinity, info->preferred_affinity);
  affinity_terms(member(affinity, "podAntiAffinity"), info->required_anti_affinity, info->preferred_anti_affinity);

  const Json spread = passthrough(spec.passthrough, "topologySpreadConstraints");
  if (spread.is_array())
    for (const auto& c : spread) {
      TopologySpreadConstraint t;
      const Json& skew = member(c, "maxSkew");
      if (skew.is_number_integer()) t.max_skew = skew.get<std::int32_t>();
      t.topology_key = string_of(c, "topologyKey");
      t.when_unsatisfiable = string_of(c, "whenUnsatisfiable");
      const Json& sel = member(c, "labelSelector");
      t.has_selector = sel.is_object();
      if (t.has_selector) t.selector = label_selector(sel);
      const Json& min_domains = member(c, "minDomains");
      if (min_domains.is_number_integer()) t.min_domains = min_domains.get<std::int32_t>();
      t.honor_node_affinity = string_of(c, "nodeAffinityPolicy") != "Ignore";
      t.honor_taints = string_of(c, "nodeTaintsPolicy") == "Honor";
      // matchLabelKeys: the pod's own values join the selector (KEP-3243).
      for (const auto& key : strings_of(member(c, "matchLabelKeys")))
        if (auto it = pod->metadata.labels.find(key); it != pod->metadata.labels.end()) t.selector.match_labels[key] = it->second;
      info->spread.push_back(std::move(t));
    }

  for (const auto& c : spec.containers)
    for (const auto& p : c.ports)
      if (p.host_port > 0) info->host_ports.push_back({p.host_ip, p.protocol.empty() ? "TCP" : p.protocol, p.host_port});

  const Json scheduler = passthrough(spec.passthrough, "schedulerName");
  info->scheduler_name = scheduler.is_string() ? scheduler.get<std::string>() : "default-scheduler";
  const Json priority = passthrough(spec.passthrough, "priority");
  if (priority.is_number_integer()) info->priority = priority.get<std::int32_t>();
  const Json policy = passthrough(spec.passthrough, "preemptionPolicy");
  if (policy.is_string()) info->preemption_policy = policy.get<std::string>();
  info->pod = std::move(pod);
  return PodInfoPtr(std::move(info));
}

}  // namespace switchyard::scheduler
