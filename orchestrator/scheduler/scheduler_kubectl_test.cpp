// The scheduler of `switchyard apiserver` as users see it through the real kubectl (1.27 and
// 1.33): Node objects created by the test (no kubelet, as scheduler_perf), pods bound in the
// order their requests dictate, nodeSelector/affinity, taints and cordons, the real
// FailedScheduling text in `kubectl describe pod`, pods of another scheduler left alone, and
// the pods/binding subresource's answers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>
#include <set>

#include "netns-tests/support/apiserver_process.h"

namespace switchyard::scheduler {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::wait_until;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

class SchedulerKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "scheduler-" + GetParam());
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  void apply(const std::string& name, const std::string& yaml) {
    auto r = k("create -f " + server_->file(name + ".yaml", yaml));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  // A Node as a kubelet would register it: labels, allocatable, optional spec lines.
  void node(const std::string& name, const std::string& cpu, const std::string& memory, const std::string& labels = "",
            const std::string& spec = "") {
    apply("node-" + name, "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name + "\n  labels: {kubernetes.io/hostname: " + name +
                              (labels.empty() ? "" : ", " + labels) + "}\n" + (spec.empty() ? "" : "spec: " + spec + "\n") +
                              "status:\n  capacity: {cpu: \"" + cpu + "\", memory: " + memory +
                              ", pods: \"110\"}\n  allocatable: {cpu: \"" + cpu + "\", memory: " + memory + ", pods: \"110\"}\n");
  }
  // A pod of one container requesting `cpu`/`memory`; `spec` adds fields under spec.
  void pod(const std::string& name, const std::string& cpu = "", const std::string& memory = "", const std::string& spec = "") {
    std::string requests;
    if (!cpu.empty()) requests += "cpu: \"" + cpu + "\"";
    if (!memory.empty()) requests += std::string(requests.empty() ? "" : ", ") + "memory: " + memory;
    apply("pod-" + name, "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nspec:\n" + spec +
                             "  containers:\n  - name: c\n    image: busybox\n    resources: {requests: {" + requests + "}}\n");
  }
  std::string node_of(const std::string& pod) { return k("get pod " + pod + " -o jsonpath={.spec.nodeName}").output; }
  // Waits until the pod is bound; its node.
  std::string bound(const std::string& pod) {
    std::string n;
    wait_until(10, [&] { return !(n = node_of(pod)).empty(); });
    return n;
  }
  // Waits until `kubectl describe pod` shows `text`; the last description.
  std::string describe_until(const std::string& pod, const std::string& text) {
    std::string out;
    wait_until(10, [&] { return (out = k("describe pod " + pod).output).find(text) != std::string::npos; });
    return out;
  }

  std::string kubectl_;
  std::unique_ptr<ApiserverProcess> server_;
};

TEST_P(SchedulerKubectl, PodsWithRequestsFillNodesInOrderThenWaitForRoom) {
  node("big", "3", "3Gi");
  node("small", "2", "4Gi");
  // LeastAllocated + BalancedAllocation, one pod at a time: big (2/3 free) over small (1/2 CPU,
  // 3/4 memory free), then small, then big again.
  std::vector<std::string> placed;
  for (const char* p : {"p1", "p2", "p3"}) {
    pod(p, "1", "1Gi");
    placed.push_back(bound(p));
  }
  EXPECT_EQ(placed, (std::vector<std::string>{"big", "small", "big"}));
  // Room for two more (one CPU left on each); never more than a node holds.
  pod("p4", "1", "1Gi");
  pod("p5", "1", "1Gi");
  const std::string n4 = bound("p4"), n5 = bound("p5");
  EXPECT_TRUE((n4 == "big" && n5 == "small") || (n4 == "small" && n5 == "big")) << n4 << " " << n5;

  pod("p6", "1", "1Gi");
  // big is out of CPU and memory, small out of CPU: reasons counted per node, sorted as upstream sorts them.
  const std::string message =
      "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption "
      "victims found for incoming pod..";
  const std::string described = describe_until("p6", "FailedScheduling");
  EXPECT_THAT(described, ContainsRegex("Warning +FailedScheduling +[0-9]+s +default-scheduler +0/2 nodes are available: 1 "
                                       "Insufficient memory, 2 Insufficient cpu\\."))
      << described;
  EXPECT_THAT(described, HasSubstr(message));
  EXPECT_THAT(described, ContainsRegex("PodScheduled +False"));
  EXPECT_EQ(k("get pod p6 -o jsonpath={.status.conditions[0].reason}").output, "Unschedulable");
  EXPECT_THAT(k("describe pod p1").output,
              ContainsRegex("Normal +Scheduled +[0-9]+s +default-scheduler +Successfully assigned default/p1 to big"));

  // A pod deleted frees its node's room: the waiting pod is retried at once, not after minutes.
  auto del = k("delete pod p1 --grace-period=0 --force");
  ASSERT_EQ(del.exit_code, 0) << del.output;
  EXPECT_EQ(bound("p6"), "big");
}

TEST_P(SchedulerKubectl, NodeSelectorAndAffinityChooseTheNode) {
  node("ssd", "4", "8Gi", "disk: ssd");
  node("hdd", "4", "8Gi", "disk: hdd");
  pod("fast", "", "", "  nodeSelector: {disk: ssd}\n");
  pod("slow", "", "",
      "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n"
      "        - matchExpressions: [{key: disk, operator: NotIn, values: [ssd]}]\n");
  pod("prefers-hdd", "", "",
      "  affinity:\n    nodeAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n"
      "      - weight: 50\n        preference: {matchExpressions: [{key: disk, operator: In, values: [hdd]}]}\n");
  EXPECT_EQ(bound("fast"), "ssd");
  EXPECT_EQ(bound("slow"), "hdd");
  EXPECT_EQ(bound("prefers-hdd"), "hdd");

  pod("gpu", "", "", "  nodeSelector: {gpu: \"yes\"}\n");
  const std::string described = describe_until("gpu", "FailedScheduling");
  EXPECT_THAT(described, HasSubstr("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 "
                                   "nodes are available: 2 Preemption is not helpful for scheduling.."))
      << described;
  // Labelling a node is a cluster event: the pod is retried and bound.
  auto label = k("label node hdd gpu=yes");
  ASSERT_EQ(label.exit_code, 0) << label.output;
  EXPECT_EQ(bound("gpu"), "hdd");
}

TEST_P(SchedulerKubectl, TaintsRepelAndTolerationsAdmit) {
  node("db", "4", "8Gi");
  node("web", "4", "8Gi");
  auto taint = k("taint nodes db dedicated=db:NoSchedule");
  ASSERT_EQ(taint.exit_code, 0) << taint.output;
  auto cordon = k("cordon web");
  ASSERT_EQ(cordon.exit_code, 0) << cordon.output;

  pod("plain");
  const std::string described = describe_until("plain", "FailedScheduling");
  EXPECT_THAT(described, HasSubstr("0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 1 node(s) were "
                                   "unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."))
      << described;
  pod("tolerant", "", "", "  tolerations: [{key: dedicated, operator: Equal, value: db, effect: NoSchedule}]\n");
  EXPECT_EQ(bound("tolerant"), "db");
  // Uncordoning is a node update: the plain pod goes to web.
  ASSERT_EQ(k("uncordon web").exit_code, 0);
  EXPECT_EQ(bound("plain"), "web");
}

TEST_P(SchedulerKubectl, PodsOfAnotherSchedulerAreLeftAlone) {
  node("n1", "4", "8Gi");
  pod("mine", "", "", "  schedulerName: my-scheduler\n");
  pod("default");
  EXPECT_EQ(bound("default"), "n1");
  EXPECT_EQ(k("get pod default -o jsonpath={.spec.schedulerName}").output, "default-scheduler");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(node_of("mine"), "");
  const std::string described = k("describe pod mine").output;
  EXPECT_THAT(described, Not(HasSubstr("FailedScheduling")));
  EXPECT_THAT(described, Not(HasSubstr("PodScheduled")));

  // That scheduler binds it through pods/binding; a second binding is refused as upstream refuses it.
  const std::string binding = server_->file(
      "binding.json",
      R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"mine"},"target":{"apiVersion":"v1","kind":"Node","name":"n1"}})");
  auto first = k("create --raw /api/v1/namespaces/default/pods/mine/binding -f " + binding);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(node_of("mine"), "n1") << first.output;
  EXPECT_EQ(k("get pod mine -o 'jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].status}'").output, "True");
  auto again = k("create --raw /api/v1/namespaces/default/bindings -f " + binding);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("Error from server (Conflict): Operation cannot be fulfilled on pods/binding \"mine\": pod mine is "
                                      "already assigned to node \"n1\""))
      << again.output;
}

