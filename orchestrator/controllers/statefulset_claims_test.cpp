// StatefulSet claims: names, labels, and the ownerReferences each persistentVolumeClaimRetentionPolicy
// puts on a claim, in range and scaled down (upstream's stateful_set_utils_test cases, restated).
#include "orchestrator/controllers/statefulset_claims.h"

#include <gtest/gtest.h>

#include "orchestrator/api/json_codec.h"

namespace switchyard::controllers::sts {
namespace {

using Refs = std::vector<api::OwnerReference>;

const api::OwnerReference kSetRef{"apps/v1", "StatefulSet", "web", "set-uid", true, true};
const api::OwnerReference kPodRef{"v1", "Pod", "web-1", "pod-uid", true, true};

ClaimOwners owners(const std::string& when_deleted, const std::string& when_scaled, bool scaled_down) {
  return {"web", "set-uid", "web-1", "pod-uid", when_deleted, when_scaled, scaled_down};
}

TEST(StatefulSetClaims, NamesAreTemplateSetOrdinal) {
  struct Case {
    std::string template_name, set;
    int ordinal;
    std::string want;
  };
  for (const auto& c : std::vector<Case>{{"data", "web", 0, "data-web-0"}, {"www", "db", 12, "www-db-12"}, {"a", "b-c", 3, "a-b-c-3"}})
    EXPECT_EQ(claim_name(c.template_name, c.set, c.ordinal), c.want) << c.template_name << " " << c.set;
}

TEST(StatefulSetClaims, ClaimsCarryTheTemplateAndTheSelectorLabels) {
  auto decoded = api::decode_object(nlohmann::json::parse(R"({"apiVersion":"apps/v1","kind":"StatefulSet",
    "metadata":{"name":"web","namespace":"shop","uid":"set-uid"},
    "spec":{"selector":{"matchLabels":{"app":"web"}},"serviceName":"web","template":{"metadata":{"labels":{"app":"web"}},"spec":{}}}})"));
  ASSERT_TRUE(decoded) << decoded.error().message;
  const auto& set = std::get<api::StatefulSet>(decoded->object);
  api::PersistentVolumeClaim data, logs;
  data.metadata.name = "data";
  data.metadata.labels = {{"tier", "db"}, {"app", "overridden"}};
  data.body["spec"] = R"({"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}})";
  data.body["status"] = R"({"phase":"Pending"})";
  logs.metadata.name = "logs";

  const auto claims = claims_for(set, {data, logs}, 2);
  ASSERT_EQ(claims.size(), 2u);
  EXPECT_EQ(claims[0].metadata.name, "data-web-2");
  EXPECT_EQ(claims[0].metadata.namespace_, "shop");
  EXPECT_EQ(claims[0].metadata.labels, (api::StringMap{{"tier", "db"}, {"app", "web"}}));  // the selector's value wins
  EXPECT_EQ(claims[0].body.at("spec"), data.body.at("spec"));
  EXPECT_FALSE(claims[0].body.contains("status"));
  EXPECT_TRUE(claims[0].metadata.owner_references.empty());  // owners come from the retention policy
  EXPECT_EQ(claims[1].metadata.name, "logs-web-2");
  EXPECT_EQ(claims[1].metadata.labels, (api::StringMap{{"app", "web"}}));
}

