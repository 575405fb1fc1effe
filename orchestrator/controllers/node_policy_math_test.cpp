// The node lifecycle and disruption controllers' decisions on a fake clock: when a silent node
// turns stale, which taints its state calls for, when a pod on a NoExecute-tainted node goes,
// and a PodDisruptionBudget's arithmetic.
#include <gtest/gtest.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/controllers/disruption_math.h"
#include "orchestrator/controllers/node_health.h"

namespace switchyard::controllers {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

api::Node node_with(const std::string& ready, bool unschedulable = false, std::vector<api::Taint> taints = {}) {
  api::Node n;
  n.metadata.name = "n1";
  if (!ready.empty()) n.conditions.push_back({"Ready", ready, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "", ""});
  n.unschedulable = unschedulable;
  n.taints = std::move(taints);
  return n;
}

api::Pod pod_with_tolerations(const std::string& tolerations_json) {
  api::Pod p;
  p.metadata.name = "p";
  p.metadata.namespace_ = "default";
  if (!tolerations_json.empty()) p.spec.passthrough["tolerations"] = tolerations_json;
  return p;
}

TEST(NodeHealthTracker, StaleOnlyAfterTheGracePeriodWithoutRenewals) {
  client::FakeClock clock;
  NodeHealthTracker t;
  t.observe("n1", "2026-01-01T00:00:00.000000Z", "", clock.now());
  clock.step(39s);
  EXPECT_FALSE(t.stale("n1", clock.now(), 40s));
  // The lease is renewed: the grace period starts again.
  t.observe("n1", "2026-01-01T00:00:39.000000Z", "", clock.now());
  clock.step(39s);
  t.observe("n1", "2026-01-01T00:00:39.000000Z", "", clock.now());  // unchanged: no sign of life
  EXPECT_FALSE(t.stale("n1", clock.now(), 40s));
  clock.step(2s);
  EXPECT_TRUE(t.stale("n1", clock.now(), 40s));
  // A Ready heartbeat counts as life too.
  t.observe("n1", "2026-01-01T00:00:39.000000Z", "2026-01-01T00:01:30Z", clock.now());
  EXPECT_FALSE(t.stale("n1", clock.now(), 40s));
  EXPECT_FALSE(t.stale("unknown-node", clock.now(), 40s));
}

TEST(LifecycleTaints, FollowReadyAndCordon) {
  auto keys = [](const std::vector<api::Taint>& taints) {
    std::vector<std::string> out;
    for (const auto& t : taints) out.push_back(t.key + ":" + t.effect);
    return out;
  };
  EXPECT_TRUE(lifecycle_taints(node_with("True"), "T").empty());
  EXPECT_EQ(keys(lifecycle_taints(node_with("Unknown"), "T")),
            (std::vector<std::string>{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}));
  EXPECT_EQ(keys(lifecycle_taints(node_with("False"), "T")),
            (std::vector<std::string>{"node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"}));
  EXPECT_EQ(keys(lifecycle_taints(node_with("True", true), "T")), std::vector<std::string>{"node.kubernetes.io/unschedulable:NoSchedule"});
  // The NoExecute taint carries its time; a user's taint is left alone; recovery removes ours.
  auto unknown = lifecycle_taints(node_with("Unknown", false, {{"dedicated", "gpu", "NoSchedule", ""}}), "2026-01-01T00:00:00Z");
  ASSERT_EQ(unknown.size(), 3u);
  EXPECT_EQ(unknown[2].time_added, "2026-01-01T00:00:00Z");
  EXPECT_EQ(keys(lifecycle_taints(node_with("True", false, unknown), "T")), std::vector<std::string>{"dedicated:NoSchedule"});
  // Unchanged while the state holds (the time is not moved).
  EXPECT_EQ(lifecycle_taints(node_with("Unknown", false, unknown), "later"), unknown);
}

TEST(EvictionDelay, TolerationsDecideWhenAPodGoes) {
  const std::vector<api::Taint> unreachable = {{"node.kubernetes.io/unreachable", "", "NoExecute", "T"},
                                               {"node.kubernetes.io/unreachable", "", "NoSchedule", ""}};
  struct Case {
    const char* name;
    std::string tolerations;
    std::optional<std::chrono::seconds> want;
  };
  const Case cases[] = {
      {"no toleration: at once", "", 0s},
      {"admission's default: 300 s",
       R"([{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
           {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}])",
       300s},
      {"shortened", R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":5}])", 5s},
      {"forever without seconds", R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute"}])", std::nullopt},
      {"everything tolerated (operator Exists, no key)", R"([{"operator":"Exists"}])", std::nullopt},
      {"negative seconds: at once", R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":-1}])", 0s},
      {"another key only", R"([{"key":"other","operator":"Exists","effect":"NoExecute"}])", 0s},
  };
  for (const auto& c : cases) EXPECT_EQ(eviction_delay(tolerations_of(pod_with_tolerations(c.tolerations)), unreachable), c.want) << c.name;
  EXPECT_EQ(eviction_delay({}, {{"k", "v", "NoSchedule", ""}}), std::nullopt) << "NoSchedule taints evict nothing";
}

