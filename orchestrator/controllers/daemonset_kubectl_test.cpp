// DaemonSets through `switchyard apiserver` (its controllers and scheduler) and the real
// kubectl (1.27 and 1.33), with Node objects and no kubelet (the test marks pods Ready through
// pods/status, as a kubelet would):
// - one pod per eligible node, bound there by the scheduler through the controller's
//   `metadata.name` node-affinity term; nodeSelector and taints exclude nodes until a label or
//   a toleration lets them in; the status counts and `kubectl get ds` columns;
// - `kubectl set image` rolls out within maxUnavailable, `kubectl rollout status|history|undo`;
// - bad input gets kube-apiserver's Status with the field path;
// - our own deploy/ manifests are accepted and the agent's DaemonSet gets its pod on a node.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "netns-tests/support/apiserver_process.h"

namespace switchyard::controllers {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class DaemonSetKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    // No kubelet heartbeats here: keep the node lifecycle controller from tainting the nodes.
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "ds-kubectl-" + GetParam(),
                                                 std::vector<std::string>{"--node-monitor-grace-period", "600"});
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  testing::CommandResult apply(const std::string& name, const std::string& yaml) {
    return k("apply -f " + server_->file(name + ".yaml", yaml));
  }
  std::string get(const std::string& what, const std::string& path) { return k("get " + what + " -o jsonpath='" + path + "'").output; }
  void node(const std::string& name, const std::string& labels = "", const std::string& taints = "") {
    std::string yaml = "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name + "\n  labels: {kubernetes.io/hostname: " + name +
                       (labels.empty() ? "" : ", " + labels) + "}\n";
    if (!taints.empty()) yaml += "spec:\n  taints: " + taints + "\n";
    yaml += "status:\n  allocatable: {cpu: \"4\", memory: 8Gi, pods: \"110\"}\n";
    auto r = apply("node-" + name, yaml);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  // "node=image" for each pod of the DaemonSet (not being deleted), sorted.
  std::set<std::string> placements(const std::string& selector = "app=agent") {
    std::set<std::string> out;
    const std::string all =
        k("get pods -l " + selector +
          " -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}|{.spec.nodeName}={.spec.containers[0].image}{\"\\n\"}{end}'")
            .output;
    std::string line;
    for (char c : all + "\n") {
      if (c != '\n') {
        line += c;
        continue;
      }
      if (!line.empty() && line.front() == '|') out.insert(line.substr(1));
      line.clear();
    }
    return out;
  }
  // What a kubelet shows: every scheduled pod of `selector` Running and Ready.
  void mark_ready(const std::string& selector = "app=agent") {
    const std::string names = get("pods -l " + selector, "{range .items[?(@.spec.nodeName)]}{.metadata.name} {end}");
    std::string name;
    for (char c : names + " ") {
      if (c != ' ') {
        name += c;
        continue;
      }
      if (!name.empty())
        k("patch pod " + name +
          " --subresource=status --type=merge -p '{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\","
          "\"status\":\"True\"}]}}'");
      name.clear();
    }
  }
  std::string ds_yaml(const std::string& extra_spec = "", const std::string& pod_spec = "") {
    return "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  selector: {matchLabels: {app: agent}}\n" + extra_spec +
           "  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      terminationGracePeriodSeconds: 0\n" + pod_spec +
           "      containers: [{name: c, image: busybox}]\n";
  }

  std::string kubectl_;
  std::unique_ptr<ApiserverProcess> server_;
};

TEST_P(DaemonSetKubectl, OnePodPerEligibleNodeWithStatusAndColumns) {
  node("n1", "role: worker");
  node("n2", "role: worker");
  node("n3");
  node("n4", "role: worker", "[{key: dedicated, value: db, effect: NoSchedule}]");
  auto made = apply("ds", ds_yaml("", "      nodeSelector: {role: worker}\n"));
  ASSERT_EQ(made.exit_code, 0) << made.output;
  EXPECT_THAT(made.output, HasSubstr("daemonset.apps/agent created"));
  // n3 lacks the label, n4's taint is not tolerated.
  ASSERT_TRUE(wait_until(20, [&] {
    return placements() == std::set<std::string>{"n1=busybox", "n2=busybox"};
  })) << k("get pods -o wide").output;
  const std::string pod = get("pods -l app=agent", "{.items[0].metadata.name}");
  EXPECT_THAT(
      get("pod " + pod, "{.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0]}"),
      MatchesRegex(R"(\{"key":"metadata.name","operator":"In","values":\["n[12]"\]\})"));
  EXPECT_THAT(get("pod " + pod, "{.spec.tolerations[*].key}"), HasSubstr("node.kubernetes.io/unschedulable"));
  EXPECT_THAT(get("pod " + pod, "{.metadata.ownerReferences[0].kind}/{.metadata.labels.controller-revision-hash}"),
              MatchesRegex("DaemonSet/[a-z0-9]+"));

  EXPECT_TRUE(
      wait_until(10, [&] { return get("ds agent", "{.status.desiredNumberScheduled}/{.status.currentNumberScheduled}") == "2/2"; }));
  mark_ready();
  ASSERT_TRUE(wait_until(10, [&] { return get("ds agent", "{.status.numberReady}/{.status.numberAvailable}") == "2/2"; }));
  const auto table = k("get ds agent");
  EXPECT_THAT(table.output, MatchesRegex(R"(NAME +DESIRED +CURRENT +READY +UP-TO-DATE +AVAILABLE +NODE SELECTOR +AGE
agent +2 +2 +2 +2 +2 +role=worker +[0-9]+s
)")) << table.output;
  EXPECT_THAT(k("get ds agent -o wide").output, ::testing::ContainsRegex("CONTAINERS +IMAGES +SELECTOR\n(.|\n)*c +busybox +app=agent"));
  EXPECT_EQ(get("ds agent", "{.status.observedGeneration}/{.status.updatedNumberScheduled}/{.status.numberMisscheduled}"), "1/2/0");

  // A label brings n3 in; a toleration brings n4 in.
  ASSERT_EQ(k("label node n3 role=worker").exit_code, 0);
  EXPECT_TRUE(wait_until(15, [&] { return placements().contains("n3=busybox"); })) << k("get pods -o wide").output;
  ASSERT_EQ(k("patch ds agent --type=merge -p '{\"spec\":{\"template\":{\"spec\":{\"tolerations\":[{\"key\":\"dedicated\","
              "\"operator\":\"Exists\"}]}}}}'")
                .exit_code,
            0);
  EXPECT_TRUE(wait_until(30, [&] {
    mark_ready();
    return placements().size() == 4 && placements().contains("n4=busybox");
  })) << k("get pods -o wide").output;
  // Taking the label off n1 takes its pod away (nothing else schedules there).
  ASSERT_EQ(k("label node n1 role-").exit_code, 0);
  EXPECT_TRUE(wait_until(30, [&] {
    mark_ready();
    return !placements().contains("n1=busybox") && placements().size() == 3;
  })) << k("get pods -o wide").output;
  EXPECT_TRUE(wait_until(15, [&] { return get("ds agent", "{.status.desiredNumberScheduled}/{.status.numberReady}") == "3/3"; }))
      << k("get ds agent -o yaml").output;
}

TEST_P(DaemonSetKubectl, SetImageRollsOutWithinMaxUnavailableAndUndoes) {
  node("n1");
  node("n2");
  node("n3");
  ASSERT_EQ(apply("ds", ds_yaml()).exit_code, 0);
  ASSERT_TRUE(wait_until(20, [&] {
    mark_ready();
    return get("ds agent", "{.status.numberAvailable}") == "3";
  })) << k("get pods -o wide").output;
  auto done = k("rollout status ds/agent --timeout=10s");
  EXPECT_EQ(done.exit_code, 0) << done.output;
  EXPECT_THAT(done.output, HasSubstr("daemon set \"agent\" successfully rolled out"));

  ASSERT_EQ(k("set image ds/agent c=busybox:1.36").exit_code, 0);
  // maxUnavailable 1 (the default): at no point do two nodes lack a ready pod. The test is the
  // kubelet, so a node's new pod becomes ready only when the test says so, one sync at a time.
  int max_missing = 0;
  ASSERT_TRUE(wait_until(60, [&] {
    const std::string ready =
        get("pods -l app=agent", "{range .items[*]}{.spec.nodeName}:{.status.conditions[?(@.type==\"Ready\")].status} {end}");
    int missing = 3;
    for (const char* n : {"n1:True", "n2:True", "n3:True"})
      if (ready.find(n) != std::string::npos) --missing;
    max_missing = std::max(max_missing, missing);
    mark_ready();
    return placements() == std::set<std::string>{"n1=busybox:1.36", "n2=busybox:1.36", "n3=busybox:1.36"} &&
           get("ds agent", "{.status.updatedNumberScheduled}/{.status.numberAvailable}") == "3/3";
  })) << k("get pods -o wide").output;
  EXPECT_LE(max_missing, 1);
  done = k("rollout status ds/agent --timeout=10s");
  EXPECT_EQ(done.exit_code, 0) << done.output;
  EXPECT_THAT(done.output, HasSubstr("successfully rolled out"));

  auto history = k("rollout history ds/agent");
  EXPECT_EQ(history.exit_code, 0) << history.output;
  EXPECT_THAT(history.output, HasSubstr("\nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n")) << history.output;
  EXPECT_THAT(k("rollout history ds/agent --revision=1").output, HasSubstr("    Image:\tbusybox\n"));
  EXPECT_THAT(k("get controllerrevisions -o custom-columns=REV:.revision,OWNER:.metadata.ownerReferences[0].name --no-headers "
                "--sort-by=.revision")
                  .output,
              MatchesRegex("1 +agent\n2 +agent\n"));

  auto undo = k("rollout undo ds/agent");
  ASSERT_EQ(undo.exit_code, 0) << undo.output;
  EXPECT_THAT(undo.output, HasSubstr("daemonset.apps/agent rolled back"));
  EXPECT_EQ(get("ds agent", "{.spec.template.spec.containers[0].image}"), "busybox");
  ASSERT_TRUE(wait_until(60, [&] {
    mark_ready();
    return placements() == std::set<std::string>{"n1=busybox", "n2=busybox", "n3=busybox"};
  })) << k("get pods -o wide").output;
  // Revision 1's template is revision 3 now.
  EXPECT_TRUE(wait_until(10, [&] {
    return k("rollout history ds/agent").output.find("\n2 ") != std::string::npos &&
           k("rollout history ds/agent").output.find("\n3 ") != std::string::npos &&
           k("rollout history ds/agent").output.find("\n1 ") == std::string::npos;
  })) << k("rollout history ds/agent").output;
}

TEST_P(DaemonSetKubectl, OnDeleteWaitsForTheUserAndSurgeRunsTwoPods) {
  node("n1");
  ASSERT_EQ(apply("ds", ds_yaml("  updateStrategy: {type: OnDelete}\n")).exit_code, 0);
  ASSERT_TRUE(wait_until(20, [&] { return placements() == std::set<std::string>{"n1=busybox"}; }));
  mark_ready();
  ASSERT_EQ(k("set image ds/agent c=busybox:1.36").exit_code, 0);
  EXPECT_TRUE(wait_until(10, [&] { return get("ds agent", "{.status.observedGeneration}") == "2"; }));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(placements(), std::set<std::string>{"n1=busybox"});        // OnDelete: nothing happens by itself
  EXPECT_EQ(get("ds agent", "{.status.updatedNumberScheduled}"), "");  // 0, omitted as upstream's omitempty
  ASSERT_EQ(k("delete pods -l app=agent --wait=false").exit_code, 0);
  EXPECT_TRUE(wait_until(20, [&] { return placements() == std::set<std::string>{"n1=busybox:1.36"}; })) << k("get pods -o wide").output;

  // Surge: the new pod runs beside the old one until it is ready.
  ASSERT_EQ(k("patch ds agent --type=merge -p '{\"spec\":{\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
              "{\"maxSurge\":1,\"maxUnavailable\":0}}}}'")
                .exit_code,
            0);
  mark_ready();
  ASSERT_EQ(k("set image ds/agent c=busybox:1.37").exit_code, 0);
  EXPECT_TRUE(wait_until(20, [&] {
    return placements() == std::set<std::string>{"n1=busybox:1.36", "n1=busybox:1.37"};
  })) << k("get pods -o wide").output;
  EXPECT_TRUE(wait_until(20, [&] {
    mark_ready();
    return placements() == std::set<std::string>{"n1=busybox:1.37"};
  })) << k("get pods -o wide").output;
}

TEST_P(DaemonSetKubectl, BadInputGetsTheServersStatus) {
  auto bad = apply("bad",
                   "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: bad}\nspec:\n  selector: {matchLabels: {app: a}}\n"
                   "  template:\n    metadata: {labels: {app: b}}\n    spec:\n      containers: [{name: c, image: busybox}]\n");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("The DaemonSet \"bad\" is invalid: spec.template.metadata.labels: Invalid value: "
                                    "map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`"));
  auto both = apply("both", ds_yaml("  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}\n"));
  EXPECT_NE(both.exit_code, 0);
  EXPECT_THAT(both.output, HasSubstr("spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "
                                     "intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}: may not be set when maxUnavailable is non-zero"));
  auto none = apply("none", ds_yaml("  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}\n"));
  EXPECT_THAT(none.output, HasSubstr("spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"));
  auto strategy = apply("strategy", ds_yaml("  updateStrategy: {type: Recreate}\n"));
  EXPECT_THAT(strategy.output, HasSubstr("spec.updateStrategy: Unsupported value: "));
  EXPECT_THAT(strategy.output, HasSubstr("supported values: \"RollingUpdate\", \"OnDelete\""));
  ASSERT_EQ(apply("ds", ds_yaml()).exit_code, 0);
  auto moved =
      k("patch ds agent --type=merge -p '{\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"x\"}},\"template\":"
        "{\"metadata\":{\"labels\":{\"app\":\"x\"}}}}}'");
  EXPECT_NE(moved.exit_code, 0);
  EXPECT_THAT(moved.output, HasSubstr("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}, "
                                      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"));
  // The status subresource and the short name.
  EXPECT_THAT(k("api-resources --api-group=apps").output, MatchesRegex(R"((.|\n)*daemonsets +ds +apps/v1 +true +DaemonSet(.|\n)*)"));
  EXPECT_EQ(get("ds agent",
                "{.spec.updateStrategy.type}/{.spec.updateStrategy.rollingUpdate.maxUnavailable}/"
                "{.spec.updateStrategy.rollingUpdate.maxSurge}/{.spec.revisionHistoryLimit}"),
            "RollingUpdate/1/0/10");
}

TEST_P(DaemonSetKubectl, OurOwnDeployManifestsAreAcceptedAndTheAgentLandsOnALinuxNode) {
  node("n1", "kubernetes.io/os: linux");
  node("n2", "kubernetes.io/os: windows");
  // (No `--dry-run=server`: this API server answers dryRun with 400 "dryRun is not supported".)
  auto applied = k(std::string("apply -f ") + DEPLOY_DIR);
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  const std::string selector = "app.kubernetes.io/name=switchyard-agent";
  ASSERT_TRUE(wait_until(20, [&] {
    return get("pods -n kube-system -l " + selector, "{range .items[*]}{.spec.nodeName}:{.spec.hostNetwork} {end}") == "n1:true ";
  })) << k("get pods -A -o wide").output;
  EXPECT_TRUE(wait_until(10, [&] { return get("ds -n kube-system switchyard-agent", "{.status.desiredNumberScheduled}") == "1"; }));
}

INSTANTIATE_TEST_SUITE_P(Kubectl, DaemonSetKubectl, ::testing::Values("1.27", "1.33"));

}  // namespace
}  // namespace switchyard::controllers
