// From API objects to the per-node Snapshot: which services are proxied, what each port carries,
// endpoint conditions and families, and that unchanged services are shared between Snapshots.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/node/snapshot.h"
#include "orchestrator/api/defaults.h"

namespace switchyard::endpoints {
namespace {

api::Service service(std::string name, std::string cluster_ip = "10.96.0.10") {
  api::Service s;
  s.metadata.name = std::move(name);
  s.metadata.namespace_ = "shop";
  s.spec.selector = {{"app", "web"}};
  s.spec.cluster_ip = std::move(cluster_ip);
  s.spec.ports = {api::ServicePort{.name = "http", .port = 80, .target_port = api::IntOrString::of(8080)},
                  api::ServicePort{.name = "dns", .protocol = "UDP", .port = 53}};
  api::apply_defaults(s, {});
  return s;
}

api::SliceEndpoint ep(std::string ip, std::string node, std::optional<bool> ready = true, std::optional<bool> terminating = {}) {
  api::SliceEndpoint e;
  e.addresses = {std::move(ip)};
  e.node_name = std::move(node);
  e.conditions.ready = ready;
  e.conditions.terminating = terminating;
  return e;
}

api::EndpointSlice slice(std::string name, std::string svc, std::vector<api::SliceEndpoint> eps, std::string family = "IPv4") {
  api::EndpointSlice s;
  s.metadata.name = std::move(name);
  s.metadata.namespace_ = "shop";
  s.metadata.labels = {{kServiceNameLabel, std::move(svc)}};
  s.address_type = std::move(family);
  s.endpoints = std::move(eps);
  s.ports = {api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080},
             api::SlicePort{.name = "dns", .protocol = "UDP", .port = 5353}};
  return s;
}

const ServicePortName kHttp{"shop", "web", "http", "TCP"};
const ServicePortName kDns{"shop", "web", "dns", "UDP"};

std::vector<std::string> ips(const std::vector<Endpoint>& eps) {
  std::vector<std::string> out;
  for (const auto& e : eps) out.push_back(e.ip + ":" + std::to_string(e.port));
  return out;
}

TEST(Snapshot, ServicePortsCarryTheirEndpointsByPortNameAndProtocol) {
  ClusterState state({.node_name = "node-a"});
  state.upsert(service("web"));
  state.upsert(slice("web-1", "web", {ep("10.1.0.5", "node-a"), ep("10.1.1.5", "node-b")}));
  auto snap = state.build();
  ASSERT_EQ(snap->service_ports().size(), 2u);
  const auto* http = snap->find(kHttp);
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->cluster_ips, std::vector<std::string>{"10.96.0.10"});
  EXPECT_EQ(http->port, 80);
  EXPECT_THAT(ips(http->endpoints), ::testing::ElementsAre("10.1.0.5:8080", "10.1.1.5:8080"));
  EXPECT_TRUE(http->endpoints[0].local);
  EXPECT_FALSE(http->endpoints[1].local);
  EXPECT_EQ(http->local_ready_endpoints, 1);
  EXPECT_THAT(ips(snap->find(kDns)->endpoints), ::testing::ElementsAre("10.1.0.5:5353", "10.1.1.5:5353"));
  EXPECT_THAT(ips(http->ipv4.cluster), ::testing::ElementsAre("10.1.0.5:8080", "10.1.1.5:8080"));
  EXPECT_FALSE(http->ipv6.has_any);
  EXPECT_EQ(http->name.to_string(), "shop/web:http");
  EXPECT_EQ(kDns.to_string(), "shop/web:dns/UDP");
}

TEST(Snapshot, EndpointConditionsFollowKubeProxyDefaults) {
  ClusterState state({.node_name = "node-a"});
  state.upsert(service("web"));
  state.upsert(slice("web-1", "web", {ep("10.1.0.1", "n", std::nullopt), ep("10.1.0.2", "n", false, true), ep("10.1.0.3", "n", false)}));
  const auto* http = state.build()->find(kHttp);
  ASSERT_EQ(http->endpoints.size(), 3u);
  EXPECT_TRUE(http->endpoints[0].ready);    // unset ready means ready
  EXPECT_TRUE(http->endpoints[0].serving);  // unset serving follows ready
  EXPECT_TRUE(http->endpoints[1].terminating);
  EXPECT_FALSE(http->endpoints[1].serving);
  EXPECT_THAT(ips(http->ipv4.cluster), ::testing::ElementsAre("10.1.0.1:8080"));
}

