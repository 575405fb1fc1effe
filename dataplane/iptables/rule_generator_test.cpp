// Snapshot → nftables objects, checked through their nft rendering: kube-proxy's layout for
// ClusterIP, no endpoints, affinity, NodePort with Local policy, source ranges, and IPv6.
#include "dataplane/iptables/rule_generator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/node/snapshot.h"
#include "orchestrator/api/defaults.h"

namespace switchyard::dataplane::nft {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

api::Service service(std::string name, std::string cluster_ip) {
  api::Service s;
  s.metadata.name = std::move(name);
  s.metadata.namespace_ = "shop";
  s.spec.selector = {{"app", "web"}};
  s.spec.cluster_ip = std::move(cluster_ip);
  s.spec.ports = {api::ServicePort{.name = "http", .port = 80, .target_port = api::IntOrString::of(8080)}};
  api::apply_defaults(s, {});
  return s;
}

api::EndpointSlice slice(std::string svc, std::vector<std::pair<std::string, std::string>> ip_node, std::string family = "IPv4") {
  api::EndpointSlice s;
  s.metadata.name = svc + "-" + family;
  s.metadata.namespace_ = "shop";
  s.metadata.labels = {{endpoints::kServiceNameLabel, svc}};
  s.address_type = std::move(family);
  for (auto& [ip, node] : ip_node) {
    api::SliceEndpoint e;
    e.addresses = {ip};
    e.node_name = node;
    e.conditions.ready = true;
    s.endpoints.push_back(e);
  }
  s.ports = {api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080}};
  return s;
}

const endpoints::ServicePortName kWebHttp{"shop", "web", "http", "TCP"};
const GeneratorOptions kOptions{.cluster_cidrs = {"10.244.0.0/16", "fd00:244::/64"}};

std::vector<std::string> rules_of(const Chain& c, IpFamily f = IpFamily::IPv4) {
  std::vector<std::string> out;
  for (const auto& r : c.rules) out.push_back(render(r, f));
  return out;
}

std::vector<std::string> chain_names(const ServicePortObjects& o) {
  std::vector<std::string> out;
  for (const auto& c : o.chains) out.push_back(c.name);
  return out;
}

std::vector<std::string> element_texts(const ServicePortObjects& o) {
  std::vector<std::string> out;
  for (const auto& e : o.elements) {
    std::string text =
        e.set + " " + e.key.address + " " +
        (e.key.second_address.empty() ? std::to_string(e.key.protocol) + " " + std::to_string(e.key.port) : ". " + e.key.second_address);
    if (e.key.index) text += " . " + std::to_string(*e.key.index);
    if (e.verdict) text += " -> " + render(*e.verdict, IpFamily::IPv4);
    if (e.endpoint) text += " -> " + e.endpoint->address + ":" + std::to_string(e.endpoint->port);
    out.push_back(text);
  }
  return out;
}

ServicePortObjects generate(const api::Service& s, const std::vector<api::EndpointSlice>& slices, IpFamily f = IpFamily::IPv4) {
  endpoints::ClusterState state({.node_name = "node-a"});
  state.upsert(s);
  for (const auto& sl : slices) state.upsert(sl);
  auto snap = state.build();
  return generate_service_port(*snap->find(kWebHttp), f, kOptions);
}

