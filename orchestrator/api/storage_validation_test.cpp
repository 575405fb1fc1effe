// PersistentVolume, PersistentVolumeClaim and StorageClass defaulting and validation (upstream's
// messages), and the body readers the binder, scheduler and kubelet share.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/storage.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

Object decoded(const char* text) {
  auto d = decode_object(json::parse(text));
  EXPECT_TRUE(d.has_value());
  return d->object;
}

std::vector<std::string> messages(const FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.message());
  return out;
}

TEST(StorageValidation, AClaimNeedsAccessModesAndAStorageRequest) {
  Object o = decoded(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"d"},"spec":{}})");
  EXPECT_THAT(
      messages(validate(std::get<PersistentVolumeClaim>(o))),
      ElementsAre("spec.accessModes: Required value: at least 1 access mode is required", "spec.resources[storage]: Required value"));
  Object zero = decoded(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"d"},
      "spec":{"accessModes":["ReadWriteOnce","Sometimes"],"resources":{"requests":{"storage":"0"}}}})");
  EXPECT_THAT(messages(validate(std::get<PersistentVolumeClaim>(zero))),
              ElementsAre("spec.accessModes: Unsupported value: \"Sometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", "
                          "\"ReadWriteOnce\", \"ReadWriteOncePod\"",
                          "spec.resources[storage]: Invalid value: \"0\": must be greater than zero"));
  // A body of the wrong shape is an error, never an exception.
  Object odd = decoded(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"d"},
      "spec":{"accessModes":["ReadWriteOnce"],"resources":"lots"},"status":{"phase":3}})");
  apply_defaults(odd, {});
  EXPECT_THAT(messages(validate(std::get<PersistentVolumeClaim>(odd))), ElementsAre("spec.resources[storage]: Required value"));
}

TEST(StorageValidation, DefaultsAsTheV1Defaulters) {
  Object pv = decoded(R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"v"},
      "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"hostPath":{"path":"/x"}}})");
  apply_defaults(pv, {});
  const auto& v = std::get<PersistentVolume>(pv);
  EXPECT_EQ(body_field(v.body, "spec")["persistentVolumeReclaimPolicy"], "Retain");
  EXPECT_EQ(body_field(v.body, "spec")["volumeMode"], "Filesystem");
  EXPECT_EQ(body_field(v.body, "status")["phase"], "Pending");
  EXPECT_THAT(validate(v), IsEmpty());
  Object sc = decoded(R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"s"},"provisioner":"a.b/c"})");
  apply_defaults(sc, {});
  EXPECT_EQ(body_field(std::get<StorageClass>(sc).body, "reclaimPolicy"), "Delete");
  EXPECT_EQ(body_field(std::get<StorageClass>(sc).body, "volumeBindingMode"), "Immediate");
}

TEST(StorageValidation, AClaimSpecIsImmutableButABoundClaimMayGrow) {
  const char* old_text = R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"d"},
      "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},"volumeName":"v"},"status":{"phase":"Bound"}})";
  Object old = decoded(old_text);
  Object grown = decoded(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"d"},
      "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"2Gi"}},"volumeName":"v"},"status":{"phase":"Bound"}})");
  EXPECT_THAT(validate_storage_update(grown, old), IsEmpty());
  Object shrunk = decoded(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"d"},
      "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"512Mi"}},"volumeName":"v"},"status":{"phase":"Bound"}})");
  EXPECT_THAT(messages(validate_storage_update(shrunk, old)),
              ElementsAre("spec.resources.requests.storage: Forbidden: field can not be less than previous value"));
  Object modes = decoded(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"d"},
      "spec":{"accessModes":["ReadWriteMany"],"resources":{"requests":{"storage":"1Gi"}},"volumeName":"v"},"status":{"phase":"Bound"}})");
  const auto errs = messages(validate_storage_update(modes, old));
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_THAT(errs[0], ::testing::StartsWith("spec: Forbidden: spec is immutable after creation except resources.requests and "
                                             "volumeAttributesClassName for bound claims"));
}

TEST(StorageReaders, QuantitiesAccessModesAndNodeAffinity) {
  EXPECT_EQ(quantity_bytes("1Gi"), 1073741824);
  EXPECT_EQ(quantity_bytes("500M"), 500000000);
  EXPECT_EQ(quantity_bytes("1.5Ki"), 1536);
  EXPECT_EQ(quantity_bytes("lots"), std::nullopt);
  EXPECT_EQ(access_modes_short(json{"ReadWriteMany", "ReadWriteOnce"}), "RWO,RWX");
  const json affinity = json::parse(R"({"required":{"nodeSelectorTerms":[{"matchExpressions":[
      {"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}})");
  EXPECT_TRUE(volume_node_affinity_matches(affinity, "n1", {{"kubernetes.io/hostname", "n1"}}));
  EXPECT_FALSE(volume_node_affinity_matches(affinity, "n2", {{"kubernetes.io/hostname", "n2"}}));
  EXPECT_TRUE(volume_node_affinity_matches(json(), "n2", {}));
}

}  // namespace
}  // namespace switchyard::api
