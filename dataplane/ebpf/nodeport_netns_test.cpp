// Traffic from outside the node through the tc programs: an external client namespace reaching a
// NodePort, a LoadBalancer IP and an externalIP on the node (dataplane/testing/service_topology.h),
// the programs on the node's interface towards the client, maps pinned in a private bpffs. A
// second node namespace ("node-b", reached over its own veth, also an external interface) holds
// a pod of another node: it has no route to the client, so only SNAT to the node's address
// brings its replies back.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gmock/gmock.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <tuple>

#include "dataplane/ebpf/ebpf_backend.h"
#include "dataplane/ebpf/testing/ebpf_test_env.h"
#include "dataplane/ebpf/testing/socket_probe.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/service_topology.h"
#include "endpoints/node/snapshot_diff.h"

namespace switchyard::dataplane::ebpf {
namespace {

using namespace test_cluster;
using dataplane::testing::ServiceTopology;
using ::testing::ElementsAre;
using ::testing::Key;
using ::testing::Pair;

constexpr const char* kPodA = "10.244.0.11";
constexpr const char* kPodB = "10.244.0.12";
constexpr const char* kPodAv6 = "fd00:244::11";
constexpr const char* kPodBv6 = "fd00:244::12";
// node-b: its pod pod-c, and the node's address on the link to it (what SNAT puts as source).
constexpr const char* kPodC = "10.244.1.11";
constexpr const char* kPodCv6 = "fd00:244:1::11";
constexpr const char* kNodeToNodeB = "192.168.60.1";
constexpr const char* kNodeToNodeBv6 = "fd00:60::1";
constexpr int kEchoPort = 5353;

class NodePortTraffic : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for namespaces and BPF";
    auto env = testing::EbpfTestEnv::create();
    ASSERT_TRUE(env) << env.error();
    env_.emplace(std::move(*env));
    auto t = ServiceTopology::create({{"pod-a", kPodA, 8080, kPodAv6}, {"pod-b", kPodB, 8080, kPodBv6}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    ASSERT_NO_FATAL_FAILURE(wire_node_b());
    // pod-a runs on this node, pod-b on another one (as far as the Snapshot says).
    state_.upsert(node_port_service("np", "10.96.0.30", 30080));
    state_.upsert(slice("np", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    auto local = node_port_service("local", "10.96.0.40", 30081);
    local.spec.external_traffic_policy = "Local";
    state_.upsert(local);
    state_.upsert(slice("local", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    auto lb = node_port_service("lb", "10.96.0.60", 30082);
    lb.spec.type = "LoadBalancer";
    lb.spec.external_ips = {"192.0.2.10"};
    lb.status_load_balancer_ingress = {api::LoadBalancerIngress{.ip = "203.0.113.10"}};
    state_.upsert(lb);
    state_.upsert(slice("lb", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(node_port_service("empty", "10.96.0.20", 30085));
    state_.upsert(dual_stack(node_port_service("web6", "10.96.0.80", 30084), "fd00:96::80"));
    state_.upsert(slice("web6", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(slice("web6", {{kPodAv6, "node-a"}, {kPodBv6, "node-b"}}, 8080, "IPv6"));
    // On node-b only: SNAT under Cluster, nothing local under Local.
    state_.upsert(dual_stack(node_port_service("remote", "10.96.0.90", 30086), "fd00:96::90"));
    state_.upsert(slice("remote", {{kPodC, "node-b"}}));
    state_.upsert(slice("remote", {{kPodCv6, "node-b"}}, 8080, "IPv6"));
    auto remote_local = node_port_service("remote-local", "10.96.0.91", 30087);
    remote_local.spec.external_traffic_policy = "Local";
    state_.upsert(remote_local);
    state_.upsert(slice("remote-local", {{kPodC, "node-b"}}));
    auto echo = service("echo", "10.96.0.53", 53, kEchoPort);
    echo.spec.type = "NodePort";
    echo.spec.ports[0].protocol = "UDP";
    echo.spec.ports[0].node_port = 30053;
    state_.upsert(echo);
    auto echo_slice = slice("echo", {{kPodC, "node-b"}}, kEchoPort);
    echo_slice.ports[0].protocol = "UDP";
    state_.upsert(echo_slice);
    state_.upsert(dual_stack(node_port_service("empty6", "10.96.0.21", 30088), "fd00:96::21"));
    // loadBalancerSourceRanges: one admits the client's network, one does not.
    for (auto [name, ip, range] : {std::tuple{"open", "203.0.113.20", "192.168.50.0/24"}, {"fenced", "203.0.113.21", "198.51.100.0/24"}}) {
      auto svc = service(name, ip == std::string("203.0.113.20") ? "10.96.0.70" : "10.96.0.71");
      svc.spec.type = "LoadBalancer";
      svc.spec.load_balancer_source_ranges = {range};
      svc.status_load_balancer_ingress = {api::LoadBalancerIngress{.ip = ip}};
      state_.upsert(svc);
      state_.upsert(slice(name, {{kPodA, "node-a"}}));
    }
    snapshot_ = state_.build();
    ASSERT_NO_FATAL_FAILURE(start_backend());
  }

  // node-b: a namespace behind its own veth (vnodeb), with pod-c's addresses on its loopback
  // and no route to the client: only the link to this node.
  void wire_node_b() {
    auto nb = dataplane::testing::NetworkNamespace::create(dataplane::testing::NetworkNamespace::unique_name("sy-np", "nodeb"));
    ASSERT_TRUE(nb) << nb.error();
    node_b_.emplace(std::move(*nb));
    auto r = topology_->node().run("ip link add vnodeb type veth peer name eth0 netns " + node_b_->name() + " && ip addr add " +
                                   kNodeToNodeB + "/24 dev vnodeb && ip -6 addr add " + kNodeToNodeBv6 +
                                   "/64 dev vnodeb nodad && ip link set vnodeb up && ip route add 10.244.1.0/24 via 192.168.60.2"
                                   " && ip -6 route add fd00:244:1::/64 via fd00:60::2");
    ASSERT_TRUE(r.ok()) << r.output;
    r = node_b_->run(std::string("ip link set lo up && ip addr add ") + kPodC + "/32 dev lo && ip -6 addr add " + kPodCv6 +
                     "/128 dev lo && ip addr add 192.168.60.2/24 dev eth0 && ip -6 addr add fd00:60::2/64 dev eth0 nodad"
                     " && ip link set eth0 up"
                     // Replies leave from the pod's address, as in a pod whose only address it is.
                     " && ip route replace 192.168.60.0/24 dev eth0 src " +
                     kPodC + " && ip -6 route replace fd00:60::/64 dev eth0 src " + kPodCv6);
    ASSERT_TRUE(r.ok()) << r.output;
    ASSERT_TRUE(node_b_->spawn({"python3", "-c", ServiceTopology::http_server_script(), "pod-c", "8080"}));
    ASSERT_TRUE(node_b_->spawn({"python3", "-c", testing::kUdpEchoServer, "pod-c", std::to_string(kEchoPort)}));
    bool up = false;
    for (int attempt = 0; attempt < 100 && !up; ++attempt) {
      up = topology_->node().run(std::string("curl -s --max-time 1 http://") + kPodC + ":8080/").ok();
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(up) << "pod-c's server";
    ASSERT_EQ(testing::wait_for_udp_echo(topology_->node(), {{"pod-c", kPodC}}, kEchoPort), "");
  }

  // In the node's namespace: the tc programs go on its interface towards the client.
  void start_backend(bool xdp = false) {
    auto& t = *topology_;
    auto options = env_->options("node-a");
    options.nodeport_xdp = xdp;
    options.scope_netns = {t.node().path(), t.pod("pod-a").path(), t.pod("pod-b").path()};
    options.external_interfaces = {"vclient", "vnodeb"};
    Result<std::unique_ptr<EbpfBackend>> created = std::unexpected(Error{ErrorCode::Internal, "not run"});
    auto entered = t.node().enter([&] { created = EbpfBackend::create(options); });
    ASSERT_TRUE(entered) << entered.error();
    ASSERT_TRUE(created) << created.error().message;
    backend_ = std::move(*created);
    auto ok = backend_->full_sync(*snapshot_);
    ASSERT_TRUE(ok) << ok.error().message;
  }

  // A tc program counter, summed over CPUs, from the pinned metrics map.
  std::uint64_t np_metric(std::uint32_t which) {
    const int fd = bpf_obj_get((backend_->pin_dir() + "/np_metrics_v1").c_str());
    EXPECT_GE(fd, 0);
    std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(libbpf_num_possible_cpus()));
    EXPECT_EQ(bpf_map_lookup_elem(fd, &which, per_cpu.data()), 0);
    close(fd);
    std::uint64_t sum = 0;
    for (auto v : per_cpu) sum += v;
    return sum;
  }

  std::string tc_filters() { return topology_->node().run("tc filter show dev vclient ingress").output; }
  // The kernel keeps 15 characters of a program's name.
  static constexpr const char* kIngressProgram = "nodeport_ingres";

  std::optional<testing::EbpfTestEnv> env_;
  std::optional<ServiceTopology> topology_;
  std::optional<dataplane::testing::NetworkNamespace> node_b_;
  std::unique_ptr<EbpfBackend> backend_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_;
};

TEST_F(NodePortTraffic, NodePortFromAnExternalClientReachesEveryEndpoint) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIp, 30080, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  auto r = t.get(t.client(), ServiceTopology::kNodeIp, 30080);
  ASSERT_TRUE(r.ok) << r.pod;
  // Pods of this node see the client even under Cluster policy: their replies pass through here.
  EXPECT_EQ(r.seen_client, ServiceTopology::kClientIp);
}

TEST_F(NodePortTraffic, ClusterPolicyToAPodOnAnotherNodeIsSnatedToThisNodesAddress) {
  auto& t = *topology_;
  for (int i = 0; i < 10; ++i) {
    auto r = t.get(t.client(), ServiceTopology::kNodeIp, 30086);
    ASSERT_TRUE(r.ok) << r.pod;
    EXPECT_EQ(r.pod, "pod-c");
    EXPECT_EQ(r.seen_client, kNodeToNodeB) << "the node's address on the route to node-b";
  }
  auto r6 = t.get(t.client(), ServiceTopology::kNodeIpv6, 30086);
  ASSERT_TRUE(r6.ok) << r6.pod;
  EXPECT_EQ(r6.pod, "pod-c");
  EXPECT_EQ(r6.seen_client, kNodeToNodeBv6);
  // UDP too: the answer comes back from the node port.
  auto u = testing::udp_exchange(t.client(), ServiceTopology::kNodeIp, 30053);
  EXPECT_EQ(u.error, 0) << std::strerror(u.error);
  EXPECT_EQ(u.answer, "pod-c");
  EXPECT_EQ(u.peer, std::string(ServiceTopology::kNodeIp) + ":30053");
}

TEST_F(NodePortTraffic, LocalPolicyWithEndpointsOnlyOnAnotherNodeIsDropped) {
  auto& t = *topology_;
  auto r = t.get(t.client(), ServiceTopology::kNodeIp, 30087, 1);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.curl_exit, 28) << "dropped, as kube-proxy does (the load balancer's health check avoids this node): " << r.pod;
}

TEST_F(NodePortTraffic, LoadBalancerSourceRangesAdmitOnlyTheirSources) {
  auto& t = *topology_;
  auto open = t.get(t.client(), "203.0.113.20", 80);
  ASSERT_TRUE(open.ok) << open.pod;
  EXPECT_EQ(open.pod, "pod-a");
  auto fenced = t.get(t.client(), "203.0.113.21", 80, 1);
  EXPECT_FALSE(fenced.ok);
  EXPECT_EQ(fenced.curl_exit, 28) << "dropped: " << fenced.pod;
}

TEST_F(NodePortTraffic, ExternalTrafficPolicyLocalKeepsTheSourceAndUsesOnlyLocalEndpoints) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIp, 30081, 20), ElementsAre(Pair("pod-a", 20)));
  auto r = t.get(t.client(), ServiceTopology::kNodeIp, 30081);
  ASSERT_TRUE(r.ok) << r.pod;
  EXPECT_EQ(r.seen_client, ServiceTopology::kClientIp);
}

TEST_F(NodePortTraffic, LoadBalancerIpAndExternalIpFromAnExternalClient) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.client(), "203.0.113.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  EXPECT_THAT(t.spread(t.client(), "192.0.2.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_F(NodePortTraffic, Ipv6NodePort) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIpv6, 30084, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_F(NodePortTraffic, NodePortWithoutEndpointsIsRejectedAtOnce) {
  auto& t = *topology_;
  for (const char* node : {ServiceTopology::kNodeIp, ServiceTopology::kNodeIpv6}) {
    auto r = t.get(t.client(), node, node == ServiceTopology::kNodeIp ? 30085 : 30088, 5);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.curl_exit, 7) << "connection refused (ICMP port unreachable): " << r.pod;
    EXPECT_LT(r.seconds, 2.5) << "refused, not timed out";
  }
}

TEST_F(NodePortTraffic, RemovedEndpointGetsNoNewExternalConnections) {
  auto& t = *topology_;
  state_.upsert(slice("np", {{kPodB, "node-b"}}));
  auto next = state_.build();
  auto ok = backend_->sync(*snapshot_, *next, endpoints::diff_snapshots(*snapshot_, *next));
  ASSERT_TRUE(ok) << ok.error().message;
  snapshot_ = next;
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIp, 30080, 15), ElementsAre(Pair("pod-b", 15)));
}

// --ebpf-nodeport-mode xdp: nodeport_xdp on the external interfaces (native on veth) DNATs
// every packet of a flow after its first (which tc tracks); replies still go through tc egress.
TEST_F(NodePortTraffic, XdpModeCarriesExternalTraffic) {
  auto& t = *topology_;
  backend_.reset();
  ASSERT_NO_FATAL_FAILURE(start_backend(true));
  EXPECT_THAT(backend_->objects().xdp_modes(), ElementsAre("native", "native"));
  EXPECT_THAT(t.node().run("ip link show vclient").output, ::testing::HasSubstr("prog/xdp"));
  const std::uint64_t before = np_metric(NP_METRIC_XDP_DNAT);
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIp, 30080, 20), ElementsAre(Key("pod-a"), Key("pod-b")));
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIpv6, 30084, 10), ElementsAre(Key("pod-a"), Key("pod-b")));
  // Each HTTP exchange sends several packets after the SYN: all of them DNATed in XDP.
  EXPECT_GE(np_metric(NP_METRIC_XDP_DNAT) - before, 30u * 3);
  // SNAT flows take the tc path and work as before.
  auto r = t.get(t.client(), ServiceTopology::kNodeIp, 30086);
  ASSERT_TRUE(r.ok) << r.pod;
  EXPECT_EQ(r.seen_client, kNodeToNodeB);
  auto cleaned = backend_->cleanup();
  ASSERT_TRUE(cleaned) << cleaned.error().message;
  EXPECT_THAT(t.node().run("ip link show vclient").output, ::testing::Not(::testing::HasSubstr("prog/xdp")));
}

