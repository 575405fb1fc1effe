// The workload controllers' decisions on their own, with a fake clock: expectations, slow-start
// batches, the ranking of pods to delete, surge and unavailability rounding, proportional
// scaling, and the progress conditions.
#include <gtest/gtest.h>

#include "orchestrator/client/clock.h"
#include "orchestrator/controllers/deployment_math.h"
#include "orchestrator/controllers/expectations.h"
#include "orchestrator/controllers/workload_pods.h"

namespace switchyard::controllers {
namespace {

using api::IntOrString;

TEST(Expectations, WaitForEveryCreationBeforeActingAgain) {
  client::FakeClock clock;
  Expectations e(clock);
  EXPECT_TRUE(e.satisfied("shop/web"));  // nothing recorded
  e.expect_creations("shop/web", 3);
  EXPECT_FALSE(e.satisfied("shop/web"));
  e.creation_observed("shop/web");
  e.creation_observed("shop/web");
  EXPECT_FALSE(e.satisfied("shop/web")) << "one pod is still not in the cache: creating again would over-create";
  e.creation_observed("shop/web");
  EXPECT_TRUE(e.satisfied("shop/web"));
  e.creation_observed("shop/web");  // more than expected does not go negative
  EXPECT_EQ(e.pending("shop/web"), std::make_pair(0, 0));
}

TEST(Expectations, DeletionsAreCountedOncePerPod) {
  client::FakeClock clock;
  Expectations e(clock);
  e.expect_deletions("shop/web", {"shop/web-a", "shop/web-b"});
  e.deletion_observed("shop/web", "shop/web-a");
  e.deletion_observed("shop/web", "shop/web-a");  // the same pod seen twice (terminating, then gone)
  EXPECT_FALSE(e.satisfied("shop/web"));
  e.deletion_observed("shop/web", "shop/web-c");  // not ours
  EXPECT_FALSE(e.satisfied("shop/web"));
  e.deletion_observed("shop/web", "shop/web-b");
  EXPECT_TRUE(e.satisfied("shop/web"));
}

TEST(Expectations, ExpireAfterTheTtlSoALostEventCannotWedgeAKey) {
  client::FakeClock clock;
  Expectations e(clock, std::chrono::seconds(300));
  e.expect_creations("shop/web", 2);
  clock.step(std::chrono::seconds(299));
  EXPECT_FALSE(e.satisfied("shop/web"));
  clock.step(std::chrono::seconds(2));
  EXPECT_TRUE(e.satisfied("shop/web"));
  e.forget("shop/web");
  EXPECT_EQ(e.pending("shop/web"), std::make_pair(0, 0));
}

TEST(SlowStart, BatchesDoubleAndStopAtTheFirstFailingBatch) {
  std::vector<int> calls;
  int n = 0;
  EXPECT_EQ(slow_start_batch(10, 1,
                             [&] {
                               ++n;
                               return true;
                             }),
            10);
  EXPECT_EQ(n, 10);
  // Batches 1, 2, 4, 3: the 5th call fails, so the batch of 4 finishes and nothing more is tried.
  n = 0;
  const int ok = slow_start_batch(10, 1, [&] { return ++n != 5; });
  EXPECT_EQ(n, 7) << "1 + 2 + 4 calls: the failing batch ends the run";
  EXPECT_EQ(ok, 6);
  n = 0;
  EXPECT_EQ(slow_start_batch(0, 1, [&] { return ++n > 0; }), 0);
  EXPECT_EQ(n, 0);
}

api::Pod pod(const std::string& name, const std::string& node, const std::string& phase, bool ready, const std::string& created,
             const std::string& ready_since = "2026-01-01T00:00:00Z") {
  api::Pod p;
  p.metadata.name = name;
  p.metadata.namespace_ = "shop";
  p.metadata.creation_timestamp = created;
  p.spec.node_name = node;
  p.status.phase = phase;
  if (ready) p.status.conditions.push_back({"Ready", "True", "", ready_since, "", ""});
  return p;
}

std::vector<std::string> names(const std::vector<const api::Pod*>& pods) {
  std::vector<std::string> out;
  for (const auto* p : pods) out.push_back(p->metadata.name);
  return out;
}

TEST(DeletionRanking, UnassignedPendingNotReadyThenDoubledUpThenNewest) {
  const auto running_ready_old = pod("old", "n1", "Running", true, "2026-01-01T00:00:00Z");
  const auto running_ready_new = pod("new", "n2", "Running", true, "2026-01-02T00:00:00Z");
  const auto running_not_ready = pod("notready", "n3", "Running", false, "2026-01-01T00:00:00Z");
  const auto pending_assigned = pod("pending", "n4", "Pending", false, "2026-01-01T00:00:00Z");
  const auto unassigned = pod("unassigned", "", "Pending", false, "2026-01-01T00:00:00Z");
  std::vector<const api::Pod*> owned{&running_ready_old, &running_ready_new, &running_not_ready, &pending_assigned, &unassigned};
  EXPECT_EQ(names(pods_to_delete(owned, owned, 5)).size(), 5u);
  EXPECT_EQ(names(pods_to_delete(owned, owned, 4)), (std::vector<std::string>{"unassigned", "pending", "notready", "new"}));
  EXPECT_EQ(names(pods_to_delete(owned, owned, 1)), (std::vector<std::string>{"unassigned"}));
}

TEST(DeletionRanking, DoubledUpNodeAndDeletionCostAndReadyTime) {
  auto a = pod("a", "n1", "Running", true, "2026-01-01T00:00:00Z");
  auto b = pod("b", "n2", "Running", true, "2026-01-01T00:00:00Z");
  auto sibling = pod("sibling", "n2", "Running", true, "2026-01-01T00:00:00Z");  // another ReplicaSet's pod on n2
  std::vector<const api::Pod*> owned{&a, &b};
  EXPECT_EQ(names(pods_to_delete(owned, {&a, &b, &sibling}, 1)), (std::vector<std::string>{"b"})) << "b shares its node";
  a.metadata.annotations["controller.kubernetes.io/pod-deletion-cost"] = "-10";
  EXPECT_EQ(names(pods_to_delete(owned, {&a, &b, &sibling}, 1)), (std::vector<std::string>{"a"})) << "lower deletion cost goes first";
  auto early = pod("early", "n1", "Running", true, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  auto late = pod("late", "n2", "Running", true, "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z");
  EXPECT_EQ(names(pods_to_delete({&early, &late}, {&early, &late}, 1)), (std::vector<std::string>{"late"}))
      << "ready for less time goes first";
}

TEST(Availability, ReadyForMinReadySeconds) {
  const auto p = pod("a", "n1", "Running", true, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
  const auto t0 = *parse_rfc3339("2026-01-01T00:00:00Z");
  EXPECT_TRUE(is_pod_available(p, 0, t0));
  EXPECT_FALSE(is_pod_available(p, 10, t0 + std::chrono::seconds(9)));
  EXPECT_TRUE(is_pod_available(p, 10, t0 + std::chrono::seconds(10)));
}

namespace dm = deployment;

TEST(Rounding, SurgeRoundsUpUnavailableRoundsDown) {
  // 25% of 10 = 2.5: surge 3, unavailable 2 (kube's own table).
  EXPECT_EQ(dm::resolve_fenceposts(IntOrString::of(std::string("25%")), IntOrString::of(std::string("25%")), 10), std::make_pair(3, 2));
  EXPECT_EQ(dm::resolve_fenceposts(IntOrString::of(std::string("25%")), IntOrString::of(std::string("25%")), 1), std::make_pair(1, 0));
  EXPECT_EQ(dm::resolve_fenceposts(IntOrString::of(std::string("10%")), IntOrString::of(std::string("10%")), 3), std::make_pair(1, 0));
  // Both zero after rounding: one may be unavailable, or the rollout could never move.
  EXPECT_EQ(dm::resolve_fenceposts(IntOrString::of(std::string("0%")), IntOrString::of(std::string("10%")), 5), std::make_pair(0, 1));
  EXPECT_EQ(dm::resolve_fenceposts(IntOrString::of(2), IntOrString::of(std::string("50%")), 5), std::make_pair(2, 2));
}

api::Deployment deployment_of(int replicas, const char* surge, const char* unavailable) {
  api::Deployment d;
  d.metadata.name = "web";
  d.replicas = replicas;
  d.strategy.type = "RollingUpdate";
  d.strategy.rolling_update = api::RollingUpdateDeployment{IntOrString::of(std::string(unavailable)), IntOrString::of(std::string(surge))};
  return d;
}

api::ReplicaSet rs_of(const std::string& name, int replicas, const std::string& created, int max_replicas = 0) {
  api::ReplicaSet rs;
  rs.metadata.name = name;
  rs.metadata.creation_timestamp = created;
  rs.replicas = replicas;
  if (max_replicas) rs.metadata.annotations[dm::kMaxReplicasAnnotation] = std::to_string(max_replicas);
  return rs;
}

TEST(RollingUpdate, NewReplicaSetGrowsWithinSurge) {
  const auto d = deployment_of(10, "25%", "25%");  // surge 3: at most 13 pods
  auto old_rs = rs_of("old", 10, "2026-01-01T00:00:00Z");
  auto new_rs = rs_of("new", 0, "2026-01-02T00:00:00Z");
  EXPECT_EQ(dm::new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs), 3);
  old_rs.replicas = 8;
  new_rs.replicas = 3;
  EXPECT_EQ(dm::new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs), 5);
  old_rs.replicas = 0;
  new_rs.replicas = 9;
  EXPECT_EQ(dm::new_rs_new_replicas(d, {&old_rs, &new_rs}, new_rs), 10) << "never past spec.replicas";
  EXPECT_EQ(dm::max_unavailable(d), 2);
}

TEST(ProportionalScaling, ResizingDuringARolloutSplitsByShare) {
  // A rollout of 10 (surge 3) in the middle: old 8, new 5; the user scales to 20 (surge 5).
  auto d = deployment_of(20, "25%", "25%");
  d.status.replicas = 13;
  auto old_rs = rs_of("old", 8, "2026-01-01T00:00:00Z", 13);
  auto new_rs = rs_of("new", 5, "2026-01-02T00:00:00Z", 13);
  auto sizes = dm::proportional_sizes(d, {&old_rs, &new_rs});
  int total = 0;
  std::map<std::string, int> by_name;
  for (const auto& [rs, size] : sizes) {
    by_name[rs->metadata.name] = size;
    total += size;
  }
  EXPECT_EQ(total, 25) << "20 + surge 5";
  EXPECT_EQ(by_name["old"], 15);  // 8 * 25/13 = 15.4 -> 15
  EXPECT_EQ(by_name["new"], 10);  // 5 * 25/13 = 9.6 -> 10
  // Scaled to zero: every set goes to zero.
  d.replicas = 0;
  sizes = dm::proportional_sizes(d, {&old_rs, &new_rs});
  for (const auto& [rs, size] : sizes) EXPECT_EQ(size, 0) << rs->metadata.name;
}

TEST(PodTemplateHash, StableAndChangedByTheTemplateAndCollisions) {
  api::PodTemplateSpec t;
  t.metadata.labels["app"] = "web";
  t.spec.containers.push_back({.name = "web", .image = "nginx:1"});
  const auto h = dm::pod_template_hash(t, std::nullopt);
  EXPECT_EQ(h, dm::pod_template_hash(t, std::nullopt));
  EXPECT_NE(h, dm::pod_template_hash(t, 1));
  auto t2 = t;
  t2.spec.containers[0].image = "nginx:2";
  EXPECT_NE(h, dm::pod_template_hash(t2, std::nullopt));
  t2 = t;
  t2.metadata.labels[dm::kPodTemplateHashLabel] = h;
  EXPECT_EQ(dm::without_hash(t2), t);
  for (char c : h) EXPECT_EQ(std::string("aeiou013").find(c), std::string::npos) << h;
}

TEST(Progress, CompleteProgressingAndTimedOut) {
  auto d = deployment_of(3, "25%", "25%");
  d.progress_deadline_seconds = 600;
  d.metadata.generation = 2;
  api::DeploymentStatus s;
  s.observed_generation = 2;
  s.replicas = s.updated_replicas = s.available_replicas = 3;
  EXPECT_TRUE(dm::complete(d, s));
  s.observed_generation = 1;
  EXPECT_FALSE(dm::complete(d, s)) << "an older generation is not done";
  d.status.updated_replicas = 1;
  s.updated_replicas = 2;
  EXPECT_TRUE(dm::progressing(d, s));
  const auto t0 = *parse_rfc3339("2026-01-01T00:00:00Z");
  s.conditions = {dm::make_condition("Progressing", "True", "ReplicaSetUpdated", "x", t0)};
  EXPECT_FALSE(dm::timed_out(d, s, t0 + std::chrono::seconds(600)));
  EXPECT_TRUE(dm::timed_out(d, s, t0 + std::chrono::seconds(601)));
  s.conditions[0].reason = "NewReplicaSetAvailable";
  EXPECT_FALSE(dm::timed_out(d, s, t0 + std::chrono::hours(1)));
}

}  // namespace
}  // namespace switchyard::controllers
