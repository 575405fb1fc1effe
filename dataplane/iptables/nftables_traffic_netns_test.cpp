// Real traffic through the nftables backend: a node namespace with two routed pods and an
// external client (dataplane/testing/service_topology.h), HTTP servers answering with their
// name, curl as the client. Rules live only in the node namespace the test created.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "dataplane/iptables/nftables_backend.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/service_topology.h"
#include "endpoints/node/snapshot_diff.h"

namespace switchyard::dataplane::nft {
namespace {

using namespace test_cluster;
using ::testing::ElementsAre;
using ::testing::Key;
using testing::ServiceTopology;

constexpr const char* kPodA = "10.244.0.11";
constexpr const char* kPodB = "10.244.0.12";
constexpr const char* kPodAv6 = "fd00:244::11";
constexpr const char* kPodBv6 = "fd00:244::12";

class NftablesTraffic : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    auto t = ServiceTopology::create({{"pod-a", kPodA, 8080, kPodAv6}, {"pod-b", kPodB, 8080, kPodBv6}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    NftablesBackendOptions options;
    options.generator.cluster_cidrs = {ServiceTopology::kPodCidr, ServiceTopology::kPodCidrIpv6};
    options.services_per_table = 1;  // one service table per service port: traffic crosses several
    Result<std::unique_ptr<NftablesBackend>> created = std::unexpected(Error{ErrorCode::Internal, "not run"});
    auto entered = topology_->node().enter([&] { created = NftablesBackend::create(options); });
    ASSERT_TRUE(entered) << entered.error();
    ASSERT_TRUE(created) << created.error().message;
    backend_ = std::move(*created);
    // pod-a runs on this node, pod-b on another one (as far as the Snapshot says).
    state_.upsert(service("web", "10.96.0.10"));
    state_.upsert(slice("web", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(service("empty", "10.96.0.20"));
    state_.upsert(node_port_service("np", "10.96.0.30", 30080));
    state_.upsert(slice("np", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    auto local = node_port_service("local", "10.96.0.40", 30081);
    local.spec.external_traffic_policy = "Local";
    state_.upsert(local);
    state_.upsert(slice("local", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    auto sticky = service("sticky", "10.96.0.50");
    sticky.spec.session_affinity = "ClientIP";
    sticky.spec.session_affinity_timeout_seconds = 3;
    state_.upsert(sticky);
    state_.upsert(slice("sticky", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    auto lb = node_port_service("lb", "10.96.0.60", 30082);
    lb.spec.type = "LoadBalancer";
    lb.spec.external_ips = {"192.0.2.10"};
    lb.spec.load_balancer_source_ranges = {"192.168.50.0/24"};
    lb.status_load_balancer_ingress = {api::LoadBalancerIngress{.ip = "203.0.113.10"}};
    state_.upsert(lb);
    state_.upsert(slice("lb", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    auto fenced = node_port_service("fenced", "10.96.0.70", 30083);
    fenced.spec.type = "LoadBalancer";
    fenced.spec.load_balancer_source_ranges = {"198.51.100.0/24"};
    fenced.status_load_balancer_ingress = {api::LoadBalancerIngress{.ip = "203.0.113.20"}};
    state_.upsert(fenced);
    state_.upsert(slice("fenced", {{kPodA, "node-a"}}));
    state_.upsert(dual_stack(node_port_service("web6", "10.96.0.80", 30084), "fd00:96::80"));
    state_.upsert(slice("web6", {{kPodA, "node-a"}, {kPodB, "node-b"}}));
    state_.upsert(slice("web6", {{kPodAv6, "node-a"}, {kPodBv6, "node-b"}}, 8080, "IPv6"));
    state_.upsert(dual_stack(service("empty6", "10.96.0.90"), "fd00:96::90"));
    snapshot_ = state_.build();
    auto ok = backend_->full_sync(*snapshot_);
    ASSERT_TRUE(ok) << ok.error().message;
    ASSERT_TRUE(topology_->node().run("nft list table ip switchyard-services-4").ok()) << "5 service tables expected";
  }

  // Applies what changed in state_ since the last sync.
  void sync() {
    auto next = state_.build();
    auto ok = backend_->sync(*snapshot_, *next, endpoints::diff_snapshots(*snapshot_, *next));
    ASSERT_TRUE(ok) << ok.error().message;
    snapshot_ = next;
  }

  std::optional<ServiceTopology> topology_;
  std::unique_ptr<NftablesBackend> backend_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_;
};

TEST_F(NftablesTraffic, ClusterIpFromTheNodeReachesEveryEndpoint) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_F(NftablesTraffic, ClusterIpFromAPodReachesEveryEndpointIncludingItself) {
  auto& t = *topology_;
  // Hairpin: pod-a landing on itself works because the endpoint chain masquerades it.
  EXPECT_THAT(t.spread(t.pod("pod-a"), "10.96.0.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_F(NftablesTraffic, ServiceWithoutEndpointsIsRefusedAtOnce) {
  auto& t = *topology_;
  for (auto* from : {&t.node(), &t.pod("pod-a"), &t.client()}) {
    auto r = t.get(*from, "10.96.0.20", 80, 5);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.curl_exit, 7) << "connection refused expected from " << from->name() << ": " << r.pod;
    EXPECT_LT(r.seconds, 1.0) << "a reject, not a timeout";
  }
  // A port the ClusterIP does not serve is refused as well (cluster-ips-check).
  auto wrong_port = t.get(t.node(), "10.96.0.10", 81, 5);
  EXPECT_EQ(wrong_port.curl_exit, 7) << wrong_port.pod;
}

TEST_F(NftablesTraffic, NodePortFromAnExternalClientReachesEveryEndpointMasqueraded) {
  auto& t = *topology_;
  auto spread = t.spread(t.client(), ServiceTopology::kNodeIp, 30080, 30);
  EXPECT_THAT(spread, ElementsAre(Key("pod-a"), Key("pod-b")));
  auto r = t.get(t.client(), ServiceTopology::kNodeIp, 30080);
  ASSERT_TRUE(r.ok) << r.pod;
  EXPECT_NE(r.seen_client, ServiceTopology::kClientIp) << "Cluster policy masquerades external clients";
}

TEST_F(NftablesTraffic, ExternalTrafficPolicyLocalKeepsTheSourceAndUsesOnlyLocalEndpoints) {
  auto& t = *topology_;
  auto spread = t.spread(t.client(), ServiceTopology::kNodeIp, 30081, 20);
  EXPECT_THAT(spread, ElementsAre(std::pair<const std::string, int>("pod-a", 20)));
  auto r = t.get(t.client(), ServiceTopology::kNodeIp, 30081);
  ASSERT_TRUE(r.ok) << r.pod;
  EXPECT_EQ(r.seen_client, ServiceTopology::kClientIp);
  // Inside the cluster the ClusterIP still reaches every endpoint.
  EXPECT_THAT(t.spread(t.node(), "10.96.0.40", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_F(NftablesTraffic, LoadBalancerIpAndExternalIpFromAnExternalClient) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.client(), "203.0.113.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  EXPECT_THAT(t.spread(t.client(), "192.0.2.10", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
}

TEST_F(NftablesTraffic, LoadBalancerSourceRangesDropOtherSources) {
  auto& t = *topology_;
  auto r = t.get(t.client(), "203.0.113.20", 80, 1);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.curl_exit, 28) << "dropped (timeout), not answered: " << r.pod;
  // The same service's ClusterIP and node port are not fenced.
  EXPECT_TRUE(t.get(t.node(), "10.96.0.70", 80).ok);
  EXPECT_TRUE(t.get(t.client(), ServiceTopology::kNodeIp, 30083).ok);
}

TEST_F(NftablesTraffic, Ipv6ClusterIpNodePortAndRejectInTheIp6Tables) {
  auto& t = *topology_;
  EXPECT_THAT(t.spread(t.node(), "fd00:96::80", 80, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  EXPECT_THAT(t.spread(t.client(), ServiceTopology::kNodeIpv6, 30084, 30), ElementsAre(Key("pod-a"), Key("pod-b")));
  // The same service over IPv4 still works, through the ip tables.
  EXPECT_THAT(t.spread(t.node(), "10.96.0.80", 80, 20), ElementsAre(Key("pod-a"), Key("pod-b")));
  auto r = t.get(t.node(), "fd00:96::90", 80, 5);
  EXPECT_EQ(r.curl_exit, 7) << "IPv6 service without endpoints: refused; " << r.pod;
  EXPECT_LT(r.seconds, 1.0);
}

// Clients remembered in the affinity sets of the sticky service, as `nft -j` lists them.
std::vector<std::string> remembered_clients(testing::NetworkNamespace& node) {
  std::vector<std::string> out;
  auto listed = nlohmann::json::parse(node.run("nft -j list ruleset").output);
  for (const auto& item : listed.at("nftables")) {
    if (!item.contains("set")) continue;
    const auto& set = item["set"];
    if (!set.at("name").get<std::string>().starts_with("affinity-") || !set.contains("elem")) continue;
    for (const auto& e : set["elem"]) out.push_back(e.at("elem").at("val").get<std::string>());
  }
  return out;
}

TEST_F(NftablesTraffic, ClientIpAffinitySticksAndExpires) {
  auto& t = *topology_;
  auto spread = t.spread(t.client(), "10.96.0.50", 80, 15);
  ASSERT_EQ(spread.size(), 1u) << "every request from one client goes to one endpoint";
  EXPECT_EQ(spread.begin()->second, 15);
  EXPECT_THAT(remembered_clients(t.node()), ElementsAre(ServiceTopology::kClientIp));
  // The timeout is 3 s: without new connections the client is forgotten.
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));
  EXPECT_THAT(remembered_clients(t.node()), ::testing::IsEmpty());
}

TEST_F(NftablesTraffic, RemovedEndpointGetsNoNewConnectionsAfterAPartialSync) {
  auto& t = *topology_;
  state_.upsert(slice("web", {{kPodA, "node-a"}}));
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_EQ(backend_->stats().partial_syncs, 1u);
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 20), ElementsAre(std::pair<const std::string, int>("pod-a", 20)));
  state_.upsert(slice("web", {}));
  ASSERT_NO_FATAL_FAILURE(sync());
  auto r = t.get(t.node(), "10.96.0.10", 80, 5);
  EXPECT_EQ(r.curl_exit, 7) << "no endpoints left: refused; " << r.pod;
  state_.upsert(slice("web", {{kPodB, "node-b"}}));
  ASSERT_NO_FATAL_FAILURE(sync());
  EXPECT_THAT(t.spread(t.node(), "10.96.0.10", 80, 10), ElementsAre(std::pair<const std::string, int>("pod-b", 10)));
}

}  // namespace
}  // namespace switchyard::dataplane::nft
