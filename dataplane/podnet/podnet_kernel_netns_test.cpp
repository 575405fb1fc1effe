// PodNetwork in two namespaces the test creates ("nodes" on one veth link), each holding an
// address of its pod CIDR on lo as a stand-in pod: host-gw routes, the VXLAN device with its FDB
// and neighbour entries, real pings between the "pods", removal of a departed peer, and a restart
// that reuses the device and removes a leftover route.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "dataplane/podnet/masquerade.h"
#include "dataplane/podnet/pod_network.h"
#include "dataplane/testing/network_namespace.h"

namespace switchyard::dataplane::podnet {
namespace {

using ::testing::HasSubstr;
using testing::NetworkNamespace;
using ::testing::Not;

// Packets the namespace's sy-vxlan sent ("tx") or received ("rx"); -1 if unreadable. (/sys here
// is the host's: nsenter keeps the mounts.)
long vxlan_packets(const NetworkNamespace& ns, const std::string& direction) {
  const auto out = ns.run("ip -s -j link show sy-vxlan | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"stats64\"][\"" +
                          direction + "\"][\"packets\"])'");
  return out.ok() ? std::stol(out.output) : -1;
}

class PodNetworkNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* role : {"a", "b"}) {
      auto ns = NetworkNamespace::create(NetworkNamespace::unique_name("sy-pn", role));
      ASSERT_TRUE(ns) << ns.error();
      nodes_.push_back(std::move(*ns));
    }
    const std::string va = "sypn" + std::to_string(::getpid() % 100000) + "a", vb = "sypn" + std::to_string(::getpid() % 100000) + "b";
    auto link = testing::run_on_host("ip link add " + va + " netns " + a().name() + " type veth peer name " + vb + " netns " + b().name());
    ASSERT_TRUE(link.ok()) << link.output;
    ASSERT_TRUE(a().run("ip addr add 10.90.0.1/24 dev " + va + " && ip link set " + va +
                        " up && ip link set lo up && ip addr add 10.244.0.1/32 dev lo")
                    .ok());
    ASSERT_TRUE(b().run("ip addr add 10.90.0.2/24 dev " + vb + " && ip link set " + vb +
                        " up && ip link set lo up && ip addr add 10.244.1.1/32 dev lo")
                    .ok());
  }

  NetworkNamespace& a() { return nodes_[0]; }
  NetworkNamespace& b() { return nodes_[1]; }

  static PodNetworkOptions options(PodNetworkMode mode, const std::string& ip, const std::string& cidr) {
    return {.mode = mode, .node_ip = ip, .pod_cidrs = {cidr}, .cluster_cidrs = {"10.244.0.0/16"}};
  }
  // A PodNetwork made in `ns` (its socket stays there); the error text if it could not be.
  std::unique_ptr<PodNetwork> create(NetworkNamespace& ns, const PodNetworkOptions& o, std::string& error) {
    std::unique_ptr<PodNetwork> out;
    auto entered = ns.enter([&] {
      auto created = PodNetwork::create(o);
      if (created)
        out = std::move(*created);
      else
        error = created.error().message;
    });
    if (!entered) error = entered.error();
    return out;
  }
  std::string sync(PodNetwork& net, const std::vector<PeerNode>& peers) {
    auto ok = net.sync(peers);
    return ok ? "" : ok.error().message;
  }
  // From a's "pod" to b's: a ping sourced from the pod address.
  bool ping(NetworkNamespace& from, const std::string& source, const std::string& to) {
    return from.run("busybox ping -c 1 -W 2 -I " + source + " " + to).ok();
  }

  std::vector<NetworkNamespace> nodes_;
};

