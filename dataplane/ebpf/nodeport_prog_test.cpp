// The tc NodePort programs under BPF_PROG_TEST_RUN: crafted Ethernet/IPv4/IPv6 TCP and UDP
// packets through nodeport_ingress (DNAT to a backend, conntrack, reject, source ranges, resets)
// and nodeport_egress (reverse NAT of the reply), checking rewritten addresses, ports and
// checksums. SNAT to remote backends: nodeport_snat_prog_test.cpp; XDP mode:
// nodeport_xdp_prog_test.cpp. The programs are loaded from the embedded skeletons with their own
// small maps; nothing is attached anywhere.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <set>
#include <string>
#include <tuple>

#include "dataplane/ebpf/testing/nodeport_programs.h"

namespace switchyard::dataplane::ebpf::testing {
namespace {

TEST_F(NodePortPrograms, Ipv4TcpToANodePortIsDnatedTrackedAndTheReplyReverseNated) {
  auto first = ingress(packet(kTcp, kClient, kNode));
  ASSERT_EQ(first.verdict, TC_ACT_OK);
  Seen s = inspect(first.out);
  EXPECT_EQ(s.source, "192.168.50.2:40000") << "the client's address is kept";
  EXPECT_TRUE(s.destination == "10.244.0.11:8080" || s.destination == "10.244.0.12:8080") << s.destination;
  EXPECT_TRUE(s.ip_checksum_ok);
  EXPECT_TRUE(s.l4_checksum_ok);
  // Every later packet of the flow goes where the first went.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(inspect(ingress(packet(kTcp, kClient, kNode)).out).destination, s.destination);
  EXPECT_EQ(metric(NP_METRIC_DNAT_NEW), 1u);
  EXPECT_EQ(metric(NP_METRIC_DNAT_TRACKED), 20u);
  // Other flows spread over both backends.
  std::set<std::string> chosen;
  for (std::uint16_t port = 41000; port < 41040; ++port)
    chosen.insert(inspect(ingress(packet(kTcp, {kClient.ip, port}, kNode)).out).destination);
  EXPECT_EQ(chosen.size(), 2u);
  // The backend's reply leaves with the node port as its source.
  const auto colon = s.destination.find(':');
  auto reply = egress(packet(kTcp, {s.destination.substr(0, colon), 8080}, kClient));
  ASSERT_EQ(reply.verdict, TC_ACT_OK);
  Seen r = inspect(reply.out);
  EXPECT_EQ(r.source, "192.168.50.1:30080");
  EXPECT_EQ(r.destination, "192.168.50.2:40000");
  EXPECT_TRUE(r.ip_checksum_ok);
  EXPECT_TRUE(r.l4_checksum_ok);
  EXPECT_EQ(metric(NP_METRIC_REVERSE_NAT), 1u);
}

TEST_F(NodePortPrograms, Ipv4UdpToALoadBalancerIpWithAndWithoutChecksum) {
  const Endpoint lb{"203.0.113.10", 53};
  Seen s = inspect(ingress(packet(kUdp, kClient, lb)).out);
  EXPECT_EQ(s.destination, "10.244.0.11:8080");
  EXPECT_TRUE(s.ip_checksum_ok);
  EXPECT_TRUE(s.l4_checksum_ok);
  Seen reply = inspect(egress(packet(kUdp, {"10.244.0.11", 8080}, kClient)).out);
  EXPECT_EQ(reply.source, "203.0.113.10:53");
  EXPECT_TRUE(reply.l4_checksum_ok);
  // UDP over IPv4 may carry no checksum (0): it stays 0.
  Seen none = inspect(ingress(packet(kUdp, {kClient.ip, 40001}, lb, false)).out);
  EXPECT_EQ(none.destination, "10.244.0.11:8080");
  EXPECT_EQ(none.l4_checksum, 0);
  EXPECT_TRUE(none.ip_checksum_ok);
}

TEST_F(NodePortPrograms, Ipv6TcpNodePortAndUdpExternalIp) {
  const Endpoint client{"fd00:50::2", 40000};
  Seen s = inspect(ingress(packet(kTcp, client, {"fd00:50::1", 30084})).out);
  EXPECT_EQ(s.source, "fd00:50::2:40000");
  EXPECT_EQ(s.destination, "fd00:244::11:8080");
  EXPECT_TRUE(s.l4_checksum_ok);
  Seen r = inspect(egress(packet(kTcp, {"fd00:244::11", 8080}, client)).out);
  EXPECT_EQ(r.source, "fd00:50::1:30084");
  EXPECT_TRUE(r.l4_checksum_ok);
  Seen u = inspect(ingress(packet(kUdp, {"fd00:50::2", 40002}, {"fd00:50::10", 53})).out);
  EXPECT_EQ(u.destination, "fd00:244::11:8080");
  EXPECT_TRUE(u.l4_checksum_ok);
  Seen ur = inspect(egress(packet(kUdp, {"fd00:244::11", 8080}, {"fd00:50::2", 40002})).out);
  EXPECT_EQ(ur.source, "fd00:50::10:53");
  EXPECT_TRUE(ur.l4_checksum_ok);
}

// The checks above are worth something only if a wrong checksum is seen as wrong.
TEST(PacketChecks, ACorruptedAddressFailsBothChecksums) {
  Bytes p = packet(kTcp, kClient, kNode);
  EXPECT_TRUE(inspect(p).ip_checksum_ok && inspect(p).l4_checksum_ok);
  p[14 + 16] ^= 1;  // destination address, checksums not fixed
  EXPECT_FALSE(inspect(p).ip_checksum_ok);
  EXPECT_FALSE(inspect(p).l4_checksum_ok);
  Bytes q = packet(kUdp, {"fd00:50::2", 1}, {"fd00:50::1", 2});
  q[14 + 24 + 15] ^= 1;
  EXPECT_FALSE(inspect(q).l4_checksum_ok);
}

TEST_F(NodePortPrograms, FrontendWithoutEndpointsAnswersIcmpPortUnreachable) {
  add_frontend({"fd00:50::20", 80}, kUdp, {});
  for (const Bytes& in : {with_macs(packet(kTcp, kClient, {"192.0.2.20", 80})),
                          with_macs(packet(kUdp, {"fd00:50::2", 40000}, {"fd00:50::20", 80}))}) {
    const bool v6 = in[12] == 0x86;
    auto r = ingress(in);
    EXPECT_EQ(r.verdict, TC_ACT_REDIRECT) << "sent back out of the interface it came in on";
    IcmpSeen icmp = inspect_icmp(r.out, in);
    EXPECT_EQ(icmp.source, v6 ? "fd00:50::20" : "192.0.2.20");
    EXPECT_EQ(icmp.destination, v6 ? "fd00:50::2" : "192.168.50.2");
    EXPECT_EQ(icmp.type, v6 ? 1 : 3) << "destination unreachable";
    EXPECT_EQ(icmp.code, v6 ? 4 : 3) << "port unreachable";
    EXPECT_TRUE(icmp.ip_checksum_ok);
    EXPECT_TRUE(icmp.icmp_checksum_ok);
    EXPECT_TRUE(icmp.quotes_original);
    EXPECT_TRUE(icmp.macs_swapped);
  }
  EXPECT_EQ(metric(NP_METRIC_REJECT_NO_BACKEND), 2u);
}

TEST_F(NodePortPrograms, LocalPolicyWithoutLocalEndpointsDropsWhenTheServiceHasOthers) {
  add_frontend({"0.0.0.0", 30085}, kTcp, {}, LB_SERVICE_FLAG_LOCAL | LB_SERVICE_FLAG_DROP_EMPTY);
  EXPECT_EQ(ingress(packet(kTcp, kClient, {"192.168.50.1", 30085})).verdict, TC_ACT_SHOT);
  EXPECT_EQ(dropped(NP_DROP_NO_LOCAL), 1u);
  EXPECT_EQ(metric(NP_METRIC_REJECT_NO_BACKEND), 0u);
}

TEST_F(NodePortPrograms, LoadBalancerSourceRangesAdmitOnlyTheirSources) {
  add_frontend({"203.0.113.20", 80}, kTcp, {1}, LB_SERVICE_FLAG_SOURCE_RANGES, 7);
  add_frontend({"fd00:50::30", 80}, kTcp, {3}, LB_SERVICE_FLAG_SOURCE_RANGES, 8);
  lb4_source_range_key k4{.prefixlen = 32 + 24, .service_id = htonl(7), .source = 0};
  inet_pton(AF_INET, "192.168.50.0", &k4.source);
  lb6_source_range_key k6{.prefixlen = 32 + 64, .service_id = htonl(8), .source = {}};
  inet_pton(AF_INET6, "fd00:50::", k6.source);
  const std::uint8_t yes = 1;
  ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.lb4_source_ranges_v1), &k4, &yes, BPF_ANY), 0);
  ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.lb6_source_ranges_v1), &k6, &yes, BPF_ANY), 0);
  // Inside the ranges: translated.
  EXPECT_EQ(inspect(ingress(packet(kTcp, kClient, {"203.0.113.20", 80})).out).destination, "10.244.0.11:8080");
  EXPECT_EQ(inspect(ingress(packet(kTcp, {"fd00:50::2", 1000}, {"fd00:50::30", 80})).out).destination, "fd00:244::11:8080");
  // Outside: dropped, also when the range of another service would admit them.
  EXPECT_EQ(ingress(packet(kTcp, {"198.51.100.7", 40000}, {"203.0.113.20", 80})).verdict, TC_ACT_SHOT);
  EXPECT_EQ(ingress(packet(kTcp, {"fd00:51::2", 1000}, {"fd00:50::30", 80})).verdict, TC_ACT_SHOT);
  lb4_source_range_key other{.prefixlen = 32 + 8, .service_id = htonl(9), .source = htonl(198u << 24)};
  ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.lb4_source_ranges_v1), &other, &yes, BPF_ANY), 0);
  EXPECT_EQ(ingress(packet(kTcp, {"198.51.100.7", 40001}, {"203.0.113.20", 80})).verdict, TC_ACT_SHOT);
  EXPECT_EQ(dropped(NP_DROP_SOURCE_RANGE), 3u);
}

