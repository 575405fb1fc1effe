// Score plugins with upstream's documented figures, the FitError message, quantities, and
// whole cycles: which node a pod lands on.
#include "orchestrator/scheduler/scores.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

#include "orchestrator/scheduler/framework.h"
#include "orchestrator/scheduler/scheduler_test_support.h"

namespace switchyard::scheduler {
namespace {

using testing::node;
using testing::pod;
using testing::pod_requesting;

TEST(Quantity, ParsesAsResourceQuantityDoes) {
  struct Case {
    const char* text;
    bool milli;
    std::optional<std::int64_t> want;
  };
  const Case cases[] = {
      {"100m", true, 100},         {"1", true, 1000},
      {"0.5", true, 500},          {"0.1", true, 100},
      {"2k", true, 2000000},       {"1e3", false, 1000},
      {"500Mi", false, 524288000}, {"1.5Gi", false, 1610612736},
      {"1G", false, 1000000000},   {"1m", false, 1},
      {"8Gi", false, 8589934592},  {"110", false, 110},
      {"", true, std::nullopt},    {"abc", true, std::nullopt},
      {"1X", false, std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(parse_quantity(c.text, c.milli), c.want) << c.text;
}

// Upstream's noderesources tests: cpu 4000m / memory 10000 and cpu 6000m / memory 10000.
TEST(LeastAllocated, ScoresTheFreeFractionOfCpuAndMemory) {
  const NodeInfo n1 = node("n1", "{}", "4", "10000"), n2 = node("n2", "{}", "6", "10000");
  const auto p = pod_requesting("3", "5000");
  EXPECT_EQ(score_least_allocated(*p, n1), 37);  // cpu (4000-3000)/4000 = 25, memory 50
  EXPECT_EQ(score_least_allocated(*p, n2), 50);  // cpu 50, memory 50
  // A pod requesting nothing counts as 100m CPU and 200 MiB (the non-zero defaults).
  const NodeInfo big = node("big", "{}", "1", "2000Mi");
  EXPECT_EQ(score_least_allocated(*pod(""), big), (90 + 90) / 2);
}

TEST(BalancedAllocation, PrefersEvenCpuAndMemoryFractions) {
  const NodeInfo n1 = node("n1", "{}", "4", "10000"), n2 = node("n2", "{}", "6", "10000");
  const auto p = pod_requesting("3", "5000");
  EXPECT_EQ(score_balanced_allocation(*p, n1), 87);  // fractions 0.75, 0.5: (1 - 0.125) × 100
  EXPECT_EQ(score_balanced_allocation(*p, n2), 100);
}

TEST(TaintToleration, CountsUntoleratedPreferNoScheduleTaintsAndReverses) {
  const auto pref = [](const char* key) {
    return fmt::format(R"({{"taints":[{{"key":"{}","value":"v","effect":"PreferNoSchedule"}}]}})", key);
  };
  const NodeInfo clean = node("a"), tainted = node("b", "{}", "4", "8Gi", "110", pref("foo")),
                 other = node("c", "{}", "4", "8Gi", "110", pref("bar"));
  const auto p = pod(R"({"tolerations":[{"key":"foo","operator":"Equal","value":"v","effect":"PreferNoSchedule"}]})");
  std::vector<std::int64_t> scores = {score_taint_toleration(*p, clean), score_taint_toleration(*p, tainted),
                                      score_taint_toleration(*p, other)};
  EXPECT_EQ(scores, (std::vector<std::int64_t>{0, 0, 1}));
  normalize_scores(scores, true);
  EXPECT_EQ(scores, (std::vector<std::int64_t>{100, 100, 0}));
}

TEST(NodeAffinityScore, SumsTheWeightsOfMatchingPreferredTerms) {
  const auto p = pod(R"({"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
    {"weight":2,"preference":{"matchExpressions":[{"key":"disk","operator":"In","values":["ssd"]}]}},
    {"weight":5,"preference":{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}}]}}})");
  std::vector<std::int64_t> scores = {score_node_affinity(*p, node("n1", R"({"disk":"ssd"})")),
                                      score_node_affinity(*p, node("n2", R"({"disk":"ssd","zone":"a"})")),
                                      score_node_affinity(*p, node("n3", "{}"))};
  EXPECT_EQ(scores, (std::vector<std::int64_t>{2, 7, 0}));
  normalize_scores(scores, false);
  EXPECT_EQ(scores, (std::vector<std::int64_t>{28, 100, 0}));
}