TEST_F(PodNetworkNetns, HostGwRoutesEachNodesPodsViaTheOther) {
  std::string error;
  auto net_a = create(a(), options(PodNetworkMode::HostGw, "10.90.0.1", "10.244.0.0/24"), error);
  ASSERT_TRUE(net_a) << error;
  auto net_b = create(b(), options(PodNetworkMode::HostGw, "10.90.0.2", "10.244.1.0/24"), error);
  ASSERT_TRUE(net_b) << error;
  EXPECT_EQ(net_a->vtep_mac(), "") << "host-gw makes no VXLAN device";
  ASSERT_EQ(sync(*net_a, {{"b", "10.90.0.2", {"10.244.1.0/24"}, ""}}), "");
  ASSERT_EQ(sync(*net_b, {{"a", "10.90.0.1", {"10.244.0.0/24"}, ""}}), "");
  EXPECT_THAT(a().run("ip route show 10.244.1.0/24").output, HasSubstr("10.244.1.0/24 via 10.90.0.2 dev sypn"));
  EXPECT_THAT(a().run("ip route show 10.244.1.0/24").output, HasSubstr("proto 77"));
  EXPECT_TRUE(ping(a(), "10.244.0.1", "10.244.1.1"));
  EXPECT_TRUE(ping(b(), "10.244.1.1", "10.244.0.1"));
  // The peer goes: its route goes.
  ASSERT_EQ(sync(*net_a, {}), "");
  EXPECT_EQ(a().run("ip route show 10.244.1.0/24").output, "");
  EXPECT_FALSE(ping(a(), "10.244.0.1", "10.244.1.1"));
}

TEST_F(PodNetworkNetns, VxlanCarriesPodTrafficAndARestartReusesTheDevice) {
  std::string error;
  auto net_a = create(a(), options(PodNetworkMode::Vxlan, "10.90.0.1", "10.244.0.0/24"), error);
  ASSERT_TRUE(net_a) << error;
  auto net_b = create(b(), options(PodNetworkMode::Vxlan, "10.90.0.2", "10.244.1.0/24"), error);
  ASSERT_TRUE(net_b) << error;
  ASSERT_EQ(net_a->vtep_mac().size(), 17u);
  EXPECT_THAT(a().run("ip -d link show sy-vxlan").output, HasSubstr("vxlan id 1 local 10.90.0.1 dev sypn"));
  EXPECT_THAT(a().run("ip -d link show sy-vxlan").output, HasSubstr("dstport 8472 nolearning"));
  EXPECT_THAT(a().run("ip addr show sy-vxlan").output, HasSubstr("inet 10.244.0.0/32"));
  const PeerNode peer_b{"b", "10.90.0.2", {"10.244.1.0/24"}, net_b->vtep_mac()};
  ASSERT_EQ(sync(*net_a, {peer_b}), "");
  ASSERT_EQ(sync(*net_b, {{"a", "10.90.0.1", {"10.244.0.0/24"}, net_a->vtep_mac()}}), "");
  EXPECT_THAT(a().run("ip route show 10.244.1.0/24").output, HasSubstr("10.244.1.0/24 via 10.244.1.0 dev sy-vxlan proto 77 onlink"));
  EXPECT_THAT(a().run("bridge fdb show dev sy-vxlan").output, HasSubstr(net_b->vtep_mac() + " dst 10.90.0.2 self permanent"));
  EXPECT_THAT(a().run("ip neigh show dev sy-vxlan").output, HasSubstr("10.244.1.0 lladdr " + net_b->vtep_mac() + " PERMANENT"));
  EXPECT_TRUE(ping(a(), "10.244.0.1", "10.244.1.1"));
  EXPECT_TRUE(ping(b(), "10.244.1.1", "10.244.0.1"));
  // The packets crossed the link as VXLAN (UDP 8472), not as plain routed IP.
  EXPECT_GT(vxlan_packets(a(), "tx"), 0);
  EXPECT_GT(vxlan_packets(b(), "rx"), 0);

  // A restart: the same device (same MAC, so the peers' entries stay right), and a route left by
  // a node that went while the agent was down is removed by the first sync.
  const std::string mac = net_a->vtep_mac();
  ASSERT_TRUE(a().run("ip route add 10.244.7.0/24 via 10.90.0.2 proto 77").ok());
  net_a.reset();
  net_a = create(a(), options(PodNetworkMode::Vxlan, "10.90.0.1", "10.244.0.0/24"), error);
  ASSERT_TRUE(net_a) << error;
  EXPECT_EQ(net_a->vtep_mac(), mac);
  EXPECT_TRUE(ping(a(), "10.244.0.1", "10.244.1.1")) << "the kernel state outlives the agent";
  ASSERT_EQ(sync(*net_a, {peer_b}), "");
  EXPECT_EQ(a().run("ip route show 10.244.7.0/24").output, "");
  EXPECT_TRUE(ping(a(), "10.244.0.1", "10.244.1.1"));
  EXPECT_EQ(a().run("ip -o link show type vxlan | wc -l").output, "1\n");

  // The peer goes: route, neighbour and FDB entry go.
  ASSERT_EQ(sync(*net_a, {}), "");
  EXPECT_EQ(a().run("ip route show 10.244.1.0/24").output, "");
  EXPECT_THAT(a().run("bridge fdb show dev sy-vxlan").output, Not(HasSubstr("dst 10.90.0.2")));
  EXPECT_THAT(a().run("ip neigh show dev sy-vxlan").output, Not(HasSubstr("10.244.1.0")));
}

