// Simplified server-side apply: managedFields in FieldsV1, removal of fields a manager stops
// applying, conflicts with other managers and force, shared ownership.
#include <gtest/gtest.h>

#include "orchestrator/apiserver/managed_fields.h"
#include "orchestrator/apiserver/server_side_apply.h"
#include "orchestrator/apiserver/update_managers.h"

namespace switchyard::apiserver {
namespace {

using nlohmann::json;

ApplyOptions by(std::string manager, bool force = false) { return {std::move(manager), force, "2026-11-23T10:00:00Z"}; }

json apply_ok(const json& live, const json& applied, const ApplyOptions& o) {
  auto r = server_side_apply(live, applied, "Service", o);
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r ? *r : json();
}

json without_managed_fields(json j) {
  j["metadata"].erase("managedFields");
  return j;
}

const json kApplied = json::parse(R"({"apiVersion":"v1","kind":"Service",
  "metadata":{"name":"web","namespace":"shop","labels":{"app":"web","tier":"fe"},"finalizers":["a.io/x"]},
  "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":8080},
                                            {"name":"https","port":443,"protocol":"TCP","targetPort":8443}]}})");

TEST(ServerSideApply, CreateRecordsTheManagersFieldsInFieldsV1) {
  json out = apply_ok(json(), kApplied, by("deployer"));
  EXPECT_EQ(without_managed_fields(out), kApplied);
  json expected_fields = json::parse(R"({
    "f:metadata":{"f:labels":{"f:app":{},"f:tier":{}},"f:finalizers":{"v:\"a.io/x\"":{}}},
    "f:spec":{"f:selector":{"f:app":{}},"f:ports":{
      "k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:targetPort":{}},
      "k:{\"port\":443,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}}}})");
  EXPECT_EQ(out["metadata"]["managedFields"], json::array({{{"manager", "deployer"},
                                                            {"operation", "Apply"},
                                                            {"apiVersion", "v1"},
                                                            {"time", "2026-11-23T10:00:00Z"},
                                                            {"fieldsType", "FieldsV1"},
                                                            {"fieldsV1", expected_fields}}}));
}

TEST(ServerSideApply, ReapplyWithoutAFieldRemovesIt) {
  json live = apply_ok(json(), kApplied, by("deployer"));
  json next = kApplied;
  next["metadata"]["labels"].erase("tier");
  next["metadata"].erase("finalizers");
  next["spec"]["ports"] = json::parse(R"([{"name":"http","port":80,"targetPort":8080}])");
  json out = apply_ok(live, next, by("deployer"));
  EXPECT_EQ(without_managed_fields(out), json::parse(R"({"apiVersion":"v1","kind":"Service",
    "metadata":{"name":"web","namespace":"shop","labels":{"app":"web"},"finalizers":[]},
    "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":8080}]}})"));
  ASSERT_EQ(out["metadata"]["managedFields"].size(), 1u);
  EXPECT_EQ(out["metadata"]["managedFields"][0]["fieldsV1"], json::parse(R"({
    "f:metadata":{"f:labels":{"f:app":{}}},
    "f:spec":{"f:selector":{"f:app":{}},"f:ports":{
      "k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:targetPort":{}}}}})"));
}

