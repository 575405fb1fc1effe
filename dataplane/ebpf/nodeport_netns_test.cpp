// Traffic from outside the node through the tc programs: an external client namespace reaching a
// NodePort, a LoadBalancer IP and an externalIP on the node (dataplane/testing/service_topology.h),
// the programs on the node's interface towards the client, maps pinned in a private bpffs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

#include "dataplane/ebpf/ebpf_backend.h"
#include "dataplane/ebpf/testing/ebpf_test_env.h"
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
    snapshot_ = state_.build();
    ASSERT_NO_FATAL_FAILURE(start_backend());
  }

  // In the node's namespace: the tc programs go on its interface towards the client.
  void start_backend() {
    auto& t = *topology_;
    auto options = env_->options("node-a");
    options.scope_netns = {t.node().path(), t.pod("pod-a").path(), t.pod("pod-b").path()};
    options.external_interfaces = {"vclient"};
    std::expected<std::unique_ptr<EbpfBackend>, Error> created = std::unexpected(Error{"not run"});
    auto entered = t.node().enter([&] { created = EbpfBackend::create(options); });
    ASSERT_TRUE(entered) << entered.error();
    ASSERT_TRUE(created) << created.error().message;
    backend_ = std::move(*created);
    auto ok = backend_->full_sync(*snapshot_);
    ASSERT_TRUE(ok) << ok.error().message;
  }

  std::string tc_filters() { return topology_->node().run("tc filter show dev vclient ingress").output; }
  // The kernel keeps 15 characters of a program's name.
  static constexpr const char* kIngressProgram = "nodeport_ingres";

  std::optional<testing::EbpfTestEnv> env_;
  std::optional<ServiceTopology> topology_;
  std::unique_ptr<EbpfBackend> backend_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_;
};

TEST_F(NodePortTraffic, NodePortFromAnExternalClientReachesEveryEndpoint) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIp, 30080, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  auto r = t.get(t.client(), ServiceTopology::kNodeIp, 30080);
  ASSERT_TRUE(r.ok) << r.pod;
  // No SNAT yet under Cluster policy: the pod sees the client (see README, Missing).
  EXPECT_EQ(r.seen_client, ServiceTopology::kClientIp);
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

TEST_F(NodePortTraffic, NodePortWithoutEndpointsIsDropped) {
  auto& t = *topology_;
  auto r = t.get(t.client(), ServiceTopology::kNodeIp, 30085, 1);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.curl_exit, 28) << "dropped (a reject needs an ICMP/RST reply, not written yet): " << r.pod;
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