TEST_P(SchedulerKubectl, AntiAffinityAndTopologySpreadAreHonoured) {
  node("a1", "4", "8Gi", "zone: a");
  node("a2", "4", "8Gi", "zone: a");
  node("b1", "4", "8Gi", "zone: b");
  const std::string anti =
      "  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n"
      "      - labelSelector: {matchLabels: {app: web}}\n        topologyKey: kubernetes.io/hostname\n";
  std::set<std::string> used;
  for (const char* p : {"web-1", "web-2", "web-3"}) {
    apply(p, std::string("apiVersion: v1\nkind: Pod\nmetadata: {name: ") + p + ", labels: {app: web}}\nspec:\n" + anti +
                 "  containers: [{name: c, image: busybox}]\n");
    used.insert(bound(p));
  }
  EXPECT_EQ(used, (std::set<std::string>{"a1", "a2", "b1"}));
  apply("web-4", "apiVersion: v1\nkind: Pod\nmetadata: {name: web-4, labels: {app: web}}\nspec:\n" + anti +
                     "  containers: [{name: c, image: busybox}]\n");
  const std::string described = describe_until("web-4", "FailedScheduling");
  EXPECT_THAT(described, HasSubstr("0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules. preemption: "
                                   "0/3 nodes are available: 3 No preemption victims found for incoming pod.."))
      << described;

  // maxSkew 1 over zones: two zones of unequal size still get two pods each.
  std::map<std::string, int> per_zone;
  for (const char* p : {"spread-1", "spread-2", "spread-3", "spread-4"}) {
    apply(
        p,
        std::string("apiVersion: v1\nkind: Pod\nmetadata: {name: ") + p +
            ", labels: {app: spread}}\nspec:\n  topologySpreadConstraints:\n  - {maxSkew: 1, topologyKey: zone, "
            "whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: spread}}}\n  containers: [{name: c, image: busybox}]\n");
    const std::string n = bound(p);
    ++per_zone[n.substr(0, 1)];
  }
  EXPECT_EQ(per_zone, (std::map<std::string, int>{{"a", 2}, {"b", 2}}));
}

