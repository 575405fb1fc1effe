// The Node this kubelet writes, computed from fixed machine facts: what `kubectl get nodes` and
// `kubectl describe node` show follows from these fields.
#include "kubelet/node/node_status.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace switchyard::kubelet::node {
namespace {

MachineInfo machine() {
  MachineInfo m;
  m.cpus = 2;
  m.memory_bytes = 8LL * 1024 * 1024 * 1024;
  m.ephemeral_storage_bytes = 100LL * 1000 * 1000 * 1000;
  m.kernel_version = "6.1.0-test";
  m.os_image = "Debian GNU/Linux 12 (bookworm)";
  m.machine_id = "abc";
  return m;
}

NodeStatusOptions options() {
  NodeStatusOptions o;
  o.node_name = "n1";
  o.node_ip = "10.0.0.5";
  o.pod_cidr = "10.244.0.0/24";
  return o;
}

const api::NodeCondition* find(const api::Node& n, const std::string& type) {
  for (const auto& c : n.conditions)
    if (c.type == type) return &c;
  return nullptr;
}

TEST(DesiredNode, FreshNodeHasCapacityAddressesInfoAndReadyConditions) {
  const api::Node n = desired_node(nullptr, options(), machine(), RuntimeState{"containerd", "1.6.20", true, ""}, "2026-12-07T01:00:00Z");
  EXPECT_EQ(n.metadata.labels.at("kubernetes.io/hostname"), "n1");
  EXPECT_EQ(n.metadata.labels.at("kubernetes.io/os"), "linux");
  EXPECT_EQ(n.pod_cidr, "10.244.0.0/24");
  EXPECT_EQ(n.capacity.at("cpu"), "2");
  EXPECT_EQ(n.capacity.at("memory"), "8388608Ki");
  EXPECT_EQ(n.allocatable.at("memory"), "8286208Ki");  // less the 100Mi hard eviction threshold
  EXPECT_EQ(n.capacity.at("pods"), "110");
  EXPECT_EQ(n.allocatable.at("ephemeral-storage"), "90000000000");
  ASSERT_EQ(n.addresses.size(), 2u);
  EXPECT_EQ(n.addresses[0].type, "InternalIP");
  EXPECT_EQ(n.addresses[0].address, "10.0.0.5");
  EXPECT_EQ(n.addresses[1].type, "Hostname");
  const auto info = nlohmann::json::parse(n.status_passthrough.at("nodeInfo"));
  EXPECT_EQ(info["containerRuntimeVersion"], "containerd://1.6.20");
  EXPECT_EQ(info["kernelVersion"], "6.1.0-test");
  EXPECT_EQ(info["osImage"], "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(info["kubeletVersion"], kKubeletVersion);
  ASSERT_NE(find(n, "Ready"), nullptr);
  EXPECT_EQ(find(n, "Ready")->status, "True");
  EXPECT_EQ(find(n, "Ready")->reason, "KubeletReady");
  EXPECT_EQ(find(n, "MemoryPressure")->reason, "KubeletHasSufficientMemory");
  EXPECT_EQ(find(n, "DiskPressure")->status, "False");
  EXPECT_EQ(find(n, "PIDPressure")->reason, "KubeletHasSufficientPID");
}

TEST(DesiredNode, NoRuntimeIsReadyWithoutARuntimeVersion) {
  const api::Node n = desired_node(nullptr, options(), machine(), RuntimeState{}, "2026-12-07T01:00:00Z");
  EXPECT_EQ(nlohmann::json::parse(n.status_passthrough.at("nodeInfo"))["containerRuntimeVersion"], "");
  EXPECT_EQ(find(n, "Ready")->status, "True");
}

TEST(DesiredNode, AdoptsAnExistingNodeKeepingForeignLabelsConditionsAndPodCidr) {
  api::Node existing;
  existing.metadata.name = "n1";
  existing.metadata.labels = {{"team", "a"}, {"kubernetes.io/hostname", "old"}};
  existing.pod_cidr = "10.244.7.0/24";
  existing.pod_cidrs = {"10.244.7.0/24"};
  existing.conditions = {{"NetworkUnavailable", "False", "", "t0", "RouteCreated", ""}};
  const api::Node n = desired_node(&existing, options(), machine(), RuntimeState{}, "2026-12-07T01:00:00Z");
  EXPECT_EQ(n.metadata.labels.at("team"), "a");
  EXPECT_EQ(n.metadata.labels.at("kubernetes.io/hostname"), "n1");
  EXPECT_EQ(n.pod_cidr, "10.244.7.0/24");
  ASSERT_NE(find(n, "NetworkUnavailable"), nullptr);
}

TEST(DesiredNode, TransitionTimeMovesOnlyOnChangeAndHeartbeatIsNotAChange) {
  const NodeStatusOptions o = options();
  const api::Node t1 = desired_node(nullptr, o, machine(), RuntimeState{"containerd", "1.6.20", true, ""}, "2026-12-07T01:00:00Z");
  const api::Node t2 = desired_node(&t1, o, machine(), RuntimeState{"containerd", "1.6.20", true, ""}, "2026-12-07T01:00:10Z");
  EXPECT_EQ(find(t2, "Ready")->last_transition_time, "2026-12-07T01:00:00Z");
  EXPECT_EQ(find(t2, "Ready")->last_heartbeat_time, "2026-12-07T01:00:10Z");
  EXPECT_FALSE(status_changed(t1, t2));

  const api::Node t3 =
      desired_node(&t2, o, machine(), RuntimeState{"containerd", "1.6.20", false, "container runtime is down"}, "2026-12-07T01:00:20Z");
  EXPECT_TRUE(status_changed(t2, t3));
  EXPECT_EQ(find(t3, "Ready")->status, "False");
  EXPECT_EQ(find(t3, "Ready")->reason, "KubeletNotReady");
  EXPECT_EQ(find(t3, "Ready")->message, "container runtime is down");
  EXPECT_EQ(find(t3, "Ready")->last_transition_time, "2026-12-07T01:00:20Z");
  EXPECT_EQ(find(t3, "MemoryPressure")->last_transition_time, "2026-12-07T01:00:00Z");
}

TEST(MachineInfo, ReadsThisMachine) {
  auto m = read_machine_info("/");
  ASSERT_TRUE(m.has_value()) << m.error();
  EXPECT_GT(m->cpus, 0);
  EXPECT_GT(m->memory_bytes, 0);
  EXPECT_GT(m->ephemeral_storage_bytes, 0);
  EXPECT_FALSE(m->kernel_version.empty());
  EXPECT_FALSE(m->os_image.empty());
}

TEST(MachineInfo, OsReleaseValueUnquotes) {
  EXPECT_EQ(os_release_value("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", "PRETTY_NAME"),
            "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(os_release_value("ID=debian\n", "ID"), "debian");
  EXPECT_EQ(os_release_value("ID=debian\n", "PRETTY_NAME"), "");
}

}  // namespace
}  // namespace switchyard::kubelet::node