TEST(RuleGenerator, SkeletonUsesKubeProxyHooksAndPriorities) {
  auto front = make_front_skeleton(IpFamily::IPv4, kOptions);
  auto services = make_service_table_skeleton(IpFamily::IPv4, 3, kOptions);
  EXPECT_EQ(front.table, "switchyard");
  EXPECT_EQ(services.table, "switchyard-services-3");
  std::map<std::string, BaseChainHook> bases;
  for (const auto* t : {&front, &services})
    for (const auto& c : t->chains)
      if (c.base) bases[c.name] = *c.base;
  ASSERT_EQ(bases.size(), 8u);
  EXPECT_EQ(bases["filter-prerouting"].priority, -110);
  EXPECT_EQ(bases["filter-output-post-dnat"].priority, -90);
  EXPECT_EQ(bases["nat-prerouting"].priority, -100);
  EXPECT_EQ(bases["nat-postrouting"].priority, 100);
  EXPECT_EQ(bases["nat-output"].type, ChainType::Nat);
  const auto rendered = render_table(front, {}) + render_table(services, {});
  EXPECT_THAT(rendered, HasSubstr("add rule ip switchyard-services-3 services ip daddr . meta l4proto . th dport vmap @service-ips"));
  EXPECT_THAT(rendered, HasSubstr("fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"));
  EXPECT_THAT(rendered, HasSubstr("meta mark & 0x4000 == 0 return"));
  EXPECT_THAT(rendered, HasSubstr("add rule ip switchyard masquerading ip saddr . ip daddr @hairpin-endpoints masquerade fully-random"));
  EXPECT_THAT(rendered, HasSubstr("add set ip switchyard hairpin-endpoints { type ipv4_addr . ipv4_addr;"));
}

TEST(RuleGenerator, NodePortAddressesRestrictNodePortsToASetPerTable) {
  GeneratorOptions options = kOptions;
  options.node_port_ipv4 = std::vector<std::string>{"192.168.50.1"};
  const auto front = render_table(make_front_skeleton(IpFamily::IPv4, options), {});
  const auto services = render_table(make_service_table_skeleton(IpFamily::IPv4, 0, options), {});
  for (const auto& [table, rendered] : {std::pair{"switchyard", front}, std::pair{"switchyard-services-0", services}}) {
    EXPECT_THAT(rendered, HasSubstr(std::string("add set ip ") + table + " nodeport-ips { type ipv4_addr;"));
    EXPECT_THAT(rendered, HasSubstr(std::string("add element ip ") + table + " nodeport-ips { 192.168.50.1 }"));
    EXPECT_THAT(rendered, ::testing::Not(HasSubstr("fib daddr type local")));
  }
  EXPECT_THAT(front, HasSubstr("ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports"));
  EXPECT_THAT(services, HasSubstr("ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"));
  // The other family is not restricted: every local address.
  const auto v6 = render_table(make_service_table_skeleton(IpFamily::IPv6, 0, options), {});
  EXPECT_THAT(v6, HasSubstr("fib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports"));
  EXPECT_THAT(v6, ::testing::Not(HasSubstr("nodeport-ips")));
}

TEST(RuleGenerator, ClusterIpGoesToTheSharedChainForItsEndpointCount) {
  auto o = generate(service("web", "10.96.0.10"), {slice("web", {{"10.244.1.5", "node-b"}, {"10.244.0.5", "node-a"}})});
  // No chain of its own: entries in the table's endpoints-2 map, and service-ips points there.
  EXPECT_TRUE(o.chains.empty());
  EXPECT_TRUE(o.sets.empty());
  EXPECT_EQ(o.endpoint_group, 2u);
  EXPECT_THAT(element_texts(o),
              ElementsAre("endpoints-2 10.96.0.10 6 80 . 0 -> 10.244.0.5:8080", "endpoints-2 10.96.0.10 6 80 . 1 -> 10.244.1.5:8080",
                          "hairpin-endpoints 10.244.0.5 . 10.244.0.5", "hairpin-endpoints 10.244.1.5 . 10.244.1.5",
                          "cluster-ips 10.96.0.10 0 0", "service-ips 10.96.0.10 6 80 -> goto endpoints-2"));
  EXPECT_EQ(o.elements.back().comment, "shop/web/tcp/http");  // names the service for `switchyard status`
}

