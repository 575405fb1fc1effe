// apps/v1 StatefulSet to and from the Kubernetes JSON wire format.
#include "orchestrator/api/statefulset_codec.h"

namespace switchyard::api::codec {

using nlohmann::json;

static void decode_fields(Reader& r, RollingUpdateStatefulSetStrategy& u) {
  r.field("partition", u.partition);
  r.field("maxUnavailable", u.max_unavailable);
}

static void decode_fields(Reader& r, StatefulSetUpdateStrategy& s) {
  r.field("type", s.type);
  r.field("rollingUpdate", s.rolling_update);
}

static void decode_fields(Reader& r, StatefulSetPersistentVolumeClaimRetentionPolicy& p) {
  r.field("whenDeleted", p.when_deleted);
  r.field("whenScaled", p.when_scaled);
}

static void decode_fields(Reader& r, StatefulSetOrdinals& o) { r.field("start", o.start); }

static void decode_fields(Reader& r, WorkloadCondition& c) {
  r.field("type", c.type);
  r.field("status", c.status);
  r.field("lastTransitionTime", c.last_transition_time);
  r.field("reason", c.reason);
  r.field("message", c.message);
}

static void decode_fields(Reader& r, StatefulSetSpec& s) {
  r.field("replicas", s.replicas);
  r.field("selector", s.selector);
  r.field("template", s.template_);
  r.field("serviceName", s.service_name);
  r.field("podManagementPolicy", s.pod_management_policy);
  r.field("updateStrategy", s.update_strategy);
  r.field("revisionHistoryLimit", s.revision_history_limit);
  r.field("minReadySeconds", s.min_ready_seconds);
  r.field("persistentVolumeClaimRetentionPolicy", s.persistent_volume_claim_retention_policy);
  r.field("ordinals", s.ordinals);
  r.passthrough({"volumeClaimTemplates"}, s.passthrough);
}

static void decode_fields(Reader& r, StatefulSetStatus& s) {
  r.field("observedGeneration", s.observed_generation);
  r.field("replicas", s.replicas);
  r.field("readyReplicas", s.ready_replicas);
  r.field("currentReplicas", s.current_replicas);
  r.field("updatedReplicas", s.updated_replicas);
  r.field("currentRevision", s.current_revision);
  r.field("updateRevision", s.update_revision);
  r.field("collisionCount", s.collision_count);
  r.field("conditions", s.conditions);
  r.field("availableReplicas", s.available_replicas);
}

void decode_body(Reader& r, StatefulSet& o) {
  r.field("spec", o.spec);
  r.field("status", o.status);
}

static json encode_int_or_string(const IntOrString& v) { return v.is_string ? json(v.string_value) : json(v.int_value); }

void encode_body(json& j, const StatefulSet& o) {
  const auto& s = o.spec;
  json spec = json::object();
  put(spec, "replicas", s.replicas);
  if (s.selector) spec["selector"] = encode_selector(*s.selector);
  spec["template"] = encode_template(s.template_);
  spec["serviceName"] = s.service_name;  // no omitempty upstream
  put(spec, "podManagementPolicy", s.pod_management_policy);
  json strategy = json::object();
  put(strategy, "type", s.update_strategy.type);
  if (const auto& ru = s.update_strategy.rolling_update) {
    json u = json::object();
    put(u, "partition", ru->partition);
    if (ru->max_unavailable) u["maxUnavailable"] = encode_int_or_string(*ru->max_unavailable);
    strategy["rollingUpdate"] = std::move(u);
  }
  spec["updateStrategy"] = std::move(strategy);
  put(spec, "revisionHistoryLimit", s.revision_history_limit);
  put(spec, "minReadySeconds", s.min_ready_seconds);
  if (const auto& p = s.persistent_volume_claim_retention_policy) {
    json policy = json::object();
    put(policy, "whenDeleted", p->when_deleted);
    put(policy, "whenScaled", p->when_scaled);
    spec["persistentVolumeClaimRetentionPolicy"] = std::move(policy);
  }
  if (s.ordinals) spec["ordinals"] = {{"start", s.ordinals->start}};
  put_passthrough(spec, s.passthrough);
  j["spec"] = std::move(spec);

  const auto& st = o.status;
  json status = json::object();
  put(status, "observedGeneration", st.observed_generation);
  status["replicas"] = st.replicas;  // no omitempty upstream
  put(status, "readyReplicas", st.ready_replicas);
  put(status, "currentReplicas", st.current_replicas);
  put(status, "updatedReplicas", st.updated_replicas);
  put(status, "currentRevision", st.current_revision);
  put(status, "updateRevision", st.update_revision);
  put(status, "collisionCount", st.collision_count);
  if (!st.conditions.empty()) {
    json a = json::array();
    for (const auto& c : st.conditions) {
      json x = {{"type", c.type}, {"status", c.status}};
      put(x, "lastTransitionTime", c.last_transition_time);
      put(x, "reason", c.reason);
      put(x, "message", c.message);
      a.push_back(std::move(x));
    }
    status["conditions"] = std::move(a);
  }
  status["availableReplicas"] = st.available_replicas;  // no omitempty upstream
  j["status"] = std::move(status);
}

}  // namespace switchyard::api::codec
