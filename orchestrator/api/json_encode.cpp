// Objects to JSON in the Kubernetes wire format.
#include "orchestrator/api/json_codec.h"

#include "orchestrator/api/apps_codec.h"
#include "orchestrator/api/config_codec.h"
#include "orchestrator/api/batch_codec.h"
#include "orchestrator/api/statefulset_codec.h"
#include "orchestrator/api/json_reader.h"

namespace switchyard::api {
namespace codec {

// Declared first so that encode_list finds every overload.
json encode(const OwnerReference&);
json encode(const ObjectReference&);
json encode(const ContainerPort&);
json encode(const Container&);
json encode(const PodCondition&);
json encode(const ServicePort&);
json encode(const LoadBalancerIngress&);
json encode(const EndpointAddress&);
json encode(const EndpointPort&);
json encode(const EndpointSubset&);
json encode(const SliceEndpoint&);
json encode(const SlicePort&);
json encode(const Taint&);
json encode(const NodeAddress&);
json encode(const NodeCondition&);

// ---- encoding -------------------------------------------------------------------------

json encode(const OwnerReference& o) {
  json j = {{"apiVersion", o.api_version}, {"kind", o.kind}, {"name", o.name}, {"uid", o.uid}};
  put(j, "controller", o.controller);
  put(j, "blockOwnerDeletion", o.block_owner_deletion);
  return j;
}

json encode(const ObjectReference& o) {
  json j = json::object();
  put(j, "kind", o.kind);
  put(j, "namespace", o.namespace_);
  put(j, "name", o.name);
  put(j, "uid", o.uid);
  put(j, "apiVersion", o.api_version);
  put(j, "resourceVersion", o.resource_version);
  put(j, "fieldPath", o.field_path);
  return j;
}

template <class T>
json encode_list(const std::vector<T>& v) {
  json a = json::array();
  for (const auto& e : v) a.push_back(encode(e));
  return a;
}
template <class T>
void put_list(json& o, const char* k, const std::vector<T>& v) {
  if (!v.empty()) o[k] = encode_list(v);
}
static void put_entries(json& o, const char* k, const char* field, const std::vector<std::string>& v) {
  if (v.empty()) return;
  json a = json::array();
  for (const auto& s : v) a.push_back({{field, s}});
  o[k] = std::move(a);
}

json encode(const ContainerPort& p) {
  json j = {{"containerPort", p.container_port}};
  put(j, "name", p.name);
  put(j, "hostPort", p.host_port);
  put(j, "protocol", p.protocol);
  put(j, "hostIP", p.host_ip);
  return j;
}

json encode(const Container& c) {
  json j = {{"name", c.name}};
  put(j, "image", c.image);
  put(j, "command", c.command);
  put(j, "args", c.args);
  put(j, "workingDir", c.working_dir);
  put_list(j, "ports", c.ports);
  put(j, "imagePullPolicy", c.image_pull_policy);
  put_passthrough(j, c.passthrough);
  return j;
}

json encode(const PodCondition& c) {
  json j = {{"type", c.type}, {"status", c.status}};
  j["lastProbeTime"] = c.last_probe_time.empty() ? json(nullptr) : json(c.last_probe_time);
  put(j, "lastTransitionTime", c.last_transition_time);
  put(j, "reason", c.reason);
  put(j, "message", c.message);
  return j;
}

json encode(const ServicePort& p) {
  json j = json::object();
  put(j, "name", p.name);
  put(j, "protocol", p.protocol);
  put(j, "appProtocol", p.app_protocol);
  j["port"] = p.port;
  if (!p.target_port.is_zero())
    j["targetPort"] = p.target_port.is_string ? json(p.target_port.string_value) : json(p.target_port.int_value);
  put(j, "nodePort", p.node_port);
  return j;
}

json encode(const LoadBalancerIngress& i) {
  json j = json::object();
  put(j, "ip", i.ip);
  put(j, "hostname", i.hostname);
  put(j, "ipMode", i.ip_mode);
  put_passthrough(j, i.passthrough);
  return j;
}

json encode(const EndpointAddress& a) {
  json j = {{"ip", a.ip}};
  put(j, "hostname", a.hostname);
  put(j, "nodeName", a.node_name);
  if (a.target_ref) j["targetRef"] = encode(*a.target_ref);
  return j;
}

json encode(const EndpointPort& p) {
  json j = {{"port", p.port}};
  put(j, "name", p.name);
  put(j, "protocol", p.protocol);
  put(j, "appProtocol", p.app_protocol);
  return j;
}

json encode(const EndpointSubset& s) {
  json j = json::object();
  put_list(j, "addresses", s.addresses);
  put_list(j, "notReadyAddresses", s.not_ready_addresses);
  put_list(j, "ports", s.ports);
  return j;
}

json encode(const SliceEndpoint& e) {
  json j = {{"addresses", e.addresses}, {"conditions", json::object()}};
  put(j["conditions"], "ready", e.conditions.ready);
  put(j["conditions"], "serving", e.conditions.serving);
  put(j["conditions"], "terminating", e.conditions.terminating);
  put(j, "hostname", e.hostname);
  if (e.target_ref) j["targetRef"] = encode(*e.target_ref);
  put(j, "deprecatedTopology", e.deprecated_topology);
  put(j, "nodeName", e.node_name);
  put(j, "zone", e.zone);
  if (e.hints) {
    json h = json::object();
    put_entries(h, "forZones", "name", e.hints->for_zones);
    put_entries(h, "forNodes", "name", e.hints->for_nodes);
    j["hints"] = std::move(h);
  }
  return j;
}

json encode(const SlicePort& p) {
  json j = json::object();
  put(j, "name", p.name);
  put(j, "protocol", p.protocol);
  put(j, "port", p.port);
  put(j, "appProtocol", p.app_protocol);
  return j;
}

json encode(const Taint& t) {
  json j = {{"key", t.key}, {"effect", t.effect}};
  put(j, "value", t.value);
  put(j, "timeAdded", t.time_added);
  return j;
}
json encode(const NodeAddress& a) { return {{"type", a.type}, {"address", a.address}}; }
json encode(const NodeCondition& c) {
  json j = {{"type", c.type}, {"status", c.status}};
  put(j, "lastHeartbeatTime", c.last_heartbeat_time);
  put(j, "lastTransitionTime", c.last_transition_time);
  put(j, "reason", c.reason);
  put(j, "message", c.message);
  return j;
}

static void encode_body(json& j, const Namespace& o) {
  j["spec"] = json::object();
  put(j["spec"], "finalizers", o.spec_finalizers);
  j["status"] = json::object();
  put(j["status"], "phase", o.status_phase);
  put_passthrough(j["status"], o.status_passthrough);
}

json encode_pod_spec(const PodSpec& s) {
  json spec = json::object();
  put_list(spec, "initContainers", s.init_containers);
  spec["containers"] = encode_list(s.containers);
  put(spec, "restartPolicy", s.restart_policy);
  put(spec, "terminationGracePeriodSeconds", s.termination_grace_period_seconds);
  put(spec, "dnsPolicy", s.dns_policy);
  put(spec, "nodeSelector", s.node_selector);
  put(spec, "serviceAccountName", s.service_account_name);
  put(spec, "nodeName", s.node_name);
  put(spec, "hostNetwork", s.host_network);
  put(spec, "hostname", s.hostname);
  put(spec, "subdomain", s.subdomain);
  put_passthrough(spec, s.passthrough);
  return spec;
}

static void encode_body(json& j, const Pod& o) {
  j["spec"] = encode_pod_spec(o.spec);

  const PodStatus& st = o.status;
  json status = json::object();
  put(status, "phase", st.phase);
  put_list(status, "conditions", st.conditions);
  put(status, "message", st.message);
  put(status, "reason", st.reason);
  put(status, "hostIP", st.host_ip);
  put_entries(status, "hostIPs", "ip", st.host_ips);
  put(status, "podIP", st.pod_ip);
  put_entries(status, "podIPs", "ip", st.pod_ips);
  put(status, "startTime", st.start_time);
  put_passthrough(status, st.passthrough);
  j["status"] = std::move(status);
}

static void encode_body(json& j, const Service& o) {
  const ServiceSpec& s = o.spec;
  json spec = json::object();
  put_list(spec, "ports", s.ports);
  put(spec, "selector", s.selector);
  put(spec, "clusterIP", s.cluster_ip);
  put(spec, "clusterIPs", s.cluster_ips);
  put(spec, "type", s.type);
  put(spec, "externalIPs", s.external_ips);
  put(spec, "sessionAffinity", s.session_affinity);
  put(spec, "loadBalancerIP", s.load_balancer_ip);
  put(spec, "loadBalancerSourceRanges", s.load_balancer_source_ranges);
  put(spec, "externalName", s.external_name);
  put(spec, "externalTrafficPolicy", s.external_traffic_policy);
  put(spec, "healthCheckNodePort", s.health_check_node_port);
  put(spec, "publishNotReadyAddresses", s.publish_not_ready_addresses);
  if (s.session_affinity_timeout_seconds)
    spec["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", *s.session_affinity_timeout_seconds}}}};
  put(spec, "ipFamilies", s.ip_families);
  put(spec, "ipFamilyPolicy", s.ip_family_policy);
  put(spec, "allocateLoadBalancerNodePorts", s.allocate_load_balancer_node_ports);
  put(spec, "loadBalancerClass", s.load_balancer_class);
  put(spec, "internalTrafficPolicy", s.internal_traffic_policy);
  put(spec, "trafficDistribution", s.traffic_distribution);
  j["spec"] = std::move(spec);

  json lb = json::object();
  put_list(lb, "ingress", o.status_load_balancer_ingress);
  j["status"] = {{"loadBalancer", std::move(lb)}};
  put_passthrough(j["status"], o.status_passthrough);
}

