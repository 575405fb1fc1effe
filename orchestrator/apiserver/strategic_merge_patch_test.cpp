// Strategic merge patch as a kubectl user meets it: merge keys of the served kinds, the
// directives, element order, and the errors. Every case asserts the whole resulting object.
#include <gtest/gtest.h>

#include "orchestrator/apiserver/patch.h"
#include "orchestrator/apiserver/patch_schema.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

struct SmpCase {
  const char* name;
  const char* kind;
  const char* doc;
  const char* patch;
  const char* expected;  // nullptr when the patch must fail
  int status = 0;
  const char* message = "";  // the whole error message
};

void PrintTo(const SmpCase& c, std::ostream* os) { *os << c.name; }
std::string case_name(const testing::TestParamInfo<SmpCase>& i) { return i.param.name; }

class StrategicMergePatchTest : public testing::TestWithParam<SmpCase> {};

TEST_P(StrategicMergePatchTest, Applies) {
  const SmpCase& c = GetParam();
  auto r = apply_strategic_merge_patch(json::parse(c.doc), json::parse(c.patch), c.kind);
  if (c.expected) {
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(*r, json::parse(c.expected)) << r->dump();
  } else {
    ASSERT_FALSE(r.has_value()) << r->dump();
    EXPECT_EQ(r.error().http_status, c.status) << r.error().message;
    EXPECT_EQ(r.error().message, c.message);
  }
}

constexpr const char* kService = R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},
  "finalizers":["a.io/x","b.io/y"]},
  "spec":{"selector":{"app":"web"},"ports":[
    {"name":"http","protocol":"TCP","port":80,"targetPort":80},
    {"name":"https","protocol":"TCP","port":443,"targetPort":443}]}})";

