// The service scenarios of the nftables and eBPF issues, written once and run against both
// backends (TEST_P over BackendKind): a node namespace with two routed pods (HTTP servers
// answering with their name, UDP echo servers), real clients from the node, from a pod and from
// an external client namespace. What only one backend does (nftables: masquerade under Cluster
// policy, source ranges, reject of external traffic; eBPF: VIP as getpeername peer, restart over
// pins) is tested beside that backend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <thread>

#include "dataplane/conntrack_cleanup.h"
#include "dataplane/ebpf/ebpf_backend.h"
#include "dataplane/ebpf/testing/ebpf_test_env.h"
#include "dataplane/ebpf/testing/socket_probe.h"
#include "dataplane/iptables/nftables_backend.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/service_topology.h"
#include "endpoints/node/snapshot_diff.h"

namespace switchyard::dataplane {
namespace {

using namespace test_cluster;
using ::testing::ElementsAre;
using ::testing::Key;
using ::testing::Pair;
using testing::ServiceTopology;

enum class BackendKind { nftables, ebpf };

constexpr const char* kPodA = "10.244.0.11";
constexpr const char* kPodB = "10.244.0.12";
constexpr const char* kPodAv6 = "fd00:244::11";
constexpr const char* kPodBv6 = "fd00:244::12";
constexpr int kEchoPort = 5353;

class ClusterIpTraffic : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    if (GetParam() == BackendKind::ebpf) {
      auto env = ebpf::testing::EbpfTestEnv::create();
      ASSERT_TRUE(env) << env.error();
      ebpf_env_.emplace(std::move(*env));
    }
    auto t = ServiceTopology::create({{"pod-a", kPodA, 8080, kPodAv6}, {"pod-b", kPodB, 8080, kPodBv6}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    for (const char* pod : {"pod-a", "pod-b"})
      ASSERT_TRUE(topology_->pod(pod).spawn({"python3", "-c", ebpf::testing::kUdpEchoServer, pod, std::to_string(kEchoPort)}));
    auto echo_up = ebpf::testing::wait_for_udp_echo(
        topology_->node(), {{"pod-a", kPodA}, {"pod-b", kPodB}, {"pod-a", kPodAv6}, {"pod-b", kPodBv6}}, kEchoPort);
    ASSERT_EQ(echo_up, "");
    ASSERT_NO_FATAL_FAILURE(create_backend());

    state_.upsert(service("web", "10.96.0.10"));
    state_.upsert(slice("web", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(dual_stack(service("empty", "10.96.0.20"), "fd00:96::20"));
    auto sticky = service("sticky", "10.96.0.50");
    sticky.spec.session_affinity = "ClientIP";
    sticky.spec.session_affinity_timeout_seconds = 60;
    state_.upsert(sticky);
    state_.upsert(slice("sticky", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(dual_stack(service("web6", "10.96.0.80"), "fd00:96::80"));
    state_.upsert(slice("web6", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(slice("web6", {{kPodAv6, "node-a"}, {kPodBv6, "node-b"}}, 8080, "IPv6"));
    auto echo = service("echo", "10.96.0.53", 53, kEchoPort);
    echo.spec.ports[0].protocol = "UDP";
    state_.upsert(echo);
    auto echo_slice = slice("echo", {{kPodA, "node-a"}, {kPodB, "node-b"}}, kEchoPort);
    echo_slice.ports[0].protocol = "UDP";
    state_.upsert(echo_slice);
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
    snapshot_ = state_.build();
    auto ok = backend_->full_sync(*snapshot_);
    ASSERT_TRUE(ok) << ok.error().message;
  }

  void create_backend() {
    auto& t = *topology_;
    if (GetParam() == BackendKind::nftables) {
      nft::NftablesBackendOptions options;
      options.generator.cluster_cidrs = {ServiceTopology::kPodCidr, ServiceTopology::kPodCidrIpv6};
      Result<std::unique_ptr<nft::NftablesBackend>> created = std::unexpected(Error{ErrorCode::Internal, "not run"});
      Result<std::unique_ptr<ConntrackCleaner>> cleaner = std::unexpected(Error{ErrorCode::Internal, "not run"});
      auto entered = t.node().enter([&] {
        created = nft::NftablesBackend::create(options);
        cleaner = ConntrackCleaner::create();  // as the agent runs it beside the nftables backend
      });
      ASSERT_TRUE(entered) << entered.error();
      ASSERT_TRUE(created) << created.error().message;
      ASSERT_TRUE(cleaner) << cleaner.error().message;
      backend_ = std::move(*created);
      conntrack_cleaner_ = std::move(*cleaner);
    } else {
      auto options = ebpf_env_->options("node-a");
      options.scope_netns = {t.node().path(), t.pod("pod-a").path(), t.pod("pod-b").path()};
      options.external_interfaces = {"vclient"};  // towards the external client
      Result<std::unique_ptr<ebpf::EbpfBackend>> created = std::unexpected(Error{ErrorCode::Internal, "not run"});
      auto entered = t.node().enter([&] { created = ebpf::EbpfBackend::create(options); });
      ASSERT_TRUE(entered) << entered.error();
      ASSERT_TRUE(created) << created.error().message;
      backend_ = std::move(*created);
    }
  }

  void sync() {
    auto next = state_.build();
    const auto diff = endpoints::diff_snapshots(*snapshot_, *next);
    auto ok = backend_->sync(*snapshot_, *next, diff);
    ASSERT_TRUE(ok) << ok.error().message;
    if (conntrack_cleaner_) {
      auto cleaned = conntrack_cleaner_->on_sync(*snapshot_, *next, diff);
      ASSERT_TRUE(cleaned) << cleaned.error().message;
    }
    snapshot_ = next;
  }

  // Declared first: removed last, after the backend and the namespaces.
  std::optional<ebpf::testing::EbpfTestEnv> ebpf_env_;
  std::optional<ServiceTopology> topology_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<ConntrackCleaner> conntrack_cleaner_;  // nftables only
  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_;
};

TEST_P(ClusterIpTraffic, FromTheNodeReachesEveryEndpoint) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_P(ClusterIpTraffic, FromAPodReachesEveryEndpointIncludingItself) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.pod("pod-a"), "10.96.0.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_P(ClusterIpTraffic, ServiceWithoutEndpointsIsRefusedAtOnce) {
  auto& t = *topology_;
  for (auto* from : {&t.node(), &t.pod("pod-a")})
    for (const char* vip : {"10.96.0.20", "fd00:96::20"}) {
      auto r = t.get(*from, vip, 80, 5);
      EXPECT_EQ(r.curl_exit, 7) << vip << " from " << from->name() << ": refused expected; " << r.pod;
      EXPECT_LT(r.seconds, 1.0) << "a reject, not a timeout";
    }
}

TEST_P(ClusterIpTraffic, ClientIpAffinitySticks) {
  auto& t = *topology_;
  auto spread = t.spread(t.pod("pod-b"), "10.96.0.50", 80, 15);
  ASSERT_EQ(spread.size(), 1u) << "every connection from one client goes to one endpoint";
  EXPECT_EQ(spread.begin()->second, 15);
}

TEST_P(ClusterIpTraffic, UdpRepliesComeFromTheVip) {
  auto& t = *topology_;
  std::set<std::string> answered;
  for (int i = 0; i < 12; ++i) {
    auto r = ebpf::testing::udp_exchange(t.node(), "10.96.0.53", 53);
    ASSERT_EQ(r.error, 0) << std::strerror(r.error);
    EXPECT_EQ(r.peer, "10.96.0.53:53");
    answered.insert(r.answer);
  }
  EXPECT_THAT(answered, ::testing::IsSubsetOf({"pod-a", "pod-b"}));
}

// A client that keeps one connected UDP socket: after its endpoint is removed its datagrams reach
// the remaining one (nftables: the stale conntrack entry is deleted; eBPF: the socket, translated
// at connect(), is destroyed and the client connects again, as applications do on an error).
TEST_P(ClusterIpTraffic, ConnectedUdpFlowMovesWhenItsEndpointIsRemoved) {
  auto& t = *topology_;
  auto client = ebpf::testing::ConnectedUdpClient::open(t.node(), "10.96.0.53", 53);
  ASSERT_TRUE(client) << client.error();
  auto first = client->exchange();
  ASSERT_EQ(first.error, 0) << std::strerror(first.error);
  const std::string gone = first.answer;
  ASSERT_TRUE(gone == "pod-a" || gone == "pod-b") << gone;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client->exchange().answer, gone) << "a connected flow stays on its endpoint";
  const std::string stays = gone == "pod-a" ? "pod-b" : "pod-a";
  auto echo_slice = slice("echo", {{stays == "pod-a" ? kPodA : kPodB, stays == "pod-a" ? "node-a" : "node-b"}}, kEchoPort);
  echo_slice.ports[0].protocol = "UDP";
  state_.upsert(echo_slice);
  ASSERT_NO_FATAL_FAILURE(sync());
  for (int i = 0; i < 5; ++i) {
    auto r = client->exchange();
    EXPECT_EQ(r.error, 0) << std::strerror(r.error);
    EXPECT_EQ(r.answer, stays);
  }
  if (GetParam() == BackendKind::ebpf) {
    auto m = static_cast<ebpf::EbpfBackend&>(*backend_).metrics();
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->udp_sockets_destroyed, 1u);
    EXPECT_GE(client->reconnects(), 1);
  }
}

TEST_P(ClusterIpTraffic, Ipv6ClusterIpReachesEveryEndpoint) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.node(), "fd00:96::80", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  EXPECT_THAT(t.spread(t.node(), "10.96.0.80", 80, 20), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_P(ClusterIpTraffic, RemovedEndpointGetsNoNewConnectionsAfterAPartialSync) {
  auto& t = *topology_;
  state_.upsert(slice("web", {{kPodA, "node-a"}}));
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_EQ(backend_->stats().partial_syncs, 1u);
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 20), ElementsAre(Pair("pod-a", 20)));
  state_.upsert(slice("web", {}));
  ASSERT_NO_FATAL_FAILURE(sync());
  auto r = t.get(t.node(), "10.96.0.10", 80, 5);
  EXPECT_EQ(r.curl_exit, 7) << "no endpoints left: refused; " << r.pod;
  state_.upsert(slice("web", {{kPodB, "node-b"}}));
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 10), ElementsAre(Pair("pod-b", 10)));
}

TEST_P(ClusterIpTraffic, NodePortFromAnExternalClientReachesEveryEndpoint) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIp, 30080, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

// A NodePort on the node's own address, from the node itself (kube-proxy: the output chain; eBPF:
// the socket hooks, with the node's addresses in lb_node_addrs_v1), over both families.
TEST_P(ClusterIpTraffic, NodePortFromTheNodeItselfReachesEveryEndpoint) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.node(), ServiceTopology::kNodeIp, 30080, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  auto r = t.get(t.node(), ServiceTopology::kNodeIp, 30080);
  ASSERT_TRUE(r.ok) << r.pod;
}

// 127.0.0.1:NodePort from the node: kube-proxy's iptables mode answers it by default
// (--iptables-localhost-nodeports), its nftables mode never does. The eBPF backend follows the
// former (IPv4 only, the node's own network namespace only: a pod's loopback is its own).
TEST_P(ClusterIpTraffic, LocalhostNodePortFromTheNodeOnlyWithEbpf) {
  auto& t = *topology_;
  if (GetParam() == BackendKind::ebpf) {
    EXPECT_THAT(t.spread(t.node(), "127.0.0.1", 30080, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  } else {
    auto r = t.get(t.node(), "127.0.0.1", 30080);
    EXPECT_FALSE(r.ok) << "answered by " << r.pod;
  }
  auto from_pod = t.get(t.pod("pod-a"), "127.0.0.1", 30080);
  EXPECT_FALSE(from_pod.ok) << "a pod's loopback is its own; answered by " << from_pod.pod;
}

TEST_P(ClusterIpTraffic, ExternalTrafficPolicyLocalKeepsTheSourceAndUsesOnlyLocalEndpoints) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIp, 30081, 20), ElementsAre(Pair("pod-a", 20)));
  auto r = t.get(t.client(), ServiceTopology::kNodeIp, 30081);
  ASSERT_TRUE(r.ok) << r.pod;
  EXPECT_EQ(r.seen_client, ServiceTopology::kClientIp);
  // Inside the cluster the ClusterIP still reaches every endpoint.
  EXPECT_THAT(t.spread(t.node(), "10.96.0.40", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_P(ClusterIpTraffic, LoadBalancerIpAndExternalIpFromAnExternalClient) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.client(), "203.0.113.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  EXPECT_THAT(t.spread(t.client(), "192.0.2.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

INSTANTIATE_TEST_SUITE_P(Backends, ClusterIpTraffic, ::testing::Values(BackendKind::nftables, BackendKind::ebpf),
                         [](const ::testing::TestParamInfo<BackendKind>& info) {
                           return info.param == BackendKind::nftables ? "nftables" : "ebpf";
                         });

}  // namespace
}  // namespace switchyard::dataplane
