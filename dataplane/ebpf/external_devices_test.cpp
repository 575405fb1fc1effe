#include "dataplane/ebpf/external_devices.h"

#include <net/if.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace switchyard::dataplane::ebpf {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

LinkFacts nic(std::string name) {
  return {.ifindex = 2,
          .name = std::move(name),
          .flags = IFF_UP,
          .kind = "",
          .master = 0,
          .has_address = true,
          .has_default_route = false,
          .has_global_route = true};
}

TEST(ExternalDevices, SelectsTheLinksWithTheNodesAddressesAndDefaultRoute) {
  auto uplink = nic("eth0");
  uplink.has_default_route = true;
  auto second = nic("eth1");  // a subnet of its own, no default route: still a node link
  auto kind_node = nic("eth2");
  kind_node.kind = "veth";
  kind_node.has_default_route = true;  // kind: the node's uplink is a veth
  EXPECT_THAT(select_external({second, uplink, kind_node}), ElementsAre("eth0", "eth1", "eth2"));
}

TEST(ExternalDevices, LeavesOutLoopbackPodsBridgesAndOtherPluginsDevices) {
  auto lo = nic("lo");
  lo.flags |= IFF_LOOPBACK;
  auto down = nic("eth3");
  down.flags = 0;
  auto pod = nic("vpod0");
  pod.kind = "veth";  // a routed pod's veth: a /32 route, no default route
  auto port = nic("veth1234");
  port.master = 7;  // a CNI bridge's port
  auto bridge = nic("cni0");
  bridge.kind = "bridge";
  auto br = nic("br-lan");
  br.kind = "bridge";
  auto lxc = nic("lxc12ab");
  auto slave = nic("eth4");
  slave.flags |= IFF_SLAVE;
  auto bare = nic("eth5");
  bare.has_address = false;
  auto local_only = nic("eth6");
  local_only.has_global_route = false;
  EXPECT_THAT(select_external({lo, down, pod, port, bridge, br, lxc, slave, bare, local_only}), ::testing::IsEmpty());
  EXPECT_EQ(why_not_external(lo), "loopback");
  EXPECT_EQ(why_not_external(down), "down");
  EXPECT_THAT(why_not_external(pod), HasSubstr("veth without the default route"));
  EXPECT_THAT(why_not_external(port), HasSubstr("has a master"));
  EXPECT_EQ(why_not_external(br), "bridge-like device");
  EXPECT_THAT(why_not_external(lxc), HasSubstr("name prefix lxc"));
  EXPECT_EQ(why_not_external(slave), "bonding slave");
  EXPECT_EQ(why_not_external(bare), "no address");
  EXPECT_EQ(why_not_external(local_only), "no route to a global unicast destination");
}

// The dumps themselves work without privileges; loopback is always there and never selected.
TEST(ExternalDevices, ReadsTheLinksOfThisNamespace) {
  auto facts = read_link_facts();
  ASSERT_TRUE(facts) << facts.error().message;
  auto lo = std::ranges::find_if(*facts, [](const LinkFacts& l) { return l.name == "lo"; });
  ASSERT_NE(lo, facts->end());
  EXPECT_EQ(why_not_external(*lo), "loopback");
}

}  // namespace
}  // namespace switchyard::dataplane::ebpf
