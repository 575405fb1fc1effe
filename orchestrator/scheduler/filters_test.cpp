// Each filter plugin in tables, with the cases upstream's plugin tests document.
#include "orchestrator/scheduler/filters.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

#include "orchestrator/scheduler/scheduler_test_support.h"

namespace switchyard::scheduler {
namespace {

using testing::node;
using testing::pod;
using testing::pod_requesting;

struct Case {
  const char* name;
  std::string pod_spec;
  std::string node_spec;
  FilterCode code;
  std::vector<std::string> reasons;
};

std::string describe(const FilterResult& r) {
  std::string out = r.ok() ? "Success" : r.code == FilterCode::Unschedulable ? "Unschedulable" : "UnschedulableAndUnresolvable";
  for (const auto& s : r.reasons) out += " [" + s + "]";
  return out;
}

void expect(const FilterResult& got, const Case& c) {
  EXPECT_EQ(got.code, c.code) << c.name << ": " << describe(got);
  EXPECT_EQ(got.reasons, c.reasons) << c.name;
}

TEST(NodeUnschedulable, CordonedNodesRejectPodsThatDoNotTolerateIt) {
  const Case cases[] = {
      {"schedulable node", "", R"({"unschedulable":false})", FilterCode::Success, {}},
      {"cordoned node", "", R"({"unschedulable":true})", FilterCode::UnschedulableAndUnresolvable, {reasons::kUnschedulable}},
      {"cordoned node, pod tolerates the unschedulable taint",
       R"({"tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Exists","effect":"NoSchedule"}]})",
       R"({"unschedulable":true})",
       FilterCode::Success,
       {}},
  };
  for (const auto& c : cases) expect(filter_node_unschedulable(*pod(c.pod_spec), node("n1", "{}", "4", "8Gi", "110", c.node_spec)), c);
}

TEST(NodeName, OnlyTheNamedNodeFits) {
  const Case cases[] = {
      {"no nodeName", "", "", FilterCode::Success, {}},
      {"the node's name", R"({"nodeName":"n1"})", "", FilterCode::Success, {}},
      {"another name", R"({"nodeName":"n2"})", "", FilterCode::UnschedulableAndUnresolvable, {reasons::kNodeName}},
  };
  for (const auto& c : cases) expect(filter_node_name(*pod(c.pod_spec), node("n1")), c);
}

TEST(TaintToleration, TaintsRepelPodsWithoutAMatchingToleration) {
  const std::string taint = R"({"taints":[{"key":"dedicated","value":"user1","effect":"NoSchedule"}]})";
  const char* untolerated = "node(s) had untolerated taint {dedicated: user1}";
  const Case cases[] = {
      {"no toleration", "", taint, FilterCode::UnschedulableAndUnresolvable, {untolerated}},
      {"Equal with the same value",
       R"({"tolerations":[{"key":"dedicated","operator":"Equal","value":"user1","effect":"NoSchedule"}]})",
       taint,
       FilterCode::Success,
       {}},
      {"operator defaults to Equal",
       R"({"tolerations":[{"key":"dedicated","value":"user1","effect":"NoSchedule"}]})",
       taint,
       FilterCode::Success,
       {}},
      {"another value",
       R"({"tolerations":[{"key":"dedicated","operator":"Equal","value":"user2","effect":"NoSchedule"}]})",
       taint,
       FilterCode::UnschedulableAndUnresolvable,
       {untolerated}},
      {"Exists without a value",
       R"({"tolerations":[{"key":"dedicated","operator":"Exists","effect":"NoSchedule"}]})",
       taint,
       FilterCode::Success,
       {}},
      {"empty effect tolerates every effect",
       R"({"tolerations":[{"key":"dedicated","operator":"Exists"}]})",
       taint,
       FilterCode::Success,
       {}},
      {"empty key with Exists tolerates everything", R"({"tolerations":[{"operator":"Exists"}]})", taint, FilterCode::Success, {}},
      {"another effect",
       R"({"tolerations":[{"key":"dedicated","operator":"Exists","effect":"NoExecute"}]})",
       taint,
       FilterCode::UnschedulableAndUnresolvable,
       {untolerated}},
      {"PreferNoSchedule does not filter",
       "",
       R"({"taints":[{"key":"dedicated","value":"user1","effect":"PreferNoSchedule"}]})",
       FilterCode::Success,
       {}},
      {"NoExecute filters too",
       "",
       R"({"taints":[{"key":"gpu","value":"","effect":"NoExecute"}]})",
       FilterCode::UnschedulableAndUnresolvable,
       {"node(s) had untolerated taint {gpu: }"}},
  };
  for (const auto& c : cases) expect(filter_taint_toleration(*pod(c.pod_spec), node("n1", "{}", "4", "8Gi", "110", c.node_spec)), c);
}

TEST(NodeAffinity, NodeSelectorAndRequiredTermsSelectNodes) {
  const std::string labels = R"({"zone":"z1","disk":"ssd","cores":"8"})";
  auto required = [](const std::string& terms) {
    return R"({"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":)" + terms + "}}}}";
  };
  const FilterCode no = FilterCode::UnschedulableAndUnresolvable;
  const std::vector<std::string> why = {reasons::kNodeAffinity};
  const Case cases[] = {
      {"no selector", "", "", FilterCode::Success, {}},
      {"nodeSelector matches", R"({"nodeSelector":{"zone":"z1"}})", "", FilterCode::Success, {}},
      {"nodeSelector with a missing label", R"({"nodeSelector":{"zone":"z1","gpu":"yes"}})", "", no, why},
      {"In", required(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["z0","z1"]}]}])"), "", FilterCode::Success, {}},
      {"In without the value", required(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["z2"]}]}])"), "", no, why},
      {"NotIn", required(R"([{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["z1"]}]}])"), "", no, why},
      {"Exists", required(R"([{"matchExpressions":[{"key":"disk","operator":"Exists"}]}])"), "", FilterCode::Success, {}},
      {"DoesNotExist", required(R"([{"matchExpressions":[{"key":"disk","operator":"DoesNotExist"}]}])"), "", no, why},
      {"Gt", required(R"([{"matchExpressions":[{"key":"cores","operator":"Gt","values":["4"]}]}])"), "", FilterCode::Success, {}},
      {"Lt", required(R"([{"matchExpressions":[{"key":"cores","operator":"Lt","values":["4"]}]}])"), "", no, why},
      {"terms are ORed",
       required(
           R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["z9"]}]},{"matchExpressions":[{"key":"disk","operator":"In","values":["ssd"]}]}])"),
       "",
       FilterCode::Success,
       {}},
      {"expressions of a term are ANDed",
       required(
           R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["z1"]},{"key":"disk","operator":"In","values":["hdd"]}]}])"),
       "", no, why},
      {"an empty term matches nothing", required(R"([{}])"), "", no, why},
      {"no terms match nothing", required(R"([])"), "", no, why},
      {"matchFields metadata.name",
       required(R"([{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}])"),
       "",
       FilterCode::Success,
       {}},
      {"nodeSelector and affinity must both match",
       R"({"nodeSelector":{"zone":"z2"},"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"disk","operator":"Exists"}]}]}}}})",
       "", no, why},
  };
  for (const auto& c : cases) expect(filter_node_affinity(*pod(c.pod_spec), node("n1", labels)), c);
}

