// The tc NodePort programs under BPF_PROG_TEST_RUN: crafted Ethernet/IPv4/IPv6 TCP and UDP
// packets through nodeport_ingress (DNAT to a backend, conntrack, SNAT to a remote backend,
// reject, source ranges) and nodeport_egress (reverse NAT of the reply), checking rewritten
// addresses, ports and checksums. The programs are loaded from the embedded skeleton with their
// own small maps; nothing is attached anywhere. The SNAT tests run the programs from inside a
// network namespace the test creates (BPF_PROG_TEST_RUN routes in the caller's namespace), with a
// dummy "external" interface and routes to another node's pods.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <unistd.h>

#include <array>
#include <optional>
#include <cstring>
#include <set>
#include <tuple>
#include <vector>

#include "dataplane/ebpf/bpf/lb_types.h"
#include "dataplane/testing/network_namespace.h"
#include "nodeport.skel.h"

namespace switchyard::dataplane::ebpf {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::uint8_t kTcp = 6, kUdp = 17;

// --- packet building and checking -------------------------------------------------------

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (n % 2) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
  return sum;
}
std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

struct Endpoint {
  std::string ip;
  std::uint16_t port;
  bool v6() const { return ip.find(':') != std::string::npos; }
  Bytes address() const {
    Bytes out(v6() ? 16 : 4);
    inet_pton(v6() ? AF_INET6 : AF_INET, ip.c_str(), out.data());
    return out;
  }
};

std::size_t l3_length(const Bytes& p) { return p[12] == 0x86 ? 40 : 20; }

// The pseudo-header sum of an IPv4 or IPv6 packet for its L4 checksum.
std::uint32_t pseudo_header(const Bytes& p, std::size_t l4_length) {
  const bool v6 = p[12] == 0x86;
  const std::size_t addr = v6 ? 14 + 8 : 14 + 12, len = v6 ? 32 : 8;
  std::uint32_t sum = sum16(p.data() + addr, len);
  return sum + (v6 ? p[14 + 6] : p[14 + 9]) + static_cast<std::uint32_t>(l4_length);
}

Bytes packet(std::uint8_t proto, const Endpoint& from, const Endpoint& to, bool udp_checksum = true) {
  const bool v6 = from.v6();
  const std::size_t l4 = proto == kTcp ? 20 : 8, payload = 6, l3 = v6 ? 40 : 20;
  Bytes p(14 + l3 + l4 + payload, 0);
  p[12] = v6 ? 0x86 : 0x08;
  p[13] = v6 ? 0xdd : 0x00;
  std::uint8_t* ip = p.data() + 14;
  const Bytes src = from.address(), dst = to.address();
  if (v6) {
    ip[0] = 0x60;
    ip[4] = static_cast<std::uint8_t>((l4 + payload) >> 8);
    ip[5] = static_cast<std::uint8_t>(l4 + payload);
    ip[6] = proto;
    ip[7] = 64;
    std::memcpy(ip + 8, src.data(), 16);
    std::memcpy(ip + 24, dst.data(), 16);
  } else {
    ip[0] = 0x45;
    ip[2] = static_cast<std::uint8_t>((l3 + l4 + payload) >> 8);
    ip[3] = static_cast<std::uint8_t>(l3 + l4 + payload);
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = proto;
    std::memcpy(ip + 12, src.data(), 4);
    std::memcpy(ip + 16, dst.data(), 4);
    const std::uint16_t c = fold(sum16(ip, 20));
    ip[10] = static_cast<std::uint8_t>(c >> 8);
    ip[11] = static_cast<std::uint8_t>(c);
  }
  std::uint8_t* t = ip + l3;
  t[0] = static_cast<std::uint8_t>(from.port >> 8);
  t[1] = static_cast<std::uint8_t>(from.port);
  t[2] = static_cast<std::uint8_t>(to.port >> 8);
  t[3] = static_cast<std::uint8_t>(to.port);
  if (proto == kTcp) {
    t[4] = 0x12;       // a sequence number
    t[12] = 5 << 4;    // data offset
    t[13] = 0x02;      // SYN
    t[14] = 0xff;      // window
  } else {
    t[4] = static_cast<std::uint8_t>((l4 + payload) >> 8);
    t[5] = static_cast<std::uint8_t>(l4 + payload);
  }
  std::memcpy(t + l4, "hello!", payload);
  if (proto == kTcp || udp_checksum) {
    const std::size_t off = proto == kTcp ? 16 : 6;
    std::uint16_t c = fold(sum16(t, l4 + payload, pseudo_header(p, l4 + payload)));
    if (proto == kUdp && c == 0) c = 0xffff;
    t[off] = static_cast<std::uint8_t>(c >> 8);
    t[off + 1] = static_cast<std::uint8_t>(c);
  }
  return p;
}

