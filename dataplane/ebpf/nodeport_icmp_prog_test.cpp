// ICMP errors about translated flows through the tc NodePort programs under BPF_PROG_TEST_RUN
// (flows that keep the client's address; SNATed flows are in nodeport_snat_prog_test.cpp), and the
// rate limit of the ICMP errors the programs send.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <string>

#include "dataplane/ebpf/testing/icmp_packets.h"
#include "dataplane/ebpf/testing/nodeport_programs.h"

namespace switchyard::dataplane::ebpf::testing {
namespace {

std::string ip_of(const std::string& ip_port) { return ip_port.substr(0, ip_port.rfind(':')); }

struct Flow {
  std::uint8_t proto;
  Endpoint client, frontend;
};

// A router between the client and the node cannot forward a reply the node sent (its source the
// frontend): its fragmentation needed / packet too big must reach the backend, about the reply
// as the backend sent it, so that the backend lowers its path MTU.
TEST_F(NodePortPrograms, FragNeededAboutAReplyGoesToTheBackendAboutItsOwnReply) {
  for (const Flow& f : {Flow{kTcp, kClient, kNode}, Flow{kTcp, {"fd00:50::2", 40000}, {"fd00:50::1", 30084}}}) {
    SCOPED_TRACE(f.frontend.ip);
    const bool v6 = f.client.v6();
    const std::string backend = inspect(ingress(packet(f.proto, f.client, f.frontend)).out).destination;
    const Endpoint b{ip_of(backend), 8080};
    ASSERT_EQ(inspect(egress(packet(f.proto, b, f.client)).out).source, f.frontend.ip + ":" + std::to_string(f.frontend.port));
    const std::string router = v6 ? "fd00:50::fe" : "192.168.50.254";
    const Bytes error = icmp_error(router, f.frontend.ip, v6 ? 2 : 3, v6 ? 0 : 4, packet(f.proto, f.frontend, f.client));
    auto r = ingress(error);
    EXPECT_EQ(r.verdict, TC_ACT_OK) << "the kernel forwards it to the pod";
    IcmpErrorSeen s = inspect_icmp_error(r.out);
    EXPECT_EQ(s.destination, b.ip);
    EXPECT_EQ(s.source, router) << "a router's error keeps its source";
    EXPECT_EQ(s.quoted_source, backend);
    EXPECT_EQ(s.quoted_destination, f.client.ip + ":40000");
    EXPECT_EQ(s.type, v6 ? 2 : 3);
    EXPECT_EQ(s.mtu, kPathMtu);
    EXPECT_TRUE(s.ip_checksum_ok);
    EXPECT_TRUE(s.icmp_checksum_ok);
    EXPECT_TRUE(s.quoted_ip_checksum_ok);
  }
  EXPECT_EQ(icmp_count(NP_ICMP_FRAG_NEEDED), 2u);
}

// The backend (or this node's forwarding) answers the client's DNATed packet with an error: the
// client must see it about the packet it sent, to the frontend, and from the frontend when the
// backend itself sent it.
TEST_F(NodePortPrograms, ErrorsFromALocalBackendReachTheClientAboutTheFrontend) {
  for (const Flow& f : {Flow{kUdp, kClient, {"203.0.113.10", 53}}, Flow{kUdp, {"fd00:50::2", 40000}, {"fd00:50::10", 53}}}) {
    SCOPED_TRACE(f.frontend.ip);
    const bool v6 = f.client.v6();
    const std::string backend = inspect(ingress(packet(f.proto, f.client, f.frontend)).out).destination;
    const Endpoint b{ip_of(backend), 8080};
    const Bytes dnated = packet(f.proto, f.client, b);
    // Port unreachable from the backend itself.
    auto r = egress(icmp_error(b.ip, f.client.ip, v6 ? 1 : 3, v6 ? 4 : 3, dnated));
    EXPECT_EQ(r.verdict, TC_ACT_OK);
    IcmpErrorSeen s = inspect_icmp_error(r.out);
    EXPECT_EQ(s.source, f.frontend.ip) << "the client never saw the backend's address";
    EXPECT_EQ(s.destination, f.client.ip);
    EXPECT_EQ(s.quoted_source, f.client.ip + ":40000");
    EXPECT_EQ(s.quoted_destination, f.frontend.ip + ":53");
    EXPECT_TRUE(s.ip_checksum_ok);
    EXPECT_TRUE(s.icmp_checksum_ok);
    EXPECT_TRUE(s.quoted_ip_checksum_ok);
    // Fragmentation needed from this node's forwarding towards the pod: its source stays.
    const std::string node = v6 ? "fd00:50::1" : "192.168.50.1";
    s = inspect_icmp_error(egress(icmp_error(node, f.client.ip, v6 ? 2 : 3, v6 ? 0 : 4, dnated)).out);
    EXPECT_EQ(s.source, node);
    EXPECT_EQ(s.quoted_destination, f.frontend.ip + ":53");
    EXPECT_TRUE(s.icmp_checksum_ok);
  }
  EXPECT_EQ(icmp_count(NP_ICMP_OTHER_ERROR), 2u);
  EXPECT_EQ(icmp_count(NP_ICMP_FRAG_NEEDED), 2u);
}

TEST_F(NodePortPrograms, ErrorsAboutUntrackedPacketsPassUntouched) {
  for (const Bytes& error : {icmp_error("192.168.50.254", "192.168.50.1", 3, 4, packet(kTcp, kNode, {"192.168.50.9", 1234})),
                             icmp_error("10.244.0.11", "192.168.50.2", 3, 3, packet(kUdp, kClient, {"10.244.0.11", 8080})),
                             icmp_error("fd00:50::fe", "fd00:50::1", 2, 0, packet(kTcp, {"fd00:50::1", 30084}, {"fd00:50::9", 1}))}) {
    auto in = ingress(error);
    EXPECT_EQ(in.verdict, TC_ACT_OK);
    EXPECT_EQ(in.out, error);
    auto out = egress(error);
    EXPECT_EQ(out.verdict, TC_ACT_OK);
    EXPECT_EQ(out.out, error);
  }
  EXPECT_EQ(icmp_count(NP_ICMP_FRAG_NEEDED) + icmp_count(NP_ICMP_OTHER_ERROR), 0u);
}

// The ICMP errors the programs send are rate-limited as the kernel's (1000/s, burst 50, here per
// CPU): a burst of rejects gets the first answers, the rest are dropped and counted.
TEST_F(NodePortPrograms, IcmpErrorsTheProgramsSendAreRateLimited) {
  int answered = 0;
  constexpr int kSent = 300;
  for (std::uint16_t port = 20000; port < 20000 + kSent; ++port)
    if (ingress(packet(kTcp, {"192.168.50.2", port}, {"192.0.2.20", 80})).verdict == TC_ACT_REDIRECT) ++answered;
  EXPECT_GE(answered, 50);
  EXPECT_LT(answered, kSent);
  EXPECT_EQ(dropped(NP_DROP_ICMP_RATE), static_cast<std::uint64_t>(kSent - answered));
  EXPECT_EQ(metric(NP_METRIC_REJECT_NO_BACKEND), static_cast<std::uint64_t>(answered));
}

}  // namespace
}  // namespace switchyard::dataplane::ebpf::testing