TEST(TaintEvictionQueue, ClockStartsWhenThePodIsFirstFound) {
  client::FakeClock clock;
  TaintEvictionQueue q;
  q.update("default/a", 300s, clock.now());
  q.update("default/now", 0s, clock.now());
  q.update("default/forever", std::nullopt, clock.now());
  EXPECT_EQ(q.take_due(clock.now()), std::vector<std::string>{"default/now"});
  clock.step(299s);
  q.update("default/a", 300s, clock.now());  // seen again: the deadline does not move
  EXPECT_TRUE(q.take_due(clock.now()).empty());
  clock.step(1s);
  EXPECT_EQ(q.take_due(clock.now()), std::vector<std::string>{"default/a"});
  // The taint went (the node came back) before the time: nothing happens.
  q.update("default/b", 5s, clock.now());
  q.retain_only({});
  clock.step(10s);
  EXPECT_TRUE(q.take_due(clock.now()).empty());
}

TEST(DisruptionMath, ScaledValuesRoundAsUpstream) {
  EXPECT_EQ(*scaled_value(Json(3), 10, true), 3);
  EXPECT_EQ(*scaled_value(Json("50%"), 5, true), 3);
  EXPECT_EQ(*scaled_value(Json("50%"), 5, false), 2);
  EXPECT_EQ(*scaled_value(Json("100%"), 7, true), 7);
  EXPECT_FALSE(scaled_value(Json("abc"), 5, true).has_value());
}

TEST(DisruptionMath, TargetsAndStatus) {
  // minAvailable 2 of 3 ready pods: one disruption allowed.
  auto target = budget_target(Json{{"minAvailable", 2}}, 3, std::nullopt);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->expected_pods, 3);
  EXPECT_EQ(target->desired_healthy, 2);
  std::vector<BudgetPod> pods = {{"a", true, false}, {"b", true, false}, {"c", true, false}};
  auto s = budget_status(*target, pods, {});
  EXPECT_EQ(s.current_healthy, 3);
  EXPECT_EQ(s.disruptions_allowed, 1);
  // One pod being evicted (recorded) and one not ready: none allowed.
  pods[2].ready = false;
  s = budget_status(*target, pods, {{"a", std::chrono::system_clock::now()}});
  EXPECT_EQ(s.current_healthy, 1);
  EXPECT_EQ(s.disruptions_allowed, 0);
  // maxUnavailable and percentages count the controllers' replicas (rounded up).
  target = budget_target(Json{{"maxUnavailable", "25%"}}, 3, 4);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->expected_pods, 4);
  EXPECT_EQ(target->desired_healthy, 3);
  target = budget_target(Json{{"minAvailable", "50%"}}, 3, 3);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->desired_healthy, 2);
  EXPECT_FALSE(budget_target(Json{{"maxUnavailable", 1}}, 3, std::nullopt).has_value()) << "pods without controllers";
  // No pods expected: nothing to disrupt.
  EXPECT_EQ(budget_status(BudgetTarget{0, 0}, {}, {}).disruptions_allowed, 0);
}

TEST(DisruptionMath, DisruptedPodRecordsExpireOrEndWithTheDelete) {
  const auto now = std::chrono::system_clock::now();
  const std::map<std::string, std::chrono::system_clock::time_point> recorded = {
      {"fresh", now - 10s}, {"old", now - 121s}, {"deleting", now - 1s}, {"gone", now - 1s}};
  const std::vector<BudgetPod> pods = {{"fresh", true, false}, {"old", true, false}, {"deleting", true, true}};
  const auto live = live_disrupted_pods(recorded, pods, now);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_TRUE(live.contains("fresh"));
}

}  // namespace
}  // namespace switchyard::controllers
