// What a DELETE does, decided from the stored object and the requested grace period, as
// kube-apiserver decides it (rest.BeforeDelete, the Pod strategy's CheckGracefulDelete).
#include "orchestrator/apiserver/graceful_deletion.h"

#include <gtest/gtest.h>

namespace switchyard::apiserver {
namespace {

using Json = nlohmann::json;
using Action = DeletionPlan::Action;

const ResourceInfo& pods() { return *find_resource("", "v1", "pods"); }
const ResourceInfo& services() { return *find_resource("", "v1", "services"); }
constexpr std::time_t kNow = 1796000000;  // 2026-11-30T...

Json pod(const std::string& node, const std::string& phase = "Running") {
  return {
      {"metadata", {{"name", "p"}}}, {"spec", {{"nodeName", node}, {"terminationGracePeriodSeconds", 30}}}, {"status", {{"phase", phase}}}};
}

TEST(PlanDeletion, BoundRunningPodGetsItsTerminationGracePeriod) {
  const auto plan = plan_deletion(pods(), pod("n1"), std::nullopt, kNow);
  EXPECT_EQ(plan.action, Action::Mark);
  EXPECT_EQ(plan.grace_period_seconds, 30);
  EXPECT_EQ(plan.deletion_timestamp, rfc3339_at(kNow + 30));
}

TEST(PlanDeletion, RequestedGraceWinsAndZeroDeletesAtOnce) {
  EXPECT_EQ(plan_deletion(pods(), pod("n1"), 5, kNow).grace_period_seconds, 5);
  EXPECT_EQ(plan_deletion(pods(), pod("n1"), 0, kNow).action, Action::DeleteNow);
  EXPECT_EQ(plan_deletion(pods(), pod("n1"), -3, kNow).grace_period_seconds, 1);  // negative becomes 1, as upstream
}

TEST(PlanDeletion, UnboundOrFinishedPodsAndOtherKindsGoAtOnce) {
  EXPECT_EQ(plan_deletion(pods(), pod(""), std::nullopt, kNow).action, Action::DeleteNow);
  EXPECT_EQ(plan_deletion(pods(), pod("n1", "Succeeded"), std::nullopt, kNow).action, Action::DeleteNow);
  EXPECT_EQ(plan_deletion(pods(), pod("n1", "Failed"), 30, kNow).action, Action::DeleteNow);
  EXPECT_EQ(plan_deletion(services(), Json{{"metadata", {{"name", "s"}}}}, 30, kNow).action, Action::DeleteNow);
}

TEST(PlanDeletion, FinalizersHoldWithAZeroGraceMark) {
  Json svc = {{"metadata", {{"name", "s"}, {"finalizers", {"example.com/hold"}}}}};
  const auto plan = plan_deletion(services(), svc, std::nullopt, kNow);
  EXPECT_EQ(plan.action, Action::Mark);
  EXPECT_EQ(plan.grace_period_seconds, 0);
  svc["metadata"]["deletionTimestamp"] = rfc3339_at(kNow);
  svc["metadata"]["deletionGracePeriodSeconds"] = 0;
  EXPECT_EQ(plan_deletion(services(), svc, std::nullopt, kNow + 5).action, Action::Pending);
}

TEST(PlanDeletion, ATerminatingPodsGraceOnlyShortens) {
  Json p = pod("n1");
  p["metadata"]["deletionTimestamp"] = rfc3339_at(kNow + 30);
  p["metadata"]["deletionGracePeriodSeconds"] = 30;
  EXPECT_EQ(plan_deletion(pods(), p, std::nullopt, kNow + 2).action, Action::Pending);
  EXPECT_EQ(plan_deletion(pods(), p, 60, kNow + 2).action, Action::Pending);
  const auto shorter = plan_deletion(pods(), p, 10, kNow + 2);
  EXPECT_EQ(shorter.action, Action::Mark);
  EXPECT_EQ(shorter.grace_period_seconds, 10);
  EXPECT_EQ(shorter.deletion_timestamp, rfc3339_at(kNow + 10));  // from when the deletion began
  // The kubelet's confirmation.
  const auto confirmed = plan_deletion(pods(), p, 0, kNow + 3);
  EXPECT_EQ(confirmed.action, Action::Mark);
  EXPECT_EQ(confirmed.grace_period_seconds, 0);  // the registry deletes a zero-grace mark without finalizers at once
}

}  // namespace
}  // namespace switchyard::apiserver
