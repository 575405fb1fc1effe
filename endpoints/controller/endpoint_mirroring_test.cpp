#include "endpoints/controller/endpoint_mirroring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <stdexcept>

#include "endpoints/controller/test_objects.h"

namespace switchyard::slice_controller {
namespace {

using testing::addresses_of;
using ::testing::ElementsAre;
using testing::FakeSliceStore;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing::web_service;

api::Service selectorless_service() {
  auto s = web_service();
  s.metadata.name = "external-db";
  s.metadata.uid = "uid-svc-db";
  s.spec.selector.clear();
  s.spec.ports = {api::ServicePort{.name = "pg", .protocol = "TCP", .port = 5432, .target_port = api::IntOrString::of(5432)}};
  return s;
}

api::Endpoints db_endpoints() {
  api::Endpoints e;
  e.metadata.name = "external-db";
  e.metadata.namespace_ = "default";
  e.metadata.uid = "uid-ep-db";
  e.metadata.labels = {{"team", "data"}};
  e.metadata.annotations = {{"note", "managed by hand"},
                            {"endpoints.kubernetes.io/last-change-trigger-time", "2024-01-01T00:00:00Z"},
                            {"kubectl.kubernetes.io/last-applied-configuration", "{}"}};
  api::EndpointSubset subset;
  subset.addresses = {api::EndpointAddress{.ip = "192.168.1.10", .hostname = "db-0", .node_name = "node-a"},
                      api::EndpointAddress{.ip = "192.168.1.11"}};
  subset.not_ready_addresses = {api::EndpointAddress{.ip = "192.168.1.12"}};
  subset.ports = {api::EndpointPort{.name = "pg", .port = 5432, .protocol = "TCP"}};
  e.subsets = {subset};
  return e;
}

SliceChanges mirror(const api::Endpoints* e, const api::Service* s, const std::vector<api::EndpointSlice>& existing = {}, int max = 1000) {
  return mirror_endpoints(e, s, existing, MirroringOptions{max});
}

SliceChanges mirror_into(FakeSliceStore& store, const api::Endpoints& e, const api::Service& s) {
  auto changes = mirror(&e, &s, store.slices());
  store.apply(changes);
  return changes;
}

TEST(EndpointMirroringTest, MirrorsUserWrittenEndpoints) {
  auto endpoints = db_endpoints();
  auto service = selectorless_service();
  auto changes = mirror(&endpoints, &service);
  EXPECT_THAT(changes.to_update, IsEmpty());
  EXPECT_THAT(changes.to_delete, IsEmpty());
  ASSERT_THAT(changes.to_create, SizeIs(1));
  const auto& slice = changes.to_create[0];

  EXPECT_EQ(slice.metadata.generate_name, "external-db-");
  EXPECT_EQ(slice.metadata.namespace_, "default");
  EXPECT_EQ(slice.metadata.labels,
            (api::StringMap{{"team", "data"},
                            {"kubernetes.io/service-name", "external-db"},
                            {"endpointslice.kubernetes.io/managed-by", "endpointslicemirroring-controller.k8s.io"}}));
  EXPECT_EQ(slice.metadata.annotations, (api::StringMap{{"note", "managed by hand"}}));
  EXPECT_EQ(slice.metadata.owner_references, (std::vector<api::OwnerReference>{{.api_version = "v1",
                                                                                .kind = "Endpoints",
                                                                                .name = "external-db",
                                                                                .uid = "uid-ep-db",
                                                                                .controller = true,
                                                                                .block_owner_deletion = true}}));
  EXPECT_EQ(slice.address_type, "IPv4");
  EXPECT_EQ(slice.ports, (std::vector<api::SlicePort>{{.name = "pg", .protocol = "TCP", .port = 5432}}));

  std::map<std::string, api::SliceEndpoint> by_ip;
  for (const auto& ep : slice.endpoints) by_ip[ep.addresses[0]] = ep;
  ASSERT_THAT(by_ip, SizeIs(3));
  EXPECT_EQ(by_ip["192.168.1.10"],
            (api::SliceEndpoint{.addresses = {"192.168.1.10"}, .conditions = {.ready = true}, .hostname = "db-0", .node_name = "node-a"}));
  EXPECT_EQ(by_ip["192.168.1.11"].conditions, (api::EndpointConditions{.ready = true}));
  EXPECT_EQ(by_ip["192.168.1.12"].conditions, (api::EndpointConditions{.ready = false}));
}

TEST(EndpointMirroringTest, ConvergesAndFollowsChanges) {
  auto endpoints = db_endpoints();
  auto service = selectorless_service();
  FakeSliceStore store;
  mirror_into(store, endpoints, service);
  EXPECT_TRUE(mirror_into(store, endpoints, service).no_writes());

  endpoints.subsets[0].addresses.pop_back();
  auto changes = mirror_into(store, endpoints, service);
  ASSERT_THAT(changes.to_update, SizeIs(1));
  EXPECT_THAT(addresses_of(changes.to_update[0]), ElementsAre("192.168.1.10", "192.168.1.12"));

  endpoints.metadata.labels["team"] = "platform";
  changes = mirror_into(store, endpoints, service);
  ASSERT_THAT(changes.to_update, SizeIs(1));
  EXPECT_EQ(changes.to_update[0].metadata.labels.at("team"), "platform");
  EXPECT_TRUE(mirror_into(store, endpoints, service).no_writes());
}

TEST(EndpointMirroringTest, SubsetsSplitByPortsAndFamily) {
  auto endpoints = db_endpoints();
  api::EndpointSubset replica;
  replica.addresses = {api::EndpointAddress{.ip = "fd00::20"}, api::EndpointAddress{.ip = "192.168.1.20"}};
  replica.ports = {api::EndpointPort{.name = "pg", .port = 6432, .protocol = "TCP"}};
  endpoints.subsets.push_back(replica);
  auto service = selectorless_service();
  auto changes = mirror(&endpoints, &service);
  ASSERT_THAT(changes.to_create, SizeIs(3));
  std::map<std::string, std::vector<std::string>> by_group;
  for (const auto& s : changes.to_create) by_group[s.address_type + "/" + std::to_string(*s.ports[0].port)] = addresses_of(s);
  EXPECT_THAT(by_group["IPv4/5432"], ElementsAre("192.168.1.10", "192.168.1.11", "192.168.1.12"));
  EXPECT_THAT(by_group["IPv4/6432"], ElementsAre("192.168.1.20"));
  EXPECT_THAT(by_group["IPv6/6432"], ElementsAre("fd00::20"));
}

TEST(EndpointMirroringTest, InvalidAndExcessAddressesAreSkippedWithAWarning) {
  auto endpoints = db_endpoints();
  endpoints.subsets[0].addresses.push_back(api::EndpointAddress{.ip = "db.example.com"});
  auto service = selectorless_service();
  auto changes = mirror(&endpoints, &service, {}, 2);
  ASSERT_THAT(changes.to_create, SizeIs(1));
  EXPECT_THAT(addresses_of(changes.to_create[0]), ElementsAre("192.168.1.10", "192.168.1.11"));
  EXPECT_THAT(changes.warnings, ElementsAre("endpoints default/external-db: a max of 2 addresses can be mirrored to EndpointSlices per "
                                            "Endpoints subset, 2 addresses were skipped"));

  changes = mirror(&endpoints, &service);
  EXPECT_THAT(changes.warnings,
              ElementsAre("endpoints default/external-db: skipped 1 invalid IP addresses when mirroring to EndpointSlices"));
  EXPECT_THROW(mirror(&endpoints, &service, {}, 0), std::invalid_argument);
}

struct NoMirrorCase {
  std::string name;
  std::function<void(std::optional<api::Endpoints>&, std::optional<api::Service>&)> change;
};

class NoMirrorTest : public ::testing::TestWithParam<NoMirrorCase> {};

TEST_P(NoMirrorTest, MirroredSlicesAreRemoved) {
  std::optional<api::Endpoints> endpoints = db_endpoints();
  std::optional<api::Service> service = selectorless_service();
  FakeSliceStore store;
  mirror_into(store, *endpoints, *service);
  ASSERT_THAT(store.slices(), SizeIs(1));

  GetParam().change(endpoints, service);
  auto changes = mirror(endpoints ? &*endpoints : nullptr, service ? &*service : nullptr, store.slices());
  EXPECT_THAT(changes.to_create, IsEmpty());
  EXPECT_THAT(changes.to_update, IsEmpty());
  ASSERT_THAT(changes.to_delete, SizeIs(1));
  EXPECT_EQ(changes.to_delete[0].metadata.name, store.slices()[0].metadata.name);
  EXPECT_THAT(mirror(endpoints ? &*endpoints : nullptr, service ? &*service : nullptr, {}).to_create, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NoMirrorTest,
    ::testing::Values(NoMirrorCase{"skip_mirror_label",
                                   [](auto& e, auto&) { e->metadata.labels["endpointslice.kubernetes.io/skip-mirror"] = "true"; }},
                      NoMirrorCase{"leader_election_lock",
                                   [](auto& e, auto&) { e->metadata.annotations["control-plane.alpha.kubernetes.io/leader"] = "{}"; }},
                      NoMirrorCase{"service_has_selector",
                                   [](auto&, auto& s) {
                                     s->spec.selector = {{"app", "db"}};
                                   }},
                      NoMirrorCase{"service_gone", [](auto&, auto& s) { s.reset(); }},
                      NoMirrorCase{"endpoints_gone", [](auto& e, auto&) { e.reset(); }},
                      NoMirrorCase{"no_addresses", [](auto& e, auto&) { e->subsets.clear(); }}),
    [](const auto& info) { return info.param.name; });

TEST(EndpointMirroringTest, SkipMirrorOtherThanTrueStillMirrors) {
  auto endpoints = db_endpoints();
  endpoints.metadata.labels["endpointslice.kubernetes.io/skip-mirror"] = "false";
  EXPECT_TRUE(should_mirror(endpoints));
}

TEST(EndpointMirroringTest, OtherSlicesAreNeverTouched) {
  api::EndpointSlice by_service_controller;
  by_service_controller.metadata.name = "external-db-abc";
  by_service_controller.metadata.namespace_ = "default";
  by_service_controller.metadata.labels = {{"kubernetes.io/service-name", "external-db"},
                                           {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}};
  by_service_controller.address_type = "IPv4";
  auto by_user = by_service_controller;
  by_user.metadata.name = "external-db-manual";
  by_user.metadata.labels.erase("endpointslice.kubernetes.io/managed-by");

  auto endpoints = db_endpoints();
  auto service = selectorless_service();
  FakeSliceStore store({by_service_controller, by_user});
  auto changes = mirror_into(store, endpoints, service);
  EXPECT_THAT(changes.to_create, SizeIs(1));
  EXPECT_THAT(changes.to_update, IsEmpty());
  EXPECT_THAT(changes.to_delete, IsEmpty());
  EXPECT_THAT(mirror(nullptr, nullptr, store.slices()).to_delete, SizeIs(1));  // only the mirrored one
}

}  // namespace
}  // namespace switchyard::slice_controller