static void encode_body(json& j, const Endpoints& o) { put_list(j, "subsets", o.subsets); }

static void encode_body(json& j, const EndpointSlice& o) {
  j["addressType"] = o.address_type;
  j["endpoints"] = encode_list(o.endpoints);
  j["ports"] = encode_list(o.ports);
}

static void encode_body(json& j, const Node& o) {
  json spec = json::object();
  put(spec, "podCIDR", o.pod_cidr);
  put(spec, "podCIDRs", o.pod_cidrs);
  put(spec, "providerID", o.provider_id);
  put(spec, "unschedulable", o.unschedulable);
  put_list(spec, "taints", o.taints);
  put_passthrough(spec, o.spec_passthrough);
  j["spec"] = std::move(spec);
  json status = json::object();
  put(status, "capacity", o.capacity);
  put(status, "allocatable", o.allocatable);
  put_list(status, "conditions", o.conditions);
  put_list(status, "addresses", o.addresses);
  put_passthrough(status, o.status_passthrough);
  j["status"] = std::move(status);
}

static void encode_body(json& j, const Event& o) {
  j["involvedObject"] = encode(o.involved_object);
  put(j, "reason", o.reason);
  put(j, "message", o.message);
  put(j, "type", o.type);
  put(j, "count", o.count);
  // Go's metav1.Time without omitempty: null when unset, as kube-apiserver writes it.
  j["firstTimestamp"] = o.first_timestamp.empty() ? json() : json(o.first_timestamp);
  j["lastTimestamp"] = o.last_timestamp.empty() ? json() : json(o.last_timestamp);
  put_passthrough(j, o.passthrough);
  if (!j.contains("source")) j["source"] = json::object();
  if (!j.contains("eventTime")) j["eventTime"] = json();
  if (!j.contains("reportingComponent")) j["reportingComponent"] = "";
  if (!j.contains("reportingInstance")) j["reportingInstance"] = "";
}

