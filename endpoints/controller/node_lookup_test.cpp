#include "endpoints/controller/node_lookup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/controller/test_objects.h"

namespace switchyard::slice_controller {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::node;
using ::testing::Pair;

struct CpuCase {
  std::string quantity;
  std::optional<std::int64_t> millicores;
};

class ParseCpuTest : public ::testing::TestWithParam<CpuCase> {};

TEST_P(ParseCpuTest, ParsesQuantity) { EXPECT_EQ(parse_cpu_millicores(GetParam().quantity), GetParam().millicores); }

INSTANTIATE_TEST_SUITE_P(Quantities, ParseCpuTest,
                         ::testing::Values(CpuCase{"4", 4000}, CpuCase{"3500m", 3500}, CpuCase{"0.5", 500}, CpuCase{"1.5m", 2},
                                           CpuCase{"2k", 2000000}, CpuCase{"0", 0}, CpuCase{"", std::nullopt}, CpuCase{"m", std::nullopt},
                                           CpuCase{"four", std::nullopt}, CpuCase{"-1", std::nullopt}, CpuCase{"4Ki", std::nullopt}));

TEST(NodeLookupTest, KnowsNodesAndTheirZones) {
  std::vector<api::Node> nodes{node("node-a", "zone-a"), node("node-b", "")};
  NodeLookup lookup(nodes);
  EXPECT_TRUE(lookup.contains("node-a"));
  EXPECT_TRUE(lookup.contains("node-b"));
  EXPECT_FALSE(lookup.contains("node-c"));
  EXPECT_FALSE(lookup.contains(""));
  EXPECT_EQ(lookup.zone_of("node-a"), "zone-a");
  EXPECT_EQ(lookup.zone_of("node-b"), std::nullopt);
  EXPECT_EQ(lookup.zone_of("node-c"), std::nullopt);
}

TEST(NodeLookupTest, CpuShareCountsReadyWorkerNodesPerZone) {
  auto control_plane = node("cp", "zone-a", "64");
  control_plane.metadata.labels["node-role.kubernetes.io/control-plane"] = "";
  auto not_ready = node("sick", "zone-a", "64");
  not_ready.conditions[0].status = "False";
  std::vector<api::Node> nodes{node("a1", "zone-a", "2"), node("a2", "zone-a", "2000m"), node("b1", "zone-b", "8"), control_plane,
                               not_ready};
  NodeLookup lookup(nodes);
  EXPECT_THAT(lookup.cpu_share_by_zone(),
              ElementsAre(Pair("zone-a", DoubleNear(1.0 / 3, 1e-9)), Pair("zone-b", DoubleNear(2.0 / 3, 1e-9))));
  EXPECT_EQ(lookup.cpu_share_problem(), "");
}

struct InsufficientCase {
  std::string name;
  std::vector<api::Node> nodes;
  std::string problem;
};

class InsufficientNodeInfoTest : public ::testing::TestWithParam<InsufficientCase> {};

TEST_P(InsufficientNodeInfoTest, NoCpuShares) {
  NodeLookup lookup(GetParam().nodes);
  EXPECT_THAT(lookup.cpu_share_by_zone(), IsEmpty());
  EXPECT_EQ(lookup.cpu_share_problem(), GetParam().problem);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InsufficientNodeInfoTest,
    ::testing::Values(
        InsufficientCase{"no_nodes", {}, "no ready nodes"},
        InsufficientCase{"one_zone", {node("a", "zone-a"), node("b", "zone-a")}, "ready nodes in one zone only"},
        InsufficientCase{
            "node_without_zone", {node("a", "zone-a"), node("b", "zone-b"), node("c", "")}, "node c has no zone or no allocatable CPU"},
        InsufficientCase{"node_without_cpu", {node("a", "zone-a"), node("b", "zone-b", "0")}, "node b has no zone or no allocatable CPU"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace switchyard::slice_controller
