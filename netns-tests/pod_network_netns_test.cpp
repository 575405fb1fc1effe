// Pods on two nodes reach each other (issue #22): `up` in one namespace, a node `join`ed in
// another (netns-tests/support/two_node_cluster.h), a busybox httpd pod on each whose CGI answers
// the client's address. With --pod-network auto the nodes share a link, so each node routes the
// other's podCIDR via its address (host-gw); with vxlan the same traffic crosses the sy-vxlan
// devices, which find each other through the MACs the nodes publish on their Node objects. Both
// ways the server sees the client pod's own IP; a server outside the cluster CIDR sees the
// node's address (masquerade).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "netns-tests/support/two_node_cluster.h"

namespace switchyard {
namespace {

using ::testing::HasSubstr;
using testing::wait_until;

// A server that answers each request with the client's address (busybox httpd's CGI REMOTE_ADDR).
std::string echo_pod(const std::string& name, const std::string& placement) {
  return R"(apiVersion: v1
kind: Pod
metadata: {name: )" +
         name + R"(}
spec:
  )" + placement +
         R"(
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: switchyard.local/busybox:1
    command: [sh, -c]
    args:
    - |
      mkdir -p /www/cgi-bin
      printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho "$REMOTE_ADDR"\n' > /www/cgi-bin/ip
      chmod +x /www/cgi-bin/ip
      exec httpd -f -p 8080 -h /www
)";
}

class PodNetwork : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string mode = GetParam();
    cluster_ = std::make_unique<testing::TwoNodeCluster>(testing::TwoNodeClusterOptions{.purpose = "pn" + mode.substr(0, 2),
                                                                                        .binary = SWITCHYARD_BINARY,
                                                                                        .images_dir = SWITCHYARD_TEST_IMAGES_DIR,
                                                                                        .up_flags = {"--pod-network", mode}});
    ASSERT_EQ(cluster_->start(), "");
    ASSERT_EQ(cluster_->join_and_wait("node-b", {"--pod-network", mode}), "");
    ASSERT_THAT(cluster_->apply("a.yaml", echo_pod("echo-a", "nodeName: node-a")), HasSubstr("created"));
    ASSERT_THAT(cluster_->apply("b.yaml", echo_pod("echo-b", "nodeSelector: {kubernetes.io/hostname: node-b}")), HasSubstr("created"));
    for (const char* pod : {"echo-a", "echo-b"})
      ASSERT_TRUE(wait_until(90, [&] { return kubectl(std::string("get pod ") + pod + " -o jsonpath={.status.podIP}").output != ""; }))
          << kubectl(std::string("describe pod ") + pod).output << cluster_->log("join.log");
    ip_a_ = kubectl("get pod echo-a -o jsonpath={.status.podIP}").output;
    ip_b_ = kubectl("get pod echo-b -o jsonpath={.status.podIP}").output;
    cidr_a_ = kubectl("get node node-a -o jsonpath={.spec.podCIDR}").output;
    cidr_b_ = kubectl("get node node-b -o jsonpath={.spec.podCIDR}").output;
    std::cout << "pods: echo-a " << ip_a_ << " (node-a, " << cidr_a_ << "), echo-b " << ip_b_ << " (node-b, " << cidr_b_ << ")\n";
  }

  testing::CommandResult kubectl(const std::string& args) const { return cluster_->kubectl(args); }
  // The client address the echo server at `ip` saw for `from`'s wget (httpd listens on a
  // dual-stack socket: an IPv4 client shows as [::ffff:A.B.C.D]).
  std::string fetch(const std::string& from, const std::string& ip) const {
    std::string seen = kubectl("exec " + from + " -- timeout 5 wget -qO- http://" + ip + ":8080/cgi-bin/ip").output;
    if (seen.starts_with("[::ffff:")) seen = seen.substr(8);
    if (const auto bracket = seen.find(']'); bracket != std::string::npos) seen.erase(bracket, 1);
    return seen;
  }
  // Pod-to-pod across the nodes both ways, each server seeing the other pod's own address.
  void expect_pods_reach_each_other() {
    std::string seen;
    EXPECT_TRUE(wait_until(30, [&] { return (seen = fetch("echo-a", ip_b_)) == ip_a_ + "\n"; }))
        << "echo-a → echo-b answered: " << seen << cluster_->log("join.log");
    std::cout << "echo-a (" << ip_a_ << ") → echo-b " << ip_b_ << ":8080: server saw " << seen;
    EXPECT_TRUE(wait_until(30, [&] { return (seen = fetch("echo-b", ip_a_)) == ip_b_ + "\n"; }))
        << "echo-b → echo-a answered: " << seen << cluster_->log("up.log");
    std::cout << "echo-b (" << ip_b_ << ") → echo-a " << ip_a_ << ":8080: server saw " << seen;
  }

  std::unique_ptr<testing::TwoNodeCluster> cluster_;
  std::string ip_a_, ip_b_, cidr_a_, cidr_b_;
};

