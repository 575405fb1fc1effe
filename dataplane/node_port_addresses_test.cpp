#include "dataplane/node_port_addresses.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace switchyard::dataplane {
namespace {

using endpoints::IpFamily;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::vector<std::string> kLocal = {"10.0.0.5", "127.0.0.1", "192.168.50.1", "192.168.51.1", "::1", "fd00:50::1", "fe80::1"};

TEST(CidrContains, PrefixesOfBothFamilies) {
  EXPECT_TRUE(cidr_contains("192.168.50.0/24", "192.168.50.1"));
  EXPECT_FALSE(cidr_contains("192.168.50.0/24", "192.168.51.1"));
  EXPECT_TRUE(cidr_contains("192.168.48.0/21", "192.168.51.1"));
  EXPECT_FALSE(cidr_contains("192.168.48.0/21", "192.168.56.1"));
  EXPECT_TRUE(cidr_contains("0.0.0.0/0", "10.0.0.5"));
  EXPECT_TRUE(cidr_contains("fd00:50::/64", "fd00:50::1"));
  EXPECT_FALSE(cidr_contains("fd00:50::/64", "10.0.0.5")) << "families never match";
  EXPECT_TRUE(cidr_contains("10.0.0.5", "10.0.0.5")) << "a plain address is a /32";
  EXPECT_FALSE(cidr_contains("not-a-cidr", "10.0.0.5"));
}

TEST(NodePortAddresses, EmptyMeansEveryAddressInBothFamilies) {
  NodePortAddresses n;
  EXPECT_TRUE(n.match_all(IpFamily::IPv4));
  EXPECT_TRUE(n.match_all(IpFamily::IPv6));
}

TEST(NodePortAddresses, CidrsRestrictTheirFamilyOnlyAndLoopbackNeverAnswers) {
  NodePortAddresses n{.cidrs = {"192.168.50.0/24", "127.0.0.0/8"}};
  ASSERT_TRUE(n.validate());
  EXPECT_FALSE(n.match_all(IpFamily::IPv4));
  EXPECT_TRUE(n.match_all(IpFamily::IPv6)) << "no IPv6 CIDR given: every IPv6 address, as kube-proxy";
  EXPECT_THAT(n.select(IpFamily::IPv4, kLocal), ElementsAre("192.168.50.1"));
}

TEST(NodePortAddresses, ZeroCidrMeansEverything) {
  NodePortAddresses n{.cidrs = {"192.168.50.0/24", "0.0.0.0/0", "fd00:50::/64"}};
  EXPECT_TRUE(n.match_all(IpFamily::IPv4));
  EXPECT_FALSE(n.match_all(IpFamily::IPv6));
  EXPECT_THAT(n.select(IpFamily::IPv6, kLocal), ElementsAre("fd00:50::1"));
}

TEST(NodePortAddresses, PrimaryStandsForTheNodeIps) {
  NodePortAddresses n{.cidrs = {"primary"}, .primary_ips = {"192.168.51.1", "fd00:50::1"}};
  ASSERT_TRUE(n.validate());
  EXPECT_THAT(n.select(IpFamily::IPv4, kLocal), ElementsAre("192.168.51.1"));
  EXPECT_THAT(n.select(IpFamily::IPv6, kLocal), ElementsAre("fd00:50::1"));
}

TEST(NodePortAddresses, CidrsMatchingNoLocalAddressLeaveNoNodePorts) {
  NodePortAddresses n{.cidrs = {"203.0.113.0/24"}};
  EXPECT_FALSE(n.match_all(IpFamily::IPv4));
  EXPECT_THAT(n.select(IpFamily::IPv4, kLocal), IsEmpty());
}

TEST(NodePortAddresses, ValidationNamesTheBadEntry) {
  auto bad = NodePortAddresses{.cidrs = {"192.168.50.0/24", "192.168.50.1"}}.validate();
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "nodePortAddresses: '192.168.50.1' is not a CIDR");
  auto too_long = NodePortAddresses{.cidrs = {"10.0.0.0/33"}}.validate();
  ASSERT_FALSE(too_long);
  auto primary = NodePortAddresses{.cidrs = {"primary"}}.validate();
  ASSERT_FALSE(primary);
  EXPECT_THAT(primary.error().message, ::testing::HasSubstr("primary IPs are unknown"));
}

}  // namespace
}  // namespace switchyard::dataplane