TEST(NodePorts, HostPortsInUseRejectThePod) {
  auto with_port = [](int port, const char* protocol, const char* ip) {
    return fmt::format(
        R"({{"containers":[{{"name":"c","image":"x","ports":[{{"containerPort":80,"hostPort":{},"protocol":"{}","hostIP":"{}"}}]}}]}})",
        port, protocol, ip);
  };
  struct PortCase {
    const char* name;
    std::string existing, incoming;
    bool fits;
  };
  const PortCase cases[] = {
      {"same port and protocol", with_port(8080, "TCP", ""), with_port(8080, "TCP", ""), false},
      {"another port", with_port(8080, "TCP", ""), with_port(8081, "TCP", ""), true},
      {"another protocol", with_port(8080, "TCP", ""), with_port(8080, "UDP", ""), true},
      {"wildcard IP against a specific one", with_port(8080, "TCP", "0.0.0.0"), with_port(8080, "TCP", "127.0.0.1"), false},
      {"two different IPs", with_port(8080, "TCP", "127.0.0.1"), with_port(8080, "TCP", "127.0.0.2"), true},
  };
  for (const auto& c : cases) {
    NodeInfo n = node("n1");
    n.add_pod(pod(c.existing, "existing"));
    const auto r = filter_node_ports(*pod(c.incoming), n);
    EXPECT_EQ(r.ok(), c.fits) << c.name;
    if (!c.fits) EXPECT_EQ(r.reasons, std::vector<std::string>{reasons::kNodePorts}) << c.name;
  }
}