TEST_P(PodNetwork, PodsOnTwoNodesReachEachOtherWithTheirOwnAddresses) {
  const std::string mode = GetParam();
  // Each node's route to the other's pods.
  const auto route_a = cluster_->in_control("ip route show " + cidr_b_);
  const auto route_b = cluster_->in_node("ip route show " + cidr_a_);
  std::cout << "node-a: " << route_a.output << "node-b: " << route_b.output;
  if (mode == "auto") {
    // Nodes on one link: host-gw.
    EXPECT_THAT(route_a.output, HasSubstr(cidr_b_ + " via " + cluster_->options().node_ip));
    EXPECT_THAT(route_b.output, HasSubstr(cidr_a_ + " via " + cluster_->options().control_ip));
  } else {
    // flannel's vxlan: via the remote podCIDR's network address on the device, onlink; the
    // device's MAC is on the Node object, and the other node's FDB sends it to the node's address.
    const std::string gw_b = cidr_b_.substr(0, cidr_b_.find('/'));
    EXPECT_THAT(route_a.output, HasSubstr(cidr_b_ + " via " + gw_b + " dev sy-vxlan"));
    EXPECT_THAT(route_a.output, HasSubstr("onlink"));
    const std::string mac_b = kubectl("get node node-b -o 'jsonpath={.metadata.annotations.switchyard\\.io/vxlan-mac}'").output;
    ASSERT_EQ(mac_b.size(), 17u) << mac_b;
    EXPECT_THAT(cluster_->in_node("ip -o link show sy-vxlan").output, HasSubstr("link/ether " + mac_b));
    EXPECT_THAT(cluster_->in_control("bridge fdb show dev sy-vxlan").output, HasSubstr(mac_b + " dst " + cluster_->options().node_ip));
    EXPECT_THAT(cluster_->in_control("ip neigh show dev sy-vxlan").output, HasSubstr(gw_b + " lladdr " + mac_b + " PERMANENT"));
  }
  expect_pods_reach_each_other();

  // Leaving the cluster CIDR: node-b's pod reaching a server in node-a's namespace (an address
  // outside 10.244.0.0/16) arrives as node-b, masqueraded by its switchyard-podnet table.
  const auto www = cluster_->dir() / "www";
  std::filesystem::create_directories(www / "cgi-bin");
  std::ofstream(www / "cgi-bin" / "ip") << "#!/bin/sh\necho Content-Type: text/plain\necho\necho \"$REMOTE_ADDR\"\n";
  std::filesystem::permissions(www / "cgi-bin" / "ip", std::filesystem::perms::owner_all);
  const std::string server = cluster_->options().control_ip + ":18080";
  testing::ChildProcess outside(
      {"nsenter", "--net=/run/netns/" + cluster_->control().name(), "busybox", "httpd", "-f", "-p", server, "-h", www.string()},
      (cluster_->dir() / "outside.log").string());
  std::string seen;
  EXPECT_TRUE(wait_until(30,
                         [&] {
                           seen = kubectl("exec echo-b -- timeout 5 wget -qO- http://" + server + "/cgi-bin/ip").output;
                           return seen == cluster_->options().node_ip + "\n";
                         }))
      << "the server outside the cluster saw " << seen;
  std::cout << "echo-b (" << ip_b_ << ") → " << server << " outside the cluster CIDR: server saw " << seen;
  EXPECT_THAT(cluster_->in_node("nft list table ip switchyard-podnet").output, HasSubstr("masquerade"));
}

INSTANTIATE_TEST_SUITE_P(Modes, PodNetwork, ::testing::Values("auto", "vxlan"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param == "auto" ? "HostGw" : "Vxlan"; });

}  // namespace
}  // namespace switchyard