// The same TCP segment with other flags (checksum recomputed).
constexpr std::uint8_t kRst = 0x04, kAck = 0x10;
Bytes with_tcp_flags(Bytes p, std::uint8_t flags) {
  std::uint8_t* t = p.data() + 14 + l3_length(p);
  const std::size_t l4_length = p.size() - 14 - l3_length(p);
  t[13] = flags;
  t[16] = t[17] = 0;
  const std::uint16_t c = fold(sum16(t, l4_length, pseudo_header(p, l4_length)));
  t[16] = static_cast<std::uint8_t>(c >> 8);
  t[17] = static_cast<std::uint8_t>(c);
  return p;
}

// The same packet with another TTL (hop limit), the IPv4 header checksum recomputed.
Bytes with_ttl(Bytes p, std::uint8_t ttl) {
  std::uint8_t* ip = p.data() + 14;
  if (p[12] == 0x86) {
    ip[7] = ttl;
    return p;
  }
  ip[8] = ttl;
  ip[10] = ip[11] = 0;
  const std::uint16_t c = fold(sum16(ip, 20));
  ip[10] = static_cast<std::uint8_t>(c >> 8);
  ip[11] = static_cast<std::uint8_t>(c);
  return p;
}

struct Seen {
  std::string source, destination;  // "ip:port"
  int ttl = 0;                      // or hop limit
  bool ip_checksum_ok = true, l4_checksum_ok = false;
  std::uint16_t l4_checksum = 0;
};

Seen inspect(const Bytes& p) {
  const bool v6 = p[12] == 0x86;
  const std::uint8_t* ip = p.data() + 14;
  const std::size_t l3 = l3_length(p);
  const std::uint8_t* t = ip + l3;
  char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip + (v6 ? 8 : 12), a, sizeof a);
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip + (v6 ? 24 : 16), b, sizeof b);
  Seen s;
  s.source = std::string(a) + ":" + std::to_string(t[0] << 8 | t[1]);
  s.destination = std::string(b) + ":" + std::to_string(t[2] << 8 | t[3]);
  if (!v6) s.ip_checksum_ok = fold(sum16(ip, 20)) == 0;
  s.ttl = v6 ? ip[7] : ip[8];
  const std::uint8_t proto = v6 ? ip[6] : ip[9];
  const std::size_t l4_length = p.size() - 14 - l3;
  s.l4_checksum = static_cast<std::uint16_t>(t[proto == kTcp ? 16 : 6] << 8 | t[proto == kTcp ? 17 : 7]);
  s.l4_checksum_ok = fold(sum16(t, l4_length, pseudo_header(p, l4_length))) == 0;
  return s;
}

// --- the programs ------------------------------------------------------------------------