TEST_F(NodePortTraffic, RestartReplacesTheFiltersAndCleanupRemovesThem) {
  auto& t = *topology_;
  EXPECT_THAT(tc_filters(), ::testing::HasSubstr(kIngressProgram));
  backend_.reset();  // the agent goes away: filters and pinned maps stay
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIp, 30080, 10), ElementsAre(Key("pod-a"), Key("pod-b")));
  ASSERT_NO_FATAL_FAILURE(start_backend());
  EXPECT_TRUE(backend_->reused_pins());
  auto filters = tc_filters();
  ASSERT_NE(filters.find(kIngressProgram), std::string::npos) << filters;
  EXPECT_EQ(filters.find("handle 0x5359"), filters.rfind("handle 0x5359")) << "one filter, replaced: " << filters;
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIp, 30080, 10), ElementsAre(Key("pod-a"), Key("pod-b")));
  auto cleaned = backend_->cleanup();
  ASSERT_TRUE(cleaned) << cleaned.error().message;
  EXPECT_THAT(tc_filters(), ::testing::Not(::testing::HasSubstr("nodeport")));
  EXPECT_FALSE(t.get(t.client(), ServiceTopology::kNodeIp, 30080, 1).ok);
}

}  // namespace
}  // namespace switchyard::dataplane::ebpf
