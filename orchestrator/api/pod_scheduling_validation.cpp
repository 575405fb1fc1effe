// Validation of a Pod's scheduling fields, which the typed model keeps as passthrough JSON:
// affinity (node selector and label selector requirements), tolerations and topology spread
// constraints, with kube-apiserver's paths and messages (ValidateNodeSelectorRequirement,
// ValidateLabelSelectorRequirement, validateTolerations, validateTopologySpreadConstraints).
#include <nlohmann/json.hpp>

#include "orchestrator/api/validation.h"

namespace switchyard::api {

namespace {

using Json = nlohmann::json;

Json parsed(const Passthrough& p, const char* field) {
  auto it = p.find(field);
  if (it == p.end()) return Json();
  Json j = Json::parse(it->second, nullptr, false);
  return j.is_discarded() ? Json() : j;
}

const Json& at(const Json& j, const char* name) {
  static const Json null;
  if (!j.is_object()) return null;
  auto it = j.find(name);
  return it == j.end() ? null : *it;
}

std::string text(const Json& j, const char* name) {
  const Json& v = at(j, name);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::size_t count(const Json& j) { return j.is_array() ? j.size() : 0; }

void node_selector_requirements(FieldErrors& errs, const Json& list, const FieldPath& p) {
  if (!list.is_array()) return;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const FieldPath rp = p.index(i);
    const std::string op = text(list[i], "operator");
    const std::size_t values = count(at(list[i], "values"));
    if (op == "In" || op == "NotIn") {
      if (values == 0) errs.push_back(required(rp.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (values > 0) errs.push_back(forbidden(rp.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else if (op == "Gt" || op == "Lt") {
      if (values != 1) errs.push_back(required(rp.child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
    } else {
      errs.push_back(invalid(rp.child("operator"), go_quoted(op), "not a valid selector operator"));
    }
  }
}

void node_selector_term(FieldErrors& errs, const Json& term, const FieldPath& p) {
  node_selector_requirements(errs, at(term, "matchExpressions"), p.child("matchExpressions"));
  node_selector_requirements(errs, at(term, "matchFields"), p.child("matchFields"));
}

void label_selector(FieldErrors& errs, const Json& selector, const FieldPath& p) {
  const Json& list = at(selector, "matchExpressions");
  if (!list.is_array()) return;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const FieldPath rp = p.child("matchExpressions").index(i);
    const std::string op = text(list[i], "operator");
    const std::size_t values = count(at(list[i], "values"));
    if (op == "In" || op == "NotIn") {
      if (values == 0) errs.push_back(required(rp.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (values > 0) errs.push_back(forbidden(rp.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else {
      errs.push_back(invalid(rp.child("operator"), go_quoted(op), "not a valid selector operator"));
    }
  }
}

void pod_affinity_terms(FieldErrors& errs, const Json& section, const FieldPath& p) {
  const Json& required_terms = at(section, "requiredDuringSchedulingIgnoredDuringExecution");
  for (std::size_t i = 0; i < count(required_terms); ++i) {
    const FieldPath tp = p.child("requiredDuringSchedulingIgnoredDuringExecution").index(i);
    label_selector(errs, at(required_terms[i], "labelSelector"), tp.child("labelSelector"));
    if (text(required_terms[i], "topologyKey").empty()) errs.push_back(required(tp.child("topologyKey"), "can not be empty"));
  }
  const Json& preferred = at(section, "preferredDuringSchedulingIgnoredDuringExecution");
  for (std::size_t i = 0; i < count(preferred); ++i) {
    const FieldPath tp = p.child("preferredDuringSchedulingIgnoredDuringExecution").index(i).child("podAffinityTerm");
    label_selector(errs, at(at(preferred[i], "podAffinityTerm"), "labelSelector"), tp.child("labelSelector"));
  }
}

}  // namespace

void validate_pod_scheduling(FieldErrors& errs, const PodSpec& spec) {
  const FieldPath sp("spec");
  const Json affinity = parsed(spec.passthrough, "affinity");
  const FieldPath ap = sp.child("affinity");
  const Json& node_affinity = at(affinity, "nodeAffinity");
  const FieldPath np = ap.child("nodeAffinity");
  const Json& req = at(node_affinity, "requiredDuringSchedulingIgnoredDuringExecution");
  const Json& terms = at(req, "nodeSelectorTerms");
  const FieldPath rp = np.child("requiredDuringSchedulingIgnoredDuringExecution").child("nodeSelectorTerms");
  if (req.is_object() && count(terms) == 0) errs.push_back(required(rp, "must have at least one node selector term"));
  for (std::size_t i = 0; i < count(terms); ++i) node_selector_term(errs, terms[i], rp.index(i));
  const Json& preferred = at(node_affinity, "preferredDuringSchedulingIgnoredDuringExecution");
  for (std::size_t i = 0; i < count(preferred); ++i)
    node_selector_term(errs, at(preferred[i], "preference"),
                       np.child("preferredDuringSchedulingIgnoredDuringExecution").index(i).child("preference"));
  pod_affinity_terms(errs, at(affinity, "podAffinity"), ap.child("podAffinity"));
  pod_affinity_terms(errs, at(affinity, "podAntiAffinity"), ap.child("podAntiAffinity"));

  const Json tolerations = parsed(spec.passthrough, "tolerations");
  for (std::size_t i = 0; i < count(tolerations); ++i) {
    const FieldPath tp = sp.child("tolerations").index(i);
    const std::string op = text(tolerations[i], "operator");
    if (text(tolerations[i], "key").empty() && op != "Exists")
      errs.push_back(invalid(tp.child("operator"), go_quoted(op),
                             "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
    if (!op.empty() && op != "Equal" && op != "Exists")
      errs.push_back(not_supported(tp.child("operator"), go_quoted(op), {"Equal", "Exists"}));
    const std::string effect = text(tolerations[i], "effect");
    if (!effect.empty() && effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
      errs.push_back(not_supported(tp.child("effect"), go_quoted(effect), {"NoExecute", "NoSchedule", "PreferNoSchedule"}));
  }

  const Json spread = parsed(spec.passthrough, "topologySpreadConstraints");
  for (std::size_t i = 0; i < count(spread); ++i) {
    const FieldPath cp = sp.child("topologySpreadConstraints").index(i);
    const Json& skew = at(spread[i], "maxSkew");
    if (!skew.is_number_integer() || skew.get<std::int64_t>() <= 0)
      errs.push_back(
          invalid(cp.child("maxSkew"), skew.is_number_integer() ? rendered(skew.get<std::int64_t>()) : "0", "must be greater than zero"));
    if (text(spread[i], "topologyKey").empty()) errs.push_back(required(cp.child("topologyKey"), "can not be empty"));
    const std::string when = text(spread[i], "whenUnsatisfiable");
    if (when != "DoNotSchedule" && when != "ScheduleAnyway")
      errs.push_back(not_supported(cp.child("whenUnsatisfiable"), go_quoted(when), {"DoNotSchedule", "ScheduleAnyway"}));
    label_selector(errs, at(spread[i], "labelSelector"), cp.child("labelSelector"));
  }
}

}  // namespace switchyard::api