// Nodes on two subnets joined by a router namespace: auto finds no connected subnet for the
// peer and takes the VXLAN device, whose packets the router forwards like any other UDP.
TEST(PodNetworkAcrossARouter, AutoTakesVxlanForAPeerBehindARouter) {
  std::vector<NetworkNamespace> ns;
  for (const char* role : {"a", "r", "b"}) {
    auto created = NetworkNamespace::create(NetworkNamespace::unique_name("sy-pnr", role));
    ASSERT_TRUE(created) << created.error();
    ns.push_back(std::move(*created));
  }
  NetworkNamespace &a = ns[0], &r = ns[1], &b = ns[2];
  const std::string id = std::to_string(::getpid() % 100000);
  for (auto [node, side, net] : {std::tuple{&a, "a", "10.90.0"}, std::tuple{&b, "b", "10.91.0"}}) {
    const std::string outer = "sypr" + id + side, inner = "sypr" + id + side + "r";
    auto link =
        testing::run_on_host("ip link add " + outer + " netns " + node->name() + " type veth peer name " + inner + " netns " + r.name());
    ASSERT_TRUE(link.ok()) << link.output;
    ASSERT_TRUE(node->run(std::string("ip addr add ") + net + ".2/24 dev " + outer + " && ip link set " + outer +
                          " up && ip link set lo up && ip route add default via " + net + ".254")
                    .ok());
    ASSERT_TRUE(r.run(std::string("ip addr add ") + net + ".254/24 dev " + inner + " && ip link set " + inner + " up").ok());
  }
  ASSERT_TRUE(r.run("sysctl -qw net.ipv4.ip_forward=1").ok());
  ASSERT_TRUE(a.run("ip addr add 10.244.0.1/32 dev lo").ok());
  ASSERT_TRUE(b.run("ip addr add 10.244.1.1/32 dev lo").ok());
  std::unique_ptr<PodNetwork> net_a, net_b;
  std::string error;
  for (auto [node, out, ip, cidr] :
       {std::tuple{&a, &net_a, "10.90.0.2", "10.244.0.0/24"}, std::tuple{&b, &net_b, "10.91.0.2", "10.244.1.0/24"}})
    ASSERT_TRUE(node->enter([&] {
      auto created =
          PodNetwork::create({.mode = PodNetworkMode::Auto, .node_ip = ip, .pod_cidrs = {cidr}, .cluster_cidrs = {"10.244.0.0/16"}});
      if (created)
        *out = std::move(*created);
      else
        error = created.error().message;
    }));
  ASSERT_TRUE(net_a && net_b) << error;
  ASSERT_TRUE(net_a->sync({{"b", "10.91.0.2", {"10.244.1.0/24"}, net_b->vtep_mac()}}));
  ASSERT_TRUE(net_b->sync({{"a", "10.90.0.2", {"10.244.0.0/24"}, net_a->vtep_mac()}}));
  EXPECT_THAT(a.run("ip route show 10.244.1.0/24").output, HasSubstr("via 10.244.1.0 dev sy-vxlan"));
  EXPECT_TRUE(a.run("busybox ping -c 1 -W 2 -I 10.244.0.1 10.244.1.1").ok())
      << a.run("ip route; ip neigh; bridge fdb show dev sy-vxlan").output;
  EXPECT_GT(vxlan_packets(b, "rx"), 0) << "the ping came through the device";
}

