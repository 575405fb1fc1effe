// Conntrack lifetimes under BPF_PROG_TEST_RUN: every entry the tc programs create or see carries
// the CLOCK_MONOTONIC second it expires, by protocol and TCP state as Cilium's defaults (SYN 60 s,
// established 6 h, closing 10 s after a FIN from either side, UDP 60 s), moved forward by the
// packets of its direction; the XDP program refreshes the flows it DNATs and leaves FINs to tc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <time.h>

#include <cstdint>
#include <vector>

#include "dataplane/ebpf/conntrack_gc.h"
#include "dataplane/ebpf/testing/nodeport_programs.h"

namespace switchyard::dataplane::ebpf::testing {
namespace {

struct Life {
  std::int64_t seconds_left = 0;  // lifetime - now
  bool closing = false;
};

std::int64_t now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

// The one entry of a conntrack map (the tests run one flow at a time).
template <class K, class V>
std::vector<Life> lives(bpf_map* map) {
  std::vector<Life> out;
  K key{}, next{};
  for (const K* prev = nullptr; bpf_map_get_next_key(bpf_map__fd(map), prev, &next) == 0; prev = &key) {
    key = next;
    V v{};
    if (bpf_map_lookup_elem(bpf_map__fd(map), &key, &v) == 0)
      out.push_back({static_cast<std::int64_t>(v.lifetime) - now_seconds(), (v.flags & CT_FLAG_CLOSING) != 0});
  }
  return out;
}

class ConntrackLifetimes : public NodePortPrograms {
 protected:
  Life flow4() { return one(lives<ct4_key, ct4_entry>(skel_->maps.ct4_v2)); }
  Life reply4() { return one(lives<ct4_reverse_key, ct4_reverse_entry>(skel_->maps.ct4_reverse_v2)); }
  Life flow6() { return one(lives<ct6_key, ct6_entry>(skel_->maps.ct6_v2)); }
  Life reply6() { return one(lives<ct6_reverse_key, ct6_reverse_entry>(skel_->maps.ct6_reverse_v2)); }
  static Life one(const std::vector<Life>& all) {
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? Life{-1, false} : all[0];
  }
  // The backend the flow from kClient went to, after its first packet.
  std::string open_flow() {
    auto first = ingress(packet(kTcp, kClient, kNode));
    EXPECT_EQ(first.verdict, TC_ACT_OK);
    const std::string to = inspect(first.out).destination;
    return to.substr(0, to.find(':'));
  }
};

// Within a second of what the programs computed (a second boundary may pass in between).
#define EXPECT_LIFETIME(life, seconds)       \
  do {                                       \
    const Life l_ = (life);                  \
    EXPECT_GE(l_.seconds_left, (seconds)-1); \
    EXPECT_LE(l_.seconds_left, (seconds));   \
  } while (0)

TEST_F(ConntrackLifetimes, TcpIsShortUntilEstablishedLongWhileOpenAndShortAgainAfterAFin) {
  const std::string backend = open_flow();
  // The SYN: both entries get the handshake's 60 s.
  EXPECT_LIFETIME(flow4(), CT_LIFETIME_SYN);
  EXPECT_LIFETIME(reply4(), CT_LIFETIME_SYN);
  EXPECT_FALSE(flow4().closing);
  // The SYN-ACK is still the handshake; the client's ACK establishes its entry, the backend's
  // next ACK its own.
  ASSERT_EQ(egress(with_tcp_flags(packet(kTcp, {backend, 8080}, kClient), 0x12)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(reply4(), CT_LIFETIME_SYN);
  ASSERT_EQ(ingress(with_tcp_flags(packet(kTcp, kClient, kNode), kAck)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(flow4(), CT_LIFETIME_TCP);
  ASSERT_EQ(egress(with_tcp_flags(packet(kTcp, {backend, 8080}, kClient), kAck)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(reply4(), CT_LIFETIME_TCP);
  // The client's FIN closes both entries: 10 s, and later packets keep them closing.
  ASSERT_EQ(ingress(with_tcp_flags(packet(kTcp, kClient, kNode), kFin | kAck)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(flow4(), CT_LIFETIME_CLOSE);
  EXPECT_LIFETIME(reply4(), CT_LIFETIME_CLOSE);
  EXPECT_TRUE(flow4().closing);
  EXPECT_TRUE(reply4().closing);
  ASSERT_EQ(egress(with_tcp_flags(packet(kTcp, {backend, 8080}, kClient), kAck)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(reply4(), CT_LIFETIME_CLOSE);
  ASSERT_EQ(ingress(with_tcp_flags(packet(kTcp, kClient, kNode), kAck)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(flow4(), CT_LIFETIME_CLOSE);
}

// The client's port comes round again while the old flow is still closing: its SYN opens it again.
TEST_F(ConntrackLifetimes, ASynOnAClosingFlowOpensItAgain) {
  const std::string backend = open_flow();
  ASSERT_EQ(ingress(with_tcp_flags(packet(kTcp, kClient, kNode), kFin | kAck)).verdict, TC_ACT_OK);
  ASSERT_TRUE(flow4().closing);
  ASSERT_EQ(ingress(packet(kTcp, kClient, kNode)).verdict, TC_ACT_OK);  // a SYN
  EXPECT_FALSE(flow4().closing);
  EXPECT_LIFETIME(flow4(), CT_LIFETIME_SYN);
  ASSERT_EQ(egress(with_tcp_flags(packet(kTcp, {backend, 8080}, kClient), 0x12)).verdict, TC_ACT_OK);  // SYN-ACK
  EXPECT_FALSE(reply4().closing);
  ASSERT_EQ(ingress(with_tcp_flags(packet(kTcp, kClient, kNode), kAck)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(flow4(), CT_LIFETIME_TCP);
}

TEST_F(ConntrackLifetimes, AFinFromTheBackendClosesTheClientsEntryToo) {
  const std::string backend = open_flow();
  ASSERT_EQ(ingress(with_tcp_flags(packet(kTcp, kClient, kNode), kAck)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(flow4(), CT_LIFETIME_TCP);
  auto fin = egress(with_tcp_flags(packet(kTcp, {backend, 8080}, kClient), kFin | kAck));
  ASSERT_EQ(fin.verdict, TC_ACT_OK);
  EXPECT_EQ(inspect(fin.out).source, "192.168.50.1:30080") << "the FIN is still reverse-NATed";
  EXPECT_LIFETIME(flow4(), CT_LIFETIME_CLOSE);
  EXPECT_TRUE(flow4().closing);
  EXPECT_LIFETIME(reply4(), CT_LIFETIME_CLOSE);
}

TEST_F(ConntrackLifetimes, UdpGetsTheNonTcpLifetimeInBothDirections) {
  const Endpoint lb{"203.0.113.10", 53};
  ASSERT_EQ(ingress(packet(kUdp, kClient, lb)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(flow4(), CT_LIFETIME_UDP);
  EXPECT_LIFETIME(reply4(), CT_LIFETIME_UDP);
  ASSERT_EQ(egress(packet(kUdp, {"10.244.0.11", 8080}, kClient)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(reply4(), CT_LIFETIME_UDP);
  EXPECT_FALSE(reply4().closing);
}

TEST_F(ConntrackLifetimes, Ipv6EntriesCarryTheirLifetimesToo) {
  const Endpoint client{"fd00:50::2", 40000}, node{"fd00:50::1", 30084};
  ASSERT_EQ(ingress(packet(kTcp, client, node)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(flow6(), CT_LIFETIME_SYN);
  ASSERT_EQ(ingress(with_tcp_flags(packet(kTcp, client, node), kAck)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(flow6(), CT_LIFETIME_TCP);
  ASSERT_EQ(egress(with_tcp_flags(packet(kTcp, {"fd00:244::11", 8080}, client), kFin | kAck)).verdict, TC_ACT_OK);
  EXPECT_LIFETIME(flow6(), CT_LIFETIME_CLOSE);
  EXPECT_LIFETIME(reply6(), CT_LIFETIME_CLOSE);
  EXPECT_TRUE(flow6().closing);
}

TEST_F(ConntrackLifetimes, XdpRefreshesTheFlowsItDnatsAndLeavesFinsToTc) {
  open_flow();
  auto ack = xdp(with_macs(with_tcp_flags(packet(kTcp, kClient, kNode), kAck)));
  ASSERT_EQ(ack.verdict, XDP_PASS);
  EXPECT_NE(inspect(ack.out).destination, "192.168.50.1:30080") << "DNATed in XDP";
  EXPECT_LIFETIME(flow4(), CT_LIFETIME_TCP);
  const Bytes fin = with_macs(with_tcp_flags(packet(kTcp, kClient, kNode), kFin | kAck));
  auto passed = xdp(fin);
  EXPECT_EQ(inspect(passed.out).destination, "192.168.50.1:30080") << "untouched: tc translates it and closes the flow";
  EXPECT_FALSE(flow4().closing);
  ASSERT_EQ(ingress(fin).verdict, TC_ACT_OK);
  EXPECT_TRUE(flow4().closing);
}

// The agent's garbage collector over the same maps, at chosen "now"s: a flow goes once both its
// entries have expired, a half left alone goes when it expires, and nothing alive is touched.
class ConntrackGarbageCollection : public ConntrackLifetimes {
 protected:
  ConntrackMaps maps() {
    auto ref = [](bpf_map* m) { return BpfMapRef{bpf_map__fd(m), bpf_map__name(m)}; };
    return {.flow4 = ref(skel_->maps.ct4_v2),
            .reply4 = ref(skel_->maps.ct4_reverse_v2),
            .flow6 = ref(skel_->maps.ct6_v2),
            .reply6 = ref(skel_->maps.ct6_reverse_v2),
            .metrics = ref(skel_->maps.np_metrics_v1),
            .capacity = bpf_map__max_entries(skel_->maps.ct4_v2)};
  }
  static std::uint32_t at(std::int64_t seconds_from_now) { return static_cast<std::uint32_t>(now_seconds() + seconds_from_now); }
  // Sets the lifetime of the one IPv4 entry of `map` (flow or reply: same layout) to now + `left`.
  template <class Key, class Value>
  void set_lifetime(bpf_map* map, std::int64_t left) {
    Key key{};
    ASSERT_EQ(bpf_map_get_next_key(bpf_map__fd(map), nullptr, &key), 0);
    Value v{};
    ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(map), &key, &v), 0);
    v.lifetime = at(left);
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(map), &key, &v, BPF_EXIST), 0);
  }
};

TEST_F(ConntrackGarbageCollection, AnEstablishedFlowStaysUntilItsLifetimeEnds) {
  const std::string backend = open_flow();
  ASSERT_EQ(ingress(with_tcp_flags(packet(kTcp, kClient, kNode), kAck)).verdict, TC_ACT_OK);
  ASSERT_EQ(egress(with_tcp_flags(packet(kTcp, {backend, 8080}, kClient), kAck)).verdict, TC_ACT_OK);
  ConntrackGc gc(maps(), {});
  auto pass = gc.collect(at(3600));
  ASSERT_TRUE(pass) << pass.error().message;
  EXPECT_EQ(pass->entries, 2u);
  EXPECT_EQ(pass->deleted_entries, 0u);
  EXPECT_EQ(tracked(), 2u);
  pass = gc.collect(at(CT_LIFETIME_TCP + 2));
  ASSERT_TRUE(pass) << pass.error().message;
  EXPECT_EQ(pass->expired_flows, 1u);
  EXPECT_EQ(pass->deleted_entries, 2u);
  EXPECT_EQ(tracked(), 0u);
  EXPECT_THAT(gc.metrics_text(), ::testing::HasSubstr("switchyard_ebpf_conntrack_gc_flows_total 1\n"));
}

TEST_F(ConntrackGarbageCollection, AClosedFlowGoesAfterTheCloseLifetime) {
  open_flow();
  ASSERT_EQ(ingress(with_tcp_flags(packet(kTcp, kClient, kNode), kFin | kAck)).verdict, TC_ACT_OK);
  ConntrackGc gc(maps(), {});
  ASSERT_EQ(gc.collect(at(CT_LIFETIME_CLOSE - 2))->deleted_entries, 0u);
  ASSERT_EQ(gc.collect(at(CT_LIFETIME_CLOSE + 2))->deleted_entries, 2u);
  EXPECT_EQ(tracked(), 0u);
}

TEST_F(ConntrackGarbageCollection, AFlowLivesWhileEitherDirectionDoes) {
  const Endpoint lb{"203.0.113.10", 53};
  ASSERT_EQ(ingress(packet(kUdp, kClient, lb)).verdict, TC_ACT_OK);
  // Only the replies kept coming (say, a one-way stream to the client).
  set_lifetime<ct4_key, ct4_entry>(skel_->maps.ct4_v2, -100);
  set_lifetime<ct4_reverse_key, ct4_reverse_entry>(skel_->maps.ct4_reverse_v2, 30);
  ConntrackGc gc(maps(), {});
  EXPECT_EQ(gc.collect()->deleted_entries, 0u);
  EXPECT_EQ(tracked(), 2u);
  // A half whose other half the LRU took goes alone once it expires.
  ct4_key key{};
  ASSERT_EQ(bpf_map_get_next_key(bpf_map__fd(skel_->maps.ct4_v2), nullptr, &key), 0);
  ASSERT_EQ(bpf_map_delete_elem(bpf_map__fd(skel_->maps.ct4_v2), &key), 0);
  EXPECT_EQ(gc.collect()->deleted_entries, 0u);
  set_lifetime<ct4_reverse_key, ct4_reverse_entry>(skel_->maps.ct4_reverse_v2, -1);
  auto pass = gc.collect();
  EXPECT_EQ(pass->deleted_entries, 1u);
  EXPECT_EQ(pass->expired_flows, 1u);
  EXPECT_EQ(tracked(), 0u);
}

// The fixture's maps hold 256 entries: 1,000 new flows are all translated (the LRU makes room by
// evicting the oldest), and the collector counts what was evicted.
TEST_F(ConntrackGarbageCollection, AFullTableKeepsAcceptingNewFlowsAndCountsEvictions) {
  ConntrackGc gc(maps(), {});
  ASSERT_TRUE(gc.collect());  // the baseline: nothing yet
  int translated = 0;
  for (std::uint16_t port = 20000; port < 21000; ++port) {
    auto r = ingress(packet(kTcp, {kClient.ip, port}, kNode));
    if (r.verdict == TC_ACT_OK && inspect(r.out).destination != "192.168.50.1:30080") ++translated;
  }
  EXPECT_EQ(translated, 1000);
  // The newest flow is still tracked: its next packet follows the first.
  const std::string last = inspect(ingress(packet(kTcp, {kClient.ip, 20999}, kNode)).out).destination;
  EXPECT_EQ(metric(NP_METRIC_DNAT_TRACKED), 1u) << last;
  auto pass = gc.collect();
  ASSERT_TRUE(pass);
  EXPECT_LE(pass->flow_entries, 256u);
  const std::string text = gc.metrics_text();
  const auto at_evictions = text.find("\nswitchyard_ebpf_conntrack_evictions_total ");
  ASSERT_NE(at_evictions, std::string::npos) << text;
  const std::uint64_t evicted = std::stoull(text.substr(at_evictions + std::strlen("\nswitchyard_ebpf_conntrack_evictions_total ")));
  EXPECT_EQ(evicted, 1000u - pass->flow_entries) << text;
}

}  // namespace
}  // namespace switchyard::dataplane::ebpf::testing
