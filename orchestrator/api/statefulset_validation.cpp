// apps/v1 StatefulSet validation with kube-apiserver's field paths and messages
// (pkg/apis/apps/validation ValidateStatefulSetSpec and ValidateStatefulSetUpdate).
#include <fmt/format.h>

#include "orchestrator/api/selectors.h"
#include "orchestrator/api/statefulset_claims.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {

namespace {

void nonnegative(FieldErrors& errs, const FieldPath& p, std::int64_t v) {
  if (v < 0) errs.push_back(invalid(p, rendered(v), "must be greater than or equal to 0"));
}

std::string go_int_or_string(const IntOrString& v) {
  return fmt::format("intstr.IntOrString{{Type:{}, IntVal:{}, StrVal:{}}}", v.is_string ? 1 : 0, v.int_value, go_quoted(v.string_value));
}

void validate_max_unavailable(FieldErrors& errs, const FieldPath& p, const IntOrString& v) {
  if (v.is_string) {
    const auto& s = v.string_value;
    const bool digits = s.size() >= 2 && s.back() == '%' && s.find_first_not_of("0123456789") == s.size() - 1;
    if (!digits) {
      errs.push_back(invalid(p, go_int_or_string(v),
                             "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex "
                             "used for validation is '[0-9]+%')"));
      return;
    }
    const int pct = std::atoi(s.c_str());
    if (pct == 0) errs.push_back(invalid(p, go_int_or_string(v), "must be greater than 0"));
    if (pct > 100) errs.push_back(invalid(p, go_int_or_string(v), "must not be greater than 100%"));
    return;
  }
  nonnegative(errs, p, v.int_value);
  if (v.int_value == 0) errs.push_back(invalid(p, go_int_or_string(v), "must be greater than 0"));
}

// ValidatePodTemplateSpecForStatefulSet: the selector must select the template's labels, and the
// template is validated as a Pod would be, under spec.template, with the volumes its pods get from
// the volumeClaimTemplates (the union upstream's TODO asks for), so mounts of claims resolve.
void validate_template(FieldErrors& errs, const PodTemplateSpec& t, const LabelSelector* selector, const FieldPath& path,
                       const std::vector<ClaimVolume>& claim_volumes) {
  if (selector && !selector->matches_everything() && !selector->matches(t.metadata.labels))
    errs.push_back(
        invalid(path.child("metadata").child("labels"), go_string_map(t.metadata.labels), "`selector` does not match template `labels`"));
  Pod pod;
  pod.metadata = t.metadata;
  pod.metadata.name = "template";  // a template has no name of its own
  pod.metadata.namespace_ = "default";
  pod.metadata.generate_name.clear();
  pod.spec = t.spec;
  use_claim_volumes(pod.spec, claim_volumes);
  for (FieldError e : validate(pod)) {
    if (e.field.starts_with("status")) continue;
    e.field = path.str() + "." + e.field;
    errs.push_back(std::move(e));
  }
  if (t.spec.restart_policy != "Always")
    errs.push_back(not_supported(path.child("spec").child("restartPolicy"), go_quoted(t.spec.restart_policy), {"Always"}));
  if (t.spec.passthrough.contains("activeDeadlineSeconds"))
    errs.push_back(forbidden(path.child("spec").child("activeDeadlineSeconds"), "activeDeadlineSeconds in StatefulSet is not Supported"));
}

void validate_retention(FieldErrors& errs, const FieldPath& p, const std::string& v) {
  if (v != "Retain" && v != "Delete") errs.push_back(not_supported(p, go_quoted(v), {"Retain", "Delete"}));
}

}  // namespace

