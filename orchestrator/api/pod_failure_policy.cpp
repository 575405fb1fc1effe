// podFailurePolicy to and from the wire format, through the codec's typed Reader.
#include "orchestrator/api/pod_failure_policy.h"

#include "orchestrator/api/json_reader.h"

namespace switchyard::api {

namespace codec {

static void decode_fields(Reader& r, PodFailurePolicyOnExitCodesRequirement& e) {
  r.field("containerName", e.container_name);
  r.field("operator", e.operator_);
  r.field("values", e.values);
}

static void decode_fields(Reader& r, PodFailurePolicyOnPodConditionsPattern& c) {
  r.field("type", c.type);
  r.field("status", c.status);
}

static void decode_fields(Reader& r, PodFailurePolicyRule& rule) {
  r.field("action", rule.action);
  r.field("onExitCodes", rule.on_exit_codes);
  r.field("onPodConditions", rule.on_pod_conditions);
}

static void decode_fields(Reader& r, PodFailurePolicy& p) { r.field("rules", p.rules); }

void decode_pod_failure_policy(Reader& r, JobSpec& spec) {
  std::optional<PodFailurePolicy> policy;
  r.field("podFailurePolicy", policy);
  if (policy) spec.passthrough["podFailurePolicy"] = encode_pod_failure_policy(*policy).dump();
}

}  // namespace codec

nlohmann::json encode_pod_failure_policy(const PodFailurePolicy& p) {
  using nlohmann::json;
  json rules = json::array();
  for (const auto& rule : p.rules) {
    json x = {{"action", rule.action}};
    if (const auto& e = rule.on_exit_codes) {
      json codes = {{"operator", e->operator_}, {"values", e->values}};
      if (e->container_name) codes["containerName"] = *e->container_name;
      x["onExitCodes"] = std::move(codes);
    }
    if (!rule.on_pod_conditions.empty()) {
      json conds = json::array();
      for (const auto& c : rule.on_pod_conditions) conds.push_back({{"type", c.type}, {"status", c.status}});
      x["onPodConditions"] = std::move(conds);
    }
    rules.push_back(std::move(x));
  }
  return {{"rules", std::move(rules)}};
}

std::optional<PodFailurePolicy> pod_failure_policy(const JobSpec& spec) {
  auto it = spec.passthrough.find("podFailurePolicy");
  if (it == spec.passthrough.end()) return std::nullopt;
  const auto j = nlohmann::json::parse(it->second, nullptr, false);
  if (j.is_discarded() || j.is_null()) return std::nullopt;
  codec::Context c;
  PodFailurePolicy policy;
  codec::decode_value(j, FieldPath("spec").child("podFailurePolicy"), c, policy);
  return policy;
}

}  // namespace switchyard::api
