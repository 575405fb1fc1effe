// Node health and drain through `switchyard apiserver` and the real kubectl (1.27 and 1.33),
// with Node objects and no kubelet (the test plays the kubelet's part where one is needed):
// - cordon/uncordon: the unschedulable taint, honoured by the scheduler;
// - PodDisruptionBudgets: their status and table, the eviction subresource's 429 with the real
//   message, and `kubectl drain --ignore-daemonsets` waiting on a budget, then completing once
//   the replacement pods are ready;
// - a node whose Lease stops being renewed: Ready=Unknown, tainted unreachable, its pods
//   NotReady and evicted after their (shortened) tolerationSeconds; back to Ready, untainted,
//   when the kubelet returns.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "netns-tests/support/apiserver_process.h"

namespace switchyard::controllers {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;

class NodeDrainKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void start(const std::vector<std::string>& args) {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "node-drain-" + GetParam(), args);
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  void TearDown() override { stop_kubelet(); }
  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  testing::CommandResult create(const std::string& name, const std::string& yaml) {
    return k("create -f " + server_->file(name + ".yaml", yaml));
  }
  std::string get(const std::string& what, const std::string& path) { return k("get " + what + " -o jsonpath='" + path + "'").output; }
  void node(const std::string& name) {
    auto r =
        create("node-" + name, "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name + "\n  labels: {kubernetes.io/hostname: " + name +
                                   "}\nstatus:\n  allocatable: {cpu: \"4\", memory: 8Gi, pods: \"110\"}\n");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  // What a kubelet shows: pods on `node` Ready (through pods/status).
  void mark_ready_on(const std::string& node) {
    for (const auto& line : split(get("pods", "{range .items[?(@.spec.nodeName==\"" + node + "\")]}{.metadata.name}{\"\\n\"}{end}")))
      k("patch pod " + line +
        " --subresource=status --type=merge -p '{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\","
        "\"status\":\"True\"}]}}'");
  }
  static std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
      if (c == '\n') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
  }
  // A kubelet's heartbeats for `node`: its Lease renewed and Ready=True posted every second.
  void start_kubelet(const std::string& node) {
    kubelet_running_ = true;
    kubelet_ = std::thread([this, node] {
      while (kubelet_running_) {
        const auto now = std::chrono::system_clock::now();
        const std::string micro = fmt::format("{:%Y-%m-%dT%H:%M:%S}.000000Z", fmt::gmtime(std::chrono::system_clock::to_time_t(now)));
        const std::string sec = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(now)));
        k("apply -f " + server_->file("lease.yaml", "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: " + node +
                                                        ", namespace: kube-node-lease}\nspec: {holderIdentity: " + node +
                                                        ", leaseDurationSeconds: 40, renewTime: \"" + micro + "\"}\n"));
        k("patch node " + node +
          " --subresource=status --type=merge -p '{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
          "\"reason\":\"KubeletReady\",\"message\":\"kubelet is posting ready status\",\"lastHeartbeatTime\":\"" +
          sec + "\",\"lastTransitionTime\":\"" + sec + "\"}]}}'");
        for (int i = 0; i < 10 && kubelet_running_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  void stop_kubelet() {
    kubelet_running_ = false;
    if (kubelet_.joinable()) kubelet_.join();
  }

  std::string kubectl_;
  std::unique_ptr<ApiserverProcess> server_;
  std::atomic<bool> kubelet_running_{false};
  std::thread kubelet_;
};

TEST_P(NodeDrainKubectl, CordonTaintsAndTheSchedulerHonoursIt) {
  start({"--node-monitor-grace-period", "300"});
  node("n1");
  auto cordon = k("cordon n1");
  ASSERT_EQ(cordon.exit_code, 0) << cordon.output;
  EXPECT_THAT(cordon.output, HasSubstr("node/n1 cordoned"));
  EXPECT_TRUE(wait_until(10, [&] { return get("node n1", "{.spec.taints[*].key}") == "node.kubernetes.io/unschedulable"; }));
  EXPECT_THAT(k("get node n1").output, HasSubstr("SchedulingDisabled"));
  ASSERT_EQ(
      create("pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: waiting}\nspec:\n  containers: [{name: c, image: busybox}]\n").exit_code,
      0);
  EXPECT_TRUE(wait_until(10, [&] { return k("describe pod waiting").output.find("node(s) were unschedulable") != std::string::npos; }));
  ASSERT_EQ(k("uncordon n1").exit_code, 0);
  EXPECT_TRUE(wait_until(10, [&] { return get("pod waiting", "{.spec.nodeName}") == "n1"; }));
  EXPECT_TRUE(wait_until(10, [&] { return get("node n1", "{.spec.taints}").empty(); }));
}

TEST_P(NodeDrainKubectl, EvictionsRespectTheBudgetAndDrainWaitsForIt) {
  start({"--node-monitor-grace-period", "300"});
  node("n1");
  auto rs = create("rs", R"(apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: c, image: busybox}]
)");
  ASSERT_EQ(rs.exit_code, 0) << rs.output;
  ASSERT_TRUE(wait_until(
      15, [&] { return split(get("pods", "{range .items[?(@.spec.nodeName==\"n1\")]}{.metadata.name}{\"\\n\"}{end}")).size() == 2; }));
  mark_ready_on("n1");
  ASSERT_EQ(create("pdb",
                   "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec:\n  minAvailable: 2\n  selector: "
                   "{matchLabels: {app: web}}\n")
                .exit_code,
            0);
  ASSERT_TRUE(wait_until(10, [&] {
    return get("pdb web", "{.status.currentHealthy}/{.status.desiredHealthy}/{.status.expectedPods}") == "2/2/2";
  })) << k("get pdb web -o yaml").output;
  EXPECT_THAT(k("get pdb web").output, ::testing::ContainsRegex("web +2 +N/A +0 +"));
  EXPECT_EQ(get("pdb web", "{.status.conditions[0].type}={.status.conditions[0].status}/{.status.conditions[0].reason}"),
            "DisruptionAllowed=False/InsufficientPods");

  // The eviction subresource itself: 429 with kube-apiserver's words.
  const std::string victim = split(get("pods", "{range .items[*]}{.metadata.name}{\"\\n\"}{end}")).front();
  auto evicted =
      k("create --raw /api/v1/namespaces/default/pods/" + victim + "/eviction -f " +
        server_->file("eviction.json", "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"" + victim + "\"}}"));
  EXPECT_NE(evicted.exit_code, 0);
  EXPECT_THAT(evicted.output, HasSubstr("Cannot evict pod as it would violate the pod's disruption budget."));
  EXPECT_EQ(get("pod " + victim, "{.metadata.name}"), victim);

  // drain: cordons, then waits on the budget (kubectl retries every 5 s) until its timeout.
  auto blocked = k("drain n1 --ignore-daemonsets --grace-period=0 --timeout=7s");
  EXPECT_NE(blocked.exit_code, 0);
  EXPECT_THAT(blocked.output, HasSubstr("node/n1 cordoned"));
  EXPECT_THAT(blocked.output, HasSubstr("Cannot evict pod as it would violate the pod's disruption budget."));
  EXPECT_EQ(split(get("pods", "{range .items[*]}{.metadata.name}{\"\\n\"}{end}")).size(), 2u);

  // With room in the budget and a second node for the replacements (ready as soon as they are
  // bound there), the drain completes: one pod at a time, each replacement first ready.
  ASSERT_EQ(k("patch pdb web --type=merge -p '{\"spec\":{\"minAvailable\":1}}'").exit_code, 0);
  node("n2");
  std::atomic<bool> kubelet{true};
  std::thread n2_kubelet([&] {
    while (kubelet) {
      mark_ready_on("n2");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  auto drained = k("drain n1 --ignore-daemonsets --grace-period=0 --timeout=60s");
  EXPECT_EQ(drained.exit_code, 0) << drained.output;
  EXPECT_THAT(drained.output, HasSubstr("node/n1 drained"));
  EXPECT_EQ(get("pods", "{range .items[?(@.spec.nodeName==\"n1\")]}{.metadata.name}{end}"), "");
  EXPECT_TRUE(wait_until(10, [&] { return get("pdb web", "{.status.currentHealthy}") == "2"; })) << k("get pdb web -o yaml").output;
  kubelet = false;
  n2_kubelet.join();
}

TEST_P(NodeDrainKubectl, ASilentNodeIsTaintedItsPodsEvictedAndItRecovers) {
  start({"--node-monitor-grace-period", "3"});
  node("n1");
  start_kubelet("n1");
  ASSERT_TRUE(wait_until(10, [&] { return get("node n1", "{.status.conditions[0].status}") == "True"; }));
  ASSERT_EQ(create("tolerant", R"(apiVersion: v1
kind: Pod
metadata: {name: tolerant}
spec:
  tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 4}]
  containers: [{name: c, image: busybox}]
)")
                .exit_code,
            0);
  ASSERT_EQ(create("patient", "apiVersion: v1\nkind: Pod\nmetadata: {name: patient}\nspec:\n  containers: [{name: c, image: busybox}]\n")
                .exit_code,
            0);
  ASSERT_TRUE(
      wait_until(10, [&] { return get("pod tolerant", "{.spec.nodeName}") == "n1" && get("pod patient", "{.spec.nodeName}") == "n1"; }));
  mark_ready_on("n1");
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_EQ(get("node n1", "{.spec.taints}"), "") << "a node that reports stays untainted";

  stop_kubelet();
  EXPECT_TRUE(wait_until(15, [&] { return get("node n1", "{.status.conditions[?(@.type==\"Ready\")].status}") == "Unknown"; }));
  EXPECT_EQ(get("node n1", "{.status.conditions[?(@.type==\"Ready\")].message}"), "Kubelet stopped posting node status.");
  EXPECT_TRUE(wait_until(5, [&] {
    return get("node n1", "{range .spec.taints[*]}{.key}:{.effect};{end}") ==
           "node.kubernetes.io/unreachable:NoSchedule;node.kubernetes.io/unreachable:NoExecute;";
  })) << get("node n1", "{.spec.taints}");
  EXPECT_THAT(k("get node n1").output, HasSubstr("NotReady"));
  EXPECT_TRUE(wait_until(5, [&] { return get("pod patient", "{.status.conditions[?(@.type==\"Ready\")].status}") == "False"; }));
  // tolerationSeconds 4: evicted (its deletion starts); the default 300 s keeps the other.
  EXPECT_TRUE(wait_until(15, [&] { return !get("pod tolerant", "{.metadata.deletionTimestamp}").empty(); }));
  EXPECT_THAT(get("pod tolerant", "{.status.conditions[?(@.type==\"DisruptionTarget\")].reason}"), HasSubstr("DeletionByTaintManager"));
  EXPECT_EQ(get("pod patient", "{.metadata.deletionTimestamp}"), "");
  // The Events upstream's node-controller and taint-eviction-controller write, as kubectl shows them.
  const std::string events_path =
      R"({range .items[*]}{.involvedObject.kind}/{.involvedObject.name} {.type} {.reason} {.source.component}: {.message}{"\n"}{end})";
  EXPECT_TRUE(wait_until(5, [&] {
    return get("events -A", events_path).find("Pod/tolerant Normal TaintManagerEviction") != std::string::npos;
  })) << get("events -A", events_path);
  const std::string events = get("events -A", events_path);
  EXPECT_THAT(events, HasSubstr("Node/n1 Normal RegisteredNode node-controller: Registered Node n1 in Controller\n"));
  EXPECT_THAT(events, HasSubstr("Node/n1 Normal NodeNotReady node-controller: Node n1 status is now: NodeNotReady\n"));
  EXPECT_THAT(events, HasSubstr("Pod/patient Warning NodeNotReady node-controller: Node is not ready\n"));
  EXPECT_THAT(events, HasSubstr("Pod/tolerant Warning NodeNotReady node-controller: Node is not ready\n"));
  EXPECT_THAT(events,
              HasSubstr("Pod/tolerant Normal TaintManagerEviction taint-eviction-controller: Marking for deletion Pod default/tolerant\n"));
  // kubectl describe finds the Node's Events.
  EXPECT_THAT(k("describe node n1").output, HasSubstr("Node n1 status is now: NodeNotReady"));

  start_kubelet("n1");
  EXPECT_TRUE(wait_until(15, [&] { return get("node n1", "{.spec.taints}").empty(); })) << get("node n1", "{.spec.taints}");
  EXPECT_EQ(get("node n1", "{.status.conditions[?(@.type==\"Ready\")].status}"), "True");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(get("pod patient", "{.metadata.deletionTimestamp}"), "") << "no eviction once the node is back";
}

INSTANTIATE_TEST_SUITE_P(Kubectl, NodeDrainKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + std::string(info.param).replace(1, 1, "_"); });

}  // namespace
}  // namespace switchyard::controllers
