// The DaemonSet controller's decisions without a server: which nodes run a daemon pod, the
// tolerations and node-affinity term its pods get, the rolling update's surge/unavailable
// accounting (table tests), and which surplus pods on a node go.
#include "orchestrator/controllers/daemonset_math.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace switchyard::controllers {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

api::Node node(const std::string& name, api::StringMap labels = {}, std::vector<api::Taint> taints = {}) {
  api::Node n;
  n.metadata.name = name;
  n.metadata.labels = std::move(labels);
  n.taints = std::move(taints);
  return n;
}

api::DaemonSet daemonset(const std::string& max_unavailable = "1", const std::string& max_surge = "0") {
  api::DaemonSet ds;
  ds.metadata.name = "agent";
  ds.update_strategy.type = "RollingUpdate";
  auto as_int_or_string = [](const std::string& s) {
    return s.ends_with('%') ? api::IntOrString::of(s) : api::IntOrString::of(static_cast<std::int32_t>(std::stoi(s)));
  };
  ds.update_strategy.rolling_update = api::RollingUpdateDaemonSet{as_int_or_string(max_unavailable), as_int_or_string(max_surge)};
  return ds;
}

TEST(DaemonSetMath, NodeSelectorAndRequiredAffinityChooseNodes) {
  auto ds = daemonset();
  ds.template_.spec.node_selector = {{"disk", "ssd"}};
  EXPECT_TRUE(node_should_run_daemon_pod(node("a", {{"disk", "ssd"}}), ds).should_run);
  const auto hdd = node_should_run_daemon_pod(node("b", {{"disk", "hdd"}}), ds);
  EXPECT_FALSE(hdd.should_run);
  EXPECT_FALSE(hdd.should_continue_running);

  ds.template_.spec.node_selector.clear();
  ds.template_.spec.passthrough["affinity"] = R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
      {"matchExpressions":[{"key":"zone","operator":"In","values":["z1"]}]},
      {"matchFields":[{"key":"metadata.name","operator":"In","values":["c"]}]}]}}})";
  EXPECT_TRUE(node_should_run_daemon_pod(node("a", {{"zone", "z1"}}), ds).should_run);
  EXPECT_FALSE(node_should_run_daemon_pod(node("b", {{"zone", "z2"}}), ds).should_run);
  EXPECT_TRUE(node_should_run_daemon_pod(node("c"), ds).should_run);  // the matchFields term

  ds.template_.spec.passthrough.erase("affinity");
  ds.template_.spec.node_name = "a";
  EXPECT_TRUE(node_should_run_daemon_pod(node("a"), ds).should_run);
  EXPECT_FALSE(node_should_run_daemon_pod(node("b"), ds).should_run);
}

TEST(DaemonSetMath, TaintsAgainstTheTemplateAndTheAutomaticTolerations) {
  const auto ds = daemonset();
  struct Case {
    const char* what;
    api::Taint taint;
    bool run, stay;
  };
  const Case cases[] = {
      {"not-ready NoExecute is tolerated", {"node.kubernetes.io/not-ready", "", "NoExecute", ""}, true, true},
      {"unreachable NoExecute is tolerated", {"node.kubernetes.io/unreachable", "", "NoExecute", ""}, true, true},
      {"unschedulable (cordoned) is tolerated", {"node.kubernetes.io/unschedulable", "", "NoSchedule", ""}, true, true},
      {"disk pressure is tolerated", {"node.kubernetes.io/disk-pressure", "", "NoSchedule", ""}, true, true},
      {"memory pressure is tolerated", {"node.kubernetes.io/memory-pressure", "", "NoSchedule", ""}, true, true},
      {"pid pressure is tolerated", {"node.kubernetes.io/pid-pressure", "", "NoSchedule", ""}, true, true},
      {"network-unavailable only for hostNetwork", {"node.kubernetes.io/network-unavailable", "", "NoSchedule", ""}, false, true},
      {"a user NoSchedule taint: no new pod, the old one stays", {"dedicated", "gpu", "NoSchedule", ""}, false, true},
      {"a user NoExecute taint: no pod at all", {"dedicated", "gpu", "NoExecute", ""}, false, false},
      {"PreferNoSchedule does not count", {"dedicated", "gpu", "PreferNoSchedule", ""}, true, true},
  };
  for (const auto& c : cases) {
    const auto fit = node_should_run_daemon_pod(node("a", {}, {c.taint}), ds);
    EXPECT_EQ(fit.should_run, c.run) << c.what;
    EXPECT_EQ(fit.should_continue_running, c.stay) << c.what;
  }
  auto host = ds;
  host.template_.spec.host_network = true;
  EXPECT_TRUE(
      node_should_run_daemon_pod(node("a", {}, {{"node.kubernetes.io/network-unavailable", "", "NoSchedule", ""}}), host).should_run);
  auto tolerant = ds;
  tolerant.template_.spec.passthrough["tolerations"] = R"([{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoExecute"}])";
  EXPECT_TRUE(node_should_run_daemon_pod(node("a", {}, {{"dedicated", "gpu", "NoExecute", ""}}), tolerant).should_run);
}

