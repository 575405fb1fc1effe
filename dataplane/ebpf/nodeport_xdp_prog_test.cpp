// XDP mode under BPF_PROG_TEST_RUN: nodeport_xdp on the tc programs' maps DNATs the packets of
// flows the tc program tracks, with the checksums fixed by hand, and leaves the rest to tc.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <string>

#include "dataplane/ebpf/testing/nodeport_programs.h"

namespace switchyard::dataplane::ebpf::testing {
namespace {

// XDP mode: the first packet of a flow passes to tc (which tracks it); later ones are DNATed in
// XDP with the checksums fixed by hand.
TEST_F(NodePortPrograms, XdpDnatsTrackedFlowsAndPassesTheRest) {
  const Bytes first = packet(kTcp, kClient, kNode);
  auto untracked = xdp(first);
  EXPECT_EQ(untracked.verdict, XDP_PASS);
  EXPECT_EQ(untracked.out, first) << "a flow's first packet is tc's";
  const std::string backend = inspect(ingress(first).out).destination;  // tc tracks it
  for (const Bytes& in : {packet(kTcp, kClient, kNode), packet(kUdp, kClient, {"203.0.113.10", 53}),
                          packet(kUdp, {kClient.ip, 40001}, {"203.0.113.10", 53}, false),
                          packet(kTcp, {"fd00:50::2", 40000}, {"fd00:50::1", 30084}),
                          packet(kUdp, {"fd00:50::2", 40002}, {"fd00:50::10", 53})}) {
    const bool udp_without_checksum = in[12] == 0x08 && in[14 + 9] == kUdp && in[14 + 20 + 6] == 0 && in[14 + 20 + 7] == 0;
    if (inspect(in).destination != kNode.ip + ":30080") ASSERT_EQ(ingress(in).verdict, TC_ACT_OK);  // tracked by tc first
    auto r = xdp(in);
    EXPECT_EQ(r.verdict, XDP_PASS);
    Seen s = inspect(r.out);
    SCOPED_TRACE(s.destination);
    EXPECT_EQ(s.source, inspect(in).source);
    if (in[12] == 0x86) EXPECT_EQ(s.destination, "fd00:244::11:8080");
    else if (in[14 + 9] == kTcp) EXPECT_EQ(s.destination, backend);
    else EXPECT_EQ(s.destination, "10.244.0.11:8080");
    EXPECT_TRUE(s.ip_checksum_ok);
    if (udp_without_checksum) EXPECT_EQ(s.l4_checksum, 0);
    else EXPECT_TRUE(s.l4_checksum_ok);
  }
  EXPECT_EQ(metric(NP_METRIC_XDP_DNAT), 5u);
}

TEST_F(NodePortPrograms, Ipv6ResetFromTheClientAndXdpLeavesResetsToTc) {
  const Endpoint client{"fd00:50::2", 40000}, frontend{"fd00:50::1", 30084};
  ASSERT_EQ(inspect(ingress(packet(kTcp, client, frontend)).out).destination, "fd00:244::11:8080");
  const Bytes reset = with_tcp_flags(packet(kTcp, client, frontend), kRst);
  auto in_xdp = xdp(reset);
  EXPECT_EQ(in_xdp.verdict, XDP_PASS);
  EXPECT_EQ(in_xdp.out, reset) << "XDP leaves a reset to tc, which forgets the flow";
  EXPECT_EQ(tracked(), 2u);
  Seen s = inspect(ingress(reset).out);
  EXPECT_EQ(s.destination, "fd00:244::11:8080");
  EXPECT_TRUE(s.l4_checksum_ok);
  EXPECT_EQ(tracked(), 0u);
}

}  // namespace
}  // namespace switchyard::dataplane::ebpf::testing