TEST(InterPodAffinityScore, PreferredTermsPullAndPushByTopology) {
  NodeInfo a = node("a", R"({"zone":"a"})"), b = node("b", R"({"zone":"b"})");
  a.add_pod(pod("", "db-0", R"({"app":"db"})"));
  b.add_pod(pod("", "web-0", R"({"app":"web"})"));
  const std::vector<const NodeInfo*> nodes = {&a, &b};
  const auto p = pod(R"({"affinity":{
    "podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":10,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"db"}},"topologyKey":"zone"}}]},
    "podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":5,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"zone"}}]}}})",
                     "web-1", R"({"app":"web"})");
  const auto state = prescore_inter_pod_affinity(*p, nodes, true);
  std::vector<std::int64_t> scores = {score_inter_pod_affinity(a, state), score_inter_pod_affinity(b, state)};
  EXPECT_EQ(scores, (std::vector<std::int64_t>{10, -5}));
  normalize_min_max(scores);
  EXPECT_EQ(scores, (std::vector<std::int64_t>{100, 0}));
  // Existing pods' required affinity toward the incoming pod counts with weight 1.
  NodeInfo c = node("c", R"({"zone":"c"})");
  c.add_pod(pod(
      R"({"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"zone"}]}}})",
      "cache-0", R"({"app":"cache"})"));
  const auto plain = pod("", "web-2", R"({"app":"web"})");
  EXPECT_EQ(score_inter_pod_affinity(c, prescore_inter_pod_affinity(*plain, {&a, &b, &c}, true)), 1);
}

TEST(InterPodAffinityScore, PreferredTermsReadNamespaceSelectors) {
  NodeInfo a = node("a", R"({"zone":"a"})"), b = node("b", R"({"zone":"b"})");
  a.add_pod(pod("", "db-0", R"({"app":"db"})", "data"));
  b.add_pod(pod("", "db-1", R"({"app":"db"})", "cache"));
  const std::map<std::string, api::StringMap> labels = {{"default", {}}, {"data", {{"team", "storage"}}}, {"cache", {{"team", "speed"}}}};
  auto prefer = [](const std::string& selector) {
    return pod(R"({"affinity":{"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":7,"podAffinityTerm":
      {"labelSelector":{"matchLabels":{"app":"db"}},"namespaceSelector":)" +
                   selector + R"(,"topologyKey":"zone"}}]}}})",
               "web", R"({"app":"web"})");
  };
  const auto storage = prefer(R"({"matchLabels":{"team":"storage"}})");
  auto state = prescore_inter_pod_affinity(*storage, {&a, &b}, true, labels);
  EXPECT_EQ(score_inter_pod_affinity(a, state), 7);
  EXPECT_EQ(score_inter_pod_affinity(b, state), 0);
  const auto every = prefer("{}");
  state = prescore_inter_pod_affinity(*every, {&a, &b}, true, labels);
  EXPECT_EQ(score_inter_pod_affinity(a, state), 7);
  EXPECT_EQ(score_inter_pod_affinity(b, state), 7);
}

TEST(TopologySpreadScore, FewerMatchingPodsInTheDomainScoresHigher) {
  NodeInfo a = node("a", R"({"zone":"a"})"), b = node("b", R"({"zone":"b"})"), bare = node("bare", "{}");
  a.add_pod(pod("", "web-0", R"({"app":"web"})"));
  a.add_pod(pod("", "web-1", R"({"app":"web"})"));
  const auto p = pod(R"({"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"ScheduleAnyway",
    "labelSelector":{"matchLabels":{"app":"web"}}}]})",
                     "web-2", R"({"app":"web"})");
  const auto state = prescore_topology_spread(*p, {&a, &b, &bare});
  std::vector<std::optional<std::int64_t>> raw = {score_topology_spread(a, state), score_topology_spread(b, state),
                                                  score_topology_spread(bare, state)};
  EXPECT_EQ(raw[0], 3);  // 2 pods × log(2 domains + 2) = 2.77, rounded
  EXPECT_EQ(raw[1], 0);
  EXPECT_EQ(raw[2], std::nullopt);
  std::vector<std::int64_t> scores;
  normalize_topology_spread(raw, scores);
  EXPECT_EQ(scores, (std::vector<std::int64_t>{0, 100, 0}));
}