static void encode_body(json& j, const Lease& o) {
  json spec = json::object();
  put(spec, "holderIdentity", o.holder_identity);
  put(spec, "leaseDurationSeconds", o.lease_duration_seconds);
  put(spec, "acquireTime", o.acquire_time);
  put(spec, "renewTime", o.renew_time);
  put(spec, "leaseTransitions", o.lease_transitions);
  put_passthrough(spec, o.spec_passthrough);
  j["spec"] = std::move(spec);
}

static void encode_body(json& j, const Role& o) { put_passthrough(j, o.body); }
static void encode_body(json& j, const ClusterRole& o) { put_passthrough(j, o.body); }
static void encode_body(json& j, const RoleBinding& o) { put_passthrough(j, o.body); }
static void encode_body(json& j, const ClusterRoleBinding& o) { put_passthrough(j, o.body); }
static void encode_body(json& j, const PriorityClass& o) { put_passthrough(j, o.body); }
static void encode_body(json& j, const PodDisruptionBudget& o) { put_passthrough(j, o.body); }
static void encode_body(json& j, const PersistentVolume& o) { put_passthrough(j, o.body); }
static void encode_body(json& j, const PersistentVolumeClaim& o) { put_passthrough(j, o.body); }
static void encode_body(json& j, const StorageClass& o) { put_passthrough(j, o.body); }

}  // namespace codec

using nlohmann::json;

nlohmann::json encode_meta(const ObjectMeta& m) {
  using codec::put;
  json j = json::object();
  put(j, "name", m.name);
  put(j, "generateName", m.generate_name);
  put(j, "namespace", m.namespace_);
  put(j, "uid", m.uid);
  put(j, "resourceVersion", m.resource_version);
  put(j, "generation", m.generation);
  put(j, "creationTimestamp", m.creation_timestamp);
  put(j, "deletionTimestamp", m.deletion_timestamp);
  put(j, "deletionGracePeriodSeconds", m.deletion_grace_period_seconds);
  put(j, "labels", m.labels);
  put(j, "annotations", m.annotations);
  codec::put_list(j, "ownerReferences", m.owner_references);
  put(j, "finalizers", m.finalizers);
  if (!m.managed_fields_json.empty()) j["managedFields"] = json::parse(m.managed_fields_json);
  return j;
}

json encode_object(const Object& o) {
  return std::visit(
      [](const auto& obj) {
        json j = {{"apiVersion", obj.kApiVersion}, {"kind", obj.kKind}, {"metadata", encode_meta(obj.metadata)}};
        codec::encode_body(j, obj);
        return j;
      },
      o);
}

}  // namespace switchyard::api
