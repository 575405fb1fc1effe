#include "endpoints/controller/topology_hints.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/controller/test_objects.h"

namespace switchyard::slice_controller {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::node;
using testing::web_service;

api::SliceEndpoint endpoint(const std::string& ip, const std::string& zone, bool ready = true) {
  api::SliceEndpoint ep;
  ep.addresses = {ip};
  ep.conditions = {ready, ready, false};
  ep.node_name = "node-" + zone;
  if (!zone.empty()) ep.zone = zone;
  return ep;
}

api::EndpointSlice slice_of(std::vector<api::SliceEndpoint> endpoints, const std::string& name = "") {
  api::EndpointSlice s;
  s.metadata.name = name;
  s.address_type = "IPv4";
  s.endpoints = std::move(endpoints);
  return s;
}

api::EndpointHints zones(std::vector<std::string> z) { return api::EndpointHints{.for_zones = std::move(z)}; }

// Hinted zone of each endpoint, in order ("-" when none).
std::vector<std::string> hinted_zones(const api::EndpointSlice& s) {
  std::vector<std::string> out;
  for (const auto& ep : s.endpoints) {
    if (!ep.hints)
      out.push_back("-");
    else
      out.push_back(ep.hints->for_zones.empty() ? "?" : ep.hints->for_zones.front());
  }
  return out;
}

// ---- which policy --------------------------------------------------------------------------

struct PolicyCase {
  std::string name;
  api::StringMap annotations;
  std::optional<std::string> traffic_distribution;
  HintPolicy policy;
};

class HintPolicyTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(HintPolicyTest, FromAnnotationsAndTrafficDistribution) {
  auto service = web_service();
  service.metadata.annotations = GetParam().annotations;
  service.spec.traffic_distribution = GetParam().traffic_distribution;
  EXPECT_EQ(hint_policy_for(service), GetParam().policy);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HintPolicyTest,
    ::testing::Values(
        PolicyCase{"none", {}, std::nullopt, HintPolicy::None}, PolicyCase{"prefer_close", {}, "PreferClose", HintPolicy::SameZone},
        PolicyCase{"prefer_same_zone", {}, "PreferSameZone", HintPolicy::SameZone},
        PolicyCase{"prefer_same_node", {}, "PreferSameNode", HintPolicy::SameZoneAndNode},
        PolicyCase{"unknown_distribution", {}, "Nearby", HintPolicy::None},
        PolicyCase{
            "topology_mode_auto", {{"service.kubernetes.io/topology-mode", "Auto"}}, std::nullopt, HintPolicy::ProportionalToZoneCpu},
        PolicyCase{"auto_wins_over_distribution",
                   {{"service.kubernetes.io/topology-mode", "auto"}},
                   "PreferClose",
                   HintPolicy::ProportionalToZoneCpu},
        PolicyCase{"topology_mode_disabled", {{"service.kubernetes.io/topology-mode", "Disabled"}}, "PreferClose", HintPolicy::SameZone},
        PolicyCase{"old_annotation_wins",
                   {{"service.kubernetes.io/topology-aware-hints", "Disabled"}, {"service.kubernetes.io/topology-mode", "Auto"}},
                   std::nullopt,
                   HintPolicy::None}),
    [](const auto& info) { return info.param.name; });

// ---- PreferClose ---------------------------------------------------------------------------

TEST(SameZoneHintsTest, ReadyEndpointsAreHintedForTheirOwnZone) {
  SlicePlan plan;
  plan.to_create = {slice_of(
      {endpoint("10.0.0.1", "zone-a"), endpoint("10.0.0.2", "zone-b"), endpoint("10.0.0.3", "zone-a", false), endpoint("10.0.0.4", "")})};
  EXPECT_EQ(reconcile_hints(HintPolicy::SameZone, NodeLookup{}, plan), "");
  EXPECT_THAT(hinted_zones(plan.to_create[0]), ElementsAre("zone-a", "zone-b", "-", "-"));
  EXPECT_THAT(plan.to_create[0].endpoints[0].hints->for_nodes, IsEmpty());
}

TEST(SameZoneHintsTest, SameNodeAddsNodeHints) {
  SlicePlan plan;
  plan.to_create = {slice_of({endpoint("10.0.0.1", "zone-a")})};
  reconcile_hints(HintPolicy::SameZoneAndNode, NodeLookup{}, plan);
  EXPECT_EQ(plan.to_create[0].endpoints[0].hints, (api::EndpointHints{.for_zones = {"zone-a"}, .for_nodes = {"node-zone-a"}}));
}

TEST(SameZoneHintsTest, CorrectlyHintedUnchangedSlicesStayUnchanged) {
  auto hinted = endpoint("10.0.0.1", "zone-a");
  hinted.hints = zones({"zone-a"});
  auto stale = endpoint("10.0.0.2", "zone-b");
  stale.hints = zones({"zone-a"});
  SlicePlan plan;
  plan.unchanged = {slice_of({hinted}, "good"), slice_of({stale}, "stale")};
  reconcile_hints(HintPolicy::SameZone, NodeLookup{}, plan);
  ASSERT_EQ(plan.unchanged.size(), 1u);
  EXPECT_EQ(plan.unchanged[0].metadata.name, "good");
  ASSERT_EQ(plan.to_update.size(), 1u);
  EXPECT_EQ(plan.to_update[0].metadata.name, "stale");
  EXPECT_THAT(hinted_zones(plan.to_update[0]), ElementsAre("zone-b"));
}

TEST(SameZoneHintsTest, NoPolicyRemovesLeftoverHints) {
  auto hinted = endpoint("10.0.0.1", "zone-a");
  hinted.hints = zones({"zone-a"});
  SlicePlan plan;
  plan.unchanged = {slice_of({hinted}, "old"), slice_of({endpoint("10.0.0.2", "zone-a")}, "clean")};
  reconcile_hints(HintPolicy::None, NodeLookup{}, plan);
  ASSERT_EQ(plan.to_update.size(), 1u);
  EXPECT_EQ(plan.to_update[0].metadata.name, "old");
  EXPECT_THAT(hinted_zones(plan.to_update[0]), ElementsAre("-"));
  ASSERT_EQ(plan.unchanged.size(), 1u);
}

// ---- topology-mode: Auto -------------------------------------------------------------------

std::vector<api::Node> three_equal_zones() { return {node("a", "zone-a"), node("b", "zone-b"), node("c", "zone-c")}; }

TEST(ProportionalHintsTest, BalancedEndpointsStayInTheirZones) {
  NodeLookup nodes(three_equal_zones());
  SlicePlan plan;
  plan.to_create = {slice_of({endpoint("10.0.0.1", "zone-a"), endpoint("10.0.0.2", "zone-b"), endpoint("10.0.0.3", "zone-c"),
                              endpoint("10.0.0.4", "zone-a"), endpoint("10.0.0.5", "zone-b"), endpoint("10.0.0.6", "zone-c")})};
  EXPECT_EQ(reconcile_hints(HintPolicy::ProportionalToZoneCpu, nodes, plan), "");
  EXPECT_THAT(hinted_zones(plan.to_create[0]), ElementsAre("zone-a", "zone-b", "zone-c", "zone-a", "zone-b", "zone-c"));
}

TEST(ProportionalHintsTest, CrowdedZoneLendsEndpointsToTheEmptyOne) {
  // Equal CPU in three zones, endpoints 4/2/0: zone-a gives two endpoints to zone-c.
  NodeLookup nodes(three_equal_zones());
  SlicePlan plan;
  plan.to_create = {slice_of({endpoint("10.0.0.1", "zone-a"), endpoint("10.0.0.2", "zone-a"), endpoint("10.0.0.3", "zone-a"),
                              endpoint("10.0.0.4", "zone-a"), endpoint("10.0.0.5", "zone-b"), endpoint("10.0.0.6", "zone-b")})};
  EXPECT_EQ(reconcile_hints(HintPolicy::ProportionalToZoneCpu, nodes, plan), "");
  EXPECT_THAT(hinted_zones(plan.to_create[0]), ElementsAre("zone-c", "zone-c", "zone-a", "zone-a", "zone-b", "zone-b"));
}

TEST(ProportionalHintsTest, SharesFollowCpu) {
  // zone-a has three times zone-b's CPU: of 4 endpoints all in zone-b, 3 are hinted to zone-a.
  NodeLookup nodes(std::vector<api::Node>{node("a", "zone-a", "12"), node("b", "zone-b", "4")});
  SlicePlan plan;
  plan.to_create = {slice_of(
      {endpoint("10.0.0.1", "zone-b"), endpoint("10.0.0.2", "zone-b"), endpoint("10.0.0.3", "zone-b"), endpoint("10.0.0.4", "zone-b")})};
  EXPECT_EQ(reconcile_hints(HintPolicy::ProportionalToZoneCpu, nodes, plan), "");
  EXPECT_THAT(hinted_zones(plan.to_create[0]), ElementsAre("zone-a", "zone-a", "zone-a", "zone-b"));
}

TEST(ProportionalHintsTest, ConvergedHintsAreLeftAlone) {
  NodeLookup nodes(three_equal_zones());
  SlicePlan plan;
  plan.to_create = {slice_of({endpoint("10.0.0.1", "zone-a"), endpoint("10.0.0.2", "zone-a"), endpoint("10.0.0.3", "zone-a"),
                              endpoint("10.0.0.4", "zone-a"), endpoint("10.0.0.5", "zone-b"), endpoint("10.0.0.6", "zone-b")})};
  reconcile_hints(HintPolicy::ProportionalToZoneCpu, nodes, plan);
  SlicePlan again;
  again.unchanged = plan.to_create;
  EXPECT_EQ(reconcile_hints(HintPolicy::ProportionalToZoneCpu, nodes, again), "");
  EXPECT_THAT(again.to_update, IsEmpty());
  EXPECT_EQ(again.unchanged.size(), 1u);
}

struct FallbackCase {
  std::string name;
  std::vector<api::Node> nodes;
  std::vector<api::SliceEndpoint> endpoints;
  std::string problem;
};

class ProportionalFallbackTest : public ::testing::TestWithParam<FallbackCase> {};

TEST_P(ProportionalFallbackTest, RemovesAllHintsAndSaysWhy) {
  NodeLookup nodes(GetParam().nodes);
  auto hinted = endpoint("10.9.9.9", "zone-a");
  hinted.hints = zones({"zone-a"});
  SlicePlan plan;
  plan.to_create = {slice_of(GetParam().endpoints)};
  plan.unchanged = {slice_of({hinted}, "hinted")};
  EXPECT_EQ(reconcile_hints(HintPolicy::ProportionalToZoneCpu, nodes, plan), GetParam().problem);
  for (const auto& ep : plan.to_create[0].endpoints) EXPECT_EQ(ep.hints, std::nullopt);
  ASSERT_EQ(plan.to_update.size(), 1u);
  EXPECT_THAT(hinted_zones(plan.to_update[0]), ElementsAre("-"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ProportionalFallbackTest,
    ::testing::Values(FallbackCase{"fewer_endpoints_than_zones",
                                   three_equal_zones(),
                                   {endpoint("10.0.0.1", "zone-a")},
                                   "insufficient number of endpoints (2 endpoints, 3 zones)"},
                      FallbackCase{"endpoint_without_zone",
                                   three_equal_zones(),
                                   {endpoint("10.0.0.1", "zone-a"), endpoint("10.0.0.2", "zone-b"), endpoint("10.0.0.3", "zone-c"),
                                    endpoint("10.0.0.4", "zone-b"), endpoint("10.0.0.5", "zone-c"), endpoint("10.0.0.6", "")},
                                   "an endpoint has no zone"},
                      FallbackCase{"one_zone",
                                   {node("a", "zone-a"), node("b", "zone-a")},
                                   {endpoint("10.0.0.1", "zone-a"), endpoint("10.0.0.2", "zone-a")},
                                   "insufficient node information: ready nodes in one zone only"},
                      FallbackCase{"lopsided_cpu",
                                   {node("a", "zone-a", "1"), node("b", "zone-b", "1"), node("c", "zone-c", "100")},
                                   {endpoint("10.0.0.1", "zone-a"), endpoint("10.0.0.2", "zone-b"), endpoint("10.0.0.3", "zone-c")},
                                   "minimum allocations would exceed the overload threshold (4 endpoints, 3 zones)"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace switchyard::slice_controller
