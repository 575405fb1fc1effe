// The binder's choice of volume for a claim (no server): the smallest that fits, a pre-bound
// volume first, class, access modes, selector, and the selected node's affinity.
#include <gtest/gtest.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/controllers/persistent_volume_controller.h"

namespace switchyard::controllers {
namespace {

using nlohmann::json;

client::ObjectPtr<api::PersistentVolume> volume(const std::string& name, const std::string& size, const json& extra = json::object()) {
  json j = {{"apiVersion", "v1"},
            {"kind", "PersistentVolume"},
            {"metadata", {{"name", name}, {"labels", {{"size", size}}}}},
            {"spec",
             {{"capacity", {{"storage", size}}},
              {"accessModes", {"ReadWriteOnce", "ReadOnlyMany"}},
              {"storageClassName", "manual"},
              {"hostPath", {{"path", "/tmp/" + name}}}}},
            {"status", {{"phase", "Available"}}}};
  j["spec"].update(extra);
  auto d = api::decode_object(j);
  EXPECT_TRUE(d.has_value());
  return std::make_shared<const api::PersistentVolume>(std::get<api::PersistentVolume>(d->object));
}

api::PersistentVolumeClaim claim(const std::string& size, const json& extra = json::object()) {
  json j = {
      {"apiVersion", "v1"},
      {"kind", "PersistentVolumeClaim"},
      {"metadata", {{"name", "data"}, {"namespace", "default"}, {"uid", "u1"}}},
      {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"storageClassName", "manual"}, {"resources", {{"requests", {{"storage", size}}}}}}}};
  j["spec"].update(extra);
  auto d = api::decode_object(j);
  EXPECT_TRUE(d.has_value());
  return std::get<api::PersistentVolumeClaim>(d->object);
}

std::string picked(const api::PersistentVolumeClaim& c, const std::vector<client::ObjectPtr<api::PersistentVolume>>& vs,
                   const SelectedNode* node = nullptr) {
  auto v = find_matching_volume(c, vs, node);
  return v ? v->metadata.name : "";
}

TEST(PersistentVolumeBinding, TheSmallestVolumeThatFits) {
  const std::vector vs = {volume("big", "5Gi"), volume("small", "1Gi"), volume("tiny", "100Mi")};
  EXPECT_EQ(picked(claim("500Mi"), vs), "small");
  EXPECT_EQ(picked(claim("2Gi"), vs), "big");
  EXPECT_EQ(picked(claim("10Gi"), vs), "");
  EXPECT_EQ(picked(claim("500Mi", {{"storageClassName", "other"}}), vs), "");
  EXPECT_EQ(picked(claim("500Mi", {{"accessModes", {"ReadWriteMany"}}}), vs), "");
  EXPECT_EQ(picked(claim("50Mi", {{"selector", {{"matchLabels", {{"size", "5Gi"}}}}}}), vs), "big");
}

TEST(PersistentVolumeBinding, APreBoundVolumeWinsAndAnotherClaimsVolumeIsNeverTaken) {
  const json mine = {{"claimRef", {{"namespace", "default"}, {"name", "data"}, {"uid", "u1"}}}};
  const json theirs = {{"claimRef", {{"namespace", "default"}, {"name", "other"}, {"uid", "u2"}}}};
  EXPECT_EQ(picked(claim("500Mi"), {volume("small", "1Gi", theirs), volume("big", "5Gi", mine)}), "big");
  EXPECT_EQ(picked(claim("500Mi"), {volume("small", "1Gi", theirs)}), "");
}

TEST(PersistentVolumeBinding, TheSelectedNodeMustSatisfyTheVolumeNodeAffinity) {
  const json on_n1 = json::parse(R"({"nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[
      {"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}}})");
  const std::vector vs = {volume("local", "1Gi", on_n1)};
  const SelectedNode n1{"n1", {{"kubernetes.io/hostname", "n1"}}}, n2{"n2", {{"kubernetes.io/hostname", "n2"}}};
  EXPECT_EQ(picked(claim("1Gi"), vs, &n1), "local");
  EXPECT_EQ(picked(claim("1Gi"), vs, &n2), "");
}

}  // namespace
}  // namespace switchyard::controllers
