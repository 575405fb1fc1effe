#include "endpoints/controller/slice_packing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/controller/slice_identity.h"
#include "endpoints/controller/test_objects.h"

namespace switchyard::slice_controller {
namespace {

using testing::addresses_of;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const api::StringMap kLabels{{"kubernetes.io/service-name", "web"}};

api::SliceEndpoint endpoint(const std::string& ip, bool ready = true) {
  api::SliceEndpoint ep;
  ep.addresses = {ip};
  ep.conditions = {ready, ready, false};
  ep.target_ref = api::ObjectReference{.kind = "Pod", .namespace_ = "default", .name = "pod-" + ip};
  return ep;
}

api::EndpointSlice slice(const std::string& name, std::vector<std::string> ips) {
  api::EndpointSlice s;
  s.metadata.name = name;
  s.metadata.labels = kLabels;
  s.address_type = "IPv4";
  for (const auto& ip : ips) s.endpoints.push_back(endpoint(ip));
  return s;
}

DesiredEndpoints desired(std::vector<std::string> ips) {
  DesiredEndpoints d;
  for (const auto& ip : ips) {
    auto ep = endpoint(ip);
    d.emplace(endpoint_identity(ep), ep);
  }
  return d;
}

api::EndpointSlice new_slice_template() {
  api::EndpointSlice s;
  s.metadata.generate_name = "web-";
  s.metadata.labels = kLabels;
  s.address_type = "IPv4";
  return s;
}

std::vector<std::string> names(const std::vector<api::EndpointSlice>& slices) {
  std::vector<std::string> out;
  for (const auto& s : slices) out.push_back(s.metadata.name);
  return out;
}

TEST(SlicePackingTest, NothingChangesWhenSlicesHoldExactlyTheDesiredEndpoints) {
  auto plan = pack_endpoints({slice("a", {"10.0.0.2", "10.0.0.1"})}, desired({"10.0.0.1", "10.0.0.2"}), kLabels, new_slice_template(), 100);
  EXPECT_THAT(plan.to_create, IsEmpty());
  EXPECT_THAT(plan.to_update, IsEmpty());
  EXPECT_THAT(plan.to_delete, IsEmpty());
  EXPECT_THAT(names(plan.unchanged), ElementsAre("a"));
}

TEST(SlicePackingTest, ChangedConditionsUpdateInPlace) {
  auto want = desired({"10.0.0.1"});
  want.begin()->second.conditions.ready = false;
  auto plan = pack_endpoints({slice("a", {"10.0.0.1"})}, want, kLabels, new_slice_template(), 100);
  ASSERT_THAT(names(plan.to_update), ElementsAre("a"));
  EXPECT_EQ(plan.to_update[0].endpoints[0].conditions.ready, false);
}

TEST(SlicePackingTest, EmptiedSliceIsDeletedAsItWas) {
  auto plan =
      pack_endpoints({slice("a", {"10.0.0.1"}), slice("b", {"10.0.0.2"})}, desired({"10.0.0.2"}), kLabels, new_slice_template(), 100);
  ASSERT_THAT(names(plan.to_delete), ElementsAre("a"));
  EXPECT_THAT(addresses_of(plan.to_delete[0]), ElementsAre("10.0.0.1"));
  EXPECT_THAT(names(plan.unchanged), ElementsAre("b"));
}

TEST(SlicePackingTest, SlicesBeingUpdatedAreFilledBeforeNewOnesAreCreated) {
  // "a" loses 10.0.0.1 and so is rewritten anyway: the two new endpoints go there.
  auto plan = pack_endpoints({slice("a", {"10.0.0.1", "10.0.0.2"}), slice("b", {"10.0.0.3"})},
                             desired({"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}), kLabels, new_slice_template(), 3);
  EXPECT_THAT(plan.to_create, IsEmpty());
  ASSERT_THAT(names(plan.to_update), ElementsAre("a"));
  EXPECT_THAT(addresses_of(plan.to_update[0]), ElementsAre("10.0.0.2", "10.0.0.4", "10.0.0.5"));
  EXPECT_THAT(names(plan.unchanged), ElementsAre("b"));
}

TEST(SlicePackingTest, LeftoversGoToTheUnchangedSliceTheyFillBest) {
  auto plan = pack_endpoints({slice("roomy", {"10.0.0.1"}), slice("snug", {"10.0.0.2", "10.0.0.3"})},
                             desired({"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}), kLabels, new_slice_template(), 3);
  EXPECT_THAT(plan.to_create, IsEmpty());
  ASSERT_THAT(names(plan.to_update), ElementsAre("snug"));
  EXPECT_THAT(addresses_of(plan.to_update[0]), ElementsAre("10.0.0.2", "10.0.0.3", "10.0.0.4"));
}

TEST(SlicePackingTest, NewSlicesHoldAtMostTheLimit) {
  auto plan = pack_endpoints({}, desired({"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}), kLabels, new_slice_template(), 2);
  ASSERT_EQ(plan.to_create.size(), 3u);
  EXPECT_EQ(plan.to_create[0].endpoints.size(), 2u);
  EXPECT_EQ(plan.to_create[1].endpoints.size(), 2u);
  EXPECT_EQ(plan.to_create[2].endpoints.size(), 1u);
  EXPECT_EQ(plan.to_create[0].metadata.generate_name, "web-");
}

TEST(SlicePackingTest, DuplicateEndpointsAreDropped) {
  auto plan = pack_endpoints({slice("a", {"10.0.0.1"}), slice("b", {"10.0.0.1", "10.0.0.2"})}, desired({"10.0.0.1", "10.0.0.2"}), kLabels,
                             new_slice_template(), 100);
  ASSERT_THAT(names(plan.to_update), ElementsAre("b"));
  EXPECT_THAT(addresses_of(plan.to_update[0]), ElementsAre("10.0.0.2"));
  EXPECT_THAT(names(plan.unchanged), ElementsAre("a"));
}

TEST(SlicePackingTest, WrongLabelsAreRewritten) {
  auto stale = slice("a", {"10.0.0.1"});
  stale.metadata.labels["team"] = "old";
  auto plan = pack_endpoints({stale}, desired({"10.0.0.1"}), kLabels, new_slice_template(), 100);
  ASSERT_THAT(names(plan.to_update), ElementsAre("a"));
  EXPECT_EQ(plan.to_update[0].metadata.labels, kLabels);
}

}  // namespace
}  // namespace switchyard::slice_controller