INSTANTIATE_TEST_SUITE_P(
    Service, StrategicMergePatchTest,
    testing::Values(
        // kubectl patch svc web -p '{"spec":{"ports":[{"port":80,"targetPort":8080}]}}'
        SmpCase{"merges_into_port_80_and_keeps_443", "Service", kService, R"({"spec":{"ports":[{"port":80,"targetPort":8080}]}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["a.io/x","b.io/y"]},
                    "spec":{"selector":{"app":"web"},"ports":[
                      {"name":"http","protocol":"TCP","port":80,"targetPort":8080},
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443}]}})"},
        SmpCase{"new_port_comes_first_as_in_kubernetes", "Service", kService, R"({"spec":{"ports":[{"name":"admin","port":9000}]}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["a.io/x","b.io/y"]},
                    "spec":{"selector":{"app":"web"},"ports":[
                      {"name":"admin","port":9000},
                      {"name":"http","protocol":"TCP","port":80,"targetPort":80},
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443}]}})"},
        SmpCase{"deletes_a_port_with_patch_delete", "Service", kService, R"({"spec":{"ports":[{"$patch":"delete","port":443}]}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["a.io/x","b.io/y"]},
                    "spec":{"selector":{"app":"web"},"ports":[
                      {"name":"http","protocol":"TCP","port":80,"targetPort":80}]}})"},
        SmpCase{"set_element_order_reorders", "Service", kService,
                R"({"spec":{"$setElementOrder/ports":[{"port":443},{"port":80}],"ports":[{"port":80,"targetPort":8080}]}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["a.io/x","b.io/y"]},
                    "spec":{"selector":{"app":"web"},"ports":[
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443},
                      {"name":"http","protocol":"TCP","port":80,"targetPort":8080}]}})"},
        // What `kubectl apply` sends when a port is appended in the manifest.
        SmpCase{"set_element_order_appends_new_port_last", "Service", kService,
                R"({"spec":{"$setElementOrder/ports":[{"port":80},{"port":443},{"port":8443}],
                            "ports":[{"name":"alt","port":8443}]}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["a.io/x","b.io/y"]},
                    "spec":{"selector":{"app":"web"},"ports":[
                      {"name":"http","protocol":"TCP","port":80,"targetPort":80},
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443},
                      {"name":"alt","port":8443}]}})"},
        SmpCase{"replace_directive_in_a_list", "Service", kService,
                R"({"spec":{"ports":[{"$patch":"replace"},{"port":8080,"name":"only"}]}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["a.io/x","b.io/y"]},
                    "spec":{"selector":{"app":"web"},"ports":[{"port":8080,"name":"only"}]}})"},
        SmpCase{"labels_set_and_removed_with_null", "Service", kService,
                R"({"metadata":{"labels":{"tier":null,"team":"net","absent":null}}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","team":"net"},"finalizers":["a.io/x","b.io/y"]},
                    "spec":{"selector":{"app":"web"},"ports":[
                      {"name":"http","protocol":"TCP","port":80,"targetPort":80},
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443}]}})"},
        SmpCase{"replace_directive_in_a_map", "Service", kService,
                R"({"spec":{"selector":{"$patch":"replace","app":"web2"}},"metadata":{"labels":{"$patch":"replace"}}})",
                R"({"metadata":{"name":"web","labels":{},"finalizers":["a.io/x","b.io/y"]},
                    "spec":{"selector":{"app":"web2"},"ports":[
                      {"name":"http","protocol":"TCP","port":80,"targetPort":80},
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443}]}})"},
        SmpCase{"delete_directive_in_a_map", "Service", kService, R"({"spec":{"selector":{"$patch":"delete"}}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["a.io/x","b.io/y"]},
                    "spec":{"selector":{},"ports":[
                      {"name":"http","protocol":"TCP","port":80,"targetPort":80},
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443}]}})"},
        SmpCase{"finalizers_union_new_first", "Service", kService, R"({"metadata":{"finalizers":["c.io/z","a.io/x"]}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["c.io/z","a.io/x","b.io/y"]},
                    "spec":{"selector":{"app":"web"},"ports":[
                      {"name":"http","protocol":"TCP","port":80,"targetPort":80},
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443}]}})"},
        SmpCase{"finalizers_union_keeps_server_order", "Service", kService, R"({"metadata":{"finalizers":["b.io/y","c.io/z"]}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["a.io/x","b.io/y","c.io/z"]},
                    "spec":{"selector":{"app":"web"},"ports":[
                      {"name":"http","protocol":"TCP","port":80,"targetPort":80},
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443}]}})"},
        SmpCase{"delete_from_primitive_list", "Service", kService,
                R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a.io/x","not.there/q"]}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["b.io/y"]},
                    "spec":{"selector":{"app":"web"},"ports":[
                      {"name":"http","protocol":"TCP","port":80,"targetPort":80},
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443}]}})"},
        SmpCase{"delete_from_primitive_list_and_add_in_one_patch", "Service", kService,
                R"({"metadata":{"finalizers":["c.io/z"],"$deleteFromPrimitiveList/finalizers":["b.io/y"]}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"},"finalizers":["c.io/z","a.io/x"]},
                    "spec":{"selector":{"app":"web"},"ports":[
                      {"name":"http","protocol":"TCP","port":80,"targetPort":80},
                      {"name":"https","protocol":"TCP","port":443,"targetPort":443}]}})"},
        // Kubernetes gives either result here, by Go map order; Switchyard always deletes last.
        SmpCase{"value_added_and_deleted_in_one_patch_is_deleted", "Service", R"({"metadata":{"finalizers":["b.io/y","a.io/x"]}})",
                R"({"metadata":{"finalizers":["a.io/x"],"$deleteFromPrimitiveList/finalizers":["a.io/x"]}})",
                R"({"metadata":{"finalizers":["b.io/y"]}})"},
        SmpCase{"null_deletes_a_whole_list", "Service", kService, R"({"spec":{"ports":null},"metadata":{"finalizers":null}})",
                R"({"metadata":{"name":"web","labels":{"app":"web","tier":"fe"}},"spec":{"selector":{"app":"web"}}})"},
        SmpCase{"atomic_lists_are_replaced", "Service", R"({"spec":{"externalIPs":["1.1.1.1","2.2.2.2"],"clusterIPs":["10.0.0.1"]}})",
                R"({"spec":{"externalIPs":["3.3.3.3"]}})", R"({"spec":{"externalIPs":["3.3.3.3"],"clusterIPs":["10.0.0.1"]}})"},
        SmpCase{"owner_references_merge_by_uid", "Service", R"({"metadata":{"ownerReferences":[{"uid":"u1","kind":"A","name":"a"}]}})",
                R"({"metadata":{"ownerReferences":[{"uid":"u2","kind":"B","name":"b"},{"uid":"u1","controller":true}]}})",
                R"({"metadata":{"ownerReferences":[{"uid":"u2","kind":"B","name":"b"},
                                                   {"uid":"u1","kind":"A","name":"a","controller":true}]}})"},
        SmpCase{"whole_object_replace", "Service", kService, R"({"$patch":"replace","metadata":{"name":"web"}})",
                R"({"metadata":{"name":"web"}})"}),
    case_name);