TEST(DaemonSetMath, DaemonPodsGetTolerationsAndANodeNameTerm) {
  api::PodSpec spec;
  spec.passthrough["tolerations"] =
      R"([{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}])";
  spec.passthrough["affinity"] = R"({"podAntiAffinity":{"x":1},"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{}}})";
  auto out = with_daemon_tolerations(spec);
  const json tolerations = json::parse(out.passthrough["tolerations"]);
  ASSERT_EQ(tolerations.size(), 6u);  // the user's not-ready one replaced in place, without its seconds
  EXPECT_EQ(tolerations[0], json::parse(R"({"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute"})"));
  EXPECT_EQ(tolerations[5]["key"], "node.kubernetes.io/unschedulable");
  out.host_network = true;
  EXPECT_EQ(json::parse(with_daemon_tolerations(out).passthrough["tolerations"]).size(), 7u);

  pin_to_node(out, "n2");
  const json affinity = json::parse(out.passthrough["affinity"]);
  EXPECT_EQ(affinity["podAntiAffinity"], json::parse(R"({"x":1})"));
  EXPECT_EQ(affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            json::parse(R"({"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n2"]}]}]})"));
  api::Pod pod;
  pod.spec = out;
  EXPECT_EQ(target_node_of(pod), "n2");
  pod.spec.node_name = "n3";
  EXPECT_EQ(target_node_of(pod), "n3");
}

TEST(DaemonSetMath, BudgetScalesOnDesiredNodesRoundingUp) {
  struct Case {
    std::string unavailable, surge;
    int desired, want_unavailable, want_surge;
  };
  const Case cases[] = {
      {"1", "0", 5, 1, 0},    {"25%", "0", 5, 2, 0},  {"0", "10%", 5, 0, 1},
      {"0", "100%", 3, 0, 3}, {"0", "0", 4, 1, 0},  // impossible: unavailable 1
      {"0", "0", 0, 0, 0},    {"30%", "0", 10, 3, 0},
  };
  for (const auto& c : cases) {
    const auto b = rolling_budget(daemonset(c.unavailable, c.surge), c.desired);
    EXPECT_EQ(b.max_unavailable, c.want_unavailable) << c.unavailable << "/" << c.surge << " of " << c.desired;
    EXPECT_EQ(b.max_surge, c.want_surge) << c.unavailable << "/" << c.surge << " of " << c.desired;
  }
  auto on_delete = daemonset();
  on_delete.update_strategy = {"OnDelete", std::nullopt};
  EXPECT_EQ(rolling_budget(on_delete, 5).max_unavailable, 0);
}

using PV = DaemonNode::PodView;

TEST(DaemonSetMath, RollingUpdateWithoutSurgeKeepsWithinMaxUnavailable) {
  struct Case {
    const char* what;
    std::vector<DaemonNode> nodes;
    int max_unavailable;
    RollingStep want;
  };
  const Case cases[] = {
      {"all old and available, 1 at a time",
       {{"a", {PV{"a-old", false, true}}}, {"b", {PV{"b-old", false, true}}}, {"c", {PV{"c-old", false, true}}}},
       1,
       {{"a-old"}, {}}},
      {"2 at a time",
       {{"a", {PV{"a-old", false, true}}}, {"b", {PV{"b-old", false, true}}}, {"c", {PV{"c-old", false, true}}}},
       2,
       {{"a-old", "b-old"}, {}}},
      {"a new pod not yet available uses the budget", {{"a", {PV{"a-new", true, false}}}, {"b", {PV{"b-old", false, true}}}}, 1, {}},
      {"a node with no pod (being replaced) uses the budget", {{"a", {}}, {"b", {PV{"b-old", false, true}}}}, 1, {}},
      {"an unavailable old pod is replaced whatever the budget",
       {{"a", {PV{"a-new", true, false}}}, {"b", {PV{"b-old", false, false}}}, {"c", {PV{"c-old", false, true}}}},
       1,
       {{"b-old"}, {}}},
      {"available new pods free the budget",
       {{"a", {PV{"a-new", true, true}}}, {"b", {PV{"b-old", false, true}}}, {"c", {PV{"c-old", false, true}}}},
       1,
       {{"b-old"}, {}}},
      {"two pods of one kind on a node count as unavailable",
       {{"a", {PV{"a-1", false, true}, PV{"a-2", false, true}}}, {"b", {PV{"b-old", false, true}}}},
       1,
       {}},
      {"all updated: nothing to do", {{"a", {PV{"a-new", true, true}}}, {"b", {PV{"b-new", true, true}}}}, 1, {}},
  };
  for (const auto& c : cases) EXPECT_EQ(plan_rolling_update(c.nodes, {0, c.max_unavailable}), c.want) << c.what;
}

