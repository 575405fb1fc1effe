#include "endpoints/controller/pod_endpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/controller/test_objects.h"

namespace switchyard::slice_controller {
namespace {

using ::testing::ElementsAre;
using testing::web_pod;
using testing::web_service;

// ---- which pods count ----------------------------------------------------------------------

struct EligibilityCase {
  std::string name, phase, ip;
  bool terminating;
  bool eligible;
};

class PodEligibilityTest : public ::testing::TestWithParam<EligibilityCase> {};

TEST_P(PodEligibilityTest, TerminalPodsAndPodsWithoutIpAreLeftOut) {
  const auto& c = GetParam();
  auto pod = web_pod("p", c.ip);
  pod.status.phase = c.phase;
  if (c.terminating) pod.metadata.deletion_timestamp = "2024-01-01T00:00:00Z";
  EXPECT_EQ(pod_can_be_endpoint(pod), c.eligible);
}

INSTANTIATE_TEST_SUITE_P(Cases, PodEligibilityTest,
                         ::testing::Values(EligibilityCase{"running", "Running", "10.0.0.1", false, true},
                                           EligibilityCase{"pending_with_ip", "Pending", "10.0.0.1", false, true},
                                           EligibilityCase{"terminating", "Running", "10.0.0.1", true, true},
                                           EligibilityCase{"succeeded", "Succeeded", "10.0.0.1", false, false},
                                           EligibilityCase{"failed", "Failed", "10.0.0.1", false, false},
                                           EligibilityCase{"no_ip", "Running", "", false, false}),
                         [](const auto& info) { return info.param.name; });

// ---- conditions ----------------------------------------------------------------------------

struct ConditionsCase {
  std::string name;
  bool pod_ready, deleting, publish_not_ready;
  bool ready, serving, terminating;
};

class EndpointConditionsTest : public ::testing::TestWithParam<ConditionsCase> {};

TEST_P(EndpointConditionsTest, ReadyServingTerminating) {
  const auto& c = GetParam();
  auto service = web_service();
  service.spec.publish_not_ready_addresses = c.publish_not_ready;
  auto pod = web_pod("p", "10.0.0.1");
  pod.status.conditions = {api::PodCondition{.type = "Ready", .status = c.pod_ready ? "True" : "False"}};
  if (c.deleting) pod.metadata.deletion_timestamp = "2024-01-01T00:00:00Z";
  auto ep = pod_to_endpoint(pod, std::nullopt, service, "IPv4");
  EXPECT_EQ(ep.conditions.ready, c.ready);
  EXPECT_EQ(ep.conditions.serving, c.serving);
  EXPECT_EQ(ep.conditions.terminating, c.terminating);
}

INSTANTIATE_TEST_SUITE_P(Cases, EndpointConditionsTest,
                         ::testing::Values(ConditionsCase{"ready_pod", true, false, false, true, true, false},
                                           ConditionsCase{"unready_pod", false, false, false, false, false, false},
                                           ConditionsCase{"terminating_ready_pod", true, true, false, false, true, true},
                                           ConditionsCase{"terminating_unready_pod", false, true, false, false, false, true},
                                           ConditionsCase{"unready_published", false, false, true, true, false, false},
                                           ConditionsCase{"terminating_published", true, true, true, true, true, true}),
                         [](const auto& info) { return info.param.name; });

TEST(EndpointConditionsTest, PodWithoutReadyConditionIsNotServing) {
  auto pod = web_pod("p", "10.0.0.1");
  pod.status.conditions = {api::PodCondition{.type = "ContainersReady", .status = "True"}};
  auto ep = pod_to_endpoint(pod, std::nullopt, web_service(), "IPv4");
  EXPECT_EQ(ep.conditions.serving, false);
  EXPECT_EQ(ep.conditions.ready, false);
}

// ---- target ports --------------------------------------------------------------------------

struct TargetPortCase {
  std::string name;
  api::IntOrString target;
  std::string protocol;
  std::optional<std::int32_t> port;
};

class FindTargetPortTest : public ::testing::TestWithParam<TargetPortCase> {};

TEST_P(FindTargetPortTest, ResolvesAgainstThePod) {
  auto pod = web_pod("p", "10.0.0.1");
  pod.spec.containers[0].ports = {
      api::ContainerPort{.name = "http", .container_port = 8080, .protocol = "TCP"},
      api::ContainerPort{.name = "dns", .container_port = 5353, .protocol = "UDP"},
      api::ContainerPort{.name = "admin", .container_port = 9000},  // protocol defaults to TCP
  };
  api::Container sidecar{.name = "proxy", .ports = {api::ContainerPort{.name = "proxy", .container_port = 15001, .protocol = "TCP"}}};
  sidecar.passthrough["restartPolicy"] = "\"Always\"";
  api::Container init{.name = "setup", .ports = {api::ContainerPort{.name = "setup", .container_port = 7000, .protocol = "TCP"}}};
  pod.spec.init_containers = {sidecar, init};

  api::ServicePort sp{.name = "x", .protocol = GetParam().protocol, .port = 80, .target_port = GetParam().target};
  EXPECT_EQ(find_target_port(pod, sp), GetParam().port);
}

INSTANTIATE_TEST_SUITE_P(Cases, FindTargetPortTest,
                         ::testing::Values(TargetPortCase{"number", api::IntOrString::of(9999), "TCP", 9999},
                                           TargetPortCase{"unset_means_service_port", api::IntOrString::of(0), "TCP", 80},
                                           TargetPortCase{"name", api::IntOrString::of("http"), "TCP", 8080},
                                           TargetPortCase{"name_udp", api::IntOrString::of("dns"), "UDP", 5353},
                                           TargetPortCase{"name_with_other_protocol", api::IntOrString::of("dns"), "TCP", std::nullopt},
                                           TargetPortCase{"name_default_protocol", api::IntOrString::of("admin"), "", 9000},
                                           TargetPortCase{"sidecar_init_container", api::IntOrString::of("proxy"), "TCP", 15001},
                                           TargetPortCase{"plain_init_container", api::IntOrString::of("setup"), "TCP", std::nullopt},
                                           TargetPortCase{"unknown_name", api::IntOrString::of("grpc"), "TCP", std::nullopt}),
                         [](const auto& info) { return info.param.name; });

TEST(EndpointPortsTest, UnresolvedNamedPortsAreLeftOut) {
  auto service = web_service();
  service.spec.ports = {
      api::ServicePort{.name = "http", .protocol = "TCP", .port = 80, .target_port = api::IntOrString::of("http")},
      api::ServicePort{
          .name = "metrics", .protocol = "TCP", .app_protocol = "http", .port = 9090, .target_port = api::IntOrString::of("metrics")},
  };
  auto ports = endpoint_ports_for_pod(service, web_pod("p", "10.0.0.1"));
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(ports[0], (api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080}));

