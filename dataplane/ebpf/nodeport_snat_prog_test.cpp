// SNAT under Cluster policy through the tc NodePort programs under BPF_PROG_TEST_RUN: the
// programs run from inside a network namespace the test creates (BPF_PROG_TEST_RUN routes in the
// caller's namespace), with a veth "external" interface and routes to another node's pods.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>

#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "dataplane/ebpf/testing/icmp_packets.h"
#include "dataplane/ebpf/testing/nodeport_programs.h"
#include "dataplane/testing/network_namespace.h"

namespace switchyard::dataplane::ebpf::testing {
namespace {

// SNAT under Cluster policy: the programs run inside a namespace with a veth "ext1"
// (an external interface towards another node, 192.168.60.1 / fd00:60::1) that routes the other
// node's pods, and a veth "pods" for a pod of this node.
class NodePortSnat : public NodePortPrograms {
 protected:
  // Room to spare for 201 flows: the kernel's common LRU hands each CPU free entries in batches
  // of up to 128, so a 256-entry map can evict an entry (and free its claimed port) while far
  // from full, and two flows would then share a port.
  std::uint32_t lru_entries() const override { return 4096; }
  void SetUp() override {
    NodePortPrograms::SetUp();
    if (IsSkipped()) return;
    auto ns = dataplane::testing::NetworkNamespace::create(dataplane::testing::NetworkNamespace::unique_name("sy-np", "prog"));
    ASSERT_TRUE(ns) << ns.error();
    ns_.emplace(std::move(*ns));
    auto r = ns_->run(
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1"
        " && ip link add ext1 type veth peer name ext1p && ip link set ext1 up && ip link set ext1p up && ip addr add 192.168.60.1/24 dev "
        "ext1"
        " && ip -6 addr add fd00:60::1/64 dev ext1 nodad && ip route add 10.244.1.0/24 via 192.168.60.2"
        " && ip -6 route add fd00:244:1::/64 via fd00:60::2"
        " && ip link add pods type veth peer name podsp && ip link set pods up && ip route add 10.244.0.0/24 dev pods");
    ASSERT_TRUE(r.ok()) << r.output;
    ASSERT_TRUE(ns_->enter([&] { ext1_ = if_nametoindex("ext1"); }));
    ASSERT_NE(ext1_, 0u);
    const std::uint32_t yes = 1;
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.np_interfaces_v1), &ext1_, &yes, BPF_ANY), 0);
    add_backend(4, {"10.244.1.11", 8080});  // a pod of the other node
    add_backend(5, {"fd00:244:1::11", 8080});
    add_frontend({"0.0.0.0", 30090}, kTcp, {4}, 0);
    add_frontend({"0.0.0.0", 30091}, kUdp, {4}, 0);
    add_frontend({"::", 30092}, kTcp, {5}, 0);
    add_frontend({"::", 30093}, kUdp, {5}, 0);
    add_frontend({"0.0.0.0", 30094}, kTcp, {4}, LB_SERVICE_FLAG_LOCAL);  // Local: never SNATed
    add_frontend({"0.0.0.0", 30095}, kTcp, {1}, 0);                      // Cluster, but a pod of this node
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

// A redirected packet whose TTL (hop limit) would reach 0 is not sent on: its sender gets ICMP time
// exceeded about it as it sent it (the first packet of a flow, and a reply to a SNATed one).
TEST_F(NodePortSnat, RedirectedPacketsWhoseTtlRunsOutAreAnsweredWithTimeExceeded) {
  for (const auto& [client, frontend, backend, node] : {std::tuple{Endpoint{"192.168.50.2", 40000}, Endpoint{"192.168.50.1", 30090},
                                                                   Endpoint{"10.244.1.11", 8080}, std::string("192.168.60.1")},
                                                        std::tuple{Endpoint{"fd00:50::2", 40000}, Endpoint{"fd00:50::1", 30092},
                                                                   Endpoint{"fd00:244:1::11", 8080}, std::string("fd00:60::1")}}) {
    SCOPED_TRACE(frontend.ip);
    const bool v6 = client.v6();
    const Bytes expiring = with_ttl(packet(kTcp, client, frontend), 1);
    auto answer = ingress_in_ns(expiring);
    EXPECT_EQ(answer.verdict, TC_ACT_REDIRECT) << "back out of the interface it came in on";
    IcmpSeen icmp = inspect_icmp(answer.out, expiring);
    EXPECT_EQ(icmp.type, v6 ? 3 : 11);
    EXPECT_EQ(icmp.code, 0);
    EXPECT_EQ(icmp.source, frontend.ip);
    EXPECT_EQ(icmp.destination, client.ip);
    EXPECT_TRUE(icmp.quotes_original) << "about the packet as the client sent it";
    EXPECT_TRUE(icmp.icmp_checksum_ok);
    EXPECT_TRUE(icmp.ip_checksum_ok);
    Seen s = inspect(ingress_in_ns(with_ttl(packet(kTcp, client, frontend), 2)).out);
    EXPECT_EQ(s.ttl, 1);
    EXPECT_TRUE(s.ip_checksum_ok);
    const Endpoint snat{node, port_of(s.source)};
    const Bytes expiring_reply = with_ttl(packet(kTcp, backend, snat), 1);
    icmp = inspect_icmp(ingress_in_ns(expiring_reply).out, expiring_reply);
    EXPECT_EQ(icmp.type, v6 ? 3 : 11);
    EXPECT_EQ(icmp.destination, backend.ip);
    EXPECT_TRUE(icmp.quotes_original);
    EXPECT_EQ(ingress_in_ns(with_ttl(packet(kTcp, backend, snat), 2)).verdict, TC_ACT_REDIRECT);
  }
  EXPECT_EQ(icmp_count(NP_ICMP_TIME_EXCEEDED), 4u);
  EXPECT_EQ(dropped(NP_DROP_TTL), 0u);
}

// ICMP errors about SNATed flows: from a router between this node and the backend's (or the
// backend), about the packet this node sent, back to the client about the packet it sent; from a
// router between the client and this node, about a reply, on to the backend about its reply.
TEST_F(NodePortSnat, IcmpErrorsAboutSnatedFlowsAreTranslatedBothWays) {
  for (const auto& [client, frontend, backend, node] : {std::tuple{Endpoint{"192.168.50.2", 40000}, Endpoint{"192.168.50.1", 30090},
                                                                   Endpoint{"10.244.1.11", 8080}, std::string("192.168.60.1")},
                                                        std::tuple{Endpoint{"fd00:50::2", 40000}, Endpoint{"fd00:50::1", 30092},
                                                                   Endpoint{"fd00:244:1::11", 8080}, std::string("fd00:60::1")}}) {
    SCOPED_TRACE(frontend.ip);
    const bool v6 = client.v6();
    Seen s = inspect(ingress_in_ns(packet(kTcp, client, frontend)).out);
    const Endpoint snat{node, port_of(s.source)};
    const std::string far_router = v6 ? "fd00:60::fe" : "192.168.60.254", near_router = v6 ? "fd00:50::fe" : "192.168.50.254";
    auto to_client = ingress_in_ns(icmp_error(far_router, node, v6 ? 2 : 3, v6 ? 0 : 4, packet(kTcp, snat, backend)));
    EXPECT_EQ(to_client.verdict, TC_ACT_REDIRECT) << "out of the client's interface";
    IcmpErrorSeen e = inspect_icmp_error(to_client.out);
    EXPECT_EQ(e.source, frontend.ip);
    EXPECT_EQ(e.destination, client.ip);
    EXPECT_EQ(e.quoted_source, client.ip + ":40000");
    EXPECT_EQ(e.quoted_destination, frontend.ip + ":" + std::to_string(frontend.port));
    EXPECT_EQ(e.mtu, kPathMtu);
    EXPECT_EQ(e.ttl, 63) << "redirected: forwarded by the program";
    EXPECT_TRUE(e.ip_checksum_ok);
    EXPECT_TRUE(e.icmp_checksum_ok);
    EXPECT_TRUE(e.quoted_ip_checksum_ok);
    auto to_backend = ingress_in_ns(icmp_error(near_router, frontend.ip, v6 ? 2 : 3, v6 ? 0 : 4, packet(kTcp, frontend, client)));
    EXPECT_EQ(to_backend.verdict, TC_ACT_REDIRECT) << "out of the interface towards the backend";
    e = inspect_icmp_error(to_backend.out);
    EXPECT_EQ(e.source, node);
    EXPECT_EQ(e.destination, backend.ip);
    EXPECT_EQ(e.quoted_source, backend.ip + ":8080");
    EXPECT_EQ(e.quoted_destination, node + ":" + std::to_string(snat.port));
    EXPECT_TRUE(e.ip_checksum_ok);
    EXPECT_TRUE(e.icmp_checksum_ok);
    EXPECT_TRUE(e.quoted_ip_checksum_ok);
  }
  EXPECT_EQ(icmp_count(NP_ICMP_FRAG_NEEDED), 4u);
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

}  // namespace
}  // namespace switchyard::dataplane::ebpf::testing
