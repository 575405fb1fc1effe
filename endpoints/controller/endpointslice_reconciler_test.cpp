#include "endpoints/controller/endpointslice_reconciler.h"

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
using testing::node;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using testing::web_pod;
using testing::web_service;

const api::StringMap kWebLabels{{"kubernetes.io/service-name", "web"},
                                {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}};
const api::OwnerReference kWebOwner{
    .api_version = "v1", .kind = "Service", .name = "web", .uid = "uid-svc-web", .controller = true, .block_owner_deletion = true};

std::vector<api::Node> two_zones() { return {node("node-a", "zone-a"), node("node-b", "zone-b")}; }

SliceChanges reconcile(const api::Service& service, const std::vector<api::Pod>& pods, const std::vector<api::EndpointSlice>& existing = {},
                       int max_per_slice = 100, const std::vector<api::Node>& nodes = two_zones()) {
  return reconcile_service_slices(service, pods, NodeLookup(nodes), existing, ReconcilerOptions{max_per_slice});
}

// Reconciles and applies the result; returns the writes.
SliceChanges reconcile_into(FakeSliceStore& store, const api::Service& service, const std::vector<api::Pod>& pods,
                            int max_per_slice = 100) {
  auto changes = reconcile(service, pods, store.slices(), max_per_slice);
  store.apply(changes);
  return changes;
}

std::vector<api::Pod> numbered_pods(int n) {
  std::vector<api::Pod> pods;
  for (int i = 0; i < n; ++i)
    pods.push_back(web_pod("web-" + std::to_string(i), "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1),
                           i % 2 ? "node-b" : "node-a"));
  return pods;
}

std::vector<std::size_t> sizes(const std::vector<api::EndpointSlice>& slices) {
  std::vector<std::size_t> out;
  for (const auto& s : slices) out.push_back(s.endpoints.size());
  std::sort(out.begin(), out.end());
  return out;
}

// ---- the slice a user sees -------------------------------------------------------------------

TEST(EndpointSliceReconcilerTest, NewServiceGetsOneCompleteSlice) {
  auto changes = reconcile(web_service(), {web_pod("web-1", "10.0.0.1", "node-a")});
  EXPECT_THAT(changes.to_update, IsEmpty());
  EXPECT_THAT(changes.to_delete, IsEmpty());
  EXPECT_THAT(changes.warnings, IsEmpty());
  ASSERT_THAT(changes.to_create, SizeIs(1));

  api::EndpointSlice expected;
  expected.metadata.generate_name = "web-";
  expected.metadata.namespace_ = "default";
  expected.metadata.labels = kWebLabels;
  expected.metadata.owner_references = {kWebOwner};
  expected.address_type = "IPv4";
  expected.ports = {api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080}};
  expected.endpoints = {api::SliceEndpoint{
      .addresses = {"10.0.0.1"},
      .conditions = {.ready = true, .serving = true, .terminating = false},
      .node_name = "node-a",
      .zone = "zone-a",
      .target_ref = api::ObjectReference{.kind = "Pod", .namespace_ = "default", .name = "web-1", .uid = "uid-pod-web-1"}}};
  EXPECT_EQ(changes.to_create[0], expected);
}

// ---- which pods ----------------------------------------------------------------------------

struct PodSelectionCase {
  std::string name;
  std::function<void(api::Pod&)> change;
  bool included;
};

class PodSelectionTest : public ::testing::TestWithParam<PodSelectionCase> {};