class NodePortPrograms : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
    skel_ = nodeport__open();
    ASSERT_NE(skel_, nullptr);
    // Small maps: this test programs a handful of entries.
    bpf_object* obj = skel_->obj;
    bpf_map* map;
    bpf_object__for_each_map(map, obj) {
      if (bpf_map__type(map) != BPF_MAP_TYPE_PERCPU_ARRAY && bpf_map__type(map) != BPF_MAP_TYPE_ARRAY)
        bpf_map__set_max_entries(map, 256);
    }
    ASSERT_EQ(nodeport__load(skel_), 0) << "load of the nodeport programs";
    add_backend(1, {"10.244.0.11", 8080});
    add_backend(2, {"10.244.0.12", 8080});
    add_backend(3, {"fd00:244::11", 8080});
    add_frontend({"0.0.0.0", 30080}, kTcp, {1, 2});      // a NodePort
    add_frontend({"203.0.113.10", 53}, kUdp, {1});       // a LoadBalancer IP
    add_frontend({"192.0.2.20", 80}, kTcp, {});          // no endpoints
    add_frontend({"::", 30084}, kTcp, {3});              // an IPv6 NodePort
    add_frontend({"fd00:50::10", 53}, kUdp, {3});        // an IPv6 externalIP
  }
  void TearDown() override {
    if (skel_) nodeport__destroy(skel_);
  }

  void add_backend(std::uint32_t id, const Endpoint& e) {
    if (e.v6()) {
      lb6_backend b{};
      std::memcpy(b.address, e.address().data(), 16);
      b.port = htons(e.port);
      ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.lb6_backends_v1), &id, &b, BPF_ANY), 0);
    } else {
      lb4_backend b{};
      std::memcpy(&b.address, e.address().data(), 4);
      b.port = htons(e.port);
      ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.lb4_backends_v1), &id, &b, BPF_ANY), 0);
    }
  }

  void add_frontend(const Endpoint& f, std::uint8_t proto, const std::vector<std::uint32_t>& ids,
                    std::uint16_t flags = LB_SERVICE_FLAG_LOCAL, std::uint32_t service_id = 0) {
    auto put = [&](auto key, int fd) {
      std::memcpy(&key.address, f.address().data(), sizeof key.address);
      key.port = htons(f.port);
      key.proto = proto;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        key.slot = static_cast<std::uint16_t>(i + 1);
        lb_service_value v{.backend_id = ids[i]};
        ASSERT_EQ(bpf_map_update_elem(fd, &key, &v, BPF_ANY), 0);
      }
      key.slot = 0;
      lb_service_value front{.count = static_cast<std::uint16_t>(ids.size()), .flags = flags, .service_id = service_id};
      ASSERT_EQ(bpf_map_update_elem(fd, &key, &front, BPF_ANY), 0);
    };
    if (f.v6()) put(lb6_service_key{}, bpf_map__fd(skel_->maps.lb6_external_v1));
    else put(lb4_service_key{}, bpf_map__fd(skel_->maps.lb4_external_v1));
  }

  struct Run {
    int verdict = -1;
    Bytes out;
  };
  Run run(bpf_program* program, const Bytes& in) {
    Run r;
    r.out.resize(in.size() + 64);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = r.out.data(),
                .data_size_in = static_cast<__u32>(in.size()), .data_size_out = static_cast<__u32>(r.out.size()));
    EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(program), &opts), 0) << std::strerror(errno);
    r.out.resize(opts.data_size_out);
    r.verdict = static_cast<int>(opts.retval);
    return r;
  }
  Run ingress(const Bytes& in) { return run(skel_->progs.nodeport_ingress, in); }
  Run egress(const Bytes& in) { return run(skel_->progs.nodeport_egress, in); }
  Run xdp(const Bytes& in) { return run(skel_->progs.nodeport_xdp, in); }

  static std::size_t entries(bpf_map* map) {
    std::array<std::uint8_t, 64> key{}, next{};
    std::size_t n = 0;
    for (const void* prev = nullptr; bpf_map_get_next_key(bpf_map__fd(map), prev, next.data()) == 0; prev = key.data()) {
      key = next;
      ++n;
    }
    return n;
  }
  // Conntrack entries of both families and directions.
  std::size_t tracked() {
    return entries(skel_->maps.ct4_v1) + entries(skel_->maps.ct4_reverse_v1) + entries(skel_->maps.ct6_v1) +
           entries(skel_->maps.ct6_reverse_v1);
  }

  std::uint64_t metric(std::uint32_t which) {
    std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(libbpf_num_possible_cpus()));
    EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(skel_->maps.np_metrics_v1), &which, per_cpu.data()), 0);
    std::uint64_t sum = 0;
    for (auto v : per_cpu) sum += v;
    return sum;
  }

  nodeport* skel_ = nullptr;
};

const Endpoint kClient{"192.168.50.2", 40000};
const Endpoint kNode{"192.168.50.1", 30080};

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

// What an ICMP / ICMPv6 error built by the program says: from, to, type, code, checksums, and
// whether it quotes the start of the offending packet.
struct IcmpSeen {
  std::string source, destination;
  int type = -1, code = -1;
  bool ip_checksum_ok = true, icmp_checksum_ok = false, quotes_original = false, macs_swapped = false;
};

