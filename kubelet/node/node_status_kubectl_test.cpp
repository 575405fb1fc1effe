// The NodeStatusReporter against a real `switchyard apiserver` process, read back with the real
// kubectl: the node is Ready, `-o wide` and `describe` show what the machine and the runtime
// reported, its Lease in kube-node-lease is renewed, and a runtime that is not ready makes the
// node NotReady with the runtime's reason.
#include <sys/utsname.h>

#include <atomic>
#include <mutex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kubelet/node/machine_info.h"
#include "kubelet/node/node_status.h"
#include "netns-tests/support/apiserver_process.h"
#include "orchestrator/client/cluster_connection.h"

namespace switchyard::kubelet::node {
namespace {

using switchyard::testing::ApiserverProcess;
using switchyard::testing::wait_until;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// A runtime whose answers the test sets.
struct FakeRuntime {
  std::mutex mu;
  RuntimeState state{"containerd", "1.6.20~ds1", true, ""};
  RuntimeProbe probe() {
    return [this] {
      std::lock_guard lock(mu);
      return state;
    };
  }
  void set(RuntimeState s) {
    std::lock_guard lock(mu);
    state = std::move(s);
  }
};

class NodeStatusKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "nodestatus-" + GetParam());
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
    auto c = client::load_kubeconfig(server_->kubeconfig());
    ASSERT_TRUE(c.has_value()) << c.error();
    connection_ = *c;
    node_ = "sy-node-" + std::to_string(getpid());
  }
  void TearDown() override {
    if (reporter_) reporter_->stop();
    reporter_.reset();
    server_.reset();
  }
  void start_reporter() {
    NodeStatusOptions o;
    o.node_name = node_;
    o.node_ip = "10.11.12.13";
    o.pod_cidr = "10.244.3.0/24";
    o.runtime = runtime_.probe();
    o.status_update_interval = std::chrono::milliseconds(300);
    o.lease_renew_interval = std::chrono::milliseconds(700);
    auto r = NodeStatusReporter::start(connection_, o);
    ASSERT_TRUE(r.has_value()) << r.error();
    reporter_ = std::move(*r);
  }
  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }

  std::string kubectl_, node_;
  std::unique_ptr<ApiserverProcess> server_;
  client::ClusterConnection connection_;
  FakeRuntime runtime_;
  std::unique_ptr<NodeStatusReporter> reporter_;
};

TEST_P(NodeStatusKubectl, NodeIsReadyWithMachineFactsAndARenewedLease) {
  start_reporter();
  auto get = k("get nodes");
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_THAT(get.output, ContainsRegex(node_ + " +Ready +<none> +[0-9]+s +v1\\.31\\.0-switchyard")) << get.output;

  auto machine = read_machine_info("/");
  ASSERT_TRUE(machine.has_value());
  auto wide = k("get nodes -o wide");
  ASSERT_EQ(wide.exit_code, 0) << wide.output;
  EXPECT_THAT(wide.output, ContainsRegex("INTERNAL-IP +EXTERNAL-IP +OS-IMAGE +KERNEL-VERSION +CONTAINER-RUNTIME")) << wide.output;
  EXPECT_THAT(wide.output, HasSubstr("10.11.12.13"));
  EXPECT_THAT(wide.output, HasSubstr(machine->os_image));
  EXPECT_THAT(wide.output, HasSubstr(machine->kernel_version));
  EXPECT_THAT(wide.output, HasSubstr("containerd://1.6.20~ds1"));

  auto describe = k("describe node " + node_);
  ASSERT_EQ(describe.exit_code, 0) << describe.output;
  for (const char* want : {"Capacity:", "Allocatable:", "System Info:", "Conditions:", "KubeletReady", "kubelet is posting ready status",
                           "KubeletHasSufficientMemory", "Container Runtime Version:  containerd://1.6.20~ds1",
                           "Kubelet Version:            v1.31.0-switchyard", "Operating System:           linux",
                           "PodCIDR:                      10.244.3.0/24", "kubernetes.io/hostname=", "InternalIP:  10.11.12.13"})
    EXPECT_THAT(describe.output, HasSubstr(want)) << describe.output;
  EXPECT_THAT(describe.output, ContainsRegex("pods: +110"));
  EXPECT_THAT(describe.output, ContainsRegex(std::string("cpu: +") + std::to_string(machine->cpus)));

  auto lease = k("get lease -n kube-node-lease");
  ASSERT_EQ(lease.exit_code, 0) << lease.output;
  EXPECT_THAT(lease.output, ContainsRegex("NAME +HOLDER +AGE"));
  EXPECT_THAT(lease.output, ContainsRegex(node_ + " +" + node_ + " +[0-9]+s")) << lease.output;
  EXPECT_EQ(k("get lease -n kube-node-lease " + node_ + " -o jsonpath={.spec.leaseDurationSeconds}").output, "40");
  EXPECT_EQ(k("get lease -n kube-node-lease " + node_ + " -o jsonpath={.metadata.ownerReferences[0].uid}").output,
            k("get node " + node_ + " -o jsonpath={.metadata.uid}").output);
  const std::string renewed = k("get lease -n kube-node-lease " + node_ + " -o jsonpath={.spec.renewTime}").output;
  EXPECT_THAT(renewed, ::testing::MatchesRegex("20[0-9-]+T[0-9:]+\\.[0-9]{6}Z"));
  EXPECT_TRUE(
      wait_until(5, [&] { return k("get lease -n kube-node-lease " + node_ + " -o jsonpath={.spec.renewTime}").output != renewed; }))
      << "renewTime stayed " << renewed;
}

