// The wire format: camelCase, omitted empties, int-or-string ports, pointer fields, passthrough,
// and errors that name the field.
#include <gtest/gtest.h>

#include "orchestrator/api/json_codec.h"

namespace switchyard::api {
namespace {

using nlohmann::json;

Decoded decode_ok(const json& j) {
  auto d = decode_object(j);
  EXPECT_TRUE(d.has_value()) << (d ? "" : d.error().message);
  return d ? std::move(*d) : Decoded{};
}

TEST(JsonCodec, ServiceRoundTripsWithIntAndNamedTargetPorts) {
  json in = json::parse(R"({
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}, "resourceVersion": "12",
                 "creationTimestamp": "2026-11-23T10:00:00Z"},
    "spec": {"type": "NodePort", "selector": {"app": "web"},
             "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080},
                       {"name": "admin", "protocol": "TCP", "port": 81, "targetPort": 9000}],
             "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "sessionAffinity": "ClientIP",
             "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 300}},
             "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Cluster",
             "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"},
    "status": {"loadBalancer": {}}})");
  Decoded d = decode_ok(in);
  const auto& s = std::get<Service>(d.object);
  EXPECT_EQ(s.spec.ports[0].target_port, IntOrString::of(std::string("http")));
  EXPECT_EQ(s.spec.ports[1].target_port, IntOrString::of(9000));
  EXPECT_EQ(s.spec.session_affinity_timeout_seconds, 300);
  EXPECT_TRUE(d.unknown_fields.empty());
  EXPECT_EQ(encode_object(d.object), in);
}

TEST(JsonCodec, EmptyFieldsAreOmittedAndRequiredOnesKept) {
  Service s;
  s.metadata.name = "x";
  s.spec.ports = {ServicePort{.port = 53}};
  json j = encode_object(Object(s));
  EXPECT_EQ(j["spec"]["ports"][0], json({{"port", 53}}));  // port is not omitempty; the rest are
  EXPECT_FALSE(j["spec"].contains("clusterIP"));
  EXPECT_FALSE(j["metadata"].contains("namespace"));
  EXPECT_EQ(j["status"], json({{"loadBalancer", json::object()}}));
}

TEST(JsonCodec, PointerFieldsKeepFalseDistinctFromAbsent) {
  json in = json::parse(R"({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
    "metadata": {"name": "web-abc", "namespace": "shop"}, "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": false, "serving": true},
                   "nodeName": "n1", "zone": "z1", "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "shop"},
                   "hints": {"forZones": [{"name": "z1"}]}}],
    "ports": [{"name": "http", "protocol": "TCP", "port": 8080}]})");
  Decoded d = decode_ok(in);
  const auto& e = std::get<EndpointSlice>(d.object).endpoints[0];
  EXPECT_EQ(e.conditions.ready, false);
  EXPECT_EQ(e.conditions.serving, true);
  EXPECT_FALSE(e.conditions.terminating.has_value());
  EXPECT_EQ(e.hints->for_zones, std::vector<std::string>{"z1"});
  EXPECT_EQ(encode_object(d.object), in);
}

TEST(JsonCodec, PodKeepsFieldsItDoesNotInterpret) {
  json in = json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"},
    "spec": {"containers": [{"name": "c", "image": "busybox", "env": [{"name": "A", "value": "1"}],
                             "readinessProbe": {"httpGet": {"port": 8080, "path": "/"}}}],
             "tolerations": [{"operator": "Exists"}], "nodeName": "n1"},
    "status": {"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}],
               "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null}],
               "qosClass": "BestEffort"}})");
  Decoded d = decode_ok(in);
  EXPECT_EQ(std::get<Pod>(d.object).status.pod_ips, std::vector<std::string>{"10.1.0.5"});
  EXPECT_EQ(encode_object(d.object), in);
}

TEST(JsonCodec, NodeAndNamespaceAndEndpointsRoundTrip) {
  for (const char* text : {
           R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z1"}},
               "spec": {"podCIDR": "10.1.0.0/24", "podCIDRs": ["10.1.0.0/24"], "taints": [{"key": "k", "effect": "NoSchedule"}]},
               "status": {"addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
                          "conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.30.0"}}})",
           R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}, "spec": {"finalizers": ["kubernetes"]},
               "status": {"phase": "Active"}})",
           R"({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext", "namespace": "d"},
               "subsets": [{"addresses": [{"ip": "192.0.2.1", "nodeName": "n1"}], "ports": [{"port": 80, "protocol": "TCP"}]}]})"}) {
    json in = json::parse(text);
    EXPECT_EQ(encode_object(decode_ok(in).object), in) << text;
  }
}

TEST(JsonCodec, UnknownFieldsAreReportedWithTheirPath) {
  json in = json::parse(R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "nmespace": "d"},
    "spec": {"ports": [{"port": 80, "targetport": 80}], "tipe": "NodePort"}, "extra": 1})");
  Decoded d = decode_ok(in);
  EXPECT_EQ(d.unknown_fields, (std::vector<std::string>{"metadata.nmespace", "spec.ports[0].targetport", "spec.tipe", "extra"}));
}

struct BadCase {
  const char* json_text;
  const char* want;
};

TEST(JsonCodec, WrongTypesAndKindsNameWhatIsWrong) {
  for (const auto& c :
       std::vector<BadCase>{{R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [{"port": "80"}]}})",
                             "Service in v1: spec.ports[0].port: expected an integer, got string \"80\""},
                            {R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [{"port": 1e12}]}})",
                             "Service in v1: spec.ports[0].port: 1000000000000.0 is out of range for int32"},
                            {R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": {"port": 80}}})",
                             "Service in v1: spec.ports: expected an array, got object"},
                            {R"({"apiVersion": "v1", "kind": "Service", "metadata": {"labels": {"a": 1}}})",
                             "Service in v1: metadata.labels[a]: expected a string, got integer 1"},
                            {R"({"apiVersion": "v1", "kind": "Service", "metadata": [], "spec": {}})",
                             "Service in v1: metadata: expected an object, got array []"},
                            {R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"hostNetwork": "yes"}})",
                             "Pod in v1: spec.hostNetwork: expected a boolean, got string \"yes\""},
                            {R"({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"targetPort": true}]}})",
                             "Service in v1: spec.ports[0].targetPort: expected an integer or a string, got boolean true"},
                            {R"({"apiVersion": "v1", "kind": "Deployment"})", "no kind \"Deployment\" is registered for version \"v1\""},
                            {R"({"apiVersion": "v2", "kind": "Service"})", "no kind \"Service\" is registered for version \"v2\""},
                            {R"({"apiVersion": "v1"})", "Object 'Kind' is missing in '{\"apiVersion\":\"v1\"}'"},
                            {R"({"kind": "Service"})", "Object 'apiVersion' is missing in '{\"kind\":\"Service\"}'"},
                            {R"([1, 2])", "expected a JSON object, got array"}}) {
    auto d = decode_object(json::parse(c.json_text));
    ASSERT_FALSE(d.has_value()) << c.json_text;
    EXPECT_EQ(d.error().message, c.want);
  }
}

TEST(JsonCodec, DecodeAsChecksTheKindOfTheBody) {
  json body = {{"metadata", {{"name", "x"}}}, {"spec", {{"ports", {{{"port", 80}}}}}}};
  EXPECT_TRUE(decode_object_as(body, "v1", "Service").has_value());
  body["kind"] = "Pod";
  auto d = decode_object_as(body, "v1", "Service");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message, "the body is of kind \"Pod\", expected Service");
}

}  // namespace
}  // namespace switchyard::api