TEST(Snapshot, EndpointInTwoSlicesCountsOnceAndReadyWins) {
  ClusterState state({.node_name = "node-a"});
  state.upsert(service("web"));
  state.upsert(slice("web-1", "web", {ep("10.1.0.1", "n", false)}));
  state.upsert(slice("web-2", "web", {ep("10.1.0.1", "n", true)}));
  const auto* http = state.build()->find(kHttp);
  ASSERT_EQ(http->endpoints.size(), 1u);
  EXPECT_TRUE(http->endpoints[0].ready);
}

TEST(Snapshot, AnAddressInSlicesWithDifferentTargetPortsIsOneDnsAddressAndOneEndpointPerPort) {
  ClusterState state({.node_name = "node-a"});
  state.upsert(service("web"));
  auto second = slice("web-2", "web", {ep("10.1.0.1", "n", true), ep("10.1.0.0", "n", true)});
  second.ports = {api::SlicePort{.name = "http", .protocol = "TCP", .port = 8081}};  // a rollout changing the target port
  state.upsert(slice("web-1", "web", {ep("10.1.0.2", "n"), ep("10.1.0.1", "n", false)}));
  state.upsert(second);
  auto snap = state.build();
  EXPECT_THAT(ips(snap->find(kHttp)->endpoints),
              ::testing::ElementsAre("10.1.0.0:8081", "10.1.0.1:8080", "10.1.0.1:8081", "10.1.0.2:8080"));
  EXPECT_THAT(ips(snap->find(kHttp)->ipv4.cluster), ::testing::ElementsAre("10.1.0.0:8081", "10.1.0.1:8081", "10.1.0.2:8080"));
  const auto& addresses = snap->find(ServiceKey{"shop", "web"})->addresses;
  ASSERT_EQ(addresses.size(), 3u);
  EXPECT_EQ(addresses[1].ip, "10.1.0.1");
  EXPECT_TRUE(addresses[1].ready) << "the ready one of the two slices answers DNS";
}

TEST(Snapshot, AServicesPortsAndItsDnsAddressesShareOneCopyOfEachEndpoint) {
  ClusterState state({.node_name = "node-a"});
  state.upsert(service("web"));
  state.upsert(slice("web-1", "web", {ep("10.1.0.6", "node-b"), ep("10.1.0.5", "node-a")}));
  auto snap = state.build();
  const auto* http = snap->find(kHttp);
  const auto& addresses = snap->find(ServiceKey{"shop", "web"})->addresses;
  ASSERT_EQ(http->endpoints.size(), 2u);
  ASSERT_EQ(addresses.size(), 2u);
  EXPECT_EQ(&http->endpoints[0], &addresses[0]) << "a single-port slice's endpoints serve DNS as they are";
  EXPECT_EQ(&http->ipv4.cluster[1], &http->endpoints[1]);
  EXPECT_EQ(http->endpoints[0].ip, "10.1.0.5");
  // A Snapshot built later without a change to the slice keeps pointing at the same endpoints.
  state.upsert(service("web", "10.96.0.11"));
  EXPECT_EQ(&state.build()->find(kHttp)->endpoints[0], &http->endpoints[0]);
}

TEST(Snapshot, HeadlessExternalNameAndOtherProxiesAreNotProxiedButKeptForDns) {
  ClusterState state({.node_name = "node-a", .proxy_name = ""});
  auto headless = service("headless", "None");
  auto external = service("ext", "");
  external.spec = {};
  external.spec.type = "ExternalName";
  external.spec.external_name = "db.example.com";
  auto other = service("other", "10.96.0.11");
  other.metadata.labels[kServiceProxyNameLabel] = "some-other-proxy";
  for (const auto& s : {headless, external, other}) state.upsert(s);
  state.upsert(slice("headless-1", "headless", {ep("10.1.0.7", "node-a")}));
  auto snap = state.build();
  EXPECT_TRUE(snap->service_ports().empty());
  ASSERT_EQ(snap->services().size(), 3u);
  const auto* h = snap->find(ServiceKey{"shop", "headless"});
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(h->headless);
  EXPECT_FALSE(h->proxied);
  EXPECT_EQ(h->addresses.size(), 1u);
  EXPECT_EQ(snap->find(ServiceKey{"shop", "ext"})->external_name, "db.example.com");
}