TEST(DaemonSetMath, RollingUpdateWithSurgeCreatesBesideOldPodsThenDeletesThem) {
  struct Case {
    const char* what;
    std::vector<DaemonNode> nodes;
    int max_surge;
    RollingStep want;
  };
  const Case cases[] = {
      {"surge onto 1 node", {{"a", {PV{"a-old", false, true}}}, {"b", {PV{"b-old", false, true}}}}, 1, {{}, {"a"}}},
      {"surge onto 2 nodes", {{"a", {PV{"a-old", false, true}}}, {"b", {PV{"b-old", false, true}}}}, 2, {{}, {"a", "b"}}},
      {"a surged pod not yet available holds the budget",
       {{"a", {PV{"a-old", false, true}, PV{"a-new", true, false}}}, {"b", {PV{"b-old", false, true}}}},
       1,
       {}},
      {"a surged pod available: the old one goes, the next node surges",
       {{"a", {PV{"a-old", false, true}, PV{"a-new", true, true}}}, {"b", {PV{"b-old", false, true}}}},
       1,
       {{"a-old"}, {"b"}}},
      {"an unavailable old pod gets its replacement at once",
       {{"a", {PV{"a-old", false, true}, PV{"a-new", true, false}}}, {"b", {PV{"b-old", false, false}}}},
       1,
       {{}, {"b"}}},
      {"nodes with only a new pod need nothing", {{"a", {PV{"a-new", true, true}}}}, 1, {}},
  };
  for (const auto& c : cases) EXPECT_EQ(plan_rolling_update(c.nodes, {c.max_surge, 0}), c.want) << c.what;
}

api::Pod pod(const std::string& name, const std::string& created, const std::string& hash, bool ready, bool scheduled = true) {
  api::Pod p;
  p.metadata.name = name;
  p.metadata.creation_timestamp = created;
  p.metadata.labels[kControllerRevisionHashLabel] = hash;
  if (scheduled) p.spec.node_name = "a";
  if (ready) p.status.conditions.push_back({"Ready", "True", "", "2026-01-01T00:00:00Z", "", ""});
  return p;
}

std::vector<std::string> names(const std::vector<const api::Pod*>& pods) {
  std::vector<std::string> out;
  for (const auto* p : pods) out.push_back(p->metadata.name);
  return out;
}

TEST(DaemonSetMath, SurplusPodsOnANode) {
  const auto now = std::chrono::system_clock::now();
  const auto oldest = pod("p1", "2026-01-01T00:00:00Z", "old", true);
  const auto newer = pod("p2", "2026-01-01T00:01:00Z", "new", false);
  const auto newest = pod("p3", "2026-01-01T00:02:00Z", "new", true);
  const auto unscheduled = pod("p0", "2025-01-01T00:00:00Z", "old", true, false);
  // No surge: everything but the oldest scheduled pod.
  EXPECT_THAT(names(surplus_daemon_pods({&newest, &oldest, &unscheduled}, "new", false, 0, now)), ElementsAre("p3", "p0"));
  EXPECT_THAT(surplus_daemon_pods({&oldest}, "new", false, 0, now), IsEmpty());
  // Surge: an old ready pod beside a new unavailable one stays...
  EXPECT_THAT(surplus_daemon_pods({&oldest, &newer}, "new", true, 0, now), IsEmpty());
  // ...and goes once the new one is available; extra new pods go.
  EXPECT_THAT(names(surplus_daemon_pods({&oldest, &newest}, "new", true, 0, now)), ElementsAre("p1"));
  EXPECT_THAT(names(surplus_daemon_pods({&oldest, &newer, &newest}, "new", true, 0, now)), ElementsAre("p3"));
}

TEST(DaemonSetMath, RevisionNamesAndData) {
  EXPECT_EQ(controller_revision_name("agent", "5d4f7c"), "agent-5d4f7c");
  EXPECT_EQ(controller_revision_name(std::string(300, 'x'), "h").size(), 225u);
  auto ds = daemonset();
  ds.template_.metadata.labels = {{"app", "agent"}};
  ds.template_.spec.containers.push_back({.name = "c", .image = "busybox"});
  const json data = json::parse(daemonset_revision_data(ds));
  EXPECT_EQ(data["spec"]["template"]["$patch"], "replace");
  EXPECT_EQ(data["spec"]["template"]["metadata"]["labels"]["app"], "agent");
  EXPECT_EQ(data["spec"]["template"]["spec"]["containers"][0]["image"], "busybox");
  EXPECT_EQ(data.size(), 1u);
  EXPECT_EQ(data["spec"].size(), 1u);
}

}  // namespace
}  // namespace switchyard::controllers
