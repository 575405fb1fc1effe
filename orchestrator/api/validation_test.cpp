// Defaulting and validation of the kinds other than Service, and of ObjectMeta.
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> messages(const FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.message());
  return out;
}

Pod valid_pod() {
  Pod p;
  p.metadata.name = "web-0";
  p.metadata.namespace_ = "shop";
  p.spec.containers = {Container{.name = "web", .image = "nginx:1.25", .ports = {ContainerPort{.name = "http", .container_port = 8080}}}};
  apply_defaults(p);
  return p;
}

TEST(PodDefaults, AsTheServerDefaultsThem) {
  Pod p = valid_pod();
  EXPECT_EQ(p.spec.restart_policy, "Always");
  EXPECT_EQ(p.spec.dns_policy, "ClusterFirst");
  EXPECT_EQ(p.spec.termination_grace_period_seconds, 30);
  EXPECT_EQ(p.spec.containers[0].ports[0].protocol, "TCP");
  EXPECT_EQ(p.spec.containers[0].image_pull_policy, "IfNotPresent");
  EXPECT_EQ(p.status.phase, "Pending");
  Pod latest;
  latest.spec.containers = {Container{.name = "c", .image = "busybox"}};
  apply_defaults(latest);
  EXPECT_EQ(latest.spec.containers[0].image_pull_policy, "Always");
}