TEST(NodeResourcesFit, RequestsAreComparedWithWhatIsLeft) {
  struct FitCase {
    const char* name;
    PodInfoPtr incoming;
    std::vector<PodInfoPtr> existing;
    std::string pods_allocatable;
    std::vector<std::string> reasons;
  };
  auto init_pod = [](const char* init_cpu, const char* app_cpu) {
    return pod(fmt::format(R"({{"initContainers":[{{"name":"i","image":"x","resources":{{"requests":{{"cpu":"{}"}}}}}}],)"
                           R"("containers":[{{"name":"c","image":"x","resources":{{"requests":{{"cpu":"{}"}}}}}}]}})",
                           init_cpu, app_cpu));
  };
  const FitCase cases[] = {
      {"no requests", pod(""), {}, "110", {}},
      {"enough resources", pod_requesting("1", "1Gi"), {pod_requesting("2", "4Gi", "e1")}, "110", {}},
      {"exactly what is left", pod_requesting("2", "4Gi"), {pod_requesting("2", "4Gi", "e1")}, "110", {}},
      {"too much cpu", pod_requesting("3", "1Gi"), {pod_requesting("2", "4Gi", "e1")}, "110", {"Insufficient cpu"}},
      {"too much cpu and memory",
       pod_requesting("3", "5Gi"),
       {pod_requesting("2", "4Gi", "e1")},
       "110",
       {"Insufficient cpu", "Insufficient memory"}},
      {"the init container is larger than the app containers", init_pod("5", "1"), {}, "110", {"Insufficient cpu"}},
      {"the app containers are larger than the init container",
       init_pod("1", "3"),
       {pod_requesting("2", "", "e1")},
       "110",
       {"Insufficient cpu"}},
      {"overhead counts",
       pod(R"({"overhead":{"cpu":"500m"},"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":"3600m"}}}]})"),
       {},
       "110",
       {"Insufficient cpu"}},
      {"pods allocatable reached", pod(""), {pod("", "e1")}, "1", {reasons::kTooManyPods}},
      {"extended resource absent from the node",
       pod(R"({"containers":[{"name":"c","image":"x","resources":{"requests":{"example.com/gpu":"1"},"limits":{"example.com/gpu":"1"}}}]})"),
       {},
       "110",
       {"Insufficient example.com/gpu"}},
      {"limits stand in for missing requests",
       pod(R"({"containers":[{"name":"c","image":"x","resources":{"limits":{"cpu":"5"}}}]})"),
       {},
       "110",
       {"Insufficient cpu"}},
  };
  for (const auto& c : cases) {
    NodeInfo n = node("n1", "{}", "4", "8Gi", c.pods_allocatable);
    for (const auto& e : c.existing) n.add_pod(e);
    const auto r = filter_node_resources_fit(*c.incoming, n);
    EXPECT_EQ(r.reasons, c.reasons) << c.name;
    EXPECT_EQ(r.ok(), c.reasons.empty()) << c.name;
  }
}

// InterPodAffinity and PodTopologySpread over two zones: a (n1) and b (n2).
class ClusterFilters : public ::testing::Test {
 protected:
  void SetUp() override {
    n1_ = node("n1", R"({"zone":"a","kubernetes.io/hostname":"n1"})");
    n2_ = node("n2", R"({"zone":"b","kubernetes.io/hostname":"n2"})");
  }
  std::vector<const NodeInfo*> nodes() const { return {&n1_, &n2_}; }
  FilterResult affinity(const PodInfoPtr& p, const NodeInfo& n) {
    return filter_inter_pod_affinity(*p, n, prefilter_inter_pod_affinity(*p, nodes(), {}));
  }
  FilterResult spread(const PodInfoPtr& p, const NodeInfo& n) {
    return filter_topology_spread(*p, n, prefilter_topology_spread(*p, nodes(), true));
  }
  NodeInfo n1_, n2_;
};

const char* kAffinityToDb = R"({"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
  {"labelSelector":{"matchLabels":{"app":"db"}},"topologyKey":"zone"}]}}})";
