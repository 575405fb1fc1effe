#include "orchestrator/controllers/statefulset_math.h"

#include <gtest/gtest.h>

namespace switchyard::controllers::sts {
namespace {

PodState healthy(int ord, const std::string& rev = "r1") { return {ord, rev, false, false, true, true}; }

std::vector<int> created(const Plan& p) {
  std::vector<int> out;
  for (const auto& c : p.create) out.push_back(c.ordinal);
  return out;
}

TEST(StatefulSetMath, OrdinalsParseOnlyParentDashNumber) {
  EXPECT_EQ(parse_ordinal("web", "web-0"), 0);
  EXPECT_EQ(parse_ordinal("web", "web-12"), 12);
  EXPECT_EQ(parse_ordinal("web", "web-01"), std::nullopt);
  EXPECT_EQ(parse_ordinal("web", "web-x"), std::nullopt);
  EXPECT_EQ(parse_ordinal("web", "webs-1"), std::nullopt);
  EXPECT_EQ(parse_ordinal("web", "web-"), std::nullopt);
  EXPECT_EQ(pod_name("web", 2), "web-2");
}

TEST(StatefulSetMath, OrderedReadyCreatesOneAtATimeAndWaitsForReady) {
  Spec s{.replicas = 3};
  EXPECT_EQ(created(plan(s, {}, "r1", "r1")), std::vector<int>{0});
  // web-0 exists but is not ready: nothing to do.
  PodState starting{0, "r1", false, false, false, false};
  auto p = plan(s, {starting}, "r1", "r1");
  EXPECT_TRUE(p.create.empty());
  EXPECT_TRUE(p.remove.empty());
  // Ready: web-1 next, then web-2.
  EXPECT_EQ(created(plan(s, {healthy(0)}, "r1", "r1")), std::vector<int>{1});
  EXPECT_EQ(created(plan(s, {healthy(0), healthy(1)}, "r1", "r1")), std::vector<int>{2});
  // A gap is filled in order, before anything above it is looked at.
  EXPECT_EQ(created(plan(s, {healthy(0), healthy(2)}, "r1", "r1")), std::vector<int>{1});
}

TEST(StatefulSetMath, ParallelCreatesAllMissingAtOnce) {
  Spec s{.replicas = 4, .parallel = true};
  EXPECT_EQ(created(plan(s, {healthy(1)}, "r1", "r1")), (std::vector<int>{0, 2, 3}));
}

TEST(StatefulSetMath, ScaleDownRemovesHighestOrdinalFirstOneAtATime) {
  Spec s{.replicas = 1};
  std::vector<PodState> pods{healthy(0), healthy(1), healthy(2)};
  EXPECT_EQ(plan(s, pods, "r1", "r1").remove, std::vector<int>{2});
  // web-2 is terminating: OrderedReady waits for it to go before web-1.
  pods[2].terminating = true;
  EXPECT_TRUE(plan(s, pods, "r1", "r1").remove.empty());
  pods.pop_back();
  EXPECT_EQ(plan(s, pods, "r1", "r1").remove, std::vector<int>{1});
  // Parallel removes every condemned pod at once, highest first.
  Spec par{.replicas = 1, .parallel = true};
  EXPECT_EQ(plan(par, {healthy(0), healthy(1), healthy(2)}, "r1", "r1").remove, (std::vector<int>{2, 1}));
}

TEST(StatefulSetMath, ScaleDownWaitsForUnhealthyReplicasInOrderedReady) {
  Spec s{.replicas = 1};
  PodState not_ready{0, "r1", false, false, false, false};
  EXPECT_TRUE(plan(s, {not_ready, healthy(1)}, "r1", "r1").remove.empty());
}

TEST(StatefulSetMath, FailedPodIsDeletedToBeRecreated) {
  Spec s{.replicas = 2};
  PodState failed{1, "r1", false, true, false, false};
  EXPECT_EQ(plan(s, {healthy(0), failed}, "r1", "r1").remove, std::vector<int>{1});
}

TEST(StatefulSetMath, RollingUpdateReplacesFromTheTopOneAtATime) {
  Spec s{.replicas = 3};
  std::vector<PodState> pods{healthy(0, "old"), healthy(1, "old"), healthy(2, "old")};
  EXPECT_EQ(plan(s, pods, "old", "new").remove, std::vector<int>{2});
  // web-2 recreated at the new revision but not ready yet: wait.
  pods[2] = {2, "new", false, false, false, false};
  auto p = plan(s, pods, "old", "new");
  EXPECT_TRUE(p.remove.empty());
  EXPECT_TRUE(p.create.empty());
  pods[2] = healthy(2, "new");
  EXPECT_EQ(plan(s, pods, "old", "new").remove, std::vector<int>{1});
  // Recreated pods above the partition get the new template.
  pods.erase(pods.begin() + 1);
  ASSERT_EQ(created(plan(s, pods, "old", "new")), std::vector<int>{1});
  EXPECT_FALSE(plan(s, pods, "old", "new").create[0].current_revision);
}

TEST(StatefulSetMath, PartitionKeepsLowerOrdinalsAtTheOldRevision) {
  Spec s{.replicas = 3, .partition = 2};
  std::vector<PodState> pods{healthy(0, "old"), healthy(1, "old"), healthy(2, "old")};
  EXPECT_EQ(plan(s, pods, "old", "new").remove, std::vector<int>{2});
  pods[2] = healthy(2, "new");
  EXPECT_TRUE(plan(s, pods, "old", "new").remove.empty());  // web-0 and web-1 stay old
  // A pod below the partition that is lost comes back at the old revision.
  pods.erase(pods.begin());
  auto p = plan(s, pods, "old", "new");
  ASSERT_EQ(created(p), std::vector<int>{0});
  EXPECT_TRUE(p.create[0].current_revision);
  // Partition 0 then finishes the rollout, highest first.
  s.partition = 0;
  EXPECT_EQ(plan(s, {healthy(0, "old"), healthy(1, "old"), healthy(2, "new")}, "old", "new").remove, std::vector<int>{1});
}

TEST(StatefulSetMath, MaxUnavailableReplacesSeveralAtOnceCountingUnavailable) {
  Spec s{.replicas = 4, .parallel = true, .max_unavailable = 2};
  std::vector<PodState> pods{healthy(0, "old"), healthy(1, "old"), healthy(2, "old"), healthy(3, "old")};
  EXPECT_EQ(plan(s, pods, "old", "new").remove, (std::vector<int>{3, 2}));
  pods[3] = {3, "new", false, false, false, false};  // one already unavailable: one more at most
  EXPECT_EQ(plan(s, pods, "old", "new").remove, std::vector<int>{2});
  EXPECT_EQ(resolve_max_unavailable(true, 50, 5), 3);
  EXPECT_EQ(resolve_max_unavailable(true, 1, 5), 1);
  EXPECT_EQ(resolve_max_unavailable(false, 0, 5), 1);
}

TEST(StatefulSetMath, OnDeleteNeverReplacesOnItsOwn) {
  Spec s{.replicas = 2, .on_delete = true};
  EXPECT_TRUE(plan(s, {healthy(0, "old"), healthy(1, "old")}, "old", "new").remove.empty());
  auto p = plan(s, {healthy(0, "old")}, "old", "new");  // a deleted pod comes back at the new revision
  ASSERT_EQ(created(p), std::vector<int>{1});
  EXPECT_FALSE(p.create[0].current_revision);
}

TEST(StatefulSetMath, OrdinalsStartShiftsTheRange) {
  Spec s{.replicas = 2, .start = 5};
  EXPECT_EQ(created(plan(s, {}, "r", "r")), std::vector<int>{5});
  EXPECT_EQ(plan(s, {healthy(0, "r"), healthy(5, "r"), healthy(6, "r")}, "r", "r").remove, std::vector<int>{0});
}

TEST(StatefulSetMath, CountsByRevisionSkipTerminatingPods) {
  std::vector<PodState> pods{healthy(0, "old"), healthy(1, "new"), {2, "new", true, false, true, true}};
  auto c = count(pods, "old", "new");
  EXPECT_EQ(c.replicas, 3);
  EXPECT_EQ(c.ready, 3);
  EXPECT_EQ(c.current, 1);
  EXPECT_EQ(c.updated, 1);
}

TEST(StatefulSetMath, RevisionHashIsStableAndDiffersByDataAndCollisions) {
  const auto a = revision_hash(R"({"spec":{}})", 0);
  EXPECT_EQ(a, revision_hash(R"({"spec":{}})", 0));
  EXPECT_NE(a, revision_hash(R"({"spec":{"x":1}})", 0));
  EXPECT_NE(a, revision_hash(R"({"spec":{}})", 1));
  EXPECT_EQ(a.find_first_of("aeiou013"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::controllers::sts