struct PodCase {
  std::string name;
  std::function<void(Pod&)> edit;
  std::vector<std::string> want;
};
class PodValidation : public ::testing::TestWithParam<PodCase> {};
TEST_P(PodValidation, GivesTheServersErrors) {
  Pod p = valid_pod();
  GetParam().edit(p);
  EXPECT_THAT(messages(validate(p)), ::testing::ElementsAreArray(GetParam().want));
}
INSTANTIATE_TEST_SUITE_P(
    Rules, PodValidation,
    ::testing::Values(
        PodCase{"valid", [](Pod&) {}, {}}, PodCase{"subdomain_name_valid", [](Pod& p) { p.metadata.name = "web.0"; }, {}},
        PodCase{"name_subdomain",
                [](Pod& p) { p.metadata.name = "Web"; },
                {"metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                 "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"}},
        PodCase{"containers_required", [](Pod& p) { p.spec.containers.clear(); }, {"spec.containers: Required value"}},
        PodCase{"image_required", [](Pod& p) { p.spec.containers[0].image.clear(); }, {"spec.containers[0].image: Required value"}},
        PodCase{"container_port_range",
                [](Pod& p) { p.spec.containers[0].ports[0].container_port = 70000; },
                {"spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
        PodCase{"container_names_unique",
                [](Pod& p) { p.spec.containers.push_back(p.spec.containers[0]); },
                {"spec.containers[1].name: Duplicate value: \"web\""}},
        PodCase{"restart_policy",
                [](Pod& p) { p.spec.restart_policy = "Sometimes"; },
                {"spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\", \"OnFailure\""}},
        PodCase{"pod_ip",
                [](Pod& p) { p.status.pod_ip = "10.1.0.500"; },
                {"status.podIP: Invalid value: \"10.1.0.500\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"}}),
    [](const auto& info) { return info.param.name; });

TEST(MetaValidation, LabelsAnnotationsOwnersAndScope) {
  ObjectMeta m;
  m.name = "n1";
  EXPECT_THAT(messages(validate_object_meta(m, false, &name_is_dns1123_subdomain)), IsEmpty());
  m.namespace_ = "default";
  EXPECT_THAT(messages(validate_object_meta(m, false, &name_is_dns1123_subdomain)),
              ElementsAre("metadata.namespace: Forbidden: not allowed on this type"));
  m.namespace_.clear();
  m.labels = {{"bad key", "v"}};
  EXPECT_THAT(messages(validate_object_meta(m, false, &name_is_dns1123_subdomain)),
              ElementsAre("metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', "
                          "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                          "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"));
  m.labels.clear();
  m.annotations = {{"big", std::string(300 * 1024, 'x')}};
  EXPECT_THAT(messages(validate_object_meta(m, false, &name_is_dns1123_subdomain)),
              ElementsAre("metadata.annotations: Too long: must have at most 262144 bytes"));
  m.annotations.clear();
  m.owner_references = {OwnerReference{.api_version = "v1", .kind = "Service", .name = "web"}};
  EXPECT_THAT(messages(validate_object_meta(m, false, &name_is_dns1123_subdomain)),
              ElementsAre("metadata.ownerReferences[0].uid: Invalid value: \"\": uid must not be empty"));
}

TEST(NamespaceValidation, NameIsADns1123Label) {
  Namespace n;
  n.metadata.name = "shop";
  apply_defaults(n);
  EXPECT_THAT(messages(validate(n)), IsEmpty());
  EXPECT_EQ(n.metadata.labels.at("kubernetes.io/metadata.name"), "shop");
  n.metadata.name = "shop.eu";
  EXPECT_THAT(messages(validate(n)),
              ElementsAre(::testing::StartsWith("metadata.name: Invalid value: \"shop.eu\": a lowercase RFC 1123 label")));
}

TEST(EndpointSliceValidation, AddressTypeAddressesAndPorts) {
  EndpointSlice s;
  s.metadata.name = "web-abc";
  s.metadata.namespace_ = "shop";
  s.address_type = "IPv4";
  s.endpoints = {SliceEndpoint{.addresses = {"10.1.0.5"}}};
  s.ports = {SlicePort{.name = "http", .port = 8080}};
  apply_defaults(s);
  EXPECT_EQ(s.ports[0].protocol, "TCP");
  EXPECT_THAT(messages(validate(s)), IsEmpty());

  EndpointSlice bad = s;
  bad.address_type = "IPv5";
  EXPECT_THAT(messages(validate(bad)),
              ElementsAre("addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""));
  bad = s;
  bad.endpoints[0].addresses = {"fd00::5"};
  EXPECT_THAT(messages(validate(bad)), ElementsAre("endpoints[0].addresses[0]: Invalid value: \"fd00::5\": must be a valid IPv4 address"));
  bad = s;
  bad.endpoints[0].addresses.clear();
  EXPECT_THAT(messages(validate(bad)), ElementsAre("endpoints[0].addresses: Required value: must contain at least 1 address"));
  bad = s;
  bad.ports.push_back(bad.ports[0]);
  EXPECT_THAT(messages(validate(bad)), ElementsAre("ports[1].name: Duplicate value: \"http\""));
  bad = s;
  bad.endpoints.resize(1001, s.endpoints[0]);
  EXPECT_THAT(messages(validate(bad)), ElementsAre("endpoints: Too many: 1001: must have at most 1000 items"));
}

TEST(EndpointsValidation, SubsetsAddressesAndPorts) {
  Endpoints e;
  e.metadata.name = "ext";
  e.metadata.namespace_ = "d";
  e.subsets = {EndpointSubset{.addresses = {EndpointAddress{.ip = "192.0.2.1"}}, .ports = {EndpointPort{.port = 80}}}};
  apply_defaults(e);
  EXPECT_THAT(messages(validate(e)), IsEmpty());
  e.subsets[0].addresses[0].ip = "127.0.0.1";
  EXPECT_THAT(
      messages(validate(e)),
      ElementsAre("subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"));
  e.subsets[0].addresses.clear();
  EXPECT_THAT(messages(validate(e)), ElementsAre("subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"));
}

TEST(NodeValidation, PodCidrsAndTaints) {
  Node n;
  n.metadata.name = "node-a";
  n.pod_cidr = "10.1.0.0/24";
  n.pod_cidrs = {"10.1.0.0/24"};
  n.taints = {Taint{.key = "dedicated", .value = "infra", .effect = "NoSchedule"}};
  EXPECT_THAT(messages(validate(n)), IsEmpty());
  n.pod_cidrs = {"10.1.0.0/33"};
  n.pod_cidr = "10.1.0.0/33";
  n.taints[0].effect = "Sometimes";
  EXPECT_THAT(
      messages(validate(n)),
      ElementsAre("spec.podCIDR: Invalid value: \"10.1.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                  "spec.podCIDRs[0]: Invalid value: \"10.1.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                  "spec.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoExecute\", \"NoSchedule\", "
                  "\"PreferNoSchedule\""));
}

TEST(NodeValidation, PodCidrsAreSetOnceAndNeverChanged) {
  Node before;
  before.metadata.name = "node-a";
  Node after = before;
  after.pod_cidr = "10.1.0.0/24";
  after.pod_cidrs = {"10.1.0.0/24"};
  EXPECT_THAT(messages(validate_update(Object{after}, Object{before})), IsEmpty()) << "from \"\" to valid";
  EXPECT_THAT(messages(validate_update(Object{after}, Object{after})), IsEmpty());
  Node changed = after;
  changed.pod_cidr = "10.1.1.0/24";
  changed.pod_cidrs = {"10.1.1.0/24"};
  EXPECT_THAT(messages(validate_update(Object{changed}, Object{after})),
              ElementsAre("spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"));
  Node cleared = after;
  cleared.pod_cidr.clear();
  cleared.pod_cidrs.clear();
  EXPECT_THAT(messages(validate_update(Object{cleared}, Object{after})),
              ElementsAre("spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"));
}

}  // namespace
}  // namespace switchyard::api
