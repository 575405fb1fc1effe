// What Service creates, updates and deletes allocate and release, against the real SQLite store.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "orchestrator/api/defaults.h"
#include "orchestrator/apiserver/service_allocation.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

using api::Service;
using api::ServicePort;
using store::SqliteStore;
using store::testing::TempDir;

ServicePort port(std::string name, std::int32_t number, std::string protocol = "TCP", std::int32_t node_port = 0) {
  ServicePort p;
  p.name = std::move(name);
  p.port = number;
  p.protocol = std::move(protocol);
  p.target_port = api::IntOrString::of(number);
  p.node_port = node_port;
  return p;
}

class ServiceAllocationTest : public ::testing::Test {
 protected:
  void SetUp() override { open("10.96.0.0/12", "fd00:10:96::/108"); }

  void open(std::string_view v4, std::string_view v6, int node_min = 30000, int node_max = 32767) {
    allocators_ = {};
    v4_.reset();
    v6_.reset();
    node_ports_.reset();
    store_.reset();
    auto s = SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    v4_ = ClusterIpAllocator::create(*store_, v4).value();
    v6_ = ClusterIpAllocator::create(*store_, v6).value();
    node_ports_ = NodePortAllocator::create(*store_, node_min, node_max).value();
    allocators_.cluster_ips = {v4_.get(), v6_.get()};
    allocators_.node_ports = node_ports_.get();
  }

  Service service(std::string name, std::string type, std::vector<ServicePort> ports) {
    Service s;
    s.metadata.namespace_ = "default";
    s.metadata.name = std::move(name);
    s.spec.type = std::move(type);
    s.spec.selector = {{"app", s.metadata.name}};
    s.spec.ports = std::move(ports);
    api::apply_defaults(s, net_);
    return s;
  }

  // Allocates for a create and commits, as the API server does after the object is stored.
  Service created(Service s) {
    auto txn = allocate_service(allocators_, nullptr, s);
    EXPECT_TRUE(txn) << txn.error().message();
    if (txn) {
      EXPECT_TRUE(txn->commit());
    }
    return s;
  }

  std::vector<std::string> keys(std::string_view prefix) {
    std::vector<std::string> out;
    const auto listed = store_->list(prefix, 0, "");
    EXPECT_TRUE(listed) << listed.error().message;
    if (listed)
      for (const auto& kv : listed->items) out.push_back(kv.key.substr(prefix.size()));
    return out;
  }

  TempDir dir_;
  api::ClusterNetworkConfig net_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<ClusterIpAllocator> v4_, v6_;
  std::unique_ptr<NodePortAllocator> node_ports_;
  ServiceAllocators allocators_;
};

TEST_F(ServiceAllocationTest, ClusterIpServiceGetsOneIpAndNoNodePorts) {
  Service s = created(service("web", "ClusterIP", {port("http", 80)}));
  ASSERT_EQ(s.spec.cluster_ips.size(), 1u);
  EXPECT_EQ(s.spec.cluster_ip, s.spec.cluster_ips[0]);
  EXPECT_TRUE(v4_->range().offset_of(s.spec.cluster_ip));
  EXPECT_EQ(v4_->owner_of(s.spec.cluster_ip).value(), "default/web");
  EXPECT_EQ(s.spec.ports[0].node_port, 0);
  EXPECT_TRUE(keys(kNodePortAllocationPrefix).empty());
}

TEST_F(ServiceAllocationTest, TcpAndUdpOfOnePortShareOneNodePort) {
  Service s = created(service("dns", "NodePort", {port("dns-udp", 53, "UDP"), port("dns-tcp", 53, "TCP"), port("metrics", 9153, "TCP")}));
  const auto& p = s.spec.ports;
  EXPECT_NE(p[0].node_port, 0);
  EXPECT_EQ(p[0].node_port, p[1].node_port);
  EXPECT_NE(p[2].node_port, 0);
  EXPECT_NE(p[2].node_port, p[0].node_port);
  EXPECT_EQ(keys(kNodePortAllocationPrefix).size(), 2u);
  EXPECT_EQ(node_ports_->owner_of(p[0].node_port).value(), "default/dns");

  // A node port requested by the later entry of the same port is the one both get.
  Service t = created(service("dns2", "NodePort", {port("udp", 53, "UDP"), port("tcp", 53, "TCP", 30053)}));
  EXPECT_EQ(t.spec.ports[0].node_port, 30053);
  EXPECT_EQ(t.spec.ports[1].node_port, 30053);
  EXPECT_EQ(keys(kNodePortAllocationPrefix).size(), 3u);
}