constexpr const char* kPod = R"({"metadata":{"name":"p"},"spec":{
  "containers":[{"name":"app","image":"app:1","ports":[{"containerPort":8080,"protocol":"TCP"}],
                 "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
                {"name":"sidecar","image":"proxy:1"}],
  "volumes":[{"name":"data","hostPath":{"path":"/srv"}}],
  "tolerations":[{"key":"k1","operator":"Exists"}]},
  "status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}})";

INSTANTIATE_TEST_SUITE_P(
    Pod, StrategicMergePatchTest,
    testing::Values(SmpCase{"adds_env_var_by_name", "Pod", kPod,
                            R"({"spec":{"containers":[{"name":"app","env":[{"name":"C","value":"3"},{"name":"A","value":"one"}]}]}})",
                            R"({"metadata":{"name":"p"},"spec":{
                    "containers":[{"name":"app","image":"app:1","ports":[{"containerPort":8080,"protocol":"TCP"}],
                                   "env":[{"name":"C","value":"3"},{"name":"A","value":"one"},{"name":"B","value":"2"}]},
                                  {"name":"sidecar","image":"proxy:1"}],
                    "volumes":[{"name":"data","hostPath":{"path":"/srv"}}],
                    "tolerations":[{"key":"k1","operator":"Exists"}]},
                    "status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}})"},
                    SmpCase{"removes_env_var_and_container_port", "Pod", kPod,
                            R"({"spec":{"containers":[{"name":"app","env":[{"name":"A","$patch":"delete"}],
                                           "ports":[{"containerPort":8080,"$patch":"delete"},{"containerPort":9090}]}]}})",
                            R"({"metadata":{"name":"p"},"spec":{
                    "containers":[{"name":"app","image":"app:1","ports":[{"containerPort":9090}],
                                   "env":[{"name":"B","value":"2"}]},
                                  {"name":"sidecar","image":"proxy:1"}],
                    "volumes":[{"name":"data","hostPath":{"path":"/srv"}}],
                    "tolerations":[{"key":"k1","operator":"Exists"}]},
                    "status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}})"},
                    SmpCase{"image_change_keeps_other_container", "Pod", kPod,
                            R"({"spec":{"containers":[{"name":"sidecar","image":"proxy:2"}]}})",
                            R"({"metadata":{"name":"p"},"spec":{
                    "containers":[{"name":"app","image":"app:1","ports":[{"containerPort":8080,"protocol":"TCP"}],
                                   "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
                                  {"name":"sidecar","image":"proxy:2"}],
                    "volumes":[{"name":"data","hostPath":{"path":"/srv"}}],
                    "tolerations":[{"key":"k1","operator":"Exists"}]},
                    "status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}})"},
                    SmpCase{"tolerations_are_replaced", "Pod", kPod,
                            R"({"spec":{"tolerations":[{"key":"k2","operator":"Equal","value":"v","effect":"NoSchedule"}]}})",
                            R"({"metadata":{"name":"p"},"spec":{
                    "containers":[{"name":"app","image":"app:1","ports":[{"containerPort":8080,"protocol":"TCP"}],
                                   "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
                                  {"name":"sidecar","image":"proxy:1"}],
                    "volumes":[{"name":"data","hostPath":{"path":"/srv"}}],
                    "tolerations":[{"key":"k2","operator":"Equal","value":"v","effect":"NoSchedule"}]},
                    "status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}})"},
                    SmpCase{"retain_keys_switches_volume_source", "Pod", kPod,
                            R"({"spec":{"volumes":[{"name":"data","emptyDir":{},"$retainKeys":["emptyDir","name"]}]}})",
                            R"({"metadata":{"name":"p"},"spec":{
                    "containers":[{"name":"app","image":"app:1","ports":[{"containerPort":8080,"protocol":"TCP"}],
                                   "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
                                  {"name":"sidecar","image":"proxy:1"}],
                    "volumes":[{"name":"data","emptyDir":{}}],
                    "tolerations":[{"key":"k1","operator":"Exists"}]},
                    "status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}})"},
                    SmpCase{"status_condition_merged_by_type", "Pod", kPod,
                            R"({"status":{"conditions":[{"type":"Ready","status":"True","reason":"Up"}]}})",
                            R"({"metadata":{"name":"p"},"spec":{
                    "containers":[{"name":"app","image":"app:1","ports":[{"containerPort":8080,"protocol":"TCP"}],
                                   "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
                                  {"name":"sidecar","image":"proxy:1"}],
                    "volumes":[{"name":"data","hostPath":{"path":"/srv"}}],
                    "tolerations":[{"key":"k1","operator":"Exists"}]},
                    "status":{"conditions":[{"type":"Ready","status":"True","reason":"Up"},
                                            {"type":"PodScheduled","status":"True"}]}})"},
                    // A new container's own merge lists are resolved too (directives never reach the store).
                    SmpCase{"new_container_is_added_clean", "Pod", R"({"spec":{"containers":[{"name":"app"}]}})",
                            R"({"spec":{"containers":[{"name":"init","env":[{"name":"X","$patch":"delete"},{"name":"Y","value":null}]}]}})",
                            R"({"spec":{"containers":[{"name":"init","env":[{"name":"Y"}]},{"name":"app"}]}})"}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    OtherKinds, StrategicMergePatchTest,
    testing::Values(SmpCase{"node_addresses_merge_by_type_taints_replace", "Node",
                            R"({"spec":{"taints":[{"key":"a","effect":"NoSchedule"}],"podCIDRs":["10.1.0.0/24"]},
                    "status":{"addresses":[{"type":"InternalIP","address":"10.0.0.1"},{"type":"Hostname","address":"n1"}]}})",
                            R"({"spec":{"taints":[{"key":"b","effect":"NoExecute"}],"podCIDRs":["fd00::/64"]},
                    "status":{"addresses":[{"type":"InternalIP","address":"10.0.0.2"}]}})",
                            R"({"spec":{"taints":[{"key":"b","effect":"NoExecute"}],"podCIDRs":["fd00::/64","10.1.0.0/24"]},
                    "status":{"addresses":[{"type":"InternalIP","address":"10.0.0.2"},{"type":"Hostname","address":"n1"}]}})"},
                    SmpCase{"endpoints_subsets_are_replaced", "Endpoints",
                            R"({"subsets":[{"addresses":[{"ip":"10.0.0.1"}],"ports":[{"port":80}]}]})",
                            R"({"subsets":[{"addresses":[{"ip":"10.0.0.2"}]}]})", R"({"subsets":[{"addresses":[{"ip":"10.0.0.2"}]}]})"},
                    SmpCase{"endpointslice_endpoints_are_replaced", "EndpointSlice",
                            R"({"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"]}],"ports":[{"port":80}]})",
                            R"({"endpoints":[{"addresses":["10.0.0.2"]}]})",
                            R"({"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.2"]}],"ports":[{"port":80}]})"},
                    SmpCase{"namespace_labels_and_conditions", "Namespace",
                            R"({"metadata":{"name":"ns","labels":{"a":"1"}},"status":{"phase":"Active"}})",
                            R"({"metadata":{"labels":{"b":"2"}},"status":{"conditions":[{"type":"X","status":"True"}]}})",
                            R"({"metadata":{"name":"ns","labels":{"a":"1","b":"2"}},
                    "status":{"phase":"Active","conditions":[{"type":"X","status":"True"}]}})"},
                    // Not a directive: an ordinary (unknown) field, which the decoder then reports.
                    SmpCase{"unknown_dollar_key_is_a_field", "Service", R"({"spec":{"type":"ClusterIP"}})", R"({"spec":{"$frobnicate":1}})",
                            R"({"spec":{"type":"ClusterIP","$frobnicate":1}})"},
                    SmpCase{"type_change_replaces", "Service", R"({"spec":{"selector":{"a":"b"},"x":[1]}})",
                            R"({"spec":{"selector":"oops","x":{"y":1}}})", R"({"spec":{"selector":"oops","x":{"y":1}}})"}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    Errors, StrategicMergePatchTest,
    testing::Values(
        SmpCase{"unknown_kind_is_415", "Widget", "{}", "{}", nullptr, 415,
                "the body of the request was in an unknown format - strategic merge patch is not supported for kind "
                "Widget; accepted media types include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml"},
        SmpCase{"patch_not_an_object", "Service", "{}", "[]", nullptr, 400, "a strategic merge patch must be a JSON object, got array"},
        SmpCase{"missing_merge_key", "Service", kService, R"({"spec":{"ports":[{"targetPort":8080}]}})", nullptr, 422,
                "map: {\"targetPort\":8080} does not contain declared merge key: port (in spec.ports)"},
        SmpCase{"delete_without_merge_key", "Service", kService, R"({"spec":{"ports":[{"$patch":"delete"}]}})", nullptr, 422,
                "map: {\"$patch\":\"delete\"} does not contain declared merge key: port (in spec.ports)"},
        SmpCase{"merge_directive_in_a_list", "Service", kService, R"({"spec":{"ports":[{"$patch":"merge"}]}})", nullptr, 400,
                "merging lists cannot yet be specified in the patch (spec.ports)"},
        SmpCase{"unknown_directive_in_a_map", "Service", kService, R"({"spec":{"$patch":"explode"}})", nullptr, 400,
                "unknown patch type: \"explode\" in map at spec"},

        SmpCase{"set_element_order_mismatch", "Service", kService,
                R"({"spec":{"$setElementOrder/ports":[{"port":80}],"ports":[{"port":443,"name":"x"}]}})", nullptr, 400,
                "the order in patch list [{\"name\":\"x\",\"port\":443}] doesn't match $setElementOrder list "
                "[{\"port\":80}] of spec.ports"},
        SmpCase{"set_element_order_not_a_list", "Service", kService, R"({"spec":{"$setElementOrder/ports":{}}})", nullptr, 400,
                "invalid patch format: $setElementOrder/ports at spec must be a list"},
        SmpCase{"retain_keys_mismatch", "Pod", kPod, R"({"spec":{"volumes":[{"name":"data","emptyDir":{},"$retainKeys":["name"]}]}})",
                nullptr, 400, "invalid patch format of retainKeys: emptyDir is not in the $retainKeys list of spec.volumes[]"},
        SmpCase{"list_of_lists", "Service", R"({"metadata":{"finalizers":["a"]}})", R"({"metadata":{"finalizers":[["b"]]}})", nullptr, 422,
                "lists of lists are not supported (in metadata.finalizers)"},
        SmpCase{"mixed_element_types", "Service", R"({"metadata":{"finalizers":["a"]}})", R"({"metadata":{"finalizers":[{"b":1}]}})",
                nullptr, 422, "list element types are not identical (in metadata.finalizers)"}),
    case_name);