TEST(RuleGenerator, EndpointGroupMasqueradesOffClusterClientsAndPicksAtRandom) {
  const auto g = make_endpoint_group(IpFamily::IPv4, 3, kOptions);
  EXPECT_EQ(g.chain.name, "endpoints-3");
  EXPECT_EQ(g.map.name, "endpoints-3");
  EXPECT_TRUE(g.map.endpoint_map);
  EXPECT_THAT(rules_of(g.chain), ElementsAre("ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
                                             "dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 3 map @endpoints-3"));
  const auto v6 = make_endpoint_group(IpFamily::IPv6, 1, kOptions);
  EXPECT_THAT(rules_of(v6.chain, IpFamily::IPv6),
              ElementsAre("ip6 saddr != fd00:244::/64 jump mark-for-masquerade",
                          "dnat ip6 to ip6 daddr . meta l4proto . th dport . numgen random mod 1 map @endpoints-1"));
  // Without cluster CIDRs every ClusterIP connection is masqueraded (--masquerade-all).
  EXPECT_EQ(rules_of(make_endpoint_group(IpFamily::IPv4, 1, {}).chain)[0], "jump mark-for-masquerade");
}

TEST(RuleGenerator, ServiceWithoutEndpointsRejects) {
  auto o = generate(service("web", "10.96.0.10"), {});
  EXPECT_TRUE(o.chains.empty());
  EXPECT_THAT(element_texts(o), ElementsAre("cluster-ips 10.96.0.10 0 0", "no-endpoint-services 10.96.0.10 6 80 -> goto reject-chain"));
}

TEST(RuleGenerator, ClientIpAffinityUsesATimedSetPerEndpoint) {
  auto s = service("web", "10.96.0.10");
  s.spec.session_affinity = "ClientIP";
  s.spec.session_affinity_timeout_seconds = 60;
  auto o = generate(s, {slice("web", {{"10.244.0.5", "node-a"}})});
  ASSERT_EQ(o.sets.size(), 1u);  // one affinity set per endpoint
  const Set& affinity = o.sets[0];
  EXPECT_EQ(affinity.timeout_seconds, 60u);
  EXPECT_THAT(affinity.name, ::testing::StartsWith("affinity-"));
  // A client in the endpoint's set goes back to it; every choice refreshes the client's entry.
  EXPECT_THAT(rules_of(o.chains[0]), ElementsAre(::testing::HasSubstr("jump mark-for-masquerade"),
                                                 "ip saddr @" + affinity.name + " update @" + affinity.name +
                                                     " { ip saddr } meta l4proto tcp dnat to 10.244.0.5:8080",
                                                 "update @" + affinity.name + " { ip saddr } meta l4proto tcp dnat to 10.244.0.5:8080"));
}

TEST(RuleGenerator, NodePortWithLocalPolicyKeepsExternalSourcesOnLocalEndpoints) {
  auto s = service("web", "10.96.0.10");
  s.spec.type = "NodePort";
  s.spec.ports[0].node_port = 30080;
  s.spec.external_traffic_policy = "Local";
  auto o = generate(s, {slice("web", {{"10.244.0.5", "node-a"}, {"10.244.1.5", "node-b"}})});
  const std::string base = service_chain_base(kWebHttp);
  EXPECT_THAT(chain_names(o), ::testing::IsSupersetOf({"external-" + base, "service-" + base, "local-" + base}));
  const Chain& external = o.chains[0];
  ASSERT_EQ(external.name, "external-" + base);
  EXPECT_THAT(rules_of(external),
              ElementsAre("ip saddr 10.244.0.0/16 goto service-" + base + "", "fib saddr type local jump mark-for-masquerade",
                          "fib saddr type local goto service-" + base + "", "goto local-" + base + ""));
  for (const auto& c : o.chains) {
    if (c.name == "local-" + base) {
      EXPECT_EQ(rules_of(c).back(), "meta l4proto tcp dnat to 10.244.0.5:8080");  // the one local endpoint
    }
  }
  EXPECT_THAT(element_texts(o), ::testing::Contains("service-nodeports  6 30080 -> goto external-" + base + ""));
}