  auto pod = web_pod("q", "10.0.0.2");
  pod.spec.containers[0].ports.push_back(api::ContainerPort{.name = "metrics", .container_port = 9100, .protocol = "TCP"});
  EXPECT_THAT(endpoint_ports_for_pod(service, pod),
              ElementsAre(api::SlicePort{.name = "http", .protocol = "TCP", .port = 8080},
                          api::SlicePort{.name = "metrics", .protocol = "TCP", .app_protocol = "http", .port = 9100}));
}

TEST(EndpointPortsTest, HeadlessServiceWithoutPortsHasNone) {
  auto service = web_service();
  service.spec.cluster_ip = "None";
  service.spec.ports.clear();
  EXPECT_TRUE(endpoint_ports_for_pod(service, web_pod("p", "10.0.0.1")).empty());
}

// ---- address types -------------------------------------------------------------------------

struct AddressTypesCase {
  std::string name;
  std::vector<std::string> families;
  std::string cluster_ip;
  std::vector<std::string> types;
};

class AddressTypesTest : public ::testing::TestWithParam<AddressTypesCase> {};

TEST_P(AddressTypesTest, FromIpFamilies) {
  auto service = web_service();
  service.spec.ip_families = GetParam().families;
  service.spec.cluster_ip = GetParam().cluster_ip;
  EXPECT_EQ(address_types_for_service(service), GetParam().types);
}

INSTANTIATE_TEST_SUITE_P(Cases, AddressTypesTest,
                         ::testing::Values(AddressTypesCase{"ipv4", {"IPv4"}, "10.96.0.10", {"IPv4"}},
                                           AddressTypesCase{"ipv6", {"IPv6"}, "fd00::10", {"IPv6"}},
                                           AddressTypesCase{"dual_stack", {"IPv4", "IPv6"}, "10.96.0.10", {"IPv4", "IPv6"}},
                                           AddressTypesCase{"dual_stack_ipv6_primary", {"IPv6", "IPv4"}, "fd00::10", {"IPv6", "IPv4"}},
                                           AddressTypesCase{"legacy_from_cluster_ip", {}, "fd00::10", {"IPv6"}},
                                           AddressTypesCase{"legacy_headless", {}, "None", {"IPv4", "IPv6"}}),
                         [](const auto& info) { return info.param.name; });

// ---- the endpoint ------------------------------------------------------------------------

TEST(PodToEndpointTest, CarriesNodeZoneAndTargetRef) {
  auto ep = pod_to_endpoint(web_pod("web-1", "10.0.0.1", "node-a"), std::string("zone-a"), web_service(), "IPv4");
  EXPECT_THAT(ep.addresses, ElementsAre("10.0.0.1"));
  EXPECT_EQ(ep.node_name, "node-a");
  EXPECT_EQ(ep.zone, "zone-a");
  EXPECT_EQ(ep.hostname, std::nullopt);
  EXPECT_EQ(ep.hints, std::nullopt);
  EXPECT_EQ(ep.target_ref, (api::ObjectReference{.kind = "Pod", .namespace_ = "default", .name = "web-1", .uid = "uid-pod-web-1"}));
}

struct HostnameCase {
  std::string name, hostname, subdomain;
  std::optional<std::string> expected;
};

class HostnameTest : public ::testing::TestWithParam<HostnameCase> {};

TEST_P(HostnameTest, SetWhenSubdomainIsTheService) {
  auto pod = web_pod("web-0", "10.0.0.1");
  pod.spec.hostname = GetParam().hostname;
  pod.spec.subdomain = GetParam().subdomain;
  EXPECT_EQ(pod_to_endpoint(pod, std::nullopt, web_service(), "IPv4").hostname, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(Cases, HostnameTest,
                         ::testing::Values(HostnameCase{"matching_subdomain", "web-0", "web", "web-0"},
                                           HostnameCase{"other_subdomain", "web-0", "db", std::nullopt},
                                           HostnameCase{"no_subdomain", "web-0", "", std::nullopt},
                                           HostnameCase{"no_hostname", "", "web", std::nullopt}),
                         [](const auto& info) { return info.param.name; });

TEST(PodToEndpointTest, AddressesOfTheSliceFamilyOnlyInCanonicalForm) {
  auto pod = web_pod("p", "10.0.0.1");
  pod.status.pod_ips = {"10.0.0.1", "FD00:0:0:0:0:0:0:1"};
  EXPECT_THAT(pod_to_endpoint(pod, std::nullopt, web_service(), "IPv4").addresses, ElementsAre("10.0.0.1"));
  EXPECT_THAT(pod_to_endpoint(pod, std::nullopt, web_service(), "IPv6").addresses, ElementsAre("fd00::1"));
  pod.status.pod_ips = {"10.0.0.1"};
  EXPECT_TRUE(pod_to_endpoint(pod, std::nullopt, web_service(), "IPv6").addresses.empty());
}

}  // namespace
}  // namespace switchyard::slice_controller