TEST(PatchSchema, TableMatchesTheKubernetesTags) {
  auto merge_key = [](std::string_view kind, std::string_view path) -> std::string {
    auto s = find_list_schema(kind, path);
    if (!s) return "<none>";
    return s->strategy == ListStrategy::merge ? std::string("merge:") + std::string(s->merge_key) : "replace";
  };
  EXPECT_EQ(merge_key("Service", "spec.ports"), "merge:port");
  EXPECT_EQ(merge_key("Pod", "spec.containers"), "merge:name");
  EXPECT_EQ(merge_key("Pod", "spec.initContainers[].env"), "merge:name");
  EXPECT_EQ(merge_key("Pod", "spec.containers[].ports"), "merge:containerPort");
  EXPECT_EQ(merge_key("Pod", "spec.containers[].volumeMounts"), "merge:mountPath");
  EXPECT_EQ(merge_key("Pod", "spec.tolerations"), "replace");
  EXPECT_EQ(merge_key("Node", "metadata.ownerReferences"), "merge:uid");
  EXPECT_EQ(merge_key("Endpoints", "metadata.finalizers"), "merge:");
  EXPECT_EQ(merge_key("Node", "status.addresses"), "merge:type");
  EXPECT_EQ(merge_key("Node", "spec.taints"), "replace");
  EXPECT_EQ(merge_key("Service", "spec.containers"), "<none>");
  EXPECT_TRUE(has_strategic_merge_schema("EndpointSlice"));
  EXPECT_TRUE(has_strategic_merge_schema("ConfigMap"));
  EXPECT_FALSE(has_strategic_merge_schema("FlowSchema"));
  for (const ListRule& r : list_rules()) EXPECT_TRUE(r.kind == "*" || has_strategic_merge_schema(r.kind)) << r.kind << " " << r.path;
}

}  // namespace
}  // namespace switchyard::apiserver