TEST_F(ServiceAllocationTest, RequestedClusterIpTakenIsAFieldErrorWithUpstreamWording) {
  Service dns = service("kube-dns", "ClusterIP", {port("dns", 53, "UDP")});
  dns.spec.cluster_ip = "10.96.0.10";
  dns.spec.cluster_ips = {"10.96.0.10"};
  created(dns);

  Service clash = service("clash", "NodePort", {port("dns", 53, "UDP")});
  clash.spec.cluster_ip = "10.96.0.10";
  clash.spec.cluster_ips = {"10.96.0.10"};
  const Service before = clash;
  auto txn = allocate_service(allocators_, nullptr, clash);
  ASSERT_FALSE(txn);
  ASSERT_EQ(txn.error().field_errors.size(), 1u);
  EXPECT_EQ(txn.error().field_errors[0].field, "spec.clusterIPs");
  EXPECT_EQ(txn.error().message(),
            "spec.clusterIPs: Invalid value: []string{\"10.96.0.10\"}: failed to allocate IP 10.96.0.10: provided IP is "
            "already allocated");
  EXPECT_EQ(clash, before);  // untouched
  EXPECT_TRUE(keys(kNodePortAllocationPrefix).empty());

  Service outside = service("outside", "ClusterIP", {port("http", 80)});
  outside.spec.cluster_ip = "192.168.0.10";
  outside.spec.cluster_ips = {"192.168.0.10"};
  auto out = allocate_service(allocators_, nullptr, outside);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message(),
            "spec.clusterIPs: Invalid value: []string{\"192.168.0.10\"}: failed to allocate IP 192.168.0.10: the "
            "provided IP (192.168.0.10) is not in the valid range. The range of valid IPs is 10.96.0.0/12");
}

TEST_F(ServiceAllocationTest, NodePortTakenRollsBackWhatTheCallAllocated) {
  created(service("first", "NodePort", {port("http", 80, "TCP", 30005)}));
  const auto ips_before = keys(kClusterIpAllocationPrefix);

  Service second = service("second", "NodePort", {port("https", 443), port("http", 80, "TCP", 30005)});
  auto txn = allocate_service(allocators_, nullptr, second);
  ASSERT_FALSE(txn);
  EXPECT_EQ(txn.error().message(), "spec.ports[1].nodePort: Invalid value: 30005: provided port is already allocated");
  EXPECT_EQ(keys(kClusterIpAllocationPrefix), ips_before);  // its IP went back
  // ...and so did the node port drawn for 443.
  EXPECT_EQ(keys(kNodePortAllocationPrefix), (std::vector<std::string>{"30005"}));

  Service out = service("out", "NodePort", {port("http", 80, "TCP", 40000)});
  auto r = allocate_service(allocators_, nullptr, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid "
            "ports is 30000-32767");
}

TEST_F(ServiceAllocationTest, TypeChangeToClusterIpReleasesNodePortsOnCommit) {
  const Service old = created(service("web", "NodePort", {port("http", 80), port("dns", 53, "UDP")}));
  ASSERT_EQ(keys(kNodePortAllocationPrefix).size(), 2u);

  Service updated = old;
  updated.spec.type = "ClusterIP";
  auto txn = allocate_service(allocators_, &old, updated);
  ASSERT_TRUE(txn) << txn.error().message();
  EXPECT_EQ(updated.spec.ports[0].node_port, 0);
  EXPECT_EQ(updated.spec.ports[1].node_port, 0);
  EXPECT_EQ(updated.spec.cluster_ip, old.spec.cluster_ip);
  EXPECT_EQ(keys(kNodePortAllocationPrefix).size(), 2u);  // released only once the update is stored
  ASSERT_TRUE(txn->commit());
  EXPECT_TRUE(keys(kNodePortAllocationPrefix).empty());
  EXPECT_EQ(v4_->owner_of(old.spec.cluster_ip).value(), "default/web");

  // And back: new node ports; a change to ExternalName gives the IP back.
  Service np = updated;
  np.spec.type = "NodePort";
  ASSERT_TRUE(allocate_service(allocators_, &updated, np).value().commit());
  EXPECT_NE(np.spec.ports[0].node_port, 0);
  Service external = np;
  external.spec.type = "ExternalName";
  external.spec.external_name = "example.com";
  ASSERT_TRUE(allocate_service(allocators_, &np, external).value().commit());
  EXPECT_TRUE(keys(kNodePortAllocationPrefix).empty());
  EXPECT_TRUE(keys(kClusterIpAllocationPrefix).empty());
}

