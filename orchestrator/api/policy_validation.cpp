// Defaulting and validation of PriorityClass (pkg/apis/scheduling/validation, v1 defaults) and
// PodDisruptionBudget (pkg/apis/policy/validation). Bodies are JSON text (policy_types.h): a
// field of the wrong JSON type is reported as Invalid here, where upstream's decoder refuses it.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/selectors.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {

namespace {

using nlohmann::json;

json field(const Passthrough& body, const std::string& key) {
  auto it = body.find(key);
  return it == body.end() ? json() : json::parse(it->second, nullptr, false);
}

bool valid_percent(const std::string& s) {
  if (s.size() < 2 || s.back() != '%') return false;
  for (std::size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

// ValidatePositiveIntOrPercent + IsNotMoreThan100Percent.
void int_or_percent(FieldErrors& errs, const FieldPath& p, const json& v) {
  if (v.is_number_integer()) {
    if (v.get<std::int64_t>() < 0) errs.push_back(invalid(p, v.dump(), "must be greater than or equal to 0"));
    return;
  }
  if (!v.is_string() || !valid_percent(v.get<std::string>())) {
    errs.push_back(invalid(p, v.is_string() ? go_quoted(v.get<std::string>()) : v.dump(),
                           "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex "
                           "used for validation is '[0-9]+%')"));
    return;
  }
  if (std::atoi(v.get<std::string>().c_str()) > 100)
    errs.push_back(invalid(p, go_quoted(v.get<std::string>()), "must not be greater than 100%"));
}

}  // namespace

std::expected<LabelSelector, FieldErrors> label_selector_from_json(const json& selector, const FieldPath& path) {
  if (selector.is_null()) return LabelSelector::nothing();
  if (!selector.is_object()) return std::unexpected(FieldErrors{invalid(path, selector.dump(), "must be a label selector object")});
  StringMap labels;
  std::vector<LabelSelectorExpression> expressions;
  FieldErrors errs;
  if (selector.contains("matchLabels") && selector["matchLabels"].is_object())
    for (const auto& [k, v] : selector["matchLabels"].items())
      if (v.is_string()) labels[k] = v.get<std::string>();
  if (selector.contains("matchExpressions") && selector["matchExpressions"].is_array())
    for (const auto& e : selector["matchExpressions"]) {
      if (!e.is_object()) continue;
      LabelSelectorExpression x{e.value("key", ""), e.value("operator", ""), {}};
      for (const auto& v : e.value("values", json::array()))
        if (v.is_string()) x.values.push_back(v.get<std::string>());
      expressions.push_back(std::move(x));
    }
  return LabelSelector::from_api(labels, expressions, path);
}

void apply_defaults(PriorityClass& o) {
  if (!o.body.contains("value")) o.body["value"] = "0";
  if (!o.body.contains("preemptionPolicy")) o.body["preemptionPolicy"] = "\"PreemptLowerPriority\"";
}

void apply_defaults(PodDisruptionBudget&) {}

FieldErrors validate(const PriorityClass& o) {
  FieldErrors errs = validate_object_meta(o.metadata, false, &name_is_dns1123_subdomain);
  const json value = field(o.body, "value");
  if (!value.is_number_integer()) {
    errs.push_back(invalid(FieldPath("value"), value.dump(), "must be an integer"));
    return errs;
  }
  const std::int64_t v = value.get<std::int64_t>();
  const json global = field(o.body, "globalDefault");
  if (!global.is_null() && !global.is_boolean()) errs.push_back(invalid(FieldPath("globalDefault"), global.dump(), "must be a boolean"));
  if (o.metadata.name.starts_with("system-")) {
    // IsKnownSystemPriorityClass: the name, value and globalDefault of a built-in class.
    const bool known_name = o.metadata.name == kSystemNodeCritical || o.metadata.name == kSystemClusterCritical;
    const std::int64_t want = o.metadata.name == kSystemNodeCritical ? kSystemCriticalPriority + 1000 : kSystemCriticalPriority;
    std::string why;
    if (!known_name)
      why = fmt::format("{} is not a known system priority class", o.metadata.name);
    else if (v != want)
      why = fmt::format("value of {} PriorityClass must be {}", o.metadata.name, want);
    else if (global.is_boolean() && global.get<bool>())
      why = fmt::format("globalDefault of {} PriorityClass must be false", o.metadata.name);
    if (!why.empty())
      errs.push_back(forbidden(FieldPath("metadata").child("name"),
                               "priority class names with 'system-' prefix are reserved for system use only. error: " + why));
  } else if (v > kHighestUserDefinablePriority) {
    errs.push_back(forbidden(FieldPath("value"),
                             fmt::format("maximum allowed value of a user defined priority is {}", kHighestUserDefinablePriority)));
  }
  const json policy = field(o.body, "preemptionPolicy");
  if (!policy.is_null() && !(policy == "PreemptLowerPriority" || policy == "Never"))
    errs.push_back(not_supported(FieldPath("preemptionPolicy"), policy.is_string() ? go_quoted(policy.get<std::string>()) : policy.dump(),
                                 {"Never", "PreemptLowerPriority"}));
  return errs;
}

FieldErrors validate(const PodDisruptionBudget& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  const json spec = field(o.body, "spec");
  if (spec.is_null()) return errs;
  const FieldPath sp("spec");
  if (!spec.is_object()) {
    errs.push_back(invalid(sp, spec.dump(), "must be an object"));
    return errs;
  }
  const json min = spec.value("minAvailable", json()), max = spec.value("maxUnavailable", json());
  if (!min.is_null() && !max.is_null()) errs.push_back(invalid(sp, spec.dump(), "minAvailable and maxUnavailable cannot be both set"));
  if (!min.is_null()) int_or_percent(errs, sp.child("minAvailable"), min);
  if (!max.is_null()) int_or_percent(errs, sp.child("maxUnavailable"), max);
  if (spec.contains("selector"))
    if (auto s = label_selector_from_json(spec["selector"], sp.child("selector")); !s)
      errs.insert(errs.end(), s.error().begin(), s.error().end());
  const json policy = spec.value("unhealthyPodEvictionPolicy", json());
  if (!policy.is_null() && !(policy == "IfHealthyBudget" || policy == "AlwaysAllow"))
    errs.push_back(not_supported(sp.child("unhealthyPodEvictionPolicy"),
                                 policy.is_string() ? go_quoted(policy.get<std::string>()) : policy.dump(),
                                 {"AlwaysAllow", "IfHealthyBudget"}));
  return errs;
}

FieldErrors validate_policy_update(const Object& o, const Object& old) {
  FieldErrors errs;
  const auto* pc = std::get_if<PriorityClass>(&o);
  const auto* old_pc = std::get_if<PriorityClass>(&old);
  if (!pc || !old_pc) return errs;
  // ValidatePriorityClassUpdate: value and preemptionPolicy are immutable.
  if (field(pc->body, "value") != field(old_pc->body, "value"))
    errs.push_back(forbidden(FieldPath("value"), "may not be changed in an update."));
  const json policy = field(pc->body, "preemptionPolicy");
  if (policy != field(old_pc->body, "preemptionPolicy"))
    errs.push_back(invalid(FieldPath("preemptionPolicy"), policy.is_string() ? go_quoted(policy.get<std::string>()) : policy.dump(),
                           "field is immutable"));
  return errs;
}

}  // namespace switchyard::api
