// Which conntrack entries a Snapshot change makes stale (no kernel needed).
#include "dataplane/conntrack_cleanup.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataplane/iptables/test_cluster.h"

namespace switchyard::dataplane {
namespace {

using namespace test_cluster;
using endpoints::IpFamily;

std::array<std::uint8_t, 16> addr(const std::string& ip) {
  std::array<std::uint8_t, 16> a{};
  inet_pton(ip.find(':') == std::string::npos ? AF_INET : AF_INET6, ip.c_str(), a.data());
  return a;
}

api::Service udp(api::Service s) {
  s.spec.ports[0].protocol = "UDP";
  return s;
}
api::EndpointSlice udp(api::EndpointSlice s) {
  s.ports[0].protocol = "UDP";
  return s;
}

struct Change {
  std::shared_ptr<const endpoints::Snapshot> before, after;
  std::vector<ConntrackFilter> filters() const {
    return stale_conntrack_filters(*before, *after, endpoints::diff_snapshots(*before, *after));
  }
};

class StaleConntrackFilters : public ::testing::Test {
 protected:
  template <typename F>
  Change change(F&& f) {
    auto before = state_.build();
    f();
    return {before, state_.build()};
  }
  endpoints::ClusterState state_{{.node_name = "node-a"}};
};

TEST_F(StaleConntrackFilters, RemovedUdpEndpointMatchesEveryServiceAddressAndTheNodePort) {
  auto s = udp(node_port_service("dns", "10.96.0.10", 30053));
  s.spec.external_ips = {"192.0.2.10"};
  state_.upsert(s);
  state_.upsert(udp(slice("dns", {{"10.244.0.11", "node-a"}, {"10.244.0.12", "node-b"}})));
  auto c = change([&] { state_.upsert(udp(slice("dns", {{"10.244.0.11", "node-a"}}))); });
  const std::string reason = "shop/dns:http/UDP endpoint 10.244.0.12:8080 removed";
  EXPECT_THAT(c.filters(),
              ::testing::UnorderedElementsAre(ConntrackFilter{reason, IpFamily::IPv4, 17, addr("10.96.0.10"), 80, addr("10.244.0.12")},
                                              ConntrackFilter{reason, IpFamily::IPv4, 17, addr("192.0.2.10"), 80, addr("10.244.0.12")},
                                              ConntrackFilter{reason, IpFamily::IPv4, 17, std::nullopt, 30053, addr("10.244.0.12")}));
}

TEST_F(StaleConntrackFilters, TcpEndpointsNeedNoCleanup) {
  state_.upsert(service("web", "10.96.0.10"));
  state_.upsert(slice("web", {{"10.244.0.11", "node-a"}, {"10.244.0.12", "node-b"}}));
  auto c = change([&] { state_.upsert(slice("web", {{"10.244.0.11", "node-a"}})); });
  EXPECT_THAT(c.filters(), ::testing::IsEmpty());
}

TEST_F(StaleConntrackFilters, UnchangedEndpointsNeedNoCleanup) {
  state_.upsert(udp(service("dns", "10.96.0.10")));
  state_.upsert(udp(slice("dns", {{"10.244.0.11", "node-a"}})));
  auto c = change([&] { state_.upsert(udp(slice("dns", {{"10.244.0.11", "node-a"}, {"10.244.0.12", "node-b"}}))); });
  EXPECT_THAT(c.filters(), ::testing::IsEmpty()) << "an added endpoint leaves existing flows where they are";
}

TEST_F(StaleConntrackFilters, ServiceThatHadNoEndpointsDropsEveryFlowToIt) {
  state_.upsert(udp(node_port_service("dns", "10.96.0.10", 30053)));
  auto c = change([&] { state_.upsert(udp(slice("dns", {{"10.244.0.11", "node-a"}}))); });
  const std::string reason = "shop/dns:http/UDP has endpoints again";
  EXPECT_THAT(c.filters(),
              ::testing::UnorderedElementsAre(ConntrackFilter{reason, IpFamily::IPv4, 17, addr("10.96.0.10"), 80, std::nullopt},
                                              ConntrackFilter{reason, IpFamily::IPv4, 17, std::nullopt, 30053, std::nullopt}));
}

TEST_F(StaleConntrackFilters, Ipv6EndpointMatchesOnlyTheIpv6ClusterIp) {
  state_.upsert(udp(dual_stack(service("dns", "10.96.0.10"), "fd00:96::10")));
  state_.upsert(udp(slice("dns", {{"10.244.0.11", "node-a"}})));
  state_.upsert(udp(slice("dns", {{"fd00:244::11", "node-a"}, {"fd00:244::12", "node-b"}}, 8080, "IPv6")));
  auto c = change([&] { state_.upsert(udp(slice("dns", {{"fd00:244::11", "node-a"}}, 8080, "IPv6"))); });
  EXPECT_THAT(c.filters(), ::testing::ElementsAre(ConntrackFilter{"shop/dns:http/UDP endpoint fd00:244::12:8080 removed", IpFamily::IPv6,
                                                                  17, addr("fd00:96::10"), 80, addr("fd00:244::12")}));
}

TEST_F(StaleConntrackFilters, DeletedServiceDropsTheFlowsOfAllItsEndpoints) {
  state_.upsert(udp(service("dns", "10.96.0.10")));
  state_.upsert(udp(slice("dns", {{"10.244.0.11", "node-a"}})));
  auto c = change([&] { state_.remove_service({"shop", "dns"}); });
  ASSERT_EQ(c.filters().size(), 1u);
  EXPECT_EQ(c.filters()[0].original_destination, addr("10.96.0.10"));
  EXPECT_EQ(c.filters()[0].reply_source, addr("10.244.0.11"));
}

}  // namespace
}  // namespace switchyard::dataplane