TEST(ServerSideApply, ChangingAnotherManagersFieldConflictsUnlessForced) {
  json live = apply_ok(json(), kApplied, by("deployer"));
  json other = json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","labels":{"tier":"be"}},
    "spec":{"ports":[{"port":80,"targetPort":9090}]}})");
  auto r = server_side_apply(live, other, "Service", by("autoscaler"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().http_status, 409);
  EXPECT_EQ(r.error().message,
            "Apply failed with 2 conflicts: conflicts with \"deployer\" using v1:\n"
            "- .metadata.labels.tier\n"
            "- .spec.ports[port=80,protocol=\"TCP\"].targetPort");

  json out = apply_ok(live, other, by("autoscaler", /*force=*/true));
  EXPECT_EQ(out["metadata"]["labels"], json::parse(R"({"app":"web","tier":"be"})"));
  EXPECT_EQ(out["spec"]["ports"][0], json::parse(R"({"name":"http","port":80,"targetPort":9090})"));
  const json& mf = out["metadata"]["managedFields"];
  ASSERT_EQ(mf.size(), 2u);
  auto deployer = parse_fields_v1(mf[0]["fieldsV1"]);
  auto autoscaler = parse_fields_v1(mf[1]["fieldsV1"]);
  ASSERT_TRUE(deployer && autoscaler);
  ManagedPath target_port{"f:spec", "f:ports", "k:{\"port\":80,\"protocol\":\"TCP\"}", "f:targetPort"};
  EXPECT_FALSE(deployer->contains(target_port));  // moved to the forcing manager
  EXPECT_TRUE(autoscaler->contains(target_port));
  EXPECT_FALSE(deployer->contains(ManagedPath{"f:metadata", "f:labels", "f:tier"}));
  EXPECT_TRUE(deployer->contains(ManagedPath{"f:metadata", "f:labels", "f:app"}));

  // The deployer no longer owns targetPort: re-applying its old value conflicts the other way.
  auto back = server_side_apply(out, kApplied, "Service", by("deployer"));
  ASSERT_FALSE(back.has_value());
  EXPECT_EQ(back.error().http_status, 409);
  EXPECT_EQ(back.error().message,
            "Apply failed with 2 conflicts: conflicts with \"autoscaler\" using v1:\n"
            "- .metadata.labels.tier\n"
            "- .spec.ports[port=80,protocol=\"TCP\"].targetPort");
}

TEST(ServerSideApply, SameValueIsSharedAndSurvivesOneManagerLettingGo) {
  json live = apply_ok(json(), kApplied, by("deployer"));
  json same = json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","labels":{"tier":"fe"}}})");
  json shared = apply_ok(live, same, by("labeler"));
  EXPECT_EQ(without_managed_fields(shared), kApplied);
  ASSERT_EQ(shared["metadata"]["managedFields"].size(), 2u);

  json next = kApplied;
  next["metadata"]["labels"].erase("tier");
  json out = apply_ok(shared, next, by("deployer"));
  EXPECT_EQ(out["metadata"]["labels"], json::parse(R"({"app":"web","tier":"fe"})"));  // the labeler still owns it
}

TEST(ServerSideApply, SingleConflictIsOneLine) {
  json live = apply_ok(json(), kApplied, by("deployer"));
  auto r = server_side_apply(live, json::parse(R"({"apiVersion":"v1","kind":"Service","spec":{"selector":{"app":"x"}}})"), "Service",
                             by("other"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "Apply failed with 1 conflict: conflict with \"deployer\" using v1: .spec.selector.app");
}

TEST(ServerSideApply, PodContainersAreOwnedPerElementDownToTheirPortsAndEnv) {
  json applied = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
    "spec":{"containers":[{"name":"app","image":"app:1","ports":[{"containerPort":80}],
                           "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}})");
  auto created = server_side_apply(json(), applied, "Pod", by("deployer"));
  ASSERT_TRUE(created.has_value()) << created.error().message;
  EXPECT_EQ((*created)["metadata"]["managedFields"][0]["fieldsV1"], json::parse(R"({"f:spec":{"f:containers":{
    "k:{\"name\":\"app\"}":{".":{},"f:name":{},"f:image":{},
      "f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}},
      "f:env":{"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"B\"}":{".":{},"f:name":{},"f:value":{}}}}}}})"));

  // The kubelet-like writer adds a sidecar through its own apply; the deployer then drops env B.
  json sidecar = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
    "spec":{"containers":[{"name":"side","image":"proxy:1"}]}})");
  auto with_sidecar = server_side_apply(*created, sidecar, "Pod", by("injector"));
  ASSERT_TRUE(with_sidecar.has_value()) << with_sidecar.error().message;
  applied["spec"]["containers"][0]["env"].erase(1);
  auto out = server_side_apply(*with_sidecar, applied, "Pod", by("deployer"));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(without_managed_fields(*out), json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
    "spec":{"containers":[{"name":"side","image":"proxy:1"},
                          {"name":"app","image":"app:1","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"}]}]}})"));
}