TEST(RuleGenerator, NodePortWithClusterPolicyMasqueradesExternalTraffic) {
  auto s = service("web", "10.96.0.10");
  s.spec.type = "NodePort";
  s.spec.ports[0].node_port = 30080;
  auto o = generate(s, {slice("web", {{"10.244.1.5", "node-b"}})});
  const std::string base = service_chain_base(kWebHttp);
  ASSERT_EQ(o.chains[0].name, "external-" + base);
  EXPECT_THAT(rules_of(o.chains[0]), ElementsAre("jump mark-for-masquerade", "goto service-" + base + ""));
  // The service chain serves the external path only (ClusterIPs go to endpoints-1): it picks
  // an endpoint by a numgen cascade and needs no ClusterIP masquerade rule.
  ASSERT_EQ(o.chains[1].name, "service-" + base);
  EXPECT_THAT(rules_of(o.chains[1]), ElementsAre("meta l4proto tcp dnat to 10.244.1.5:8080"));
  EXPECT_THAT(element_texts(o), ::testing::Contains("service-ips 10.96.0.10 6 80 -> goto endpoints-1"));
}

TEST(RuleGenerator, LoadBalancerSourceRangesGetAFirewallChain) {
  auto s = service("web", "10.96.0.10");
  s.spec.type = "LoadBalancer";
  s.spec.ports[0].node_port = 30080;
  s.spec.load_balancer_source_ranges = {"198.51.100.0/24"};
  s.spec.external_ips = {"192.0.2.10"};
  s.status_load_balancer_ingress = {api::LoadBalancerIngress{.ip = "203.0.113.1"}};
  auto o = generate(s, {slice("web", {{"10.244.1.5", "node-b"}})});
  const std::string base = service_chain_base(kWebHttp);
  ASSERT_EQ(o.chains.back().name, "firewall-" + base);
  EXPECT_THAT(rules_of(o.chains.back()), ElementsAre("ip saddr 198.51.100.0/24 return", "drop"));
  const auto elements = element_texts(o);
  EXPECT_THAT(elements, ::testing::Contains("firewall-ips 203.0.113.1 6 80 -> goto firewall-" + base + ""));
  EXPECT_THAT(elements, ::testing::Contains("service-ips 192.0.2.10 6 80 -> goto external-" + base + ""));
  EXPECT_THAT(elements, ::testing::Contains("service-ips 203.0.113.1 6 80 -> goto external-" + base + ""));
}

TEST(RuleGenerator, InternalPolicyLocalWithoutLocalEndpointsDrops) {
  auto s = service("web", "10.96.0.10");
  s.spec.internal_traffic_policy = "Local";
  auto o = generate(s, {slice("web", {{"10.244.1.5", "node-b"}})});
  EXPECT_TRUE(o.chains.empty());
  EXPECT_THAT(element_texts(o), ::testing::Contains("no-endpoint-services 10.96.0.10 6 80 -> drop"));
}

TEST(RuleGenerator, EachFamilyGetsOnlyItsAddresses) {
  auto s = service("web", "10.96.0.10");
  s.spec.cluster_ips = {"10.96.0.10", "fd00::10"};
  s.spec.ip_families = {"IPv4", "IPv6"};
  s.spec.ip_family_policy = "RequireDualStack";
  auto v6 = generate(s, {slice("web", {{"10.244.0.5", "node-a"}}), slice("web", {{"fd00:244::5", "node-a"}}, "IPv6")}, IpFamily::IPv6);
  EXPECT_TRUE(v6.chains.empty());
  EXPECT_THAT(element_texts(v6), ::testing::Contains("endpoints-1 fd00::10 6 80 . 0 -> fd00:244::5:8080"));
  EXPECT_THAT(element_texts(v6), ::testing::Contains("cluster-ips fd00::10 0 0"));
  EXPECT_THAT(element_texts(v6), ::testing::Contains("hairpin-endpoints fd00:244::5 . fd00:244::5"));
  EXPECT_THAT(element_texts(v6), ::testing::Not(::testing::Contains(HasSubstr("10.244.0.5"))));
}

}  // namespace
}  // namespace switchyard::dataplane::nft