FieldErrors validate(const StatefulSet& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  const auto& s = o.spec;
  const FieldPath spec("spec");

  const FieldPath pmp = spec.child("podManagementPolicy");
  if (s.pod_management_policy.empty())
    errs.push_back(required(pmp));
  else if (s.pod_management_policy != "OrderedReady" && s.pod_management_policy != "Parallel")
    errs.push_back(invalid(pmp, go_quoted(s.pod_management_policy), "must be 'OrderedReady' or 'Parallel'"));

  const FieldPath us = spec.child("updateStrategy");
  const auto& st = s.update_strategy;
  if (st.type.empty()) {
    errs.push_back(required(us));
  } else if (st.type == "OnDelete") {
    if (st.rolling_update)
      errs.push_back(invalid(us.child("rollingUpdate"), "apps.RollingUpdateStatefulSetStrategy{...}",
                             "only allowed for updateStrategy 'RollingUpdate'"));
  } else if (st.type == "RollingUpdate") {
    if (st.rolling_update) {
      const FieldPath ru = us.child("rollingUpdate");
      nonnegative(errs, ru.child("partition"), st.rolling_update->partition.value_or(0));
      if (st.rolling_update->max_unavailable)
        validate_max_unavailable(errs, ru.child("maxUnavailable"), *st.rolling_update->max_unavailable);
    }
  } else {
    errs.push_back(
        invalid(us, fmt::format("apps.StatefulSetUpdateStrategy{{Type:{}}}", go_quoted(st.type)), "must be 'RollingUpdate' or 'OnDelete'"));
  }

  if (const auto& p = s.persistent_volume_claim_retention_policy) {
    const FieldPath pp = spec.child("persistentVolumeClaimRetentionPolicy");
    validate_retention(errs, pp.child("whenDeleted"), p->when_deleted);
    validate_retention(errs, pp.child("whenScaled"), p->when_scaled);
  }

  nonnegative(errs, spec.child("replicas"), s.replicas.value_or(0));
  nonnegative(errs, spec.child("minReadySeconds"), s.min_ready_seconds);
  if (s.ordinals) nonnegative(errs, spec.child("ordinals").child("start"), s.ordinals->start);
  if (s.revision_history_limit) nonnegative(errs, spec.child("revisionHistoryLimit"), *s.revision_history_limit);

  const auto templates = volume_claim_templates(o);
  errs.insert(errs.end(), templates.errors.begin(), templates.errors.end());
  std::vector<ClaimVolume> claim_volumes;
  for (const auto& c : templates.claims)
    if (!c.metadata.name.empty()) claim_volumes.push_back({c.metadata.name, c.metadata.name});

  const FieldPath sp = spec.child("selector");
  const FieldPath tp = spec.child("template");
  if (!s.selector) {
    errs.push_back(required(sp));
    validate_template(errs, s.template_, nullptr, tp, claim_volumes);
  } else {
    if (s.selector->match_labels.empty() && s.selector->match_expressions.empty())
      errs.push_back(invalid(sp, go_label_selector(*s.selector), "empty selector is invalid for statefulset"));
    std::vector<LabelSelectorExpression> exprs;
    for (const auto& e : s.selector->match_expressions) exprs.push_back({e.key, e.operator_, e.values});
    auto parsed = LabelSelector::from_api(s.selector->match_labels, exprs, sp);
    if (!parsed) {
      errs.insert(errs.end(), parsed.error().begin(), parsed.error().end());
      validate_template(errs, s.template_, nullptr, tp, claim_volumes);
    } else {
      validate_template(errs, s.template_, &*parsed, tp, claim_volumes);
    }
  }

  const auto& t = o.status;
  const FieldPath status("status");
  for (const auto& [name, v] : std::initializer_list<std::pair<const char*, std::int64_t>>{{"replicas", t.replicas},
                                                                                           {"readyReplicas", t.ready_replicas},
                                                                                           {"currentReplicas", t.current_replicas},
                                                                                           {"updatedReplicas", t.updated_replicas},
                                                                                           {"availableReplicas", t.available_replicas},
                                                                                           {"observedGeneration", t.observed_generation}})
    nonnegative(errs, status.child(name), v);
  return errs;
}

// ValidateStatefulSetUpdate: with the mutable fields set back to the stored ones, the spec must
// be unchanged.
FieldErrors validate_statefulset_update(const Object& o, const Object& old) {
  FieldErrors errs;
  const auto* now = std::get_if<StatefulSet>(&o);
  const auto* before = std::get_if<StatefulSet>(&old);
  if (!now || !before) return errs;
  StatefulSetSpec rest = now->spec;
  rest.replicas = before->spec.replicas;
  rest.ordinals = before->spec.ordinals;
  rest.template_ = before->spec.template_;
  rest.update_strategy = before->spec.update_strategy;
  rest.persistent_volume_claim_retention_policy = before->spec.persistent_volume_claim_retention_policy;
  rest.min_ready_seconds = before->spec.min_ready_seconds;
  if (rest != before->spec)
    errs.push_back(forbidden(FieldPath("spec"),
                             "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
                             "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
  return errs;
}

}  // namespace switchyard::api