TEST(ServerSideApply, RejectsBadRequests) {
  auto no_manager = server_side_apply(json(), kApplied, "Service", by(""));
  ASSERT_FALSE(no_manager.has_value());
  EXPECT_EQ(no_manager.error().http_status, 422);
  EXPECT_NE(no_manager.error().message.find("fieldManager: Required value"), std::string::npos);

  auto unknown = server_side_apply(json(), kApplied, "Widget", by("m"));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().http_status, 415);

  auto directive = server_side_apply(json(), json::parse(R"({"spec":{"$patch":"replace"}})"), "Service", by("m"));
  ASSERT_FALSE(directive.has_value());
  EXPECT_EQ(directive.error().http_status, 400);
  EXPECT_EQ(directive.error().message, "an apply configuration cannot contain directives: spec.$patch");

  auto duplicate =
      server_side_apply(json(), json::parse(R"({"spec":{"ports":[{"port":80},{"port":80,"protocol":"TCP"}]}})"), "Service", by("m"));
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().http_status, 422);
  EXPECT_EQ(duplicate.error().message, "spec.ports: duplicate entries for key {\"port\":80,\"protocol\":\"TCP\"}");

  json corrupt = kApplied;
  corrupt["metadata"]["managedFields"] = json::parse(R"([{"manager":"x","fieldsV1":{"spec":{}}}])");
  auto bad = server_side_apply(corrupt, kApplied, "Service", by("m"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().http_status, 500);
  EXPECT_EQ(bad.error().message, "metadata.managedFields[0].fieldsV1: fieldsV1 key \"spec\" under . has an unknown prefix");
}

TEST(ManagedFields, FieldsV1RoundTripsAndRendersPaths) {
  json v1 = json::parse(R"({"f:metadata":{"f:finalizers":{"v:\"a\"":{}}},
    "f:spec":{"f:ports":{"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{}}}}})");
  auto set = parse_fields_v1(v1);
  ASSERT_TRUE(set.has_value()) << set.error();
  EXPECT_EQ(set->size(), 3u);
  EXPECT_EQ(to_fields_v1(*set), v1);
  EXPECT_EQ(render_managed_path({"f:metadata", "f:finalizers", "v:\"a\""}), ".metadata.finalizers[=\"a\"]");
  json doc = json::parse(R"({"spec":{"ports":[{"port":80,"name":"http"}]}})");
  const json* name = find_managed(doc, {"f:spec", "f:ports", "k:{\"port\":80,\"protocol\":\"TCP\"}", "f:name"});
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(*name, "http");
  EXPECT_TRUE(erase_managed(doc, {"f:spec", "f:ports", "k:{\"port\":80,\"protocol\":\"TCP\"}", "."}));
  EXPECT_EQ(doc, json::parse(R"({"spec":{"ports":[]}})"));
  EXPECT_FALSE(erase_managed(doc, {"f:spec", "f:nothing"}));
}

// The manager comes from the User-Agent's product (or ?fieldManager=), cut at 128 bytes: bytes
// that are not UTF-8, or a character the cut splits, become U+FFFD (found by api_request_fuzz:
// the stored object could not be written as JSON, a 500).
TEST(FieldManager, FromTheUserAgentIsAlwaysValidUtf8) {
  EXPECT_EQ(field_manager_of("", "kubectl/v1.33.0 (linux/amd64)"), "kubectl");
  EXPECT_EQ(field_manager_of("helm", "kubectl/v1.33.0"), "helm");
  EXPECT_EQ(field_manager_of("",
                             "kube\xff\xfe"
                             "ctl/v1"),
            "kube\uFFFD\uFFFDctl");
  const std::string cut = field_manager_of("", std::string(127, 'a') + "\u00e9");
  EXPECT_EQ(cut, std::string(127, 'a') + "\uFFFD");
  EXPECT_NO_THROW(json(cut).dump());
}

}  // namespace
}  // namespace switchyard::apiserver
