// --nodeport-addresses with real traffic: the node namespace gets a second IPv4 address that the
// external client reaches through its default route; node ports must answer only on the
// addresses the CIDRs (or "primary") select, and follow the node's addresses as they change.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

#include "dataplane/iptables/nftables_backend.h"
#include "dataplane/iptables/test_cluster.h"
#include "dataplane/testing/service_topology.h"

namespace switchyard::dataplane::nft {
namespace {

using namespace test_cluster;
using testing::ServiceTopology;

constexpr const char* kPodA = "10.244.0.11";
constexpr const char* kPodAv6 = "fd00:244::11";
constexpr const char* kOtherNodeIp = "192.168.60.1";  // a second node address, outside 192.168.50.0/24
constexpr int kNodePort = 30080;

class NodePortAddressesTraffic : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    auto t = ServiceTopology::create({{"pod-a", kPodA, 8080, kPodAv6}});
    ASSERT_TRUE(t) << t.error();
    topology_.emplace(std::move(*t));
    auto added = topology_->node().run(std::string("ip addr add ") + kOtherNodeIp + "/32 dev vclient");
    ASSERT_TRUE(added.ok()) << added.output;
    state_.upsert(dual_stack(node_port_service("np", "10.96.0.30", kNodePort), "fd00:96::30"));
    state_.upsert(slice("np", {{kPodA, "node-a"}}));
    state_.upsert(slice("np", {{kPodAv6, "node-a"}}, 8080, "IPv6"));
    snapshot_ = state_.build();
  }

  Result<void> start(NodePortAddresses addresses) {
    NftablesBackendOptions options;
    options.generator.cluster_cidrs = {ServiceTopology::kPodCidr, ServiceTopology::kPodCidrIpv6};
    options.node_port_addresses = std::move(addresses);
    Result<std::unique_ptr<NftablesBackend>> created = std::unexpected(Error{ErrorCode::Internal, "not run"});
    if (auto entered = topology_->node().enter([&] { created = NftablesBackend::create(options); }); !entered)
      return std::unexpected(Error{ErrorCode::Internal, entered.error()});
    if (!created) return std::unexpected(created.error());
    backend_ = std::move(*created);
    return backend_->full_sync(*snapshot_);
  }

  bool answers(const std::string& address) {
    auto r = topology_->get(topology_->client(), address, kNodePort, 2);
    return r.ok && r.pod == "pod-a";
  }

  std::optional<ServiceTopology> topology_;
  std::unique_ptr<NftablesBackend> backend_;
  endpoints::ClusterState state_{{.node_name = "node-a"}};
  std::shared_ptr<const endpoints::Snapshot> snapshot_;
};

TEST_F(NodePortAddressesTraffic, ByDefaultEveryNodeAddressAnswers) {
  auto ok = start({});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(answers(ServiceTopology::kNodeIp));
  EXPECT_TRUE(answers(kOtherNodeIp));
  EXPECT_TRUE(answers(ServiceTopology::kNodeIpv6));
}

TEST_F(NodePortAddressesTraffic, OnlyAddressesInTheCidrsAnswer) {
  auto ok = start({.cidrs = {"192.168.50.0/24"}});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(answers(ServiceTopology::kNodeIp));
  auto other = topology_->get(topology_->client(), kOtherNodeIp, kNodePort, 2);
  EXPECT_FALSE(other.ok) << "answered by " << other.pod;
  EXPECT_EQ(other.curl_exit, 7) << "nothing listens on the node itself: refused";
  EXPECT_TRUE(answers(ServiceTopology::kNodeIpv6)) << "no IPv6 CIDR given: every IPv6 address";
  // The ClusterIP is not concerned.
  EXPECT_TRUE(topology_->get(topology_->node(), "10.96.0.30", 80).ok);
}

TEST_F(NodePortAddressesTraffic, PrimaryMeansTheNodeIpsGiven) {
  auto ok = start({.cidrs = {"primary"}, .primary_ips = {kOtherNodeIp}});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(answers(kOtherNodeIp));
  EXPECT_FALSE(answers(ServiceTopology::kNodeIp));
}

TEST_F(NodePortAddressesTraffic, AnAddressAddedToTheNodeAnswersAfterTheNextSync) {
  auto ok = start({.cidrs = {"192.168.50.0/24"}});
  ASSERT_TRUE(ok) << ok.error().message;
  const std::string added = "192.168.50.7";
  ASSERT_TRUE(topology_->node().run("ip addr add " + added + "/32 dev vclient").ok());
  EXPECT_FALSE(answers(added)) << "not yet synced";
  const auto full_syncs = backend_->stats().full_syncs;
  // A sync with nothing else to do notices the new address and rebuilds.
  auto synced = backend_->sync(*snapshot_, *snapshot_, endpoints::SnapshotDiff{});
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(backend_->stats().full_syncs, full_syncs + 1);
  EXPECT_TRUE(answers(added));
  // Nothing changed since: no more full syncs.
  synced = backend_->sync(*snapshot_, *snapshot_, endpoints::SnapshotDiff{});
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(backend_->stats().full_syncs, full_syncs + 1);
}

TEST_F(NodePortAddressesTraffic, BadCidrIsRefusedWithItsName) {
  auto refused = start({.cidrs = {"192.168.50.0/99"}});
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, ::testing::HasSubstr("'192.168.50.0/99'"));
}

}  // namespace
}  // namespace switchyard::dataplane::nft