TEST_F(ServiceAllocationTest, UpdateKeepsNodePortsOfUnchangedPortsAndReleasesRemovedOnes) {
  const Service old = created(service("web", "NodePort", {port("http", 80), port("https", 443)}));
  Service updated = old;
  updated.spec.ports = {port("http", 80), port("admin", 8080)};  // node ports not given: http keeps its own
  auto txn = allocate_service(allocators_, &old, updated);
  ASSERT_TRUE(txn) << txn.error().message();
  EXPECT_EQ(updated.spec.ports[0].node_port, old.spec.ports[0].node_port);
  EXPECT_NE(updated.spec.ports[1].node_port, 0);
  EXPECT_EQ(txn->ports_to_release(), (std::vector<int>{old.spec.ports[1].node_port}));
  ASSERT_TRUE(txn->commit());
  EXPECT_EQ(node_ports_->owner_of(old.spec.ports[1].node_port).value(), std::nullopt);
  EXPECT_EQ(keys(kNodePortAllocationPrefix).size(), 2u);
}

TEST_F(ServiceAllocationTest, HealthCheckNodePortForLoadBalancerWithLocalPolicy) {
  Service lb = service("lb", "LoadBalancer", {port("http", 80)});
  lb.spec.external_traffic_policy = "Local";
  lb = created(lb);
  EXPECT_NE(lb.spec.health_check_node_port, 0);
  EXPECT_NE(lb.spec.health_check_node_port, lb.spec.ports[0].node_port);
  EXPECT_EQ(node_ports_->owner_of(lb.spec.health_check_node_port).value(), "default/lb");

  Service cluster_policy = lb;
  cluster_policy.spec.external_traffic_policy = "Cluster";
  ASSERT_TRUE(allocate_service(allocators_, &lb, cluster_policy).value().commit());
  EXPECT_EQ(cluster_policy.spec.health_check_node_port, 0);
  EXPECT_EQ(node_ports_->owner_of(lb.spec.health_check_node_port).value(), std::nullopt);

  // A requested one that is taken: the upstream (internal) error.
  Service other = service("lb2", "LoadBalancer", {port("http", 80)});
  other.spec.external_traffic_policy = "Local";
  other.spec.health_check_node_port = lb.spec.ports[0].node_port;
  auto r = allocate_service(allocators_, nullptr, other);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().field_errors.empty());
  EXPECT_EQ(r.error().internal, fmt::format("failed to allocate requested HealthCheck NodePort {}: provided port is "
                                            "already allocated",
                                            lb.spec.ports[0].node_port));
}

TEST_F(ServiceAllocationTest, LoadBalancerWithoutNodePortAllocationKeepsOnlyRequestedOnes) {
  Service lb = service("lb", "LoadBalancer", {port("http", 80), port("https", 443, "TCP", 30443)});
  lb.spec.allocate_load_balancer_node_ports = false;
  lb = created(lb);
  EXPECT_EQ(lb.spec.ports[0].node_port, 0);
  EXPECT_EQ(lb.spec.ports[1].node_port, 30443);
  EXPECT_EQ(keys(kNodePortAllocationPrefix), (std::vector<std::string>{"30443"}));
}

TEST_F(ServiceAllocationTest, DeleteReleasesEverything) {
  Service lb = service("lb", "LoadBalancer", {port("http", 80), port("dns", 53, "UDP")});
  lb.spec.external_traffic_policy = "Local";
  lb.spec.ip_family_policy = "RequireDualStack";
  lb.spec.ip_families = {"IPv4", "IPv6"};
  lb = created(lb);
  EXPECT_EQ(keys(kClusterIpAllocationPrefix).size(), 2u);
  EXPECT_EQ(keys(kNodePortAllocationPrefix).size(), 3u);
  ASSERT_TRUE(release_service(allocators_, lb));
  EXPECT_TRUE(keys(kClusterIpAllocationPrefix).empty());
  EXPECT_TRUE(keys(kNodePortAllocationPrefix).empty());
}