TEST_P(NodeStatusKubectl, RuntimeNotReadyMakesTheNodeNotReadyWithTheReason) {
  start_reporter();
  auto transition = [&](const std::string& type) {
    return k("get node " + node_ + " -o 'jsonpath={.status.conditions[?(@.type==\"" + type + "\")].lastTransitionTime}'").output;
  };
  const std::string memory_since = transition("MemoryPressure");
  ASSERT_THAT(memory_since, ::testing::MatchesRegex("20[0-9-]+T[0-9:]+Z"));
  runtime_.set({"containerd", "1.6.20~ds1", false,
                "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:cni plugin not initialized"});
  ASSERT_TRUE(wait_until(5, [&] { return k("get nodes").output.find("NotReady") != std::string::npos; })) << k("get nodes").output;
  auto describe = k("describe node " + node_);
  EXPECT_THAT(describe.output, ContainsRegex("Ready +False .*KubeletNotReady +container runtime network not ready: NetworkReady=false"))
      << describe.output;
  // Only the Ready condition transitioned.
  EXPECT_EQ(transition("MemoryPressure"), memory_since);
  runtime_.set({"containerd", "1.6.20~ds1", true, ""});
  ASSERT_TRUE(wait_until(5, [&] { return k("get nodes").output.find("NotReady") == std::string::npos; })) << k("get nodes").output;
  EXPECT_THAT(k("describe node " + node_).output, ContainsRegex("Ready +True .*KubeletReady +kubelet is posting ready status"));
}

TEST_P(NodeStatusKubectl, AdoptsAnExistingNodeAndKeepsItsLabels) {
  auto created = k("apply -f " + server_->file("node.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + node_ +
                                                                "\n  labels: {team: storage, kubernetes.io/hostname: stale}\n"));
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const std::string uid = k("get node " + node_ + " -o jsonpath={.metadata.uid}").output;
  start_reporter();
  EXPECT_EQ(k("get node " + node_ + " -o jsonpath={.metadata.uid}").output, uid) << "the Node was replaced, not adopted";
  EXPECT_EQ(k("get node " + node_ + " -o jsonpath={.metadata.labels.team}").output, "storage");
  EXPECT_EQ(k("get node " + node_ + " -o 'jsonpath={.metadata.labels.kubernetes\\.io/hostname}'").output, node_);
  EXPECT_THAT(k("get nodes").output, ContainsRegex(node_ + " +Ready"));
}

INSTANTIATE_TEST_SUITE_P(Kubectl, NodeStatusKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + std::string(info.param).replace(1, 1, "_"); });

}  // namespace
}  // namespace switchyard::kubelet::node