IcmpSeen inspect_icmp(const Bytes& p, const Bytes& original) {
  IcmpSeen s;
  const bool v6 = p[12] == 0x86;
  const std::size_t l3 = v6 ? 40 : 20;
  if (p.size() < 14 + l3 + 8) return s;
  const std::uint8_t* ip = p.data() + 14;
  if ((v6 ? ip[6] : ip[9]) != (v6 ? 58 : 1)) return s;
  char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip + (v6 ? 8 : 12), a, sizeof a);
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip + (v6 ? 24 : 16), b, sizeof b);
  s.source = a;
  s.destination = b;
  if (!v6) s.ip_checksum_ok = fold(sum16(ip, 20)) == 0;
  const std::uint8_t* icmp = ip + l3;
  const std::size_t icmp_length = p.size() - 14 - l3;
  s.type = icmp[0];
  s.code = icmp[1];
  s.icmp_checksum_ok = fold(sum16(icmp, icmp_length, v6 ? pseudo_header(p, icmp_length) : 0)) == 0;
  const std::size_t quoted = v6 ? 48 : 28;
  s.quotes_original = icmp_length == 8 + quoted && std::memcmp(icmp + 8, original.data() + 14, quoted) == 0;
  s.macs_swapped = std::memcmp(p.data(), original.data() + 6, 6) == 0 && std::memcmp(p.data() + 6, original.data(), 6) == 0;
  return s;
}

Bytes with_macs(Bytes p) {
  const std::uint8_t node_mac[6] = {0x02, 0, 0, 0, 0, 0x01}, client_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(p.data(), node_mac, 6);
  std::memcpy(p.data() + 6, client_mac, 6);
  return p;
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
  EXPECT_EQ(metric(NP_METRIC_DROP_NO_LOCAL), 1u);
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
  EXPECT_EQ(metric(NP_METRIC_DROP_SOURCE_RANGE), 3u);
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

// SNAT under Cluster policy: the programs run inside a namespace with a veth "ext1"
// (an external interface towards another node, 192.168.60.1 / fd00:60::1) that routes the other
// node's pods, and a veth "pods" for a pod of this node.
class NodePortSnat : public NodePortPrograms {
 protected:
  void SetUp() override {
    NodePortPrograms::SetUp();
    if (IsSkipped()) return;
    auto ns = dataplane::testing::NetworkNamespace::create(dataplane::testing::NetworkNamespace::unique_name("sy-np", "prog"));
    ASSERT_TRUE(ns) << ns.error();
    ns_.emplace(std::move(*ns));
    auto r = ns_->run(
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1"
        " && ip link add ext1 type veth peer name ext1p && ip link set ext1 up && ip link set ext1p up && ip addr add 192.168.60.1/24 dev ext1"
        " && ip -6 addr add fd00:60::1/64 dev ext1 nodad && ip route add 10.244.1.0/24 via 192.168.60.2"
        " && ip -6 route add fd00:244:1::/64 via fd00:60::2"
        " && ip link add pods type veth peer name podsp && ip link set pods up && ip route add 10.244.0.0/24 dev pods");
    ASSERT_TRUE(r.ok()) << r.output;
    ASSERT_TRUE(ns_->enter([&] { ext1_ = if_nametoindex("ext1"); }));
    ASSERT_NE(ext1_, 0u);
    const std::uint32_t yes = 1;
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.np_interfaces_v1), &ext1_, &yes, BPF_ANY), 0);
    add_backend(4, {"10.244.1.11", 8080});   // a pod of the other node
    add_backend(5, {"fd00:244:1::11", 8080});
    add_frontend({"0.0.0.0", 30090}, kTcp, {4}, 0);
    add_frontend({"0.0.0.0", 30091}, kUdp, {4}, 0);
    add_frontend({"::", 30092}, kTcp, {5}, 0);
    add_frontend({"::", 30093}, kUdp, {5}, 0);
    add_frontend({"0.0.0.0", 30094}, kTcp, {4}, LB_SERVICE_FLAG_LOCAL);  // Local: never SNATed
    add_frontend({"0.0.0.0", 30095}, kTcp, {1}, 0);  // Cluster, but a pod of this node
  }
  Run ingress_in_ns(const Bytes& in) {
    Run r;
    EXPECT_TRUE(ns_->enter([&] { r = ingress(in); }));
    return r;
  }
  std::optional<dataplane::testing::NetworkNamespace> ns_;
  std::uint32_t ext1_ = 0;
};

std::uint16_t port_of(const std::string& ip_port) { return static_cast<std::uint16_t>(std::stoi(ip_port.substr(ip_port.rfind(':') + 1))); }