TEST_F(ServiceAllocationTest, AnUncommittedTransactionIsRevertedWhenDestroyed) {
  Service s = service("web", "NodePort", {port("http", 80)});
  {
    auto txn = allocate_service(allocators_, nullptr, s);
    ASSERT_TRUE(txn) << txn.error().message();
    EXPECT_EQ(keys(kClusterIpAllocationPrefix).size(), 1u);
    EXPECT_EQ(keys(kNodePortAllocationPrefix).size(), 1u);
  }  // storing the Service failed: nothing may stay allocated
  EXPECT_TRUE(keys(kClusterIpAllocationPrefix).empty());
  EXPECT_TRUE(keys(kNodePortAllocationPrefix).empty());
}

TEST_F(ServiceAllocationTest, DualStackUpgradeAndDowngrade) {
  const Service single = created(service("web", "ClusterIP", {port("http", 80)}));
  ASSERT_EQ(single.spec.ip_families, (std::vector<std::string>{"IPv4"}));

  Service dual = single;
  dual.spec.ip_family_policy = "PreferDualStack";
  dual.spec.ip_families = {"IPv4", "IPv6"};
  ASSERT_TRUE(allocate_service(allocators_, &single, dual).value().commit());
  ASSERT_EQ(dual.spec.cluster_ips.size(), 2u);
  EXPECT_EQ(dual.spec.cluster_ips[0], single.spec.cluster_ip);
  EXPECT_TRUE(v6_->range().offset_of(dual.spec.cluster_ips[1]));

  Service back = dual;
  back.spec.ip_family_policy = "SingleStack";
  back.spec.ip_families = {"IPv4"};
  back.spec.cluster_ips = {dual.spec.cluster_ips[0]};
  auto txn = allocate_service(allocators_, &dual, back);
  ASSERT_TRUE(txn) << txn.error().message();
  EXPECT_EQ(txn->ips_to_release(), (std::vector<std::string>{dual.spec.cluster_ips[1]}));
  ASSERT_TRUE(txn->commit());
  EXPECT_EQ(v6_->owner_of(dual.spec.cluster_ips[1]).value(), std::nullopt);
  EXPECT_EQ(keys(kClusterIpAllocationPrefix).size(), 1u);
}

TEST_F(ServiceAllocationTest, ExhaustedRangeIsAnInternalErrorAndHeadlessNeedsNoIp) {
  open("10.0.0.0/29", "fd00::/120");
  for (int i = 0; i < 6; ++i) created(service("s" + std::to_string(i), "ClusterIP", {port("http", 80)}));
  Service late = service("late", "ClusterIP", {port("http", 80)});
  auto r = allocate_service(allocators_, nullptr, late);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().field_errors.empty());
  EXPECT_EQ(r.error().message(), "failed to allocate a serviceIP: range is full");

  Service headless = service("headless", "ClusterIP", {port("http", 80)});
  headless.spec.cluster_ip = "None";
  headless.spec.cluster_ips = {"None"};
  headless = created(headless);
  EXPECT_EQ(headless.spec.cluster_ips, (std::vector<std::string>{"None"}));
}

TEST_F(ServiceAllocationTest, AllocationsOfServicesSurviveAReopen) {
  const Service web = created(service("web", "NodePort", {port("http", 80)}));
  open("10.96.0.0/12", "fd00:10:96::/108");
  Service copy = service("copy", "NodePort", {port("http", 80, "TCP", web.spec.ports[0].node_port)});
  copy.spec.cluster_ip = web.spec.cluster_ip;
  copy.spec.cluster_ips = {web.spec.cluster_ip};
  auto r = allocate_service(allocators_, nullptr, copy);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("provided IP is already allocated"), std::string::npos) << r.error().message();
  ASSERT_TRUE(release_service(allocators_, web));
  EXPECT_TRUE(allocate_service(allocators_, nullptr, copy).value().commit());
}

}  // namespace
}  // namespace switchyard::apiserver