// A TCP reset ends the flow: the conntrack entries go at once (both directions), not when the
// LRU evicts them, whichever side resets; the reset itself is still translated.
TEST_F(NodePortPrograms, ATcpResetFromTheClientForgetsTheFlow) {
  const std::string backend = inspect(ingress(packet(kTcp, kClient, kNode)).out).destination;
  EXPECT_EQ(tracked(), 2u) << "the flow and its reply entry";
  // Data and ACKs keep the flow.
  EXPECT_EQ(inspect(ingress(with_tcp_flags(packet(kTcp, kClient, kNode), kAck)).out).destination, backend);
  EXPECT_EQ(tracked(), 2u);
  auto reset = ingress(with_tcp_flags(packet(kTcp, kClient, kNode), kRst | kAck));
  EXPECT_EQ(reset.verdict, TC_ACT_OK);
  Seen s = inspect(reset.out);
  EXPECT_EQ(s.destination, backend) << "the reset reaches the flow's backend";
  EXPECT_TRUE(s.ip_checksum_ok);
  EXPECT_TRUE(s.l4_checksum_ok);
  EXPECT_EQ(tracked(), 0u);
  // A late reply of the closed flow is no longer translated.
  const Bytes late = packet(kTcp, {backend.substr(0, backend.find(':')), 8080}, kClient);
  EXPECT_EQ(egress(late).out, late);
}

