// apps/v1 validation with kube-apiserver's field paths and messages
// (pkg/apis/apps/validation/validation.go and the registries' update strategies).
#include <fmt/format.h>

#include "orchestrator/api/selectors.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {

// Go's %#v of a map[string]string, keys sorted as fmt prints them.
std::string go_string_map(const StringMap& m) {
  if (m.empty()) return "map[string]string(nil)";
  std::string out = "map[string]string{";
  bool first = true;
  for (const auto& [k, v] : m) {
    out += fmt::format("{}{}:{}", first ? "" : ", ", go_quoted(k), go_quoted(v));
    first = false;
  }
  return out + "}";
}

// Go's %#v of a metav1.LabelSelector (the internal type prints as v1.LabelSelector).
std::string go_label_selector(const LabelSelectorSpec& s) {
  std::string exprs = "[]v1.LabelSelectorRequirement(nil)";
  if (!s.match_expressions.empty()) {
    exprs = "[]v1.LabelSelectorRequirement{";
    for (std::size_t i = 0; i < s.match_expressions.size(); ++i) {
      const auto& e = s.match_expressions[i];
      exprs += fmt::format("{}v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}", i ? ", " : "", go_quoted(e.key),
                           go_quoted(e.operator_), e.values.empty() ? "[]string(nil)" : go_string_slice(e.values));
    }
    exprs += "}";
  }
  return fmt::format("v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}", go_string_map(s.match_labels), exprs);
}