TEST_P(PodSelectionTest, OnlyMatchingLivePodsWithAnIp) {
  auto candidate = web_pod("candidate", "10.0.0.2");
  GetParam().change(candidate);
  auto changes = reconcile(web_service(), {web_pod("anchor", "10.0.0.1"), candidate});
  ASSERT_THAT(changes.to_create, SizeIs(1));
  if (GetParam().included)
    EXPECT_THAT(addresses_of(changes.to_create), ElementsAre("10.0.0.1", "10.0.0.2"));
  else
    EXPECT_THAT(addresses_of(changes.to_create), ElementsAre("10.0.0.1"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PodSelectionTest,
    ::testing::Values(PodSelectionCase{"matching", [](api::Pod&) {}, true},
                      PodSelectionCase{"extra_labels", [](api::Pod& p) { p.metadata.labels["tier"] = "front"; }, true},
                      PodSelectionCase{"other_label_value", [](api::Pod& p) { p.metadata.labels["app"] = "db"; }, false},
                      PodSelectionCase{"no_labels", [](api::Pod& p) { p.metadata.labels.clear(); }, false},
                      PodSelectionCase{"other_namespace", [](api::Pod& p) { p.metadata.namespace_ = "staging"; }, false},
                      PodSelectionCase{"succeeded", [](api::Pod& p) { p.status.phase = "Succeeded"; }, false},
                      PodSelectionCase{"failed", [](api::Pod& p) { p.status.phase = "Failed"; }, false},
                      PodSelectionCase{"no_ip_yet",
                                       [](api::Pod& p) {
                                         p.status.pod_ip.clear();
                                         p.status.pod_ips.clear();
                                       },
                                       false},
                      PodSelectionCase{"pending_with_ip", [](api::Pod& p) { p.status.phase = "Pending"; }, true},
                      PodSelectionCase{"terminating", [](api::Pod& p) { p.metadata.deletion_timestamp = "2024-01-01T00:00:00Z"; }, true},
                      PodSelectionCase{"not_ready", [](api::Pod& p) { p.status.conditions[0].status = "False"; }, true}),
    [](const auto& info) { return info.param.name; });

TEST(EndpointSliceReconcilerTest, TerminatingAndUnreadyPodsCarryTheirConditions) {
  auto terminating = web_pod("going", "10.0.0.1");
  terminating.metadata.deletion_timestamp = "2024-01-01T00:00:00Z";
  auto unready = web_pod("starting", "10.0.0.2");
  unready.status.conditions[0].status = "False";
  auto service = web_service();

  auto changes = reconcile(service, {terminating, unready});
  ASSERT_THAT(changes.to_create, SizeIs(1));
  EXPECT_THAT(changes.to_create[0].endpoints,
              UnorderedElementsAre(::testing::Field(&api::SliceEndpoint::conditions, api::EndpointConditions{false, true, true}),
                                   ::testing::Field(&api::SliceEndpoint::conditions, api::EndpointConditions{false, false, false})));

  service.spec.publish_not_ready_addresses = true;
  changes = reconcile(service, {terminating, unready});
  EXPECT_THAT(changes.to_create[0].endpoints,
              UnorderedElementsAre(::testing::Field(&api::SliceEndpoint::conditions, api::EndpointConditions{true, true, true}),
                                   ::testing::Field(&api::SliceEndpoint::conditions, api::EndpointConditions{true, false, false})));
}

TEST(EndpointSliceReconcilerTest, PodOnUnknownNodeIsSkippedAndRetried) {
  auto lost = web_pod("lost", "10.0.0.2", "node-gone");
  auto changes = reconcile(web_service(), {web_pod("web-1", "10.0.0.1"), lost});
  EXPECT_THAT(addresses_of(changes.to_create), ElementsAre("10.0.0.1"));
  EXPECT_TRUE(changes.retry_later);
  EXPECT_THAT(changes.warnings, ElementsAre("skipping pod default/lost for service default/web: node \"node-gone\" not found"));

  // publishNotReadyAddresses: the user wants every address published; it comes without zone.
  auto service = web_service();
  service.spec.publish_not_ready_addresses = true;
  changes = reconcile(service, {lost});
  ASSERT_THAT(changes.to_create, SizeIs(1));
  EXPECT_FALSE(changes.retry_later);
  EXPECT_EQ(changes.to_create[0].endpoints[0].node_name, "node-gone");
  EXPECT_EQ(changes.to_create[0].endpoints[0].zone, std::nullopt);
}

// ---- endpoint fields -----------------------------------------------------------------------

TEST(EndpointSliceReconcilerTest, NodeZoneHostnameAndTargetRef) {
  auto stateful = web_pod("web-0", "10.0.0.1", "node-b");
  stateful.spec.hostname = "web-0";
  stateful.spec.subdomain = "web";
  auto other = web_pod("web-x", "10.0.0.2", "node-a");
  other.spec.hostname = "web-x";
  other.spec.subdomain = "elsewhere";
  auto unzoned = web_pod("web-u", "10.0.0.3", "node-c");

  auto changes = reconcile(web_service(), {stateful, other, unzoned}, {}, 100,
                           {node("node-a", "zone-a"), node("node-b", "zone-b"), node("node-c", "")});
  ASSERT_THAT(changes.to_create, SizeIs(1));
  std::map<std::string, api::SliceEndpoint> by_ip;
  for (const auto& ep : changes.to_create[0].endpoints) by_ip[ep.addresses[0]] = ep;

  EXPECT_EQ(by_ip["10.0.0.1"].hostname, "web-0");
  EXPECT_EQ(by_ip["10.0.0.1"].node_name, "node-b");
  EXPECT_EQ(by_ip["10.0.0.1"].zone, "zone-b");
  EXPECT_EQ(by_ip["10.0.0.1"].target_ref,
            (api::ObjectReference{.kind = "Pod", .namespace_ = "default", .name = "web-0", .uid = "uid-pod-web-0"}));
  EXPECT_EQ(by_ip["10.0.0.2"].hostname, std::nullopt);
  EXPECT_EQ(by_ip["10.0.0.2"].zone, "zone-a");
  EXPECT_EQ(by_ip["10.0.0.3"].node_name, "node-c");
  EXPECT_EQ(by_ip["10.0.0.3"].zone, std::nullopt);
}

// ---- ports ---------------------------------------------------------------------------------

TEST(EndpointSliceReconcilerTest, PodsResolvingANamedPortDifferentlyGetDifferentSlices) {
  auto service = web_service();
  service.spec.ports = {api::ServicePort{.name = "http", .protocol = "TCP", .port = 80, .target_port = api::IntOrString::of("web")}};
  auto old_pod = web_pod("old", "10.0.0.1");
  old_pod.spec.containers[0].ports = {api::ContainerPort{.name = "web", .container_port = 8080, .protocol = "TCP"}};
  auto new_pod = web_pod("new", "10.0.0.2");
  new_pod.spec.containers[0].ports = {api::ContainerPort{.name = "web", .container_port = 9090, .protocol = "TCP"}};
  auto also_old = web_pod("old-2", "10.0.0.3");
  also_old.spec.containers[0].ports = old_pod.spec.containers[0].ports;

  auto changes = reconcile(service, {old_pod, new_pod, also_old});
  ASSERT_THAT(changes.to_create, SizeIs(2));
  std::map<std::int32_t, std::vector<std::string>> addresses_by_port;
  for (const auto& s : changes.to_create) {
    ASSERT_THAT(s.ports, SizeIs(1));
    EXPECT_EQ(s.ports[0].name, "http");
    EXPECT_EQ(s.ports[0].protocol, "TCP");
    addresses_by_port[*s.ports[0].port] = addresses_of(s);
  }
  EXPECT_THAT(addresses_by_port[8080], ElementsAre("10.0.0.1", "10.0.0.3"));
  EXPECT_THAT(addresses_by_port[9090], ElementsAre("10.0.0.2"));
}

// ---- slice sizes ---------------------------------------------------------------------------

struct SliceSizeCase {
  std::string name;
  int pods, max_per_slice;
  std::vector<std::size_t> sizes;
};

class SliceSizeTest : public ::testing::TestWithParam<SliceSizeCase> {};

TEST_P(SliceSizeTest, SlicesHoldAtMostTheLimit) {
  FakeSliceStore store;
  auto changes = reconcile_into(store, web_service(), numbered_pods(GetParam().pods), GetParam().max_per_slice);
  EXPECT_EQ(sizes(changes.to_create), GetParam().sizes);
  EXPECT_EQ(addresses_of(store.slices()).size(), static_cast<std::size_t>(GetParam().pods));
  // A restart: same inputs, nothing to write.
  EXPECT_TRUE(reconcile_into(store, web_service(), numbered_pods(GetParam().pods), GetParam().max_per_slice).no_writes());
}

INSTANTIATE_TEST_SUITE_P(Cases, SliceSizeTest,
                         ::testing::Values(SliceSizeCase{"default_limit", 250, 100, {50, 100, 100}},
                                           SliceSizeCase{"exactly_full", 200, 100, {100, 100}},
                                           SliceSizeCase{"flag_override", 250, 50, {50, 50, 50, 50, 50}},
                                           SliceSizeCase{"flag_maximum", 250, 1000, {250}},
                                           SliceSizeCase{"one_per_slice", 3, 1, {1, 1, 1}}),
                         [](const auto& info) { return info.param.name; });

TEST(EndpointSliceReconcilerTest, LimitOutOfRangeIsAProgrammerError) {
  EXPECT_THROW(reconcile(web_service(), {}, {}, 0), std::invalid_argument);
  EXPECT_THROW(reconcile(web_service(), {}, {}, 1001), std::invalid_argument);
}

// ---- labels and owner ----------------------------------------------------------------------

TEST(EndpointSliceReconcilerTest, ServiceLabelsAreCopiedButNotTheReservedOnes) {
  auto service = web_service();
  service.metadata.labels = {{"team", "payments"},
                             {"kubernetes.io/service-name", "spoofed"},
                             {"endpointslice.kubernetes.io/managed-by", "me"},
                             {"service.kubernetes.io/headless", ""}};
  auto changes = reconcile(service, {web_pod("web-1", "10.0.0.1")});
  ASSERT_THAT(changes.to_create, SizeIs(1));
  EXPECT_EQ(changes.to_create[0].metadata.labels,
            (api::StringMap{{"team", "payments"},
                            {"kubernetes.io/service-name", "web"},
                            {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}}));
  EXPECT_EQ(changes.to_create[0].metadata.owner_references, std::vector<api::OwnerReference>{kWebOwner});
}

TEST(EndpointSliceReconcilerTest, HeadlessServiceSlicesAreLabelledHeadless) {
  auto service = web_service();
  service.spec.cluster_ip = "None";
  service.spec.cluster_ips = {"None"};
  auto changes = reconcile(service, {web_pod("web-1", "10.0.0.1")});
  ASSERT_THAT(changes.to_create, SizeIs(1));
  EXPECT_EQ(changes.to_create[0].metadata.labels.at("service.kubernetes.io/headless"), "");
}

TEST(EndpointSliceReconcilerTest, ChangedServiceLabelsUpdateExistingSlices) {
  FakeSliceStore store;
  auto service = web_service();
  reconcile_into(store, service, {web_pod("web-1", "10.0.0.1")});
  service.metadata.labels["team"] = "payments";
  auto changes = reconcile_into(store, service, {web_pod("web-1", "10.0.0.1")});
  ASSERT_THAT(changes.to_update, SizeIs(1));
  EXPECT_EQ(changes.to_update[0].metadata.labels.at("team"), "payments");
  EXPECT_THAT(changes.to_create, IsEmpty());
}

// ---- address families ----------------------------------------------------------------------

TEST(EndpointSliceReconcilerTest, DualStackServiceGetsOneSliceSetPerFamily) {
  auto service = web_service();
  service.spec.ip_families = {"IPv4", "IPv6"};
  service.spec.ip_family_policy = "PreferDualStack";
  auto dual = web_pod("dual", "10.0.0.1");
  dual.status.pod_ips = {"10.0.0.1", "fd00::1"};
  auto v4_only = web_pod("v4", "10.0.0.2");

  auto changes = reconcile(service, {dual, v4_only});
  ASSERT_THAT(changes.to_create, SizeIs(2));
  std::map<std::string, std::vector<std::string>> by_type;
  for (const auto& s : changes.to_create) by_type[s.address_type] = addresses_of(s);
  EXPECT_THAT(by_type["IPv4"], ElementsAre("10.0.0.1", "10.0.0.2"));
  EXPECT_THAT(by_type["IPv6"], ElementsAre("fd00::1"));
}

TEST(EndpointSliceReconcilerTest, DroppedFamilyLosesItsSlices) {
  auto service = web_service();
  service.spec.ip_families = {"IPv4", "IPv6"};
  auto dual = web_pod("dual", "10.0.0.1");
  dual.status.pod_ips = {"10.0.0.1", "fd00::1"};
  FakeSliceStore store;
  reconcile_into(store, service, {dual});

  service.spec.ip_families = {"IPv4"};
  auto changes = reconcile_into(store, service, {dual});
  EXPECT_THAT(changes.to_create, IsEmpty());
  EXPECT_THAT(changes.to_update, IsEmpty());
  ASSERT_THAT(changes.to_delete, SizeIs(1));
  EXPECT_EQ(changes.to_delete[0].address_type, "IPv6");
}

// ---- no endpoints --------------------------------------------------------------------------

TEST(EndpointSliceReconcilerTest, ServiceWithoutEndpointsGetsAnEmptyPlaceholder) {
  FakeSliceStore store;
  auto changes = reconcile_into(store, web_service(), {});
  ASSERT_THAT(changes.to_create, SizeIs(1));
  const auto& placeholder = changes.to_create[0];
  EXPECT_EQ(placeholder.metadata.generate_name, "web-");
  EXPECT_EQ(placeholder.metadata.labels, kWebLabels);
  EXPECT_EQ(placeholder.metadata.owner_references, std::vector<api::OwnerReference>{kWebOwner});
  EXPECT_EQ(placeholder.address_type, "IPv4");
  EXPECT_THAT(placeholder.ports, IsEmpty());
  EXPECT_THAT(placeholder.endpoints, IsEmpty());

  // It stays as it is...
  EXPECT_TRUE(reconcile_into(store, web_service(), {}).no_writes());
  // ...until a pod shows up: then it is rewritten rather than deleted and re-created.
  const auto placeholder_name = store.slices()[0].metadata.name;
  changes = reconcile_into(store, web_service(), {web_pod("web-1", "10.0.0.1")});
  EXPECT_THAT(changes.to_create, IsEmpty());
  EXPECT_THAT(changes.to_delete, IsEmpty());
  ASSERT_THAT(changes.to_update, SizeIs(1));
  EXPECT_EQ(changes.to_update[0].metadata.name, placeholder_name);
  EXPECT_THAT(addresses_of(changes.to_update[0]), ElementsAre("10.0.0.1"));
  EXPECT_EQ(changes.to_update[0].ports, (std::vector<api::SlicePort>{{.name = "http", .protocol = "TCP", .port = 8080}}));

  // And when the last pod goes, the slice becomes the placeholder again.
  changes = reconcile_into(store, web_service(), {});
  ASSERT_THAT(changes.to_update, SizeIs(1));
  EXPECT_THAT(changes.to_delete, IsEmpty());
  EXPECT_THAT(store.slices(), SizeIs(1));
  EXPECT_THAT(store.slices()[0].endpoints, IsEmpty());
  EXPECT_THAT(store.slices()[0].ports, IsEmpty());
}

// ---- convergence ---------------------------------------------------------------------------

TEST(EndpointSliceReconcilerTest, ConvergedStateIsANoOpWhateverTheEndpointOrder) {
  FakeSliceStore store;
  auto pods = numbered_pods(30);
  reconcile_into(store, web_service(), pods);
  ASSERT_THAT(store.slices(), SizeIs(1));
  auto& endpoints = store.slices()[0].endpoints;
  std::reverse(endpoints.begin(), endpoints.end());
  std::reverse(pods.begin(), pods.end());
  auto changes = reconcile(web_service(), pods, store.slices());
  EXPECT_TRUE(changes.no_writes());
  EXPECT_THAT(changes.warnings, IsEmpty());
}

TEST(EndpointSliceReconcilerTest, OneChangedPodRewritesOneSlice) {
  FakeSliceStore store;
  auto pods = numbered_pods(250);
  reconcile_into(store, web_service(), pods);
  pods[7].status.conditions[0].status = "False";
  auto changes = reconcile_into(store, web_service(), pods);
  EXPECT_THAT(changes.to_create, IsEmpty());
  EXPECT_THAT(changes.to_delete, IsEmpty());
  ASSERT_THAT(changes.to_update, SizeIs(1));
  // A new pod fills the slice that has room instead of making a fourth slice.
  pods.push_back(web_pod("web-new", "10.2.0.1"));
  changes = reconcile_into(store, web_service(), pods);
  EXPECT_THAT(changes.to_create, IsEmpty());
  ASSERT_THAT(changes.to_update, SizeIs(1));
  EXPECT_EQ(changes.to_update[0].endpoints.size(), 51u);
}

TEST(EndpointSliceReconcilerTest, RemovedPodsLeaveTheirSlices) {
  FakeSliceStore store;
  auto pods = numbered_pods(150);
  reconcile_into(store, web_service(), pods);
  ASSERT_THAT(store.slices(), SizeIs(2));
  // Drop every pod of the 50-endpoint slice: that slice is deleted.
  std::vector<std::string> small_slice = addresses_of(store.slices()[0].endpoints.size() == 50 ? store.slices()[0] : store.slices()[1]);
  std::erase_if(pods,
                [&](const api::Pod& p) { return std::find(small_slice.begin(), small_slice.end(), p.status.pod_ip) != small_slice.end(); });
  auto changes = reconcile_into(store, web_service(), pods);
  EXPECT_THAT(changes.to_create, IsEmpty());
  EXPECT_THAT(changes.to_update, IsEmpty());
  ASSERT_THAT(changes.to_delete, SizeIs(1));
  EXPECT_THAT(store.slices(), SizeIs(1));
}

// ---- other owners ----------------------------------------------------------------------------

TEST(EndpointSliceReconcilerTest, SlicesOfOtherControllersAreNeverTouched) {
  api::EndpointSlice custom;
  custom.metadata.name = "web-custom";
  custom.metadata.namespace_ = "default";
  custom.metadata.labels = {{"kubernetes.io/service-name", "web"}, {"endpointslice.kubernetes.io/managed-by", "my-controller"}};
  custom.address_type = "IPv4";
  custom.endpoints = {api::SliceEndpoint{.addresses = {"192.168.0.9"}}};
  api::EndpointSlice unlabelled = custom;
  unlabelled.metadata.name = "web-manual";
  unlabelled.metadata.labels = {{"kubernetes.io/service-name", "web"}};
  api::EndpointSlice mirrored = custom;
  mirrored.metadata.name = "web-mirrored";
  mirrored.metadata.labels["endpointslice.kubernetes.io/managed-by"] = "endpointslicemirroring-controller.k8s.io";

  FakeSliceStore store({custom, unlabelled, mirrored});
  for (auto pods : {std::vector<api::Pod>{web_pod("web-1", "10.0.0.1")}, std::vector<api::Pod>{}}) {
    auto changes = reconcile_into(store, web_service(), pods);
    for (const auto* list : {&changes.to_create, &changes.to_update, &changes.to_delete})
      for (const auto& s : *list)
        EXPECT_THAT(s.metadata.name, ::testing::Not(::testing::AnyOf("web-custom", "web-manual", "web-mirrored")));
  }
  auto selectorless = web_service();
  selectorless.spec.selector.clear();
  EXPECT_THAT(reconcile(selectorless, {}, {custom, unlabelled, mirrored}).to_delete, IsEmpty());
}

TEST(EndpointSliceReconcilerTest, SlicesLeftByAnEarlierServiceOfTheSameNameAreReplaced) {
  FakeSliceStore store;
  auto previous = web_service();
  previous.metadata.uid = "uid-old";
  reconcile_into(store, previous, {web_pod("web-1", "10.0.0.1")});
  auto changes = reconcile_into(store, web_service(), {web_pod("web-1", "10.0.0.1")});
  ASSERT_THAT(changes.to_delete, SizeIs(1));
  EXPECT_EQ(changes.to_delete[0].metadata.owner_references[0].uid, "uid-old");
  ASSERT_THAT(changes.to_create, SizeIs(1));
  EXPECT_EQ(changes.to_create[0].metadata.owner_references, std::vector<api::OwnerReference>{kWebOwner});
}

TEST(EndpointSliceReconcilerTest, SlicesBeingDeletedOrOfOtherServicesAreIgnored) {
  FakeSliceStore store;
  reconcile_into(store, web_service(), {web_pod("web-1", "10.0.0.1")});
  auto existing = store.slices();
  existing[0].metadata.deletion_timestamp = "2024-01-01T00:00:00Z";
  auto changes = reconcile(web_service(), {web_pod("web-1", "10.0.0.1")}, existing);
  EXPECT_THAT(changes.to_create, SizeIs(1));
  EXPECT_THAT(changes.to_delete, IsEmpty());

  existing = store.slices();
  existing[0].metadata.labels["kubernetes.io/service-name"] = "api";
  changes = reconcile(web_service(), {web_pod("web-1", "10.0.0.1")}, existing);
  EXPECT_THAT(changes.to_create, SizeIs(1));
  EXPECT_THAT(changes.to_delete, IsEmpty());
}

// ---- services this controller does not fill ----------------------------------------------------

struct UnmanagedServiceCase {
  std::string name;
  std::function<void(api::Service&)> change;
};

class UnmanagedServiceTest : public ::testing::TestWithParam<UnmanagedServiceCase> {};

TEST_P(UnmanagedServiceTest, GetNoSlicesAndLoseOursFromBefore) {
  FakeSliceStore store;
  reconcile_into(store, web_service(), {web_pod("web-1", "10.0.0.1")});
  auto service = web_service();
  GetParam().change(service);
  auto changes = reconcile_into(store, service, {web_pod("web-1", "10.0.0.1")});
  EXPECT_THAT(changes.to_create, IsEmpty());
  EXPECT_THAT(changes.to_update, IsEmpty());
  EXPECT_THAT(changes.to_delete, SizeIs(1));
  EXPECT_TRUE(reconcile_into(store, service, {web_pod("web-1", "10.0.0.1")}).no_writes());
}

INSTANTIATE_TEST_SUITE_P(Cases, UnmanagedServiceTest,
                         ::testing::Values(UnmanagedServiceCase{"selectorless", [](api::Service& s) { s.spec.selector.clear(); }},
                                           UnmanagedServiceCase{"external_name",
                                                                [](api::Service& s) {
                                                                  s.spec.type = "ExternalName";
                                                                  s.spec.external_name = "db.example.com";
                                                                }}),
                         [](const auto& info) { return info.param.name; });

TEST(EndpointSliceReconcilerTest, ServiceBeingDeletedGetsNoNewSlices) {
  auto service = web_service();
  service.metadata.deletion_timestamp = "2024-01-01T00:00:00Z";
  EXPECT_THAT(reconcile(service, {web_pod("web-1", "10.0.0.1")}).to_create, IsEmpty());
}

// ---- hints ---------------------------------------------------------------------------------

TEST(EndpointSliceReconcilerTest, PreferCloseHintsEachReadyEndpointForItsZone) {
  auto service = web_service();
  service.spec.traffic_distribution = "PreferClose";
  auto unready = web_pod("web-3", "10.0.0.3", "node-a");
  unready.status.conditions[0].status = "False";
  FakeSliceStore store;
  auto changes = reconcile_into(store, service, {web_pod("web-1", "10.0.0.1", "node-a"), web_pod("web-2", "10.0.0.2", "node-b"), unready});
  ASSERT_THAT(changes.to_create, SizeIs(1));
  std::map<std::string, std::optional<api::EndpointHints>> hints;
  for (const auto& ep : changes.to_create[0].endpoints) hints[ep.addresses[0]] = ep.hints;
  EXPECT_EQ(hints["10.0.0.1"], (api::EndpointHints{.for_zones = {"zone-a"}}));
  EXPECT_EQ(hints["10.0.0.2"], (api::EndpointHints{.for_zones = {"zone-b"}}));
  EXPECT_EQ(hints["10.0.0.3"], std::nullopt);

  auto pods = std::vector<api::Pod>{web_pod("web-1", "10.0.0.1", "node-a"), web_pod("web-2", "10.0.0.2", "node-b"), unready};
  EXPECT_TRUE(reconcile_into(store, service, pods).no_writes());

  // Switching the distribution off takes the hints away.
  service.spec.traffic_distribution.reset();
  changes = reconcile_into(store, service, pods);
  ASSERT_THAT(changes.to_update, SizeIs(1));
  for (const auto& ep : changes.to_update[0].endpoints) EXPECT_EQ(ep.hints, std::nullopt);
}

TEST(EndpointSliceReconcilerTest, TopologyModeAutoWithoutEnoughEndpointsWarns) {
  auto service = web_service();
  service.metadata.annotations["service.kubernetes.io/topology-mode"] = "Auto";
  auto changes = reconcile(service, {web_pod("web-1", "10.0.0.1", "node-a")});
  ASSERT_THAT(changes.to_create, SizeIs(1));
  EXPECT_EQ(changes.to_create[0].endpoints[0].hints, std::nullopt);
  EXPECT_THAT(changes.warnings, ElementsAre("topology hints disabled for service default/web (IPv4): insufficient number of "
                                            "endpoints (1 endpoints, 2 zones)"));

  changes = reconcile(service, {web_pod("web-1", "10.0.0.1", "node-a"), web_pod("web-2", "10.0.0.2", "node-b")});
  EXPECT_THAT(changes.warnings, IsEmpty());
  for (const auto& ep : changes.to_create[0].endpoints) EXPECT_EQ(ep.hints, (api::EndpointHints{.for_zones = {*ep.zone}}));
}

}  // namespace
}  // namespace switchyard::slice_controller