const char* kAntiAffinityToWeb = R"({"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
  {"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"kubernetes.io/hostname"}]}}})";

TEST_F(ClusterFilters, PodAffinityNeedsAMatchingPodInTheSameTopology) {
  n1_.add_pod(pod("", "db-0", R"({"app":"db"})"));
  const auto web = pod(kAffinityToDb, "web", R"({"app":"web"})");
  EXPECT_TRUE(affinity(web, n1_).ok());
  const auto r = affinity(web, n2_);
  EXPECT_EQ(r.code, FilterCode::UnschedulableAndUnresolvable);
  EXPECT_EQ(r.reasons, std::vector<std::string>{reasons::kAffinity});
}

TEST_F(ClusterFilters, TheFirstPodOfAGroupMatchingItsOwnAffinityMayGoAnywhere) {
  const auto db = pod(kAffinityToDb, "db-0", R"({"app":"db"})");
  EXPECT_TRUE(affinity(db, n1_).ok());
  EXPECT_TRUE(affinity(db, n2_).ok());
  const auto web = pod(kAffinityToDb, "web", R"({"app":"web"})");  // does not match itself: no db anywhere
  EXPECT_FALSE(affinity(web, n1_).ok());
}

TEST_F(ClusterFilters, PodAntiAffinityKeepsPodsApart) {
  n1_.add_pod(pod("", "web-0", R"({"app":"web"})"));
  const auto web = pod(kAntiAffinityToWeb, "web-1", R"({"app":"web"})");
  const auto r = affinity(web, n1_);
  EXPECT_EQ(r.code, FilterCode::Unschedulable);
  EXPECT_EQ(r.reasons, std::vector<std::string>{reasons::kAntiAffinity});
  EXPECT_TRUE(affinity(web, n2_).ok());
}

TEST_F(ClusterFilters, ExistingPodsAntiAffinityRepelsTheIncomingPod) {
  n1_.add_pod(pod(kAntiAffinityToWeb, "web-0", R"({"app":"web"})"));
  const auto plain = pod("", "web-1", R"({"app":"web"})");
  EXPECT_EQ(affinity(plain, n1_).reasons, std::vector<std::string>{reasons::kExistingAntiAffinity});
  EXPECT_TRUE(affinity(plain, n2_).ok());
  EXPECT_TRUE(affinity(pod("", "other", R"({"app":"other"})"), n1_).ok());
}

TEST_F(ClusterFilters, AffinityInAnotherNamespaceNeedsItNamed) {
  n1_.add_pod(pod("", "db-0", R"({"app":"db"})", "data"));
  EXPECT_FALSE(affinity(pod(kAffinityToDb, "web", R"({"app":"web"})"), n1_).ok());
  const auto named = pod(R"({"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
    {"labelSelector":{"matchLabels":{"app":"db"}},"namespaces":["data"],"topologyKey":"zone"}]}}})",
                         "web", R"({"app":"web"})");
  EXPECT_TRUE(affinity(named, n1_).ok());
}

