// StatefulSet volumeClaimTemplates: defaulted as claims, their volumes resolve the template's
// mounts, the retention policy's values checked with upstream's path and message, and templates
// that change on update forbidden as kube-apiserver forbids them.
#include "orchestrator/api/statefulset_claims.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/protobuf_codec.h"
#include "orchestrator/api/storage.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A set whose container mounts "data"; `extra` goes into spec.
StatefulSet set_with(const std::string& extra) {
  auto d = decode_object(json::parse(R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web","namespace":"d"},
    "spec":{"selector":{"matchLabels":{"app":"web"}},"serviceName":"web",)" +
                                     extra + R"(
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox",
        "volumeMounts":[{"name":"data","mountPath":"/data"}]}]}}}})"));
  EXPECT_TRUE(d.has_value());
  auto set = std::get<StatefulSet>(d->object);
  apply_defaults(set);
  return set;
}

constexpr const char* kTemplate =
    R"("volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}],)";

std::vector<std::string> messages(const FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.message());
  return out;
}

TEST(StatefulSetClaimTemplates, AreDefaultedAsTheServerStoresThem) {
  const auto set = set_with(kTemplate);
  const json stored = encode_object(set)["spec"]["volumeClaimTemplates"];
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0]["apiVersion"], "v1");
  EXPECT_EQ(stored[0]["kind"], "PersistentVolumeClaim");
  EXPECT_EQ(stored[0]["metadata"], json::parse(R"({"name":"data","creationTimestamp":null})"));
  EXPECT_EQ(stored[0]["spec"]["volumeMode"], "Filesystem");
  EXPECT_EQ(stored[0]["status"], json::parse(R"({"phase":"Pending"})"));
  const auto templates = volume_claim_templates(set);
  EXPECT_THAT(templates.errors, IsEmpty());
  ASSERT_EQ(templates.claims.size(), 1u);
  EXPECT_EQ(templates.claims[0].metadata.name, "data");
  // The protobuf form carries them too (a claim's message has no apiVersion/kind, as upstream's).
  auto wire = protobuf::encode_object(encode_object(set));
  ASSERT_TRUE(wire) << wire.error().message;
  auto back = protobuf::decode_object(*wire);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ((*back)["spec"]["volumeClaimTemplates"][0]["spec"], stored[0]["spec"]);
  EXPECT_EQ((*back)["spec"]["volumeClaimTemplates"][0]["status"], stored[0]["status"]);
}

TEST(StatefulSetClaimTemplates, AClaimTemplateIsAVolumeTheTemplateMayMount) {
  EXPECT_THAT(messages(validate(set_with(kTemplate))), IsEmpty());
  EXPECT_THAT(messages(validate(set_with(""))), ElementsAre("spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"data\""));
  // The claim replaces a template volume of the same name in the pods.
  PodSpec spec;
  spec.passthrough["volumes"] = R"([{"name":"data","emptyDir":{}},{"name":"tmp","emptyDir":{}}])";
  use_claim_volumes(spec, {{"data", "data-web-0"}});
  EXPECT_EQ(json::parse(spec.passthrough["volumes"]),
            json::parse(R"([{"name":"data","persistentVolumeClaim":{"claimName":"data-web-0"}},{"name":"tmp","emptyDir":{}}])"));
}

TEST(StatefulSetClaimTemplates, RetentionPolicyValuesAreRetainOrDelete) {
  const auto set =
      set_with(std::string(kTemplate) + R"("persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Sometimes","whenScaled":"Delete"},)");
  EXPECT_THAT(messages(validate(set)),
              ElementsAre("spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: \"Sometimes\": supported values: "
                          "\"Retain\", \"Delete\""));
  // Unset values default to Retain.
  const auto defaulted = set_with(std::string(kTemplate) + R"("persistentVolumeClaimRetentionPolicy":{"whenScaled":"Delete"},)");
  EXPECT_EQ(defaulted.spec.persistent_volume_claim_retention_policy->when_deleted, "Retain");
  EXPECT_EQ(defaulted.spec.persistent_volume_claim_retention_policy->when_scaled, "Delete");
}

TEST(StatefulSetClaimTemplates, TemplatesMayNotChangeButThePolicyMay) {
  const Object old = set_with(kTemplate);
  const std::string forbidden =
      "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
      "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
  const std::string bigger = R"("volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],
      "resources":{"requests":{"storage":"2Gi"}}}}],)";
  EXPECT_THAT(messages(validate_update(Object(set_with(bigger)), old)), ElementsAre(forbidden));
  EXPECT_THAT(messages(validate_update(Object(set_with("")), old)), ElementsAre(forbidden));
  // The same templates sent again without the server's defaults are no change.
  EXPECT_THAT(messages(validate_update(Object(set_with(kTemplate)), old)), IsEmpty());
  EXPECT_THAT(messages(validate_update(
                  Object(set_with(std::string(kTemplate) + R"("persistentVolumeClaimRetentionPolicy":{"whenScaled":"Delete"},)")), old)),
              IsEmpty());
}

}  // namespace
}  // namespace switchyard::api
