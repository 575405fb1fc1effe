// kube-proxy's CategorizeEndpoints cases: topology hints, traffic policies and the
// terminating-endpoint fallback.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/node/eligible_endpoints.h"

namespace switchyard::endpoints {
namespace {

using ::testing::UnorderedElementsAreArray;

struct Ep {
  std::string ip;
  bool ready = true, serving = true, terminating = false, local = false;
  std::vector<std::string> zones = {};
};

std::vector<Endpoint> make(const std::vector<Ep>& eps) {
  std::vector<Endpoint> out;
  for (const auto& e : eps) {
    Endpoint x;
    x.ip = e.ip;
    x.port = 80;
    x.ready = e.ready;
    x.serving = e.serving;
    x.terminating = e.terminating;
    x.local = e.local;
    x.zone_hints = e.zones;
    out.push_back(x);
  }
  return out;
}

std::vector<std::string> ips(const std::vector<Endpoint>& eps) {
  std::vector<std::string> out;
  for (const auto& e : eps) out.push_back(e.ip);
  return out;
}

struct Case {
  std::string name;
  bool topology = false;
  std::string node_zone = "zone-a";
  bool internal_local = false, external_local = false, node_port = false;
  std::vector<Ep> endpoints;
  std::vector<std::string> cluster, local, reachable;
  bool has_any = true;
};

class Categorize : public ::testing::TestWithParam<Case> {};

TEST_P(Categorize, PicksTheEndpointsKubeProxyWould) {
  const Case& c = GetParam();
  ServicePortInfo port;
  port.internal_policy_local = c.internal_local;
  port.external_policy_local = c.external_local;
  if (c.node_port) port.node_port = 30080;
  auto got = categorize_endpoints(make(c.endpoints), port, NodeTopology{"node-1", c.node_zone}, c.topology);
  EXPECT_THAT(ips(got.cluster), UnorderedElementsAreArray(c.cluster)) << "cluster";
  EXPECT_THAT(ips(got.local), UnorderedElementsAreArray(c.local)) << "local";
  EXPECT_THAT(ips(got.all_reachable), UnorderedElementsAreArray(c.reachable)) << "all reachable";
  EXPECT_EQ(got.has_any, c.has_any);
}

const std::vector<Ep> kHinted = {{"10.1.2.3", true, true, false, false, {"zone-a"}},
                                 {"10.1.2.4", true, true, false, false, {"zone-b"}},
                                 {"10.1.2.5", true, true, false, false, {"zone-c"}},
                                 {"10.1.2.6", true, true, false, false, {"zone-a"}}};
const std::vector<std::string> kAllHinted = {"10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"};

INSTANTIATE_TEST_SUITE_P(
    KubeProxyCases, Categorize,
    ::testing::Values(
        Case{.name = "hints_used_for_this_zone",
             .topology = true,
             .endpoints = kHinted,
             .cluster = {"10.1.2.3", "10.1.2.6"},
             .reachable = {"10.1.2.3", "10.1.2.6"}},
        Case{.name = "hints_ignored_when_not_requested",
             .topology = false,
             .endpoints = kHinted,
             .cluster = kAllHinted,
             .reachable = kAllHinted},
        Case{.name = "hints_ignored_without_node_zone",
             .topology = true,
             .node_zone = "",
             .endpoints = kHinted,
             .cluster = kAllHinted,
             .reachable = kAllHinted},
        Case{.name = "hints_for_another_zone_only",
             .topology = true,
             .node_zone = "zone-d",
             .endpoints = kHinted,
             .cluster = kAllHinted,
             .reachable = kAllHinted},
        Case{.name = "one_ready_endpoint_without_hints",
             .topology = true,
             .endpoints = {{"10.1.2.3", true, true, false, false, {"zone-a"}}, {"10.1.2.4", true, true, false, false, {}}},
             .cluster = {"10.1.2.3", "10.1.2.4"},
             .reachable = {"10.1.2.3", "10.1.2.4"}},
        Case{.name = "unready_endpoint_without_hints_does_not_matter",
             .topology = true,
             .endpoints = {{"10.1.2.3", true, true, false, false, {"zone-a"}}, {"10.1.2.4", false, false, false, false, {}}},
             .cluster = {"10.1.2.3"},
             .reachable = {"10.1.2.3"}},
        Case{.name = "no_ready_endpoints_fall_back_to_serving_terminating",
             .endpoints = {{"10.1.2.3", false, true, true}, {"10.1.2.4", false, false, true}, {"10.1.2.5", false, false, false}},
             .cluster = {"10.1.2.3"},
             .reachable = {"10.1.2.3"}},
        Case{.name = "ready_endpoints_win_over_terminating",
             .endpoints = {{"10.1.2.3", false, true, true}, {"10.1.2.4", true, true, false}},
             .cluster = {"10.1.2.4"},
             .reachable = {"10.1.2.4"}},
        Case{
            .name = "nothing_usable", .endpoints = {{"10.1.2.3", false, false, true}, {"10.1.2.4", false, false, false}}, .has_any = false},
        Case{.name = "no_endpoints", .has_any = false},
        Case{.name = "internal_local_with_local_endpoint",
             .internal_local = true,
             .endpoints = {{"10.0.0.1", true, true, false, true}, {"10.0.0.2"}},
             .local = {"10.0.0.1"},
             .reachable = {"10.0.0.1"}},
        Case{.name = "internal_local_all_remote_drops_not_rejects", .internal_local = true, .endpoints = {{"10.0.0.1"}, {"10.0.0.2"}}},
        Case{.name = "internal_local_terminating_local_fallback",
             .internal_local = true,
             .endpoints = {{"10.0.0.1", false, true, true, true}, {"10.0.0.2"}},
             .local = {"10.0.0.1"},
             .reachable = {"10.0.0.1"}},
        Case{.name = "internal_local_ignores_topology",
             .topology = true,
             .internal_local = true,
             .endpoints = {{"10.0.0.1", true, true, false, true, {"zone-b"}}, {"10.0.0.2", true, true, false, false, {"zone-a"}}},
             .local = {"10.0.0.1"},
             .reachable = {"10.0.0.1"}},
        Case{.name = "external_local_keeps_cluster_endpoints_for_internal_traffic",
             .external_local = true,
             .node_port = true,
             .endpoints = {{"10.0.0.1", true, true, false, true}, {"10.0.0.2"}},
             .cluster = {"10.0.0.1", "10.0.0.2"},
             .local = {"10.0.0.1"},
             .reachable = {"10.0.0.1", "10.0.0.2"}},
        Case{.name = "external_local_no_local_endpoints",
             .external_local = true,
             .node_port = true,
             .endpoints = {{"10.0.0.2"}},
             .cluster = {"10.0.0.2"},
             .reachable = {"10.0.0.2"}},
        Case{.name = "external_local_only_terminating_locally",
             .external_local = true,
             .node_port = true,
             .endpoints = {{"10.0.0.1", false, true, true, true}, {"10.0.0.2"}},
             .cluster = {"10.0.0.2"},
             .local = {"10.0.0.1"},
             .reachable = {"10.0.0.1", "10.0.0.2"}},
        Case{.name = "external_local_topology_does_not_filter_local",
             .topology = true,
             .external_local = true,
             .node_port = true,
             .endpoints = {{"10.0.0.1", true, true, false, true, {"zone-b"}}, {"10.0.0.2", true, true, false, false, {"zone-a"}}},
             .cluster = {"10.0.0.2"},
             .local = {"10.0.0.1"},
             .reachable = {"10.0.0.1", "10.0.0.2"}},
        Case{.name = "external_local_without_external_access_is_cluster",
             .external_local = true,
             .endpoints = {{"10.0.0.1", true, true, false, true}, {"10.0.0.2"}},
             .cluster = {"10.0.0.1", "10.0.0.2"},
             .reachable = {"10.0.0.1", "10.0.0.2"}}),
    [](const auto& info) { return info.param.name; });

TEST(CategorizeNodeHints, NodeHintsBeatZoneHints) {
  std::vector<Endpoint> eps =
      make({{"10.0.0.1", true, true, false, false, {"zone-a"}}, {"10.0.0.2", true, true, false, false, {"zone-a"}}});
  eps[0].node_hints = {"node-1"};
  eps[1].node_hints = {"node-2"};
  auto got = categorize_endpoints(eps, ServicePortInfo{}, NodeTopology{"node-1", "zone-a"}, true);
  EXPECT_EQ(ips(got.cluster), std::vector<std::string>{"10.0.0.1"});
}

}  // namespace
}  // namespace switchyard::endpoints