// namespaceSelector in the terms (required filter, preferred score), merged with `namespaces`;
// an empty selector is every namespace, a null one none but those named (or the pod's own).
TEST_F(ClusterFilters, NamespaceSelectorPicksNamespacesByTheirLabels) {
  const std::map<std::string, api::StringMap> labels = {
      {"default", {{"kubernetes.io/metadata.name", "default"}}},
      {"data", {{"kubernetes.io/metadata.name", "data"}, {"team", "storage"}}},
      {"cache", {{"kubernetes.io/metadata.name", "cache"}, {"team", "speed"}}},
      {"other", {{"kubernetes.io/metadata.name", "other"}}},
  };
  // One db pod in each of data (zone a) and cache (zone b).
  n1_.add_pod(pod("", "db-data", R"({"app":"db"})", "data"));
  n2_.add_pod(pod("", "db-cache", R"({"app":"db"})", "cache"));
  auto term = [](const std::string& extra) {
    return R"({"affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
      {"labelSelector":{"matchLabels":{"app":"db"}},"topologyKey":"zone")" +
           extra + "}]}}}";
  };
  struct Case {
    const char* name;
    std::string spec;
    std::string ns;  // the incoming pod's
    bool on_n1, on_n2;
  };
  const std::vector<Case> cases = {
      {"no namespaces, no selector: the pod's own (default has no db)", term(""), "default", false, false},
      {"the pod's own namespace is data", term(""), "data", true, false},
      {"selector by label: team=storage is data", term(R"(,"namespaceSelector":{"matchLabels":{"team":"storage"}})"), "default", true,
       false},
      {"selector by expression: team in (speed)",
       term(R"(,"namespaceSelector":{"matchExpressions":[{"key":"team","operator":"In","values":["speed"]}]})"), "default", false, true},
      {"empty selector: every namespace", term(R"(,"namespaceSelector":{})"), "default", true, true},
      {"selector matching nothing, namespaces naming cache: merged",
       term(R"(,"namespaces":["cache"],"namespaceSelector":{"matchLabels":{"team":"none"}})"), "default", false, true},
      {"selector and namespaces together: both", term(R"(,"namespaces":["cache"],"namespaceSelector":{"matchLabels":{"team":"storage"}})"),
       "default", true, true},
      {"selector matching no namespace with a db", term(R"(,"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"other"}})"),
       "default", false, false},
  };
  for (const auto& c : cases) {
    const auto p = pod(c.spec, "web", R"({"app":"web"})", c.ns);
    const auto state = prefilter_inter_pod_affinity(*p, nodes(), labels);
    EXPECT_EQ(filter_inter_pod_affinity(*p, n1_, state).ok(), c.on_n1) << c.name;
    EXPECT_EQ(filter_inter_pod_affinity(*p, n2_, state).ok(), c.on_n2) << c.name;
  }
  // Anti-affinity of an existing pod, by namespaceSelector, against the incoming pod's namespace.
  NodeInfo n3 = node("n3", R"({"zone":"c","kubernetes.io/hostname":"n3"})");
  n3.add_pod(pod(R"({"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
    {"labelSelector":{"matchLabels":{"app":"web"}},"namespaceSelector":{"matchLabels":{"team":"speed"}},"topologyKey":"zone"}]}}})",
                 "guard", R"({"app":"guard"})", "data"));
  const std::vector<const NodeInfo*> three = {&n1_, &n2_, &n3};
  const auto from_cache = pod("", "web", R"({"app":"web"})", "cache");
  EXPECT_EQ(filter_inter_pod_affinity(*from_cache, n3, prefilter_inter_pod_affinity(*from_cache, three, labels)).reasons,
            std::vector<std::string>{reasons::kExistingAntiAffinity});
  const auto from_default = pod("", "web", R"({"app":"web"})", "default");
  EXPECT_TRUE(filter_inter_pod_affinity(*from_default, n3, prefilter_inter_pod_affinity(*from_default, three, labels)).ok());
}

const char* kSpreadByZone = R"({"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"zone",
  "whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"web"}}}]})";

TEST_F(ClusterFilters, TopologySpreadAllowsAtMostMaxSkew) {
  n1_.add_pod(pod("", "web-0", R"({"app":"web"})"));
  const auto web = pod(kSpreadByZone, "web-1", R"({"app":"web"})");
  // a: 1, b: 0. Another in a makes the skew 2.
  const auto r = spread(web, n1_);
  EXPECT_EQ(r.code, FilterCode::Unschedulable);
  EXPECT_EQ(r.reasons, std::vector<std::string>{reasons::kSpread});
  EXPECT_TRUE(spread(web, n2_).ok());
  // Pods the selector does not pick do not count.
  n2_.add_pod(pod("", "db-0", R"({"app":"db"})"));
  EXPECT_FALSE(spread(web, n1_).ok());
  n2_.add_pod(pod("", "web-2", R"({"app":"web"})"));
  EXPECT_TRUE(spread(web, n1_).ok());
}

TEST_F(ClusterFilters, TopologySpreadRejectsNodesWithoutTheKey) {
  NodeInfo bare = node("n3", "{}");
  const auto web = pod(kSpreadByZone, "web-1", R"({"app":"web"})");
  const auto r = filter_topology_spread(*web, bare, prefilter_topology_spread(*web, {&n1_, &n2_, &bare}, true));
  EXPECT_EQ(r.code, FilterCode::UnschedulableAndUnresolvable);
  EXPECT_EQ(r.reasons, std::vector<std::string>{reasons::kSpreadMissingLabel});
}

TEST_F(ClusterFilters, ScheduleAnywayConstraintsDoNotFilter) {
  n1_.add_pod(pod("", "web-0", R"({"app":"web"})"));
  n1_.add_pod(pod("", "web-9", R"({"app":"web"})"));
  const auto web = pod(R"({"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"zone",
    "whenUnsatisfiable":"ScheduleAnyway","labelSelector":{"matchLabels":{"app":"web"}}}]})",
                       "web-1", R"({"app":"web"})");
  EXPECT_TRUE(spread(web, n1_).ok());
}

}  // namespace
}  // namespace switchyard::scheduler