TEST(StatefulSetClaims, OwnersFollowTheRetentionPolicy) {
  const api::OwnerReference other_controller{"apps/v1", "ReplicaSet", "rs", "rs-uid", true, true};
  const api::OwnerReference other_owner{"v1", "ConfigMap", "cm", "cm-uid", std::nullopt, std::nullopt};
  api::OwnerReference stale_set = kSetRef;
  stale_set.uid = "old-set-uid";
  api::OwnerReference plain_set = kSetRef;
  plain_set.controller = std::nullopt;
  struct Case {
    std::string name, when_deleted, when_scaled;
    bool scaled_down;
    Refs refs;
    bool up_to_date;
    Refs want;  // what the claim carries after the controller's sync
  };
  const std::vector<Case> cases = {
      {"retain/retain leaves a claim unowned", "Retain", "Retain", false, {}, true, {}},
      {"retain/retain scaled down still unowned", "Retain", "Retain", true, {}, true, {}},
      {"retain/retain drops the set a Delete policy added", "Retain", "Retain", false, {kSetRef}, false, {}},
      {"whenDeleted Delete: the set owns it", "Delete", "Retain", false, {}, false, {kSetRef}},
      {"whenDeleted Delete: already owned", "Delete", "Retain", false, {kSetRef}, true, {kSetRef}},
      {"whenDeleted Delete scaled down: still the set only", "Delete", "Retain", true, {kSetRef}, true, {kSetRef}},
      {"whenScaled Delete in range: nobody", "Retain", "Delete", false, {}, true, {}},
      {"whenScaled Delete scaled down: the pod owns it", "Retain", "Delete", true, {}, false, {kPodRef}},
      {"whenScaled Delete scaled up again: the pod lets go", "Retain", "Delete", false, {kPodRef}, false, {}},
      {"delete/delete in range: the set", "Delete", "Delete", false, {}, false, {kSetRef}},
      {"delete/delete scaled down: the pod instead of the set", "Delete", "Delete", true, {kSetRef}, false, {kPodRef}},
      {"delete/delete scaled down and owned by the pod", "Delete", "Delete", true, {kPodRef}, true, {kPodRef}},
      {"a reference to an earlier set of that name is left alone", "Delete", "Delete", false, {stale_set}, true, {stale_set}},
      {"another controller: nothing added", "Delete", "Retain", false, {other_controller}, true, {other_controller}},
      {"another controller: ours removed", "Delete", "Retain", false, {other_controller, kSetRef}, false, {other_controller}},
      {"our reference without controller: made a controller", "Delete", "Retain", false, {plain_set}, false, {kSetRef}},
      {"other owners are kept", "Retain", "Delete", true, {other_owner}, false, {other_owner, kPodRef}},
  };
  for (const auto& c : cases) {
    const auto o = owners(c.when_deleted, c.when_scaled, c.scaled_down);
    EXPECT_EQ(claim_owners_up_to_date(c.refs, o), c.up_to_date) << c.name;
    // The controller rewrites only a claim that is not up to date.
    const Refs after = c.up_to_date ? c.refs : updated_claim_owners(c.refs, o);
    EXPECT_EQ(after, c.want) << c.name;
    EXPECT_TRUE(claim_owners_up_to_date(after, o)) << c.name << ": one update settles it";
  }
}

// A set of 3 scaled to 1: which claims the garbage collector will delete with their pods.
TEST(StatefulSetClaims, ScaleDownHandsTheCondemnedClaimsToTheirPods) {
  struct Case {
    std::string when_deleted, when_scaled;
    std::vector<Refs> want;  // per ordinal 0..2
  };
  const auto pod_ref = [](int i) {
    return api::OwnerReference{"v1", "Pod", "web-" + std::to_string(i), "uid-" + std::to_string(i), true, true};
  };
  const std::vector<Case> cases = {
      {"Retain", "Retain", {{}, {}, {}}},
      {"Retain", "Delete", {{}, {pod_ref(1)}, {pod_ref(2)}}},
      {"Delete", "Retain", {{kSetRef}, {kSetRef}, {kSetRef}}},
      {"Delete", "Delete", {{kSetRef}, {pod_ref(1)}, {pod_ref(2)}}},
  };
  for (const auto& c : cases)
    for (int i = 0; i < 3; ++i) {
      ClaimOwners o{"web", "set-uid", "web-" + std::to_string(i), "uid-" + std::to_string(i), c.when_deleted, c.when_scaled, i >= 1};
      // Before the scale down the claims carried what the policy asked for in range.
      Refs before =
          updated_claim_owners({}, ClaimOwners{o.set_name, o.set_uid, o.pod_name, o.pod_uid, o.when_deleted, o.when_scaled, false});
      EXPECT_EQ(updated_claim_owners(before, o), c.want[i]) << c.when_deleted << "/" << c.when_scaled << " ordinal " << i;
    }
}

}  // namespace
}  // namespace switchyard::controllers::sts
