// DefaultPreemption in tables: which pods a preemptor evicts on a node (the fewest, the least
// important, PDB-protected ones spared first), which node it picks, and its FitError words.
#include "orchestrator/scheduler/preemption.h"

#include <gtest/gtest.h>

#include "orchestrator/scheduler/scheduler_test_support.h"

namespace switchyard::scheduler {
namespace {

using testing::node;
using testing::pod;

// A pod bound to `node_name` with `priority`, requesting `cpu`, started at `start`.
PodInfoPtr running(const std::string& name, std::int32_t priority, const std::string& cpu, const std::string& start,
                   const std::string& labels = "{}", const std::string& node_name = "n1") {
  nlohmann::json spec = {{"priority", priority},
                         {"nodeName", node_name},
                         {"containers", {{{"name", "c"}, {"image", "x"}, {"resources", {{"requests", {{"cpu", cpu}}}}}}}}};
  auto p = pod(spec.dump(), name, labels);
  auto copy = std::make_shared<api::Pod>(*p->pod);
  copy->status.start_time = start;
  return *make_pod_info(copy);
}

PodInfoPtr preemptor(std::int32_t priority, const std::string& cpu) {
  return pod(nlohmann::json(
                 {{"priority", priority}, {"containers", {{{"name", "c"}, {"image", "x"}, {"resources", {{"requests", {{"cpu", cpu}}}}}}}}})
                 .dump(),
             "high");
}

std::vector<std::string> names(const std::vector<PodInfoPtr>& pods) {
  std::vector<std::string> out;
  for (const auto& p : pods) out.push_back(p->name());
  return out;
}

std::function<FilterResult(const NodeInfo&)> resources_fit(const PodInfo& p) {
  return [&p](const NodeInfo& n) { return filter_node_resources_fit(p, n); };
}

TEST(SelectVictims, EvictsOnlyTheLeastImportantPodsThatMakeRoom) {
  NodeInfo n = node("n1", "{}", "3");
  n.add_pod(running("old-low", 0, "1", "2026-01-01T00:00:00Z"));
  n.add_pod(running("young-low", 0, "1", "2026-01-02T00:00:00Z"));
  n.add_pod(running("mid", 10, "1", "2026-01-01T00:00:00Z"));
  const auto p = preemptor(100, "1");
  std::vector<std::string> why;
  auto v = select_victims_on_node(*p, n, {}, resources_fit(*p), why);
  ASSERT_TRUE(v.has_value());
  // The more important pods are given back first (mid, then the older of the two): only the
  // youngest lowest-priority pod goes.
  EXPECT_EQ(names(v->pods), std::vector<std::string>{"young-low"});
  EXPECT_EQ(v->pdb_violations, 0);

  const auto big = preemptor(100, "2");
  v = select_victims_on_node(*big, n, {}, resources_fit(*big), why);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(names(v->pods), (std::vector<std::string>{"old-low", "young-low"}));
}

TEST(SelectVictims, NoLowerPriorityPodsOrNoRoomEvenWithoutThem) {
  NodeInfo n = node("n1", "{}", "2");
  n.add_pod(running("equal", 100, "1", "2026-01-01T00:00:00Z"));
  n.add_pod(running("low", 0, "1", "2026-01-01T00:00:00Z"));
  std::vector<std::string> why;
  const auto p = preemptor(100, "2");
  EXPECT_FALSE(select_victims_on_node(*p, n, {}, resources_fit(*p), why).has_value());
  EXPECT_EQ(why, std::vector<std::string>{"Insufficient cpu"});
  const auto lowest = preemptor(0, "1");
  EXPECT_FALSE(select_victims_on_node(*lowest, n, {}, resources_fit(*lowest), why).has_value());
  EXPECT_EQ(why, std::vector<std::string>{"No preemption victims found for incoming pod"});
}

TEST(SelectVictims, PodsABudgetProtectsAreSparedBeforeOthers) {
  NodeInfo n = node("n1", "{}", "2");
  n.add_pod(running("guarded", 0, "1", "2026-01-02T00:00:00Z", R"({"app":"db"})"));
  n.add_pod(running("free", 0, "1", "2026-01-01T00:00:00Z", R"({"app":"web"})"));
  DisruptionBudgetInfo budget{"default", *api::LabelSelector::parse("app=db"), 0, {}};
  const auto p = preemptor(100, "1");
  std::vector<std::string> why;
  auto v = select_victims_on_node(*p, n, {budget}, resources_fit(*p), why);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(names(v->pods), std::vector<std::string>{"free"});
  EXPECT_EQ(v->pdb_violations, 0);
  // Needing both, the protected one goes too and counts as a violation.
  const auto big = preemptor(100, "2");
  v = select_victims_on_node(*big, n, {budget}, resources_fit(*big), why);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->pods.size(), 2u);
  EXPECT_EQ(v->pdb_violations, 1);
  // A budget that still allows a disruption is no violation.
  budget.disruptions_allowed = 1;
  v = select_victims_on_node(*big, n, {budget}, resources_fit(*big), why);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->pdb_violations, 0);
}

