// What a backend must reprogram between two Snapshots, and which UDP flows became stale.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/node/snapshot_diff.h"
#include "orchestrator/api/defaults.h"

namespace switchyard::endpoints {
namespace {

api::Service service(std::string name, std::string ip) {
  api::Service s;
  s.metadata.name = std::move(name);
  s.metadata.namespace_ = "ns";
  s.spec.selector = {{"app", "x"}};
  s.spec.cluster_ip = std::move(ip);
  s.spec.ports = {api::ServicePort{.name = "dns", .protocol = "UDP", .port = 53}};
  api::apply_defaults(s, {});
  return s;
}

api::EndpointSlice slice(std::string svc, std::vector<std::string> ips) {
  api::EndpointSlice s;
  s.metadata.name = svc + "-1";
  s.metadata.namespace_ = "ns";
  s.metadata.labels = {{kServiceNameLabel, svc}};
  s.address_type = "IPv4";
  for (auto& ip : ips) s.endpoints.push_back(api::SliceEndpoint{.addresses = {ip}});
  s.ports = {api::SlicePort{.name = "dns", .protocol = "UDP", .port = 5353}};
  return s;
}

const ServicePortName kA{"ns", "a", "dns", "UDP"};
const ServicePortName kB{"ns", "b", "dns", "UDP"};

TEST(SnapshotDiff, AddedChangedRemovedAndUntouched) {
  ClusterState state({.node_name = "n"});
  state.upsert(service("a", "10.96.0.1"));
  state.upsert(service("b", "10.96.0.2"));
  auto s0 = std::make_shared<const Snapshot>(0, Snapshot::PortMap{}, Snapshot::ServiceMap{});
  auto s1 = state.build();
  auto d1 = diff_snapshots(*s0, *s1);
  ASSERT_EQ(d1.changes.size(), 2u);
  EXPECT_EQ(d1.changes[0].name, kA);
  EXPECT_EQ(d1.changes[0].before, nullptr);
  EXPECT_TRUE(d1.changes[0].service_changed);

  state.upsert(slice("a", {"10.1.0.1", "10.1.0.2"}));
  auto s2 = state.build();
  auto d2 = diff_snapshots(*s1, *s2);
  ASSERT_EQ(d2.changes.size(), 1u);  // b untouched
  EXPECT_EQ(d2.changes[0].name, kA);
  EXPECT_FALSE(d2.changes[0].service_changed);
  EXPECT_TRUE(d2.changes[0].endpoints_changed);

  auto b = service("b", "10.96.0.2");
  b.spec.session_affinity = "ClientIP";
  state.upsert(b);
  auto d3 = diff_snapshots(*s2, *state.build());
  ASSERT_EQ(d3.changes.size(), 1u);
  EXPECT_EQ(d3.changes[0].name, kB);
  EXPECT_TRUE(d3.changes[0].service_changed);
  EXPECT_FALSE(d3.changes[0].endpoints_changed);

  auto s3 = state.build();
  state.remove_service(ServiceKey{"ns", "a"});
  auto d4 = diff_snapshots(*s3, *state.build());
  ASSERT_EQ(d4.changes.size(), 1u);
  EXPECT_EQ(d4.changes[0].after, nullptr);
}

TEST(SnapshotDiff, ReupsertingTheSameObjectIsNoChange) {
  ClusterState state({.node_name = "n"});
  state.upsert(service("a", "10.96.0.1"));
  state.upsert(slice("a", {"10.1.0.1"}));
  auto s1 = state.build();
  state.upsert(service("a", "10.96.0.1"));  // a resync delivers the same object again
  auto s2 = state.build();
  EXPECT_NE(s1, s2);
  EXPECT_TRUE(diff_snapshots(*s1, *s2).empty());
}

TEST(SnapshotDiff, RemovedUdpEndpointsAndFirstEndpointAreStaleFlows) {
  ClusterState state({.node_name = "n"});
  state.upsert(service("a", "10.96.0.1"));
  auto empty = state.build();
  state.upsert(slice("a", {"10.1.0.1", "10.1.0.2"}));
  auto two = state.build();
  auto gained = diff_snapshots(*empty, *two);
  ASSERT_EQ(gained.stale_flows.size(), 1u);
  EXPECT_EQ(gained.stale_flows[0].service_ips, std::vector<std::string>{"10.96.0.1"});  // flows stuck on "no endpoints"
  EXPECT_TRUE(gained.stale_flows[0].removed_endpoints.empty());

  state.upsert(slice("a", {"10.1.0.2"}));
  auto one = diff_snapshots(*two, *state.build());
  ASSERT_EQ(one.stale_flows.size(), 1u);
  ASSERT_EQ(one.stale_flows[0].removed_endpoints.size(), 1u);
  EXPECT_EQ(one.stale_flows[0].removed_endpoints[0].ip, "10.1.0.1");
  EXPECT_EQ(one.stale_flows[0].removed_endpoints[0].port, 5353);
  EXPECT_TRUE(one.stale_flows[0].service_ips.empty());
}

TEST(SnapshotDiff, TcpChangesNeedNoConntrackCleanup) {
  ClusterState state({.node_name = "n"});
  auto s = service("a", "10.96.0.1");
  s.spec.ports[0].protocol = "TCP";
  state.upsert(s);
  auto before = state.build();
  auto sl = slice("a", {"10.1.0.1"});
  sl.ports[0].protocol = "TCP";
  state.upsert(sl);
  auto d = diff_snapshots(*before, *state.build());
  EXPECT_EQ(d.changes.size(), 1u);
  EXPECT_TRUE(d.stale_flows.empty());
}

}  // namespace
}  // namespace switchyard::endpoints
