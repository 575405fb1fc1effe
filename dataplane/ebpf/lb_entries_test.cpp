#include "dataplane/ebpf/lb_entries.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <map>

namespace switchyard::dataplane::ebpf {
namespace {

using endpoints::Endpoint;
using endpoints::IpFamily;

class CountingIds : public LbIdSource {
 public:
  std::uint32_t backend_id(const BackendAddress& b) override { return backends.try_emplace(b, next++).first->second; }
  std::uint32_t backend_id_of(const BackendAddress& b) override { return backends.at(b); }
  std::uint32_t service_id(const endpoints::ServicePortName&, IpFamily f) override { return f == IpFamily::IPv4 ? 7 : 8; }
  std::map<BackendAddress, std::uint32_t> backends;
  std::uint32_t next = 100;
};

Endpoint endpoint(std::string ip, IpFamily family = IpFamily::IPv4) {
  return Endpoint{.ip = std::move(ip), .port = 8080, .family = family, .ready = true, .serving = true};
}

endpoints::ServicePortInfo port() {
  endpoints::ServicePortInfo p;
  p.name = {"shop", "web", "http", "TCP"};
  p.cluster_ips = {"10.96.0.10", "fd00:96::10"};
  p.external_ips = {"192.0.2.10"};
  p.port = 80;
  p.protocol = "TCP";
  p.ipv4.cluster = {endpoint("10.244.0.11"), endpoint("10.244.0.12")};
  p.ipv4.has_any = true;
  p.ipv6.cluster = {endpoint("fd00:244::11", IpFamily::IPv6)};
  p.ipv6.has_any = true;
  return p;
}

std::string ip4(__be32 a) {
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, text, sizeof text);
  return text;
}

TEST(LbEntries, EachVipGetsItsBackendSlotsThenTheFrontend) {
  CountingIds ids;
  auto e = build_port_entries(port(), ids);
  // Two IPv4 VIPs (cluster IP, external IP) × (2 slots + frontend).
  ASSERT_EQ(e.services4.size(), 6u);
  EXPECT_EQ(ip4(e.services4[0].first.address), "10.96.0.10");
  EXPECT_EQ(ntohs(e.services4[0].first.port), 80);
  EXPECT_EQ(e.services4[0].first.proto, 6);
  EXPECT_EQ(e.services4[0].first.slot, 1);
  EXPECT_EQ(e.services4[1].first.slot, 2);
  EXPECT_EQ(e.services4[2].first.slot, 0) << "slot 0 last: its count goes up only after the slots exist";
  EXPECT_EQ(e.services4[2].second.count, 2);
  EXPECT_EQ(e.services4[2].second.service_id, 7u);
  EXPECT_EQ(ip4(e.services4[3].first.address), "192.0.2.10");
  EXPECT_EQ(e.services4[0].second.backend_id, e.services4[3].second.backend_id) << "VIPs share backend ids";
  ASSERT_EQ(e.services6.size(), 2u);
  EXPECT_EQ(e.services6[1].second.count, 1);
  EXPECT_EQ(e.backends.size(), 3u);
  EXPECT_EQ(e.backends[0].to_string(), "10.244.0.11:8080/6");
  EXPECT_EQ(e.backends[2].to_string(), "[fd00:244::11]:8080/6");
  EXPECT_TRUE(e.maglev.empty());
}

TEST(LbEntries, NodePortAndExternalAddressesGetExternalFrontendsWithTheExternalPolicy) {
  CountingIds ids;
  auto p = port();
  p.node_port = 30080;
  p.load_balancer_ips = {"203.0.113.10"};
  p.external_policy_local = true;
  p.ipv4.local = {endpoint("10.244.0.12")};
  auto e = build_port_entries(p, ids);
  // Node port (address 0), LB IP, external IP: one local backend each.
  ASSERT_EQ(e.external4.size(), 6u);
  EXPECT_EQ(e.external4[0].first.address, 0u);
  EXPECT_EQ(ntohs(e.external4[0].first.port), 30080);
  EXPECT_EQ(e.external4[0].second.backend_id, ids.backends.at(e.backends[1]));
  EXPECT_EQ(e.external4[1].second.count, 1);
  EXPECT_EQ(e.external4[1].second.flags, LB_SERVICE_FLAG_LOCAL);
  EXPECT_EQ(ip4(e.external4[3].first.address), "203.0.113.10");
  EXPECT_EQ(ntohs(e.external4[3].first.port), 80);
  EXPECT_EQ(ip4(e.external4[5].first.address), "192.0.2.10");
  // IPv6 has no local endpoint: its node port frontend has count 0.
  ASSERT_EQ(e.external6.size(), 1u);
  EXPECT_EQ(e.external6[0].second.count, 0);
  EXPECT_EQ(e.backends.size(), 3u) << "the local backend is shared with the socket frontends";
  // A ClusterIP-only port has none.
  auto cluster_only = port();
  cluster_only.external_ips.clear();
  EXPECT_TRUE(build_port_entries(cluster_only, ids).external4.empty());
}

TEST(LbEntries, NoEndpointsLeaveAFrontendWithCountZero) {
  CountingIds ids;
  auto p = port();
  p.ipv4 = {};
  auto e = build_port_entries(p, ids);
  ASSERT_EQ(e.services4.size(), 2u);  // two VIPs, frontends only
  EXPECT_EQ(e.services4[0].second.count, 0);
  EXPECT_EQ(e.services4[0].first.slot, 0);
}

TEST(LbEntries, InternalPolicyLocalUsesOnlyLocalEndpoints) {
  CountingIds ids;
  auto p = port();
  p.internal_policy_local = true;
  p.ipv4.local = {endpoint("10.244.0.12")};
  auto e = build_port_entries(p, ids);
  EXPECT_EQ(e.services4[1].second.count, 1);
}

TEST(LbEntries, AffinityAndMaglevSetFlagsAndTables) {
  CountingIds ids;
  auto p = port();
  p.affinity_timeout_seconds = 10800;
  p.load_balancing = "maglev";
  auto e = build_port_entries(p, ids);
  const auto& front = e.services4[2].second;
  EXPECT_EQ(front.flags, LB_SERVICE_FLAG_MAGLEV | LB_SERVICE_FLAG_AFFINITY);
  EXPECT_EQ(front.affinity_timeout_s, 10800u);
  ASSERT_EQ(e.maglev.size(), 2u);  // one table per family
  EXPECT_EQ(e.maglev[0].service_id, 7u);
  std::map<std::uint32_t, int> owned;
  for (auto id : e.maglev[0].table->backend_ids) ++owned[id];
  EXPECT_EQ(owned.size(), 2u);
  EXPECT_EQ(e.backends_by_service.at(7).size(), 2u);
}

TEST(LbEntries, UdpPortsAndUnparseableAddresses) {
  CountingIds ids;
  auto p = port();
  p.protocol = "UDP";
  p.external_ips = {"not-an-ip"};
  p.ipv4.cluster.push_back(endpoint("10.244.0.11"));  // a duplicate from two slices
  auto e = build_port_entries(p, ids);
  EXPECT_EQ(e.services4.size(), 3u);
  EXPECT_EQ(e.services4[0].first.proto, 17);
  EXPECT_EQ(e.services4[2].second.count, 2);
}

}  // namespace
}  // namespace switchyard::dataplane::ebpf
