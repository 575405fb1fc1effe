// Which peer gets a direct route and which goes through the VXLAN device, and what each needs.
#include <gtest/gtest.h>

#include "dataplane/podnet/pod_network.h"

namespace switchyard::dataplane::podnet {
namespace {

Ipv4Prefix prefix(const char* text) { return *parse_ipv4_prefix(text); }
std::uint32_t ip(const char* text) { return *parse_ipv4(text); }

PodNetworkOptions options(PodNetworkMode mode) {
  return {.mode = mode,
          .node_ip = "10.86.0.1",
          .pod_cidrs = {"10.244.0.0/24"},
          .cluster_cidrs = {"10.244.0.0/16"},
          .vxlan_device = kVxlanDevice,
          .vni = 1,
          .vxlan_port = 8472};
}

const std::vector<Ipv4Prefix> kConnected = {prefix("10.86.0.1/24")};
const std::vector<PeerNode> kPeers = {
    {"near", "10.86.0.2", {"10.244.1.0/24"}, "aa:bb:cc:00:00:02"},
    {"far", "192.168.7.3", {"10.244.2.0/24", "fd00:10:244:2::/64"}, "aa:bb:cc:00:00:03"},
};

TEST(PodNetworkPlan, AutoRoutesConnectedPeersDirectlyAndTheOthersThroughVxlan) {
  const auto plan = plan_pod_network(options(PodNetworkMode::Auto), kConnected, 9, kPeers);
  ASSERT_EQ(plan.routes.size(), 2u);
  EXPECT_EQ(plan.routes.at(prefix("10.244.1.0/24")), (Route{prefix("10.244.1.0/24"), ip("10.86.0.2"), 0, false}));
  // flannel's: via the remote podCIDR's network address, on the device, onlink.
  EXPECT_EQ(plan.routes.at(prefix("10.244.2.0/24")), (Route{prefix("10.244.2.0/24"), ip("10.244.2.0"), 9, true}));
  const Mac far = *parse_mac("aa:bb:cc:00:00:03");
  EXPECT_EQ(plan.neighbours.at(ip("10.244.2.0")), (Neighbour{9, ip("10.244.2.0"), far}));
  EXPECT_EQ(plan.fdb.at({far, ip("192.168.7.3")}), (FdbEntry{9, far, ip("192.168.7.3")}));
  EXPECT_EQ(plan.neighbours.size(), 1u);
  EXPECT_EQ(plan.peers, (std::vector<std::pair<std::string, std::string>>{{"near", "host-gw"}, {"far", "vxlan"}}));
}

TEST(PodNetworkPlan, VxlanForcedTakesEveryPeerThroughTheDevice) {
  const auto plan = plan_pod_network(options(PodNetworkMode::Vxlan), kConnected, 9, kPeers);
  EXPECT_EQ(plan.routes.at(prefix("10.244.1.0/24")), (Route{prefix("10.244.1.0/24"), ip("10.244.1.0"), 9, true}));
  EXPECT_EQ(plan.fdb.size(), 2u);
}

TEST(PodNetworkPlan, HostGwSkipsPeersOnNoConnectedSubnet) {
  const auto plan = plan_pod_network(options(PodNetworkMode::HostGw), kConnected, 0, kPeers);
  EXPECT_EQ(plan.routes.size(), 1u);
  ASSERT_EQ(plan.skipped.size(), 1u);
  EXPECT_EQ(plan.skipped[0].first, "far");
  EXPECT_NE(plan.skipped[0].second.find("host-gw needs one"), std::string::npos) << plan.skipped[0].second;
}

TEST(PodNetworkPlan, PeersWithoutWhatTheyNeedWaitAndNoneProgramsNothing) {
  const std::vector<PeerNode> peers = {
      {"no-cidr", "10.86.0.5", {}, ""}, {"no-mac", "192.168.7.9", {"10.244.9.0/24"}, ""}, {"self-ish", "10.86.0.1", {"10.244.0.0/24"}, ""}};
  const auto plan = plan_pod_network(options(PodNetworkMode::Auto), kConnected, 9, peers);
  EXPECT_TRUE(plan.routes.empty());
  EXPECT_EQ(plan.skipped.size(), 3u);
  EXPECT_TRUE(plan_pod_network(options(PodNetworkMode::None), kConnected, 9, kPeers).routes.empty());
}

TEST(PodNetworkPlan, ParsesModesAddressesAndMacs) {
  EXPECT_EQ(*parse_pod_network_mode("host-gw"), PodNetworkMode::HostGw);
  EXPECT_FALSE(parse_pod_network_mode("flannel"));
  EXPECT_EQ(format_prefix(prefix("10.244.3.7/24")), "10.244.3.0/24");
  EXPECT_EQ(format_mac(*parse_mac("0a:1B:cc:00:ff:02")), "0a:1b:cc:00:ff:02");
  EXPECT_FALSE(parse_mac("0a:1b:cc:00:ff"));
  EXPECT_FALSE(parse_ipv4_prefix("10.0.0.0/33"));
}

}  // namespace
}  // namespace switchyard::dataplane::podnet