TEST(Snapshot, ExternalFieldsPoliciesAndAffinity) {
  auto s = service("web");
  s.spec.type = "LoadBalancer";
  s.spec.ports[0].node_port = 30080;
  s.spec.external_traffic_policy = "Local";
  s.spec.health_check_node_port = 31000;
  s.spec.external_ips = {"192.0.2.10"};
  s.spec.load_balancer_source_ranges = {"198.51.100.0/24"};
  s.spec.session_affinity = "ClientIP";
  s.spec.session_affinity_timeout_seconds = 60;
  s.spec.internal_traffic_policy = "Local";
  s.status_load_balancer_ingress = {api::LoadBalancerIngress{.ip = "203.0.113.1"},
                                    api::LoadBalancerIngress{.ip = "203.0.113.2", .ip_mode = "Proxy"}};
  s.metadata.annotations[kLoadBalancingAnnotation] = "maglev";
  ClusterState state({.node_name = "node-a"});
  state.upsert(s);
  const auto* http = state.build()->find(kHttp);
  EXPECT_EQ(http->node_port, 30080);
  EXPECT_TRUE(http->external_policy_local);
  EXPECT_TRUE(http->internal_policy_local);
  EXPECT_EQ(http->health_check_node_port, 31000);
  EXPECT_EQ(http->load_balancer_ips, std::vector<std::string>{"203.0.113.1"});  // ipMode Proxy is the LB's job
  EXPECT_EQ(http->load_balancer_source_ranges, std::vector<std::string>{"198.51.100.0/24"});
  EXPECT_EQ(http->affinity_timeout_seconds, 60);
  EXPECT_EQ(http->load_balancing, "maglev");
  EXPECT_FALSE(http->ipv4.has_any);  // no endpoints: reject
}

TEST(Snapshot, MixedFamiliesAreCategorizedSeparately) {
  auto s = service("web");
  s.spec.cluster_ips = {"10.96.0.10", "fd00::10"};
  s.spec.ip_families = {"IPv4", "IPv6"};
  ClusterState state({.node_name = "node-a"});
  state.upsert(s);
  state.upsert(slice("web-v4", "web", {ep("10.1.0.5", "node-b")}));
  state.upsert(slice("web-v6", "web", {ep("fd00:1::5", "node-b", false, true)}, "IPv6"));
  const auto* http = state.build()->find(kHttp);
  EXPECT_THAT(ips(http->ipv4.cluster), ::testing::ElementsAre("10.1.0.5:8080"));
  EXPECT_TRUE(http->ipv6.cluster.empty());  // serving=false too: nothing to fall back to
  EXPECT_FALSE(http->ipv6.has_any);
}

TEST(Snapshot, TopologyHintsFollowTheNodeZone) {
  auto s = service("web");
  s.spec.traffic_distribution = "PreferClose";
  auto a = ep("10.1.0.1", "node-a");
  a.hints = api::EndpointHints{.for_zones = {"zone-a"}};
  auto b = ep("10.1.0.2", "node-b");
  b.hints = api::EndpointHints{.for_zones = {"zone-b"}};
  ClusterState state({.node_name = "node-a"});
  state.upsert(s);
  state.upsert(slice("web-1", "web", {a, b}));
  EXPECT_EQ(state.build()->find(kHttp)->ipv4.cluster.size(), 2u);  // zone unknown yet: no topology
  api::Node node;
  node.metadata.name = "node-a";
  node.metadata.labels = {{"topology.kubernetes.io/zone", "zone-a"}};
  state.set_node(node);
  EXPECT_THAT(ips(state.build()->find(kHttp)->ipv4.cluster), ::testing::ElementsAre("10.1.0.1:8080"));
}

TEST(Snapshot, UnchangedServicesAreSharedAndGenerationsAdvance) {
  ClusterState state({.node_name = "node-a"});
  state.upsert(service("web"));
  state.upsert(service("api", "10.96.0.20"));
  auto first = state.build();
  EXPECT_EQ(first->generation(), 1u);
  EXPECT_EQ(state.build(), first);  // nothing changed: same Snapshot
  state.upsert(slice("web-1", "web", {ep("10.1.0.5", "node-a")}));
  auto second = state.build();
  EXPECT_EQ(second->generation(), 2u);
  const ServicePortName api_http{"shop", "api", "http", "TCP"};
  EXPECT_EQ(first->service_ports().at(api_http), second->service_ports().at(api_http));  // shared
  EXPECT_NE(first->service_ports().at(kHttp), second->service_ports().at(kHttp));
  EXPECT_TRUE(first->find(kHttp)->endpoints.empty());  // the old Snapshot is untouched
}

TEST(Snapshot, RemovingServiceAndSlices) {
  ClusterState state({.node_name = "node-a"});
  state.upsert(service("web"));
  state.upsert(slice("web-1", "web", {ep("10.1.0.5", "node-a")}));
  state.build();
  state.remove_slice("shop", "web-1");
  EXPECT_TRUE(state.build()->find(kHttp)->endpoints.empty());
  state.remove_service(ServiceKey{"shop", "web"});
  auto snap = state.build();
  EXPECT_EQ(snap->find(kHttp), nullptr);
  EXPECT_TRUE(snap->services().empty());
}

}  // namespace
}  // namespace switchyard::endpoints