namespace {

// Go's %#v of an intstr.IntOrString.
std::string go_int_or_string(const IntOrString& v) {
  return fmt::format("intstr.IntOrString{{Type:{}, IntVal:{}, StrVal:{}}}", v.is_string ? 1 : 0, v.int_value, go_quoted(v.string_value));
}

void nonnegative(FieldErrors& errs, const FieldPath& p, std::int64_t v) {
  if (v < 0) errs.push_back(invalid(p, rendered(v), "must be greater than or equal to 0"));
}

bool valid_percent(const std::string& s) {
  if (s.size() < 2 || s.back() != '%') return false;
  for (std::size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

void positive_int_or_percent(FieldErrors& errs, const FieldPath& p, const IntOrString& v) {
  if (v.is_string) {
    if (!valid_percent(v.string_value))
      errs.push_back(invalid(p, go_int_or_string(v),
                             "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex "
                             "used for validation is '[0-9]+%')"));
  } else {
    nonnegative(errs, p, v.int_value);
  }
}

// getIntOrPercentValue: the number, with or without its percent sign (-1 when unparsable).
int int_or_percent_value(const IntOrString& v) {
  if (!v.is_string) return v.int_value;
  if (!valid_percent(v.string_value)) return -1;
  return std::atoi(v.string_value.c_str());
}

// ValidatePodTemplateSpecForReplicaSet: the template is validated as a Pod would be, under
// spec.template, and its labels must be selected by the selector.
void validate_template(FieldErrors& errs, const PodTemplateSpec& t, const LabelSelector* selector, const FieldPath& path,
                       const char* kind = "ReplicaSet") {
  if (selector && !selector->matches_everything() && !selector->matches(t.metadata.labels))
    errs.push_back(
        invalid(path.child("metadata").child("labels"), go_string_map(t.metadata.labels), "`selector` does not match template `labels`"));
  Pod pod;
  pod.metadata = t.metadata;
  pod.metadata.name = "template";  // a template has no name of its own
  pod.metadata.namespace_ = "default";
  pod.metadata.generate_name.clear();
  pod.spec = t.spec;
  for (FieldError e : validate(pod)) {
    if (e.field.starts_with("status")) continue;
    e.field = path.str() + "." + e.field;
    errs.push_back(std::move(e));
  }
  if (!t.spec.restart_policy.empty() && t.spec.restart_policy != "Always")
    errs.push_back(not_supported(path.child("spec").child("restartPolicy"), go_quoted(t.spec.restart_policy), {"Always"}));
  if (t.spec.passthrough.contains("activeDeadlineSeconds"))
    errs.push_back(
        forbidden(path.child("spec").child("activeDeadlineSeconds"), fmt::format("activeDeadlineSeconds in {} is not Supported", kind)));
}

// Selector (required, not empty, parsable) then the template against it.
void validate_selector_and_template(FieldErrors& errs, const std::optional<LabelSelectorSpec>& sel, const PodTemplateSpec& t,
                                    const FieldPath& spec) {
  const FieldPath sp = spec.child("selector");
  if (!sel) {
    errs.push_back(required(sp));
    validate_template(errs, t, nullptr, spec.child("template"));
    return;
  }
  if (sel->match_labels.empty() && sel->match_expressions.empty())
    errs.push_back(invalid(sp, go_label_selector(*sel), "empty selector is invalid for deployment"));
  std::vector<LabelSelectorExpression> exprs;
  for (const auto& e : sel->match_expressions) exprs.push_back({e.key, e.operator_, e.values});
  auto parsed = LabelSelector::from_api(sel->match_labels, exprs, sp);
  if (!parsed) {
    errs.insert(errs.end(), parsed.error().begin(), parsed.error().end());
    validate_template(errs, t, nullptr, spec.child("template"));
    return;
  }
  validate_template(errs, t, &*parsed, spec.child("template"));
}

void validate_conditions_free_status(FieldErrors& errs, const FieldPath& st,
                                     std::initializer_list<std::pair<const char*, std::int64_t>> f) {
  for (const auto& [name, v] : f) nonnegative(errs, st.child(name), v);
}

}  // namespace

FieldErrors validate(const ReplicaSet& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  const FieldPath spec("spec");
  nonnegative(errs, spec.child("replicas"), o.replicas.value_or(0));
  nonnegative(errs, spec.child("minReadySeconds"), o.min_ready_seconds);
  validate_selector_and_template(errs, o.selector, o.template_, spec);
  const auto& s = o.status;
  validate_conditions_free_status(errs, FieldPath("status"),
                                  {{"replicas", s.replicas},
                                   {"fullyLabeledReplicas", s.fully_labeled_replicas},
                                   {"readyReplicas", s.ready_replicas},
                                   {"availableReplicas", s.available_replicas},
                                   {"observedGeneration", s.observed_generation}});
  return errs;
}

FieldErrors validate(const Deployment& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  const FieldPath spec("spec");
  nonnegative(errs, spec.child("replicas"), o.replicas.value_or(0));
  validate_selector_and_template(errs, o.selector, o.template_, spec);
  const FieldPath sp = spec.child("strategy");
  if (o.strategy.type == "Recreate") {
    if (o.strategy.rolling_update)
      errs.push_back(forbidden(sp.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"));
  } else if (o.strategy.type == "RollingUpdate") {
    const FieldPath rp = sp.child("rollingUpdate");
    if (!o.strategy.rolling_update) {
      errs.push_back(required(rp, "this should be defaulted and never be nil"));
    } else {
      const IntOrString unavailable = o.strategy.rolling_update->max_unavailable.value_or(IntOrString{});
      const IntOrString surge = o.strategy.rolling_update->max_surge.value_or(IntOrString{});
      positive_int_or_percent(errs, rp.child("maxUnavailable"), unavailable);
      positive_int_or_percent(errs, rp.child("maxSurge"), surge);
      if (int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0)
        errs.push_back(invalid(rp.child("maxUnavailable"), go_int_or_string(unavailable), "may not be 0 when `maxSurge` is 0"));
      if (unavailable.is_string && valid_percent(unavailable.string_value) && int_or_percent_value(unavailable) > 100)
        errs.push_back(invalid(rp.child("maxUnavailable"), go_int_or_string(unavailable), "must not be greater than 100%"));
    }
  } else {
    errs.push_back(not_supported(sp.child("type"), go_quoted(o.strategy.type), {"Recreate", "RollingUpdate"}));
  }
  nonnegative(errs, spec.child("minReadySeconds"), o.min_ready_seconds);
  if (o.revision_history_limit) nonnegative(errs, spec.child("revisionHistoryLimit"), *o.revision_history_limit);
  if (o.progress_deadline_seconds) {
    const auto pds = *o.progress_deadline_seconds;
    nonnegative(errs, spec.child("progressDeadlineSeconds"), pds);
    if (pds <= o.min_ready_seconds)
      errs.push_back(invalid(spec.child("progressDeadlineSeconds"), rendered(pds), "must be greater than minReadySeconds"));
  }
  const auto& s = o.status;
  validate_conditions_free_status(errs, FieldPath("status"),
                                  {{"observedGeneration", s.observed_generation},
                                   {"replicas", s.replicas},
                                   {"updatedReplicas", s.updated_replicas},
                                   {"readyReplicas", s.ready_replicas},
                                   {"availableReplicas", s.available_replicas},
                                   {"unavailableReplicas", s.unavailable_replicas}});
  return errs;
}

// ValidateDaemonSetSpec: unlike the other workloads a missing selector is not "Required", it
// selects nothing and so does not match the template's labels.
FieldErrors validate(const DaemonSet& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  const FieldPath spec("spec");
  const FieldPath sp = spec.child("selector");
  std::optional<LabelSelector> parsed;
  bool parse_failed = false;
  if (o.selector) {
    std::vector<LabelSelectorExpression> exprs;
    for (const auto& e : o.selector->match_expressions) exprs.push_back({e.key, e.operator_, e.values});
    auto p = LabelSelector::from_api(o.selector->match_labels, exprs, sp);
    if (p) {
      parsed = std::move(*p);
    } else {
      parse_failed = true;
      errs.insert(errs.end(), p.error().begin(), p.error().end());
    }
  }
  const bool matches = parsed && (parsed->matches_everything() || parsed->matches(o.template_.metadata.labels));
  if (!parse_failed && !matches)
    errs.push_back(invalid(spec.child("template").child("metadata").child("labels"), go_string_map(o.template_.metadata.labels),
                           "`selector` does not match template `labels`"));
  if (o.selector && o.selector->match_labels.empty() && o.selector->match_expressions.empty())
    errs.push_back(invalid(sp, go_label_selector(*o.selector), "empty selector is invalid for daemonset"));
  validate_template(errs, o.template_, nullptr, spec.child("template"), "DaemonSet");
  nonnegative(errs, spec.child("minReadySeconds"), o.min_ready_seconds);
  const FieldPath up = spec.child("updateStrategy");
  const auto& st = o.update_strategy;
  if (st.type == "RollingUpdate") {
    const FieldPath rp = up.child("rollingUpdate");
    if (!st.rolling_update) {
      errs.push_back(required(rp));
    } else {
      const IntOrString unavailable = st.rolling_update->max_unavailable.value_or(IntOrString{});
      const IntOrString surge = st.rolling_update->max_surge.value_or(IntOrString{});
      positive_int_or_percent(errs, rp.child("maxUnavailable"), unavailable);
      positive_int_or_percent(errs, rp.child("maxSurge"), surge);
      for (const auto& [name, v] : {std::pair{"maxUnavailable", unavailable}, std::pair{"maxSurge", surge}})
        if (v.is_string && valid_percent(v.string_value) && int_or_percent_value(v) > 100)
          errs.push_back(invalid(rp.child(name), go_int_or_string(v), "must not be greater than 100%"));
      // Exactly one of the two may be non-zero.
      const bool has_unavailable = int_or_percent_value(unavailable) != 0;
      const bool has_surge = int_or_percent_value(surge) != 0;
      if (has_unavailable && has_surge)
        errs.push_back(invalid(rp.child("maxSurge"), go_int_or_string(surge), "may not be set when maxUnavailable is non-zero"));
      else if (!has_unavailable && !has_surge)
        errs.push_back(required(rp.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"));
    }
  } else if (st.type != "OnDelete") {
    errs.push_back(not_supported(
        up, fmt::format("apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}}", go_quoted(st.type)),
        {"RollingUpdate", "OnDelete"}));
  }
  if (o.revision_history_limit) nonnegative(errs, spec.child("revisionHistoryLimit"), *o.revision_history_limit);
  const auto& s = o.status;
  validate_conditions_free_status(errs, FieldPath("status"),
                                  {{"currentNumberScheduled", s.current_number_scheduled},
                                   {"numberMisscheduled", s.number_misscheduled},
                                   {"desiredNumberScheduled", s.desired_number_scheduled},
                                   {"numberReady", s.number_ready},
                                   {"observedGeneration", s.observed_generation},
                                   {"updatedNumberScheduled", s.updated_number_scheduled},
                                   {"numberAvailable", s.number_available},
                                   {"numberUnavailable", s.number_unavailable}});
  return errs;
}

FieldErrors validate(const ControllerRevision& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  nonnegative(errs, FieldPath("revision"), o.revision);
  return errs;
}

FieldErrors validate_update(const Object& o, const Object& old) {
  FieldErrors errs;
  auto selector_immutable = [&](const std::optional<LabelSelectorSpec>& now, const std::optional<LabelSelectorSpec>& before) {
    if (now != before)
      errs.push_back(invalid(FieldPath("spec").child("selector"), now ? go_label_selector(*now) : "null", "field is immutable"));
  };
  if (const auto* d = std::get_if<Deployment>(&o))
    if (const auto* od = std::get_if<Deployment>(&old)) selector_immutable(d->selector, od->selector);
  if (const auto* r = std::get_if<ReplicaSet>(&o))
    if (const auto* orr = std::get_if<ReplicaSet>(&old)) selector_immutable(r->selector, orr->selector);
  if (const auto* ds = std::get_if<DaemonSet>(&o))
    if (const auto* ods = std::get_if<DaemonSet>(&old)) selector_immutable(ds->selector, ods->selector);
  if (const auto* c = std::get_if<ControllerRevision>(&o))
    if (const auto* oc = std::get_if<ControllerRevision>(&old); oc && c->data_json != oc->data_json)
      errs.push_back(invalid(FieldPath("data"), "runtime.RawExtension{...}", "field is immutable"));
  // ValidateNodeUpdate: the node IPAM controller may set a Node's podCIDRs once, nobody may change them.
  if (const auto* n = std::get_if<Node>(&o))
    if (const auto* on = std::get_if<Node>(&old)) {
      auto cidrs = [](const Node& x) {
        return x.pod_cidrs.empty() && !x.pod_cidr.empty() ? std::vector<std::string>{x.pod_cidr} : x.pod_cidrs;
      };
      const auto before = cidrs(*on), now = cidrs(*n);
      if (!before.empty() && before != now)
        errs.push_back(forbidden(FieldPath("spec").child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"));
    }
  validate_config_update(errs, o, old);
  for (auto& e : validate_policy_update(o, old)) errs.push_back(std::move(e));
  auto batch = validate_batch_update(o, old);
  errs.insert(errs.end(), batch.begin(), batch.end());
  auto sts = validate_statefulset_update(o, old);
  errs.insert(errs.end(), sts.begin(), sts.end());
  auto storage = validate_storage_update(o, old);
  errs.insert(errs.end(), storage.begin(), storage.end());
  return errs;
}

}  // namespace switchyard::api