// namespaceSelector picks namespaces by their labels: the pod waits until a namespace holding a
// matching pod gets the label, and the label change alone sends it to be scheduled again.
TEST_P(SchedulerKubectl, AffinityNamespaceSelectorFollowsNamespaceLabels) {
  node("z1", "4", "8Gi", "zone: a");
  node("z2", "4", "8Gi", "zone: b");
  ASSERT_EQ(k("create namespace data").exit_code, 0);
  apply("db",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: data, labels: {app: db}}\nspec:\n  nodeName: z2\n"
        "  containers: [{name: c, image: busybox}]\n");
  apply("web",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  affinity:\n    podAffinity:\n"
        "      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector: {matchLabels: {app: db}}\n"
        "        namespaceSelector: {matchLabels: {team: storage}}\n        topologyKey: zone\n"
        "  containers: [{name: c, image: busybox}]\n");
  const std::string described = describe_until("web", "FailedScheduling");
  EXPECT_THAT(described, HasSubstr("0/2 nodes are available: 2 node(s) didn't match pod affinity rules.")) << described;
  EXPECT_EQ(node_of("web"), "");
  ASSERT_EQ(k("label namespace data team=storage").exit_code, 0);
  EXPECT_EQ(bound("web"), "z2");
}

TEST_P(SchedulerKubectl, AnInvalidAffinityOperatorGetsTheServersValidationStatus) {
  auto r = k("create -f " + server_->file("bad.yaml", R"(apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: disk, operator: Equals, values: [ssd]}]
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchExpressions: [{key: app, operator: In}]}
        topologyKey: kubernetes.io/hostname
  containers: [{name: c, image: busybox}]
)"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("The Pod \"bad\" is invalid: "));
  EXPECT_THAT(r.output, HasSubstr("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]."
                                  "matchExpressions[0].operator: Invalid value: \"Equals\": not a valid selector operator"))
      << r.output;
  EXPECT_THAT(r.output, HasSubstr("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector."
                                  "matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"))
      << r.output;
  EXPECT_THAT(k("get pods").output, Not(HasSubstr("bad")));
}

INSTANTIATE_TEST_SUITE_P(Kubectl, SchedulerKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + std::string(info.param).replace(1, 1, "_"); });

// `switchyard scheduler --kubeconfig` alone, beside an API server started with --no-scheduler.
TEST(StandaloneScheduler, BindsThePodsOfTheApiServerItIsPointedAt) {
  const std::string kubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
  ApiserverProcess server(SWITCHYARD_BINARY, "scheduler-standalone", {"--no-scheduler"});
  ASSERT_TRUE(server.wait_ready(kubectl)) << server.log();
  auto k = [&](const std::string& args) { return server.run_kubectl(kubectl, args); };
  auto node = k("create -f " + server.file("node.yaml",
                                           "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  allocatable: "
                                           "{cpu: \"2\", memory: 4Gi, pods: \"10\"}\n"));
  ASSERT_EQ(node.exit_code, 0) << node.output;
  ASSERT_EQ(k("run web --image=busybox").exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(k("get pod web -o jsonpath={.spec.nodeName}").output, "");  // nobody schedules yet
  testing::ChildProcess scheduler({SWITCHYARD_BINARY, "scheduler", "--kubeconfig", server.kubeconfig()},
                                  (server.dir() / "scheduler.log").string());
  EXPECT_TRUE(wait_until(10, [&] { return k("get pod web -o jsonpath={.spec.nodeName}").output == "n1"; }))
      << testing::run("cat " + (server.dir() / "scheduler.log").string()).output;
}

}  // namespace
}  // namespace switchyard::scheduler