TEST_F(NodePortSnat, ClusterPolicyToARemotePodIsSnatedToTheNodeAddressWithAPortPerFlow) {
  struct Case {
    std::uint8_t proto;
    Endpoint client, frontend;
    std::string backend, node_address;
  };
  for (const Case& c : {Case{kTcp, {"192.168.50.2", 40000}, {"192.168.50.1", 30090}, "10.244.1.11:8080", "192.168.60.1"},
                        Case{kUdp, {"192.168.50.2", 40000}, {"192.168.50.1", 30091}, "10.244.1.11:8080", "192.168.60.1"},
                        Case{kTcp, {"fd00:50::2", 40000}, {"fd00:50::1", 30092}, "fd00:244:1::11:8080", "fd00:60::1"},
                        Case{kUdp, {"fd00:50::2", 40000}, {"fd00:50::1", 30093}, "fd00:244:1::11:8080", "fd00:60::1"}}) {
    SCOPED_TRACE(c.frontend.ip + ":" + std::to_string(c.frontend.port));
    auto first = ingress_in_ns(packet(c.proto, c.client, c.frontend));
    EXPECT_EQ(first.verdict, TC_ACT_REDIRECT) << "sent out of the interface towards the backend";
    Seen s = inspect(first.out);
    EXPECT_EQ(s.destination, c.backend);
    ASSERT_EQ(s.source.substr(0, s.source.rfind(':')), c.node_address) << s.source;
    const std::uint16_t snat_port = port_of(s.source);
    EXPECT_GE(snat_port, LB_SNAT_PORT_MIN);
    EXPECT_LE(snat_port, LB_SNAT_PORT_MAX);
    EXPECT_EQ(s.ttl, 63) << "redirected past the kernel's forwarding: the program decrements the TTL";
    EXPECT_TRUE(s.ip_checksum_ok);
    EXPECT_TRUE(s.l4_checksum_ok);
    // Later packets of the flow keep the port.
    EXPECT_EQ(inspect(ingress_in_ns(packet(c.proto, c.client, c.frontend)).out).source, s.source);
    // The backend's reply arrives on the external interface, to the node's address and port:
    // it leaves towards the client, from the frontend.
    auto reply = ingress_in_ns(packet(c.proto, {c.backend.substr(0, c.backend.rfind(':')), 8080}, {c.node_address, snat_port}));
    EXPECT_EQ(reply.verdict, TC_ACT_REDIRECT);
    Seen r = inspect(reply.out);
    EXPECT_EQ(r.source, c.frontend.ip + ":" + std::to_string(c.frontend.port));
    EXPECT_EQ(r.destination, c.client.ip + ":40000");
    EXPECT_EQ(r.ttl, 63);
    EXPECT_TRUE(r.ip_checksum_ok);
    EXPECT_TRUE(r.l4_checksum_ok);
  }
  EXPECT_EQ(metric(NP_METRIC_SNAT_NEW), 4u);
  EXPECT_EQ(metric(NP_METRIC_REVERSE_SNAT), 4u);
}

// A reset frees the SNAT port at once: from the client (ingress) or from the remote backend
// (its reply on ingress), IPv4 and IPv6.
TEST_F(NodePortSnat, ATcpResetOfASnatedFlowFreesItsPort) {
  struct Case {
    Endpoint client, frontend;
    std::string backend, node_address;
    bool backend_resets;
  };
  for (const Case& c : {Case{{"192.168.50.2", 40000}, {"192.168.50.1", 30090}, "10.244.1.11", "192.168.60.1", false},
                        Case{{"192.168.50.2", 40001}, {"192.168.50.1", 30090}, "10.244.1.11", "192.168.60.1", true},
                        Case{{"fd00:50::2", 40000}, {"fd00:50::1", 30092}, "fd00:244:1::11", "fd00:60::1", false},
                        Case{{"fd00:50::2", 40001}, {"fd00:50::1", 30092}, "fd00:244:1::11", "fd00:60::1", true}}) {
    SCOPED_TRACE(c.client.ip + (c.backend_resets ? " reset by the backend" : " reset by the client"));
    Seen s = inspect(ingress_in_ns(packet(kTcp, c.client, c.frontend)).out);
    const std::uint16_t snat_port = port_of(s.source);
    EXPECT_EQ(tracked(), 2u);
    const Endpoint backend{c.backend, 8080}, node{c.node_address, snat_port};
    if (c.backend_resets) {
      auto r = ingress_in_ns(with_tcp_flags(packet(kTcp, backend, node), kRst | kAck));
      EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
      EXPECT_EQ(inspect(r.out).destination, c.client.ip + ":" + std::to_string(c.client.port)) << "the reset reaches the client";
      EXPECT_TRUE(inspect(r.out).l4_checksum_ok);
    } else {
      auto r = ingress_in_ns(with_tcp_flags(packet(kTcp, c.client, c.frontend), kRst));
      EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
      EXPECT_EQ(inspect(r.out).source, s.source) << "the reset leaves through the flow's SNAT";
      EXPECT_TRUE(inspect(r.out).l4_checksum_ok);
    }
    EXPECT_EQ(tracked(), 0u) << "the port is free again";
    // A late reply to the freed port is no longer taken for the flow's.
    const Bytes late = packet(kTcp, backend, node);
    EXPECT_EQ(ingress_in_ns(late).out, late);
  }
}