TEST_F(NodePortPrograms, ATcpResetFromTheBackendForgetsTheFlow) {
  for (const auto& [client, frontend, backend] :
       {std::tuple{kClient, kNode, std::string()}, std::tuple{Endpoint{"fd00:50::2", 40000}, Endpoint{"fd00:50::1", 30084}, std::string("fd00:244::11")}}) {
    SCOPED_TRACE(frontend.ip);
    const std::string chosen = inspect(ingress(packet(kTcp, client, frontend)).out).destination;
    const std::string from = backend.empty() ? chosen.substr(0, chosen.find(':')) : backend;
    EXPECT_EQ(tracked(), 2u);
    auto reset = egress(with_tcp_flags(packet(kTcp, {from, 8080}, client), kRst | kAck));
    EXPECT_EQ(reset.verdict, TC_ACT_OK);
    Seen r = inspect(reset.out);
    EXPECT_EQ(r.source, frontend.ip + ":" + std::to_string(frontend.port)) << "the reset still comes from the frontend";
    EXPECT_TRUE(r.l4_checksum_ok);
    EXPECT_EQ(tracked(), 0u);
  }
}


TEST_F(NodePortPrograms, OtherTrafficPassesUntouched) {
  for (const Bytes& in : {packet(kTcp, kClient, {"192.168.50.1", 22}), packet(kUdp, kClient, {"198.51.100.1", 53}),
                          packet(kTcp, {"fd00:50::2", 1}, {"fd00:50::1", 22})}) {
    auto in_out = ingress(in);
    EXPECT_EQ(in_out.verdict, TC_ACT_OK);
    EXPECT_EQ(in_out.out, in);
    auto out = egress(in);
    EXPECT_EQ(out.out, in) << "no reverse entry: replies of other flows are left alone";
  }
}


}  // namespace
}  // namespace switchyard::dataplane::ebpf::testing
