// Objects from the Kubernetes JSON wire format.
#include "orchestrator/api/json_codec.h"

#include <fmt/format.h>

#include "orchestrator/api/apps_codec.h"
#include "orchestrator/api/config_codec.h"
#include "orchestrator/api/batch_codec.h"
#include "orchestrator/api/statefulset_codec.h"
#include "orchestrator/api/json_reader.h"

namespace switchyard::api {
namespace codec {

// ---- decoding: one decode_fields per struct, fields in the order Kubernetes declares them ----

void decode_fields(Reader& r, OwnerReference& o) {
  r.field("apiVersion", o.api_version);
  r.field("kind", o.kind);
  r.field("name", o.name);
  r.field("uid", o.uid);
  r.field("controller", o.controller);
  r.field("blockOwnerDeletion", o.block_owner_deletion);
}

void decode_fields(Reader& r, ObjectReference& o) {
  r.field("kind", o.kind);
  r.field("namespace", o.namespace_);
  r.field("name", o.name);
  r.field("uid", o.uid);
  r.field("apiVersion", o.api_version);
  r.field("resourceVersion", o.resource_version);
  r.field("fieldPath", o.field_path);
}

void decode_fields(Reader& r, ObjectMeta& m) {
  r.field("name", m.name);
  r.field("generateName", m.generate_name);
  r.field("namespace", m.namespace_);
  r.ignore("selfLink");
  r.field("uid", m.uid);
  r.field("resourceVersion", m.resource_version);
  r.field("generation", m.generation);
  r.field("creationTimestamp", m.creation_timestamp);
  r.field("deletionTimestamp", m.deletion_timestamp);
  r.field("deletionGracePeriodSeconds", m.deletion_grace_period_seconds);
  r.field("labels", m.labels);
  r.field("annotations", m.annotations);
  r.field("ownerReferences", m.owner_references);
  r.field("finalizers", m.finalizers);
  if (const json* mf = r.raw("managedFields")) {
    if (!mf->is_array())
      r.context().fail(r.path().child("managedFields"), "expected an array, got " + std::string(json_type_name(*mf)));
    else if (!mf->empty())
      m.managed_fields_json = mf->dump();
  }
}

// [{ip: "10.0.0.1"}] <-> ["10.0.0.1"], as PodIP/HostIP lists are written.
struct IpEntry {
  std::string ip;
};
void decode_fields(Reader& r, IpEntry& e) { r.field("ip", e.ip); }
struct NameEntry {
  std::string name;
};
void decode_fields(Reader& r, NameEntry& e) { r.field("name", e.name); }

template <class Entry>
static void decode_entry_list(Reader& r, std::string_view key, std::vector<std::string>& out) {
  std::vector<Entry> entries;
  r.field(key, entries);
  out.clear();
  for (auto& e : entries) {
    if constexpr (requires { e.ip; })
      out.push_back(std::move(e.ip));
    else
      out.push_back(std::move(e.name));
  }
}

void decode_fields(Reader& r, ContainerPort& p) {
  r.field("name", p.name);
  r.field("hostPort", p.host_port);
  r.field("containerPort", p.container_port);
  r.field("protocol", p.protocol);
  r.field("hostIP", p.host_ip);
}

void decode_fields(Reader& r, Container& c) {
  r.field("name", c.name);
  r.field("image", c.image);
  r.field("command", c.command);
  r.field("args", c.args);
  r.field("workingDir", c.working_dir);
  r.field("ports", c.ports);
  r.field("imagePullPolicy", c.image_pull_policy);
  r.passthrough(
      {"env", "envFrom", "resources", "resizePolicy", "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe",
       "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "securityContext", "stdin", "stdinOnce", "tty"},
      c.passthrough);
}

void decode_fields(Reader& r, PodSpec& s) {
  r.field("initContainers", s.init_containers);
  r.field("containers", s.containers);
  r.field("restartPolicy", s.restart_policy);
  r.field("terminationGracePeriodSeconds", s.termination_grace_period_seconds);
  r.field("dnsPolicy", s.dns_policy);
  r.field("nodeSelector", s.node_selector);
  r.field("serviceAccountName", s.service_account_name);
  r.field("nodeName", s.node_name);
  r.field("hostNetwork", s.host_network);
  r.field("hostname", s.hostname);
  r.field("subdomain", s.subdomain);
  r.passthrough({"volumes",
                 "ephemeralContainers",
                 "activeDeadlineSeconds",
                 "serviceAccount",
                 "automountServiceAccountToken",
                 "hostPID",
                 "hostIPC",
                 "shareProcessNamespace",
                 "securityContext",
                 "imagePullSecrets",
                 "affinity",
                 "schedulerName",
                 "tolerations",
                 "hostAliases",
                 "priorityClassName",
                 "priority",
                 "dnsConfig",
                 "readinessGates",
                 "runtimeClassName",
                 "enableServiceLinks",
                 "preemptionPolicy",
                 "overhead",
                 "topologySpreadConstraints",
                 "setHostnameAsFQDN",
                 "os",
                 "hostUsers",
                 "schedulingGates",
                 "resourceClaims",
                 "resources"},
                s.passthrough);
}

void decode_fields(Reader& r, PodCondition& c) {
  r.field("type", c.type);
  r.field("status", c.status);
  r.field("lastProbeTime", c.last_probe_time);
  r.field("lastTransitionTime", c.last_transition_time);
  r.field("reason", c.reason);
  r.field("message", c.message);
  r.ignore("observedGeneration");
}

void decode_fields(Reader& r, PodStatus& s) {
  r.field("phase", s.phase);
  r.field("conditions", s.conditions);
  r.field("message", s.message);
  r.field("reason", s.reason);
  r.field("hostIP", s.host_ip);
  decode_entry_list<IpEntry>(r, "hostIPs", s.host_ips);
  r.field("podIP", s.pod_ip);
  decode_entry_list<IpEntry>(r, "podIPs", s.pod_ips);
  r.field("startTime", s.start_time);
  r.passthrough({"initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses", "qosClass", "nominatedNodeName", "resize",
                 "resourceClaimStatuses", "observedGeneration"},
                s.passthrough);
}

void decode_fields(Reader& r, ServicePort& p) {
  r.field("name", p.name);
  r.field("protocol", p.protocol);
  r.field("appProtocol", p.app_protocol);
  r.field("port", p.port);
  r.field("targetPort", p.target_port);
  r.field("nodePort", p.node_port);
}

struct ClientIpConfig {
  std::optional<std::int32_t> timeout_seconds;
};
void decode_fields(Reader& r, ClientIpConfig& c) { r.field("timeoutSeconds", c.timeout_seconds); }
struct SessionAffinityConfig {
  std::optional<ClientIpConfig> client_ip;
};
void decode_fields(Reader& r, SessionAffinityConfig& c) { r.field("clientIP", c.client_ip); }

void decode_fields(Reader& r, ServiceSpec& s) {
  r.field("ports", s.ports);
  r.field("selector", s.selector);
  r.field("clusterIP", s.cluster_ip);
  r.field("clusterIPs", s.cluster_ips);
  r.field("type", s.type);
  r.field("externalIPs", s.external_ips);
  r.field("sessionAffinity", s.session_affinity);
  r.field("loadBalancerIP", s.load_balancer_ip);
  r.field("loadBalancerSourceRanges", s.load_balancer_source_ranges);
  r.field("externalName", s.external_name);
  r.field("externalTrafficPolicy", s.external_traffic_policy);
  r.field("healthCheckNodePort", s.health_check_node_port);
  r.field("publishNotReadyAddresses", s.publish_not_ready_addresses);
  std::optional<SessionAffinityConfig> affinity;
  r.field("sessionAffinityConfig", affinity);
  if (affinity && affinity->client_ip) s.session_affinity_timeout_seconds = affinity->client_ip->timeout_seconds;
  r.field("ipFamilies", s.ip_families);
  r.field("ipFamilyPolicy", s.ip_family_policy);
  r.field("allocateLoadBalancerNodePorts", s.allocate_load_balancer_node_ports);
  r.field("loadBalancerClass", s.load_balancer_class);
  r.field("internalTrafficPolicy", s.internal_traffic_policy);
  r.field("trafficDistribution", s.traffic_distribution);
}

void decode_fields(Reader& r, LoadBalancerIngress& i) {
  r.field("ip", i.ip);
  r.field("hostname", i.hostname);
  r.field("ipMode", i.ip_mode);
  r.passthrough({"ports"}, i.passthrough);
}

struct LoadBalancerStatus {
  std::vector<LoadBalancerIngress> ingress;
};
void decode_fields(Reader& r, LoadBalancerStatus& s) { r.field("ingress", s.ingress); }
struct ServiceStatus {
  LoadBalancerStatus load_balancer;
  Passthrough passthrough;
};
void decode_fields(Reader& r, ServiceStatus& s) {
  r.field("loadBalancer", s.load_balancer);
  r.passthrough({"conditions"}, s.passthrough);
}

void decode_fields(Reader& r, EndpointAddress& a) {
  r.field("ip", a.ip);
  r.field("hostname", a.hostname);
  r.field("nodeName", a.node_name);
  r.field("targetRef", a.target_ref);
}

void decode_fields(Reader& r, EndpointPort& p) {
  r.field("name", p.name);
  r.field("port", p.port);
  r.field("protocol", p.protocol);
  r.field("appProtocol", p.app_protocol);
}

void decode_fields(Reader& r, EndpointSubset& s) {
  r.field("addresses", s.addresses);
  r.field("notReadyAddresses", s.not_ready_addresses);
  r.field("ports", s.ports);
}

void decode_fields(Reader& r, EndpointConditions& c) {
  r.field("ready", c.ready);
  r.field("serving", c.serving);
  r.field("terminating", c.terminating);
}

void decode_fields(Reader& r, EndpointHints& h) {
  decode_entry_list<NameEntry>(r, "forZones", h.for_zones);
  decode_entry_list<NameEntry>(r, "forNodes", h.for_nodes);
}

void decode_fields(Reader& r, SliceEndpoint& e) {
  r.field("addresses", e.addresses);
  r.field("conditions", e.conditions);
  r.field("hostname", e.hostname);
  r.field("targetRef", e.target_ref);
  r.field("deprecatedTopology", e.deprecated_topology);
  r.field("nodeName", e.node_name);
  r.field("zone", e.zone);
  r.field("hints", e.hints);
}

void decode_fields(Reader& r, SlicePort& p) {
  r.field("name", p.name);
  r.field("protocol", p.protocol);
  r.field("port", p.port);
  r.field("appProtocol", p.app_protocol);
}

void decode_fields(Reader& r, Taint& t) {
  r.field("key", t.key);
  r.field("value", t.value);
  r.field("effect", t.effect);
  r.field("timeAdded", t.time_added);
}

void decode_fields(Reader& r, NodeAddress& a) {
  r.field("type", a.type);
  r.field("address", a.address);
}

void decode_fields(Reader& r, NodeCondition& c) {
  r.field("type", c.type);
  r.field("status", c.status);
  r.field("lastHeartbeatTime", c.last_heartbeat_time);
  r.field("lastTransitionTime", c.last_transition_time);
  r.field("reason", c.reason);
  r.field("message", c.message);
}

// Top-level bodies: spec and status are decoded through small local views of the object.
struct NamespaceSpec {
  std::vector<std::string>& finalizers;
};
struct NamespaceStatus {
  std::string& phase;
  Passthrough& passthrough;
};
void decode_fields(Reader& r, NamespaceSpec& s) { r.field("finalizers", s.finalizers); }
void decode_fields(Reader& r, NamespaceStatus& s) {
  r.field("phase", s.phase);
  r.passthrough({"conditions"}, s.passthrough);
}

struct NodeSpecView {
  Node& n;
};
struct NodeStatusView {
  Node& n;
};
void decode_fields(Reader& r, NodeSpecView& v) {
  r.field("podCIDR", v.n.pod_cidr);
  r.field("podCIDRs", v.n.pod_cidrs);
  r.field("providerID", v.n.provider_id);
  r.field("unschedulable", v.n.unschedulable);
  r.field("taints", v.n.taints);
  r.passthrough({"configSource", "externalID"}, v.n.spec_passthrough);
}
void decode_fields(Reader& r, NodeStatusView& v) {
  r.field("capacity", v.n.capacity);
  r.field("allocatable", v.n.allocatable);
  r.field("conditions", v.n.conditions);
  r.field("addresses", v.n.addresses);
  r.passthrough(
      {"phase", "daemonEndpoints", "nodeInfo", "images", "volumesInUse", "volumesAttached", "config", "runtimeHandlers", "features"},
      v.n.status_passthrough);
}

struct LeaseSpecView {
  Lease& l;
};
void decode_fields(Reader& r, LeaseSpecView& v) {
  r.field("holderIdentity", v.l.holder_identity);
  r.field("leaseDurationSeconds", v.l.lease_duration_seconds);
  r.field("acquireTime", v.l.acquire_time);
  r.field("renewTime", v.l.renew_time);
  r.field("leaseTransitions", v.l.lease_transitions);
  r.passthrough({"strategy", "preferredHolder"}, v.l.spec_passthrough);
}

template <class View>
static void decode_view(Reader& r, std::string_view key, View view) {
  if (const json* v = r.raw(key)) {
    Reader sub(*v, r.path().child(key), r.context());
    if (sub.is_object()) decode_fields(sub, view);
  }
}

static void decode_body(Reader& r, Namespace& o) {
  decode_view(r, "spec", NamespaceSpec{o.spec_finalizers});
  decode_view(r, "status", NamespaceStatus{o.status_phase, o.status_passthrough});
}
static void decode_body(Reader& r, Pod& o) {
  r.field("spec", o.spec);
  r.field("status", o.status);
}
static void decode_body(Reader& r, Service& o) {
  r.field("spec", o.spec);
  ServiceStatus st;
  r.field("status", st);
  o.status_load_balancer_ingress = std::move(st.load_balancer.ingress);
  o.status_passthrough = std::move(st.passthrough);
}
static void decode_body(Reader& r, Endpoints& o) { r.field("subsets", o.subsets); }
static void decode_body(Reader& r, EndpointSlice& o) {
  r.field("addressType", o.address_type);
  r.field("endpoints", o.endpoints);
  r.field("ports", o.ports);
}
static void decode_body(Reader& r, Node& o) {
  decode_view(r, "spec", NodeSpecView{o});
  decode_view(r, "status", NodeStatusView{o});
}
static void decode_body(Reader& r, Event& o) {
  r.field("involvedObject", o.involved_object);
  r.field("reason", o.reason);
  r.field("message", o.message);
  r.field("type", o.type);
  r.field("count", o.count);
  r.field("firstTimestamp", o.first_timestamp);
  r.field("lastTimestamp", o.last_timestamp);
  r.passthrough({"source", "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance"}, o.passthrough);
}
static void decode_body(Reader& r, Lease& o) { decode_view(r, "spec", LeaseSpecView{o}); }
static void decode_body(Reader& r, Role& o) { r.passthrough({"rules"}, o.body); }
static void decode_body(Reader& r, ClusterRole& o) { r.passthrough({"rules", "aggregationRule"}, o.body); }
static void decode_body(Reader& r, RoleBinding& o) { r.passthrough({"subjects", "roleRef"}, o.body); }
static void decode_body(Reader& r, ClusterRoleBinding& o) { r.passthrough({"subjects", "roleRef"}, o.body); }
static void decode_body(Reader& r, PriorityClass& o) {
  r.passthrough({"value", "globalDefault", "description", "preemptionPolicy"}, o.body);
}
static void decode_body(Reader& r, PodDisruptionBudget& o) { r.passthrough({"spec", "status"}, o.body); }
static void decode_body(Reader& r, PersistentVolume& o) { r.passthrough({"spec", "status"}, o.body); }
static void decode_body(Reader& r, PersistentVolumeClaim& o) { r.passthrough({"spec", "status"}, o.body); }
static void decode_body(Reader& r, StorageClass& o) {
  r.passthrough(
      {"provisioner", "parameters", "reclaimPolicy", "mountOptions", "allowVolumeExpansion", "volumeBindingMode", "allowedTopologies"},
      o.body);
}

}  // namespace codec

using nlohmann::json;

template <class T>
static Decoded decode_kind(const json& j, codec::Context& c) {
  T obj;
  {
    codec::Reader r(j, FieldPath(), c);
    r.ignore("apiVersion");
    r.ignore("kind");
    r.field("metadata", obj.metadata);
    codec::decode_body(r, obj);
  }  // the Reader reports unknown top-level fields when it goes
  return Decoded{Object(std::move(obj)), std::move(c.unknown_fields)};
}

namespace {
using DecodeFn = Decoded (*)(const json&, codec::Context&);
struct KindEntry {
  std::string_view api_version, kind;
  DecodeFn decode;
};
constexpr KindEntry kKinds[] = {
    {"v1", "Namespace", &decode_kind<Namespace>},
    {"v1", "Pod", &decode_kind<Pod>},
    {"v1", "Service", &decode_kind<Service>},
    {"v1", "Endpoints", &decode_kind<Endpoints>},
    {"discovery.k8s.io/v1", "EndpointSlice", &decode_kind<EndpointSlice>},
    {"v1", "Node", &decode_kind<Node>},
    {"coordination.k8s.io/v1", "Lease", &decode_kind<Lease>},
    {"v1", "Event", &decode_kind<Event>},
    {"apps/v1", "ReplicaSet", &decode_kind<ReplicaSet>},
    {"apps/v1", "Deployment", &decode_kind<Deployment>},
    {"apps/v1", "DaemonSet", &decode_kind<DaemonSet>},
    {"apps/v1", "ControllerRevision", &decode_kind<ControllerRevision>},
    {"rbac.authorization.k8s.io/v1", "Role", &decode_kind<Role>},
    {"rbac.authorization.k8s.io/v1", "ClusterRole", &decode_kind<ClusterRole>},
    {"rbac.authorization.k8s.io/v1", "RoleBinding", &decode_kind<RoleBinding>},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &decode_kind<ClusterRoleBinding>},
    {"v1", "ConfigMap", &decode_kind<ConfigMap>},
    {"v1", "Secret", &decode_kind<Secret>},
    {"v1", "ServiceAccount", &decode_kind<ServiceAccount>},
    {"scheduling.k8s.io/v1", "PriorityClass", &decode_kind<PriorityClass>},
    {"policy/v1", "PodDisruptionBudget", &decode_kind<PodDisruptionBudget>},
    {"batch/v1", "Job", &decode_kind<Job>},
    {"batch/v1", "CronJob", &decode_kind<CronJob>},
    {"apps/v1", "StatefulSet", &decode_kind<StatefulSet>},
    {"v1", "PersistentVolume", &decode_kind<PersistentVolume>},
    {"v1", "PersistentVolumeClaim", &decode_kind<PersistentVolumeClaim>},
    {"storage.k8s.io/v1", "StorageClass", &decode_kind<StorageClass>},
};
const KindEntry* find_kind(std::string_view api_version, std::string_view kind) {
  for (const auto& k : kKinds)
    if (k.api_version == api_version && k.kind == kind) return &k;
  return nullptr;
}
std::string excerpt(const json& j) {
  std::string s = j.dump();
  return s.size() > 120 ? s.substr(0, 117) + "..." : s;
}
}  // namespace

bool is_known_kind(std::string_view api_version, std::string_view kind) { return find_kind(api_version, kind) != nullptr; }

static std::expected<Decoded, DecodeError> run_decoder(const KindEntry& k, const json& j) {
  codec::Context c;
  Decoded d = k.decode(j, c);
  if (c.failed()) return std::unexpected(DecodeError{fmt::format("{} in {}: {}", k.kind, k.api_version, c.error)});
  return d;
}

std::expected<Decoded, DecodeError> decode_object(const json& j) {
  if (!j.is_object()) return std::unexpected(DecodeError{fmt::format("expected a JSON object, got {}", codec::json_type_name(j))});
  auto av = j.find("apiVersion");
  auto kd = j.find("kind");
  if (kd == j.end() || !kd->is_string() || kd->get<std::string>().empty())
    return std::unexpected(DecodeError{fmt::format("Object 'Kind' is missing in '{}'", excerpt(j))});
  if (av == j.end() || !av->is_string() || av->get<std::string>().empty())
    return std::unexpected(DecodeError{fmt::format("Object 'apiVersion' is missing in '{}'", excerpt(j))});
  const auto api_version = av->get<std::string>();
  const auto kind = kd->get<std::string>();
  const KindEntry* k = find_kind(api_version, kind);
  if (!k) return std::unexpected(DecodeError{fmt::format("no kind \"{}\" is registered for version \"{}\"", kind, api_version)});
  return run_decoder(*k, j);
}

std::expected<Decoded, DecodeError> decode_object_as(const json& j, std::string_view api_version, std::string_view kind) {
  const KindEntry* k = find_kind(api_version, kind);
  if (!k) return std::unexpected(DecodeError{fmt::format("no kind \"{}\" is registered for version \"{}\"", kind, api_version)});
  if (!j.is_object()) return std::unexpected(DecodeError{fmt::format("expected a JSON object, got {}", codec::json_type_name(j))});
  auto av = j.find("apiVersion");
  auto kd = j.find("kind");
  if (kd != j.end() && !(kd->is_string() && (kd->get<std::string>() == kind || kd->get<std::string>().empty())))
    return std::unexpected(DecodeError{fmt::format("the body is of kind {}, expected {}", kd->dump(), kind)});
  if (av != j.end() && !(av->is_string() && (av->get<std::string>() == api_version || av->get<std::string>().empty())))
    return std::unexpected(DecodeError{fmt::format("the body has apiVersion {}, expected \"{}\"", av->dump(), api_version)});
  return run_decoder(*k, j);
}

ObjectMeta& meta_of(Object& o) {
  return std::visit([](auto& x) -> ObjectMeta& { return x.metadata; }, o);
}
const ObjectMeta& meta_of(const Object& o) {
  return std::visit([](const auto& x) -> const ObjectMeta& { return x.metadata; }, o);
}
const char* kind_of(const Object& o) {
  return std::visit([](const auto& x) { return x.kKind; }, o);
}
const char* api_version_of(const Object& o) {
  return std::visit([](const auto& x) { return x.kApiVersion; }, o);
}
bool is_namespaced(const Object& o) {
  return std::visit([](const auto& x) { return x.kNamespaced; }, o);
}

}  // namespace switchyard::api