// A redirected packet whose TTL (hop limit) would reach 0 is dropped, not sent on: the first
// packet of a flow, and a reply to a SNATed one.
TEST_F(NodePortSnat, RedirectedPacketsWhoseTtlRunsOutAreDropped) {
  for (const auto& [client, frontend, backend, node] :
       {std::tuple{Endpoint{"192.168.50.2", 40000}, Endpoint{"192.168.50.1", 30090}, Endpoint{"10.244.1.11", 8080}, std::string("192.168.60.1")},
        std::tuple{Endpoint{"fd00:50::2", 40000}, Endpoint{"fd00:50::1", 30092}, Endpoint{"fd00:244:1::11", 8080}, std::string("fd00:60::1")}}) {
    SCOPED_TRACE(frontend.ip);
    EXPECT_EQ(ingress_in_ns(with_ttl(packet(kTcp, client, frontend), 1)).verdict, TC_ACT_SHOT);
    Seen s = inspect(ingress_in_ns(with_ttl(packet(kTcp, client, frontend), 2)).out);
    EXPECT_EQ(s.ttl, 1);
    EXPECT_TRUE(s.ip_checksum_ok);
    const Endpoint snat{node, port_of(s.source)};
    EXPECT_EQ(ingress_in_ns(with_ttl(packet(kTcp, backend, snat), 1)).verdict, TC_ACT_SHOT);
    EXPECT_EQ(ingress_in_ns(with_ttl(packet(kTcp, backend, snat), 2)).verdict, TC_ACT_REDIRECT);
  }
  EXPECT_EQ(metric(NP_METRIC_DROP_TTL), 4u);
}

TEST_F(NodePortSnat, EveryFlowToOneBackendGetsItsOwnPort) {
  std::set<std::uint16_t> ports;
  for (std::uint16_t client_port = 20000; client_port < 20200; ++client_port) {
    Seen s = inspect(ingress_in_ns(packet(kTcp, {"192.168.50.2", client_port}, {"192.168.50.1", 30090})).out);
    ports.insert(port_of(s.source));
  }
  // Two clients with the same port too: the reply tuple tells them apart by the allocated port.
  Seen other = inspect(ingress_in_ns(packet(kTcp, {"192.168.50.3", 20000}, {"192.168.50.1", 30090})).out);
  ports.insert(port_of(other.source));
  EXPECT_EQ(ports.size(), 201u) << "no two flows share a reply tuple";
}

TEST_F(NodePortSnat, LocalPolicyAndLocalPodsKeepTheClientsAddress) {
  auto local_policy = ingress_in_ns(packet(kTcp, kClient, {"192.168.50.1", 30094}));
  EXPECT_EQ(local_policy.verdict, TC_ACT_OK);
  EXPECT_EQ(inspect(local_policy.out).source, "192.168.50.2:40000");
  EXPECT_EQ(inspect(local_policy.out).destination, "10.244.1.11:8080");
  EXPECT_EQ(inspect(local_policy.out).ttl, 64) << "not redirected: the kernel's forwarding decrements it";
  auto local_pod = ingress_in_ns(packet(kTcp, kClient, {"192.168.50.1", 30095}));
  EXPECT_EQ(local_pod.verdict, TC_ACT_OK);
  EXPECT_EQ(inspect(local_pod.out).source, "192.168.50.2:40000");
  EXPECT_EQ(metric(NP_METRIC_SNAT_NEW), 0u);
}

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
}  // namespace switchyard::dataplane::ebpf
