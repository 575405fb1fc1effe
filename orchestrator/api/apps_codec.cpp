// apps/v1 objects to and from the Kubernetes JSON wire format.
#include "orchestrator/api/apps_codec.h"

namespace switchyard::api::codec {

using nlohmann::json;

static void decode_fields(Reader& r, LabelSelectorRequirement& e) {
  r.field("key", e.key);
  r.field("operator", e.operator_);
  r.field("values", e.values);
}

void decode_fields(Reader& r, LabelSelectorSpec& s) {
  r.field("matchLabels", s.match_labels);
  r.field("matchExpressions", s.match_expressions);
}

void decode_fields(Reader& r, PodTemplateSpec& t) {
  r.field("metadata", t.metadata);
  r.field("spec", t.spec);
}

static void decode_fields(Reader& r, WorkloadCondition& c) {
  r.field("type", c.type);
  r.field("status", c.status);
  r.field("lastUpdateTime", c.last_update_time);
  r.field("lastTransitionTime", c.last_transition_time);
  r.field("reason", c.reason);
  r.field("message", c.message);
}

static void decode_fields(Reader& r, RollingUpdateDeployment& u) {
  r.field("maxUnavailable", u.max_unavailable);
  r.field("maxSurge", u.max_surge);
}

static void decode_fields(Reader& r, DeploymentStrategy& s) {
  r.field("type", s.type);
  r.field("rollingUpdate", s.rolling_update);
}

static void decode_fields(Reader& r, ReplicaSetStatus& s) {
  r.field("replicas", s.replicas);
  r.field("fullyLabeledReplicas", s.fully_labeled_replicas);
  r.field("readyReplicas", s.ready_replicas);
  r.field("availableReplicas", s.available_replicas);
  r.field("terminatingReplicas", s.terminating_replicas);
  r.field("observedGeneration", s.observed_generation);
  r.field("conditions", s.conditions);
}

static void decode_fields(Reader& r, DeploymentStatus& s) {
  r.field("observedGeneration", s.observed_generation);
  r.field("replicas", s.replicas);
  r.field("updatedReplicas", s.updated_replicas);
  r.field("readyReplicas", s.ready_replicas);
  r.field("availableReplicas", s.available_replicas);
  r.field("unavailableReplicas", s.unavailable_replicas);
  r.field("terminatingReplicas", s.terminating_replicas);
  r.field("conditions", s.conditions);
  r.field("collisionCount", s.collision_count);
}

static void decode_fields(Reader& r, RollingUpdateDaemonSet& u) {
  r.field("maxUnavailable", u.max_unavailable);
  r.field("maxSurge", u.max_surge);
}

static void decode_fields(Reader& r, DaemonSetUpdateStrategy& s) {
  r.field("type", s.type);
  r.field("rollingUpdate", s.rolling_update);
}

static void decode_fields(Reader& r, DaemonSetStatus& s) {
  r.field("currentNumberScheduled", s.current_number_scheduled);
  r.field("numberMisscheduled", s.number_misscheduled);
  r.field("desiredNumberScheduled", s.desired_number_scheduled);
  r.field("numberReady", s.number_ready);
  r.field("observedGeneration", s.observed_generation);
  r.field("updatedNumberScheduled", s.updated_number_scheduled);
  r.field("numberAvailable", s.number_available);
  r.field("numberUnavailable", s.number_unavailable);
  r.field("collisionCount", s.collision_count);
  r.field("conditions", s.conditions);
}

struct DaemonSetSpecView {
  DaemonSet& o;
};
static void decode_fields(Reader& r, DaemonSetSpecView& v) {
  r.field("selector", v.o.selector);
  r.field("template", v.o.template_);
  r.field("updateStrategy", v.o.update_strategy);
  r.field("minReadySeconds", v.o.min_ready_seconds);
  r.ignore("templateGeneration");  // extensions/v1beta1 only; apps/v1 keeps it in an annotation
  r.field("revisionHistoryLimit", v.o.revision_history_limit);
}

struct ReplicaSetSpecView {
  ReplicaSet& o;
};
static void decode_fields(Reader& r, ReplicaSetSpecView& v) {
  r.field("replicas", v.o.replicas);
  r.field("minReadySeconds", v.o.min_ready_seconds);
  r.field("selector", v.o.selector);
  r.field("template", v.o.template_);
}

struct DeploymentSpecView {
  Deployment& o;
};
static void decode_fields(Reader& r, DeploymentSpecView& v) {
  r.field("replicas", v.o.replicas);
  r.field("selector", v.o.selector);
  r.field("template", v.o.template_);
  r.field("strategy", v.o.strategy);
  r.field("minReadySeconds", v.o.min_ready_seconds);
  r.field("revisionHistoryLimit", v.o.revision_history_limit);
  r.field("paused", v.o.paused);
  r.field("progressDeadlineSeconds", v.o.progress_deadline_seconds);
  r.ignore("rollbackTo");  // extensions/v1beta1 only; apps/v1 drops it
}

template <class View>
static void decode_view(Reader& r, std::string_view key, View view) {
  if (const json* v = r.raw(key)) {
    Reader sub(*v, r.path().child(key), r.context());
    if (sub.is_object()) decode_fields(sub, view);
  }
}

static json encode_int_or_string(const IntOrString& v) { return v.is_string ? json(v.string_value) : json(v.int_value); }

json encode_selector(const LabelSelectorSpec& s) {
  json j = json::object();
  put(j, "matchLabels", s.match_labels);
  if (!s.match_expressions.empty()) {
    json a = json::array();
    for (const auto& e : s.match_expressions) {
      json x = {{"key", e.key}, {"operator", e.operator_}};
      put(x, "values", e.values);
      a.push_back(std::move(x));
    }
    j["matchExpressions"] = std::move(a);
  }
  return j;
}

json encode_template(const PodTemplateSpec& t) {
  json meta = encode_meta(t.metadata);
  // Go writes the template's creationTimestamp as null (metav1.Time without omitempty).
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = nullptr;
  return {{"metadata", std::move(meta)}, {"spec", encode_pod_spec(t.spec)}};
}

static void put_conditions(json& o, const std::vector<WorkloadCondition>& cs, bool with_update_time) {
  if (cs.empty()) return;
  json a = json::array();
  for (const auto& c : cs) {
    json x = {{"type", c.type}, {"status", c.status}};
    if (with_update_time) put(x, "lastUpdateTime", c.last_update_time);
    put(x, "lastTransitionTime", c.last_transition_time);
    put(x, "reason", c.reason);
    put(x, "message", c.message);
    a.push_back(std::move(x));
  }
  o["conditions"] = std::move(a);
}

void decode_body(Reader& r, ReplicaSet& o) {
  decode_view(r, "spec", ReplicaSetSpecView{o});
  r.field("status", o.status);
}

void decode_body(Reader& r, Deployment& o) {
  decode_view(r, "spec", DeploymentSpecView{o});
  r.field("status", o.status);
}

void decode_body(Reader& r, DaemonSet& o) {
  decode_view(r, "spec", DaemonSetSpecView{o});
  r.field("status", o.status);
}

void decode_body(Reader& r, ControllerRevision& o) {
  if (const json* d = r.raw("data")) o.data_json = d->dump();
  r.field("revision", o.revision);
}

void encode_body(json& j, const ReplicaSet& o) {
  json spec = json::object();
  put(spec, "replicas", o.replicas);
  put(spec, "minReadySeconds", o.min_ready_seconds);
  if (o.selector) spec["selector"] = encode_selector(*o.selector);
  spec["template"] = encode_template(o.template_);
  j["spec"] = std::move(spec);
  const auto& s = o.status;
  json status = {{"replicas", s.replicas}};  // no omitempty upstream
  put(status, "fullyLabeledReplicas", s.fully_labeled_replicas);
  put(status, "readyReplicas", s.ready_replicas);
  put(status, "availableReplicas", s.available_replicas);
  put(status, "terminatingReplicas", s.terminating_replicas);
  put(status, "observedGeneration", s.observed_generation);
  put_conditions(status, s.conditions, false);
  j["status"] = std::move(status);
}

void encode_body(json& j, const Deployment& o) {
  json spec = json::object();
  put(spec, "replicas", o.replicas);
  if (o.selector) spec["selector"] = encode_selector(*o.selector);
  spec["template"] = encode_template(o.template_);
  json strategy = json::object();
  put(strategy, "type", o.strategy.type);
  if (o.strategy.rolling_update) {
    json ru = json::object();
    if (o.strategy.rolling_update->max_unavailable)
      ru["maxUnavailable"] = encode_int_or_string(*o.strategy.rolling_update->max_unavailable);
    if (o.strategy.rolling_update->max_surge) ru["maxSurge"] = encode_int_or_string(*o.strategy.rolling_update->max_surge);
    strategy["rollingUpdate"] = std::move(ru);
  }
  spec["strategy"] = std::move(strategy);
  put(spec, "minReadySeconds", o.min_ready_seconds);
  put(spec, "revisionHistoryLimit", o.revision_history_limit);
  put(spec, "paused", o.paused);
  put(spec, "progressDeadlineSeconds", o.progress_deadline_seconds);
  j["spec"] = std::move(spec);
  const auto& s = o.status;
  json status = json::object();
  put(status, "observedGeneration", s.observed_generation);
  put(status, "replicas", s.replicas);
  put(status, "updatedReplicas", s.updated_replicas);
  put(status, "readyReplicas", s.ready_replicas);
  put(status, "availableReplicas", s.available_replicas);
  put(status, "unavailableReplicas", s.unavailable_replicas);
  put(status, "terminatingReplicas", s.terminating_replicas);
  put_conditions(status, s.conditions, true);
  put(status, "collisionCount", s.collision_count);
  j["status"] = std::move(status);
}

void encode_body(json& j, const DaemonSet& o) {
  json spec = json::object();
  if (o.selector) spec["selector"] = encode_selector(*o.selector);
  spec["template"] = encode_template(o.template_);
  json strategy = json::object();
  put(strategy, "type", o.update_strategy.type);
  if (o.update_strategy.rolling_update) {
    json ru = json::object();
    const auto& u = *o.update_strategy.rolling_update;
    if (u.max_unavailable) ru["maxUnavailable"] = encode_int_or_string(*u.max_unavailable);
    if (u.max_surge) ru["maxSurge"] = encode_int_or_string(*u.max_surge);
    strategy["rollingUpdate"] = std::move(ru);
  }
  spec["updateStrategy"] = std::move(strategy);
  put(spec, "minReadySeconds", o.min_ready_seconds);
  put(spec, "revisionHistoryLimit", o.revision_history_limit);
  j["spec"] = std::move(spec);
  const auto& s = o.status;
  // The first four have no omitempty upstream.
  json status = {{"currentNumberScheduled", s.current_number_scheduled},
                 {"numberMisscheduled", s.number_misscheduled},
                 {"desiredNumberScheduled", s.desired_number_scheduled},
                 {"numberReady", s.number_ready}};
  put(status, "observedGeneration", s.observed_generation);
  put(status, "updatedNumberScheduled", s.updated_number_scheduled);
  put(status, "numberAvailable", s.number_available);
  put(status, "numberUnavailable", s.number_unavailable);
  put(status, "collisionCount", s.collision_count);
  put_conditions(status, s.conditions, false);
  j["status"] = std::move(status);
}

void encode_body(json& j, const ControllerRevision& o) {
  if (!o.data_json.empty()) j["data"] = json::parse(o.data_json);
  j["revision"] = o.revision;
}

}  // namespace switchyard::api::codec