TEST(PickOneNode, UpstreamOrderOfCriteria) {
  auto victims = [](std::vector<std::pair<std::int32_t, std::string>> pods, int violations) {
    Victims v;
    int i = 0;
    for (const auto& [prio, start] : pods) v.pods.push_back(running("v" + std::to_string(i++), prio, "1", start));
    v.pdb_violations = violations;
    return v;
  };
  const std::string t1 = "2026-01-01T00:00:00Z", t2 = "2026-01-02T00:00:00Z";
  struct Case {
    const char* name;
    std::vector<PreemptionCandidate> candidates;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"fewest PDB violations", {{"a", victims({{1, t1}}, 1)}, {"b", victims({{5, t1}, {5, t1}}, 0)}}, "b"},
      {"lowest highest priority", {{"a", victims({{5, t1}}, 0)}, {"b", victims({{1, t1}, {1, t1}}, 0)}}, "b"},
      {"smallest priority sum", {{"a", victims({{5, t1}, {5, t1}}, 0)}, {"b", victims({{5, t1}, {-100, t1}}, 0)}}, "b"},
      {"fewest victims", {{"a", victims({{5, t1}, {5, t1}}, 0)}, {"b", victims({{5, t1}}, 0)}}, "b"},
      {"latest start of the highest-priority victims", {{"a", victims({{5, t1}}, 0)}, {"b", victims({{5, t2}}, 0)}}, "b"},
      {"first when all equal", {{"a", victims({{5, t1}}, 0)}, {"b", victims({{5, t1}}, 0)}}, "a"},
  };
  for (const auto& c : cases) EXPECT_EQ(c.candidates[pick_one_node_for_preemption(c.candidates)].node, c.want) << c.name;
}

TEST(Preempt, NominatesTheBestNodeOrSaysWhyNone) {
  std::vector<NodeInfo> infos;
  infos.push_back(node("n1", "{}", "2"));
  infos.push_back(node("n2", "{}", "2"));
  infos.push_back(node("n3", "{}", "2", "8Gi", "110", R"({"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]})"));
  infos[0].add_pod(running("a", 10, "2", "2026-01-01T00:00:00Z", "{}", "n1"));
  infos[1].add_pod(running("b", 0, "1", "2026-01-01T00:00:00Z", "{}", "n2"));
  infos[1].add_pod(running("c", 0, "1", "2026-01-01T00:00:00Z", "{}", "n2"));
  std::vector<const NodeInfo*> nodes;
  for (const auto& n : infos) nodes.push_back(&n);
  const auto p = preemptor(100, "1");
  SchedulingCycle cycle;
  auto cycled = cycle.schedule(*p, nodes);
  ASSERT_TRUE(cycled.node.empty());
  ASSERT_TRUE(cycled.error.has_value());
  auto result = preempt(*p, nodes, *cycled.error, {});
  // n2's victim has the lower priority (0 < 10): one of its pods goes.
  EXPECT_EQ(result.node, "n2");
  EXPECT_EQ(result.victims.size(), 1u);

  const auto lowest = preemptor(0, "1");
  cycled = cycle.schedule(*lowest, nodes);
  ASSERT_TRUE(cycled.error.has_value());
  result = preempt(*lowest, nodes, *cycled.error, {});
  EXPECT_TRUE(result.node.empty());
  EXPECT_EQ(
      result.message,
      "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.");
}