TEST(FitError, CountsReasonsAsUpstreamWordsThem) {
  FitError e;
  e.num_all_nodes = 3;
  e.statuses["n1"] = FilterResult::fail(FilterCode::Unschedulable, "Insufficient cpu");
  e.statuses["n2"] = FilterResult::fail(FilterCode::UnschedulableAndUnresolvable, "node(s) had untolerated taint {dedicated: gpu}");
  e.statuses["n3"] = FilterResult::fail(FilterCode::UnschedulableAndUnresolvable, "node(s) had untolerated taint {dedicated: gpu}");
  EXPECT_EQ(e.message(), "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}.");
  EXPECT_EQ(FitError{}.message(), "no nodes available to schedule pods");
}

std::vector<const NodeInfo*> pointers(const std::vector<NodeInfo>& nodes) {
  std::vector<const NodeInfo*> out;
  for (const auto& n : nodes) out.push_back(&n);
  return out;
}

TEST(SchedulingCycle, UnschedulablePodsGetTheFullMessageWithPreemption) {
  std::vector<NodeInfo> nodes = {node("n1", "{}", "1"),
                                 node("n2", "{}", "4", "8Gi", "110", R"({"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]})"),
                                 node("n3", "{}", "4", "8Gi", "110", R"({"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]})")};
  SchedulingCycle cycle({}, 1);
  auto r = cycle.schedule(*pod_requesting("2", ""), pointers(nodes));
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->message(),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}. preemption: 0/3 nodes are available: "
            "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling..");
  auto never = cycle.schedule(*pod(R"({"preemptionPolicy":"Never","nodeSelector":{"x":"y"}})"), pointers(nodes));
  ASSERT_TRUE(never.error);
  EXPECT_EQ(never.error->message(),
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 node(s) had untolerated taint {k: v}. "
            "preemption: not eligible due to preemptionPolicy=Never.");
}

TEST(SchedulingCycle, PodsFillTheLeastAllocatedNodeFirst) {
  // Memory in the same proportion as CPU: BalancedAllocation is 100 everywhere, LeastAllocated decides.
  std::vector<NodeInfo> nodes = {node("small", "{}", "2", "2Gi"), node("large", "{}", "9", "9Gi"), node("medium", "{}", "4", "4Gi")};
  SchedulingCycle cycle({}, 1);
  std::vector<std::string> placed;
  for (int i = 0; i < 5; ++i) {
    auto p = pod_requesting("1", "1Gi", "p" + std::to_string(i));
    auto r = cycle.schedule(*p, pointers(nodes));
    ASSERT_FALSE(r.node.empty());
    placed.push_back(r.node);
    for (auto& n : nodes)
      if (n.name() == r.node) n.add_pod(p);
  }
  // large's free share 8/9, 7/9 beats medium's 3/4 until it falls to 6/9; then medium's 3/4 wins once.
  EXPECT_EQ(placed, (std::vector<std::string>{"large", "large", "medium", "large", "large"}));
}

TEST(SchedulingCycle, SearchesOnlyEnoughNodesInLargeClusters) {
  SchedulingCycle cycle;
  EXPECT_EQ(cycle.nodes_to_find(50), 50u);
  EXPECT_EQ(cycle.nodes_to_find(500), 230u);    // 50 - 500/125 = 46 %
  EXPECT_EQ(cycle.nodes_to_find(5000), 500u);   // 10 %
  EXPECT_EQ(cycle.nodes_to_find(10000), 500u);  // at least 5 %
}

}  // namespace
}  // namespace switchyard::scheduler