TEST_F(PodNetworkNetns, PodTrafficLeavingTheClusterIsMasqueradedAndPodToPodIsNot) {
  std::string error;
  auto net_a = create(a(), options(PodNetworkMode::HostGw, "10.90.0.1", "10.244.0.0/24"), error);
  ASSERT_TRUE(net_a) << error;
  auto net_b = create(b(), options(PodNetworkMode::HostGw, "10.90.0.2", "10.244.1.0/24"), error);
  ASSERT_TRUE(net_b) << error;
  ASSERT_EQ(sync(*net_a, {{"b", "10.90.0.2", {"10.244.1.0/24"}, ""}}), "");
  ASSERT_EQ(sync(*net_b, {{"a", "10.90.0.1", {"10.244.0.0/24"}, ""}}), "");
  EXPECT_THAT(a().run("nft list table ip switchyard-podnet").output, HasSubstr("masquerade"));
  EXPECT_EQ(render_masquerade_rules({"10.244.0.0/16"}, {"10.244.0.0/24"}),
            "ip saddr 10.244.0.0/16 ip daddr 10.244.0.0/16 return\n"
            "ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random\n"
            "ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/24 return\n"
            "ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random\n");
  // A server on b that answers with the client's address (busybox httpd's CGI).
  struct TempDir {
    std::filesystem::path path = "/tmp/sy-pn-www-" + std::to_string(::getpid());
    ~TempDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } dir;
  const std::filesystem::path& www = dir.path;
  std::filesystem::create_directories(www / "cgi-bin");
  std::ofstream(www / "cgi-bin" / "ip") << "#!/bin/sh\necho Content-Type: text/plain\necho\necho \"$REMOTE_ADDR\"\n";
  std::filesystem::permissions(www / "cgi-bin" / "ip", std::filesystem::perms::owner_all);
  ASSERT_TRUE(b().spawn({"busybox", "httpd", "-f", "-p", "8080", "-h", www.string()}));
  // From a's "pod" address: to b's node address (outside the cluster) and to b's "pod".
  auto from_pod = [&](const std::string& to) {
    return a()
        .run("python3 -c \"import socket,sys; s=socket.create_connection(('" + to +
             "', 8080), timeout=3, source_address=('10.244.0.1', 0)); s.sendall(b'GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n'); "
             "sys.stdout.write(s.makefile('rb').read().decode().split('\\r\\n\\r\\n')[-1])\"")
        .output;
  };
  std::string seen;
  for (int i = 0; i < 50 && (seen = from_pod("10.90.0.2")).find("10.90.0.1") == std::string::npos; ++i) ::usleep(100'000);
  EXPECT_THAT(seen, HasSubstr("10.90.0.1")) << "b sees a's node address";
  EXPECT_THAT(seen, Not(HasSubstr("10.244.0.1")));
  EXPECT_THAT(from_pod("10.244.1.1"), HasSubstr("10.244.0.1"));
  Result<void> removed;
  ASSERT_TRUE(a().enter([&] { removed = remove_masquerade(); }));
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_THAT(a().run("nft list table ip switchyard-podnet").output, HasSubstr("No such file"));
}

}  // namespace
}  // namespace switchyard::dataplane::podnet