// Cases that fit only once InterPodAffinity and PodTopologySpread see the node without its
// victims (upstream's SelectVictimsOnNode runs the PreFilter extensions' RemovePod/AddPod).
TEST(Preempt, AffinityAndSpreadAreReEvaluatedWithTheVictimsRemoved) {
  const std::string t1 = "2026-01-01T00:00:00Z", t2 = "2026-01-02T00:00:00Z";
  auto high = [](const std::string& extra_spec, const std::string& labels) {
    nlohmann::json spec = nlohmann::json::parse(extra_spec);
    spec["priority"] = 100;
    spec["containers"] = {{{"name", "c"}, {"image", "x"}, {"resources", {{"requests", {{"cpu", "1"}}}}}}};
    return pod(spec.dump(), "high", labels);
  };
  struct Case {
    const char* name;
    PodInfoPtr preemptor;
    std::vector<PodInfoPtr> on_n1, on_n2;  // n1: hostname n1, zone a; n2: hostname n2, zone b (4 cpu each)
    std::string want_node;
    std::vector<std::string> want_victims;
  };
  const char* anti_lo = R"({"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
    {"labelSelector":{"matchLabels":{"app":"lo"}},"topologyKey":"kubernetes.io/hostname"}]}}})";
  const char* spread_web = R"({"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"kubernetes.io/hostname",
    "whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"web"}}}]})";
  const char* repel_hi = R"({"priority":0,"nodeName":"n1","affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
    {"labelSelector":{"matchLabels":{"app":"hi"}},"topologyKey":"kubernetes.io/hostname"}]}},
    "containers":[{"name":"c","image":"x"}]})";
  const std::vector<Case> cases = {
      // The preemptor's anti-affinity against a lower-priority pod: only its eviction helps. n2 is
      // full of a pod it may not preempt.
      {"the preemptor's required anti-affinity",
       high(anti_lo, R"({"app":"hi"})"),
       {running("lo", 0, "1", t1, R"({"app":"lo"})", "n1"), running("bystander", 0, "1", t1, R"({"app":"other"})", "n1")},
       {running("big", 1000, "4", t1, "{}", "n2")},
       "n1",
       {"lo"}},
      // An existing lower-priority pod whose anti-affinity repels the preemptor.
      {"an existing pod's required anti-affinity",
       high("{}", R"({"app":"hi"})"),
       {pod(repel_hi, "repeller", R"({"app":"x"})"), running("bystander", 0, "1", t1, R"({"app":"other"})", "n1")},
       {running("big", 1000, "4", t1, "{}", "n2")},
       "n1",
       {"repeller"}},
      // Spread by hostname, maxSkew 1: n1 holds two web pods, n2 none (and is full). Evicting one
      // web pod is not enough (1+1-0 = 2 > 1); both go, the preemptor's count is then 1.
      {"topology spread",
       high(spread_web, R"({"app":"web"})"),
       {running("web-old", 0, "1", t1, R"({"app":"web"})", "n1"), running("web-new", 0, "1", t2, R"({"app":"web"})", "n1")},
       {running("big", 1000, "4", t1, "{}", "n2")},
       "n1",
       {"web-old", "web-new"}},
  };
  for (const auto& c : cases) {
    NodeInfo n1 = node("n1", R"({"kubernetes.io/hostname":"n1","zone":"a"})", "4");
    NodeInfo n2 = node("n2", R"({"kubernetes.io/hostname":"n2","zone":"b"})", "4");
    for (const auto& p : c.on_n1) n1.add_pod(p);
    for (const auto& p : c.on_n2) n2.add_pod(p);
    std::vector<const NodeInfo*> nodes{&n1, &n2};
    SchedulingCycle cycle;
    auto cycled = cycle.schedule(*c.preemptor, nodes);
    ASSERT_TRUE(cycled.node.empty()) << c.name << ": fits without preemption on " << cycled.node;
    ASSERT_TRUE(cycled.error.has_value()) << c.name;
    auto result = preempt(*c.preemptor, nodes, *cycled.error, {});
    EXPECT_EQ(result.node, c.want_node) << c.name << ": " << result.message;
    EXPECT_EQ(names(result.victims), c.want_victims) << c.name;
  }
}

TEST(NominatedPods, HoldTheirRoomAgainstLowerPriorityPods) {
  NodeInfo n = node("n1", "{}", "2");
  n.add_pod(running("running", 0, "1", "2026-01-01T00:00:00Z"));
  std::vector<const NodeInfo*> nodes{&n};
  NominatedPods nominated{{"n1", {preemptor(100, "1")}}};
  SchedulingCycle cycle;
  auto low = pod(R"({"priority":5,"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":"1"}}}]})", "low");
  EXPECT_TRUE(cycle.schedule(*low, nodes, {}, true, &nominated).node.empty());
  EXPECT_EQ(cycle.schedule(*low, nodes, {}, true, nullptr).node, "n1");
  auto higher = pod(R"({"priority":500,"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":"1"}}}]})", "higher");
  EXPECT_EQ(cycle.schedule(*higher, nodes, {}, true, &nominated).node, "n1");
}

}  // namespace
}  // namespace switchyard::scheduler
