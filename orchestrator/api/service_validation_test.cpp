// Every Service defaulting and validation rule, each with a valid and an invalid case and the
// exact field path and message the real API server gives.
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {
namespace {

Service base_service() {
  Service s;
  s.metadata.name = "web";
  s.metadata.namespace_ = "default";
  s.spec.selector = {{"app", "web"}};
  s.spec.ports = {ServicePort{.port = 80}};
  return s;
}

std::vector<std::string> messages(const FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.message());
  return out;
}

std::vector<std::string> defaulted_errors(Service s, const ClusterNetworkConfig& net = {}) {
  apply_defaults(s, net);
  return messages(validate(s, net));
}

// ---- defaulting ------------------------------------------------------------------------

TEST(ServiceDefaults, TypeProtocolTargetPortAffinityPolicies) {
  Service s = base_service();
  apply_defaults(s, {});
  EXPECT_EQ(s.spec.type, "ClusterIP");
  EXPECT_EQ(s.spec.ports[0].protocol, "TCP");
  EXPECT_EQ(s.spec.ports[0].target_port, IntOrString::of(80));
  EXPECT_EQ(s.spec.session_affinity, "None");
  EXPECT_FALSE(s.spec.session_affinity_timeout_seconds.has_value());
  EXPECT_EQ(s.spec.external_traffic_policy, "");  // not reachable from outside
  EXPECT_EQ(s.spec.internal_traffic_policy, "Cluster");
  EXPECT_EQ(s.spec.ip_family_policy, "SingleStack");
  EXPECT_EQ(s.spec.ip_families, std::vector<std::string>{"IPv4"});
  EXPECT_FALSE(s.spec.allocate_load_balancer_node_ports.has_value());
}

TEST(ServiceDefaults, NamedTargetPortIsKept) {
  Service s = base_service();
  s.spec.ports[0].target_port = IntOrString::of(std::string("http"));
  apply_defaults(s, {});
  EXPECT_EQ(s.spec.ports[0].target_port, IntOrString::of(std::string("http")));
}

TEST(ServiceDefaults, ClientIpTimeoutDefaultsTo10800) {
  Service s = base_service();
  s.spec.session_affinity = "ClientIP";
  apply_defaults(s, {});
  EXPECT_EQ(s.spec.session_affinity_timeout_seconds, 10800);
}

TEST(ServiceDefaults, AffinityConfigDroppedWhenNone) {
  Service s = base_service();
  s.spec.session_affinity_timeout_seconds = 60;
  apply_defaults(s, {});
  EXPECT_FALSE(s.spec.session_affinity_timeout_seconds.has_value());
}

TEST(ServiceDefaults, ExternalTrafficPolicyClusterOnlyWhereReachableFromOutside) {
  for (std::string type : {"NodePort", "LoadBalancer"}) {
    Service s = base_service();
    s.spec.type = type;
    apply_defaults(s, {});
    EXPECT_EQ(s.spec.external_traffic_policy, "Cluster") << type;
  }
  Service with_external_ip = base_service();
  with_external_ip.spec.external_ips = {"192.0.2.10"};
  apply_defaults(with_external_ip, {});
  EXPECT_EQ(with_external_ip.spec.external_traffic_policy, "Cluster");
  Service external_name = base_service();
  external_name.spec.type = "ExternalName";
  external_name.spec.external_name = "db.example.com";
  apply_defaults(external_name, {});
  EXPECT_EQ(external_name.spec.external_traffic_policy, "");
  EXPECT_FALSE(external_name.spec.internal_traffic_policy.has_value());
  EXPECT_FALSE(external_name.spec.ip_family_policy.has_value());
  EXPECT_TRUE(external_name.spec.ip_families.empty());
}

TEST(ServiceDefaults, LoadBalancerAllocatesNodePortsByDefault) {
  Service s = base_service();
  s.spec.type = "LoadBalancer";
  apply_defaults(s, {});
  EXPECT_EQ(s.spec.allocate_load_balancer_node_ports, true);
}

TEST(ServiceDefaults, IpFamiliesFollowClusterIpAndCluster) {
  ClusterNetworkConfig dual{.service_ip_families = {"IPv4", "IPv6"}};
  Service v6 = base_service();
  v6.spec.cluster_ip = "fd00::10";
  apply_defaults(v6, dual);
  EXPECT_EQ(v6.spec.cluster_ips, std::vector<std::string>{"fd00::10"});
  EXPECT_EQ(v6.spec.ip_families, std::vector<std::string>{"IPv6"});

  Service prefer = base_service();
  prefer.spec.ip_family_policy = "PreferDualStack";
  apply_defaults(prefer, dual);
  EXPECT_EQ(prefer.spec.ip_families, (std::vector<std::string>{"IPv4", "IPv6"}));

  Service prefer_single_cluster = base_service();
  prefer_single_cluster.spec.ip_family_policy = "PreferDualStack";
  apply_defaults(prefer_single_cluster, {});
  EXPECT_EQ(prefer_single_cluster.spec.ip_families, std::vector<std::string>{"IPv4"});

  Service two_families = base_service();
  two_families.spec.ip_families = {"IPv6", "IPv4"};
  apply_defaults(two_families, dual);
  EXPECT_EQ(two_families.spec.ip_family_policy, "RequireDualStack");

  Service headless_no_selector = base_service();
  headless_no_selector.spec.selector.clear();
  headless_no_selector.spec.cluster_ip = "None";
  apply_defaults(headless_no_selector, dual);
  EXPECT_EQ(headless_no_selector.spec.ip_family_policy, "RequireDualStack");
  EXPECT_EQ(headless_no_selector.spec.ip_families, (std::vector<std::string>{"IPv4", "IPv6"}));
}

// ---- validation: each rule, valid and invalid ---------------------------------------------

struct Case {
  std::string name;
  std::function<void(Service&)> edit;
  std::vector<std::string> want;  // exact messages; empty = valid
  ClusterNetworkConfig net = {};
};

class ServiceValidation : public ::testing::TestWithParam<Case> {};

TEST_P(ServiceValidation, GivesTheServersErrors) {
  const Case& c = GetParam();
  Service s = base_service();
  c.edit(s);
  EXPECT_THAT(defaulted_errors(s, c.net), ::testing::ElementsAreArray(c.want));
}

const std::string kDns1035 =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
    "and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
    "'[a-z]([-a-z0-9]*[a-z0-9])?')";
const std::string kDns1123Label =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const std::string kDns1123Subdomain =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

ServicePort named(std::string name, int port, std::string protocol = "") {
  return ServicePort{.name = std::move(name), .protocol = std::move(protocol), .port = port};
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ServiceValidation,
    ::testing::Values(
        Case{"valid_minimal", [](Service&) {}, {}},
        // names: a Service name is a DNS-1035 label
        Case{"name_dns1035_valid", [](Service& s) { s.metadata.name = "a-1"; }, {}},
        Case{"name_dns1035_digit_first", [](Service& s) { s.metadata.name = "1abc"; },
             {"metadata.name: Invalid value: \"1abc\": " + kDns1035}},
        Case{"name_too_long", [](Service& s) { s.metadata.name = std::string(64, 'a'); },
             {"metadata.name: Invalid value: \"" + std::string(64, 'a') + "\": must be no more than 63 characters"}},
        Case{"name_required", [](Service& s) { s.metadata.name.clear(); },
             {"metadata.name: Required value: name or generateName is required"}},
        Case{"generate_name_allows_trailing_dash", [](Service& s) { s.metadata.name.clear(); s.metadata.generate_name = "web-"; }, {}},
        Case{"namespace_required", [](Service& s) { s.metadata.namespace_.clear(); }, {"metadata.namespace: Required value"}},
        Case{"namespace_dns1123_label", [](Service& s) { s.metadata.namespace_ = "Kube_System"; },
             {"metadata.namespace: Invalid value: \"Kube_System\": " + kDns1123Label}},
        // type
        Case{"type_nodeport_valid", [](Service& s) { s.spec.type = "NodePort"; }, {}},
        Case{"type_unsupported", [](Service& s) { s.spec.type = "Ingress"; },
             {"spec.type: Unsupported value: \"Ingress\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""}},
        // ports
        Case{"ports_required", [](Service& s) { s.spec.ports.clear(); }, {"spec.ports: Required value"}},
        Case{"ports_not_required_headless", [](Service& s) { s.spec.ports.clear(); s.spec.cluster_ip = "None"; }, {}},
        Case{"port_range_valid", [](Service& s) { s.spec.ports[0].port = 65535; }, {}},
        Case{"port_range", [](Service& s) { s.spec.ports[0].port = 65536; s.spec.ports[0].target_port = IntOrString::of(8080); },
             {"spec.ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive"}},
        Case{"port_names_required_when_several", [](Service& s) { s.spec.ports = {named("http", 80), named("", 443)}; },
             {"spec.ports[1].name: Required value"}},
        Case{"port_names_unique", [](Service& s) { s.spec.ports = {named("http", 80), named("http", 443)}; },
             {"spec.ports[1].name: Duplicate value: \"http\""}},
        Case{"port_name_dns1123_label", [](Service& s) { s.spec.ports = {named("HTTP", 80), named("b", 443)}; },
             {"spec.ports[0].name: Invalid value: \"HTTP\": " + kDns1123Label}},
        Case{"two_named_ports_valid", [](Service& s) { s.spec.ports = {named("http", 80), named("https", 443)}; }, {}},
        Case{"protocol_unsupported", [](Service& s) { s.spec.ports[0].protocol = "ICMP"; },
             {"spec.ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\""}},
        Case{"same_port_tcp_and_udp_valid", [](Service& s) { s.spec.ports = {named("dns", 53, "UDP"), named("dns-tcp", 53, "TCP")}; }, {}},
        Case{"duplicate_protocol_port", [](Service& s) { s.spec.ports = {named("a", 80), named("b", 80)}; },
             {"spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, "
              "TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"}},
        Case{"target_port_int_range", [](Service& s) { s.spec.ports[0].target_port = IntOrString::of(70000); },
             {"spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
        Case{"target_port_name_valid", [](Service& s) { s.spec.ports[0].target_port = IntOrString::of(std::string("http-alt")); }, {}},
        Case{"target_port_name_iana", [](Service& s) { s.spec.ports[0].target_port = IntOrString::of(std::string("Http")); },
             {"spec.ports[0].targetPort: Invalid value: \"Http\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"}},
        // sessionAffinity
        Case{"affinity_clientip_valid", [](Service& s) { s.spec.session_affinity = "ClientIP"; s.spec.session_affinity_timeout_seconds = 86400; }, {}},
        Case{"affinity_unsupported", [](Service& s) { s.spec.session_affinity = "Cookie"; },
             {"spec.sessionAffinity: Unsupported value: \"Cookie\": supported values: \"ClientIP\", \"None\""}},
        Case{"affinity_timeout_zero", [](Service& s) { s.spec.session_affinity = "ClientIP"; s.spec.session_affinity_timeout_seconds = 0; },
             {"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"}},
        Case{"affinity_timeout_too_big", [](Service& s) { s.spec.session_affinity = "ClientIP"; s.spec.session_affinity_timeout_seconds = 86401; },
             {"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400"}},
        // externalTrafficPolicy
        Case{"etp_local_on_nodeport_valid", [](Service& s) { s.spec.type = "NodePort"; s.spec.external_traffic_policy = "Local"; }, {}},
        Case{"etp_on_clusterip", [](Service& s) { s.spec.external_traffic_policy = "Local"; },
             {"spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services"}},
        Case{"etp_unsupported", [](Service& s) { s.spec.type = "NodePort"; s.spec.external_traffic_policy = "Nearest"; },
             {"spec.externalTrafficPolicy: Unsupported value: \"Nearest\": supported values: \"Cluster\", \"Local\""}},
        // internalTrafficPolicy
        Case{"itp_local_valid", [](Service& s) { s.spec.internal_traffic_policy = "Local"; }, {}},
        Case{"itp_unsupported", [](Service& s) { s.spec.internal_traffic_policy = "Node"; },
             {"spec.internalTrafficPolicy: Unsupported value: \"Node\": supported values: \"Cluster\", \"Local\""}},
        // ExternalName
        Case{"external_name_valid", [](Service& s) { s.spec.type = "ExternalName"; s.spec.external_name = "db.example.com."; }, {}},
        Case{"external_name_required", [](Service& s) { s.spec.type = "ExternalName"; }, {"spec.externalName: Required value"}},
        Case{"external_name_subdomain", [](Service& s) { s.spec.type = "ExternalName"; s.spec.external_name = "db_1.example.com"; },
             {"spec.externalName: Invalid value: \"db_1.example.com\": " + kDns1123Subdomain}},
        Case{"external_name_no_cluster_ips", [](Service& s) { s.spec.type = "ExternalName"; s.spec.external_name = "db.example.com"; s.spec.cluster_ip = "10.96.0.10"; },
             {"spec.clusterIPs: Forbidden: may not be set for ExternalName services"}},
        Case{"external_name_no_families", [](Service& s) { s.spec.type = "ExternalName"; s.spec.external_name = "db.example.com"; s.spec.ip_families = {"IPv4"}; s.spec.ip_family_policy = "SingleStack"; },
             {"spec.ipFamilies: Forbidden: may not be set for ExternalName services", "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services"}},
        // clusterIP None
        Case{"headless_clusterip_valid", [](Service& s) { s.spec.cluster_ip = "None"; }, {}},
        Case{"headless_nodeport", [](Service& s) { s.spec.type = "NodePort"; s.spec.cluster_ip = "None"; },
             {"spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"}},
        Case{"headless_loadbalancer", [](Service& s) { s.spec.type = "LoadBalancer"; s.spec.cluster_ip = "None"; },
             {"spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"}},
        Case{"cluster_ip_invalid", [](Service& s) { s.spec.cluster_ip = "10.96.0.300"; },
             {"spec.clusterIPs[0]: Invalid value: \"10.96.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"}},
        Case{"cluster_ips_must_match", [](Service& s) { s.spec.cluster_ip = "10.96.0.10"; s.spec.cluster_ips = {"10.96.0.11"}; },
             {"spec.clusterIPs: Invalid value: []string{\"10.96.0.11\"}: first value must match `clusterIP`"}},
        // nodePort
        Case{"nodeport_valid", [](Service& s) { s.spec.type = "NodePort"; s.spec.ports[0].node_port = 30080; }, {}},
        Case{"nodeport_on_clusterip", [](Service& s) { s.spec.ports[0].node_port = 30080; },
             {"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
        Case{"nodeport_out_of_range", [](Service& s) { s.spec.type = "NodePort"; s.spec.ports[0].node_port = 80; },
             {"spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"}},
        Case{"nodeport_duplicate", [](Service& s) { s.spec.type = "NodePort"; s.spec.ports = {named("a", 80), named("b", 81)}; s.spec.ports[0].node_port = 30080; s.spec.ports[1].node_port = 30080; },
             {"spec.ports[1].nodePort: Duplicate value: 30080"}},
        Case{"nodeport_shared_tcp_udp_valid", [](Service& s) { s.spec.type = "NodePort"; s.spec.ports = {named("a", 53, "TCP"), named("b", 53, "UDP")}; s.spec.ports[0].node_port = 30053; s.spec.ports[1].node_port = 30053; }, {}},
        // healthCheckNodePort
        Case{"hcnp_lb_local_valid", [](Service& s) { s.spec.type = "LoadBalancer"; s.spec.external_traffic_policy = "Local"; s.spec.health_check_node_port = 31000; }, {}},
        Case{"hcnp_lb_cluster", [](Service& s) { s.spec.type = "LoadBalancer"; s.spec.health_check_node_port = 31000; },
             {"spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"}},
        Case{"hcnp_nodeport_local", [](Service& s) { s.spec.type = "NodePort"; s.spec.external_traffic_policy = "Local"; s.spec.health_check_node_port = 31000; },
             {"spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"}},
        // loadBalancerSourceRanges
        Case{"source_ranges_valid", [](Service& s) { s.spec.type = "LoadBalancer"; s.spec.load_balancer_source_ranges = {"10.0.0.0/8", "2001:db8::/64"}; }, {}},
        Case{"source_ranges_not_lb", [](Service& s) { s.spec.type = "NodePort"; s.spec.load_balancer_source_ranges = {"10.0.0.0/8"}; },
             {"spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"}},
        Case{"source_ranges_bad_cidr", [](Service& s) { s.spec.type = "LoadBalancer"; s.spec.load_balancer_source_ranges = {"10.0.0.0/33"}; },
             {"spec.LoadBalancerSourceRanges[0]: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"}},
        // ipFamilyPolicy / ipFamilies
        Case{"family_policy_unsupported", [](Service& s) { s.spec.ip_family_policy = "DualStack"; },
             {"spec.ipFamilyPolicy: Unsupported value: \"DualStack\": supported values: \"PreferDualStack\", \"RequireDualStack\", \"SingleStack\""}},
        Case{"family_unsupported", [](Service& s) { s.spec.ip_families = {"IPv5"}; },
             {"spec.ipFamilies[0]: Unsupported value: \"IPv5\": supported values: \"IPv4\", \"IPv6\""}},
        Case{"require_dual_stack_on_single_stack", [](Service& s) { s.spec.ip_family_policy = "RequireDualStack"; },
             {"spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services"}},
        Case{"require_dual_stack_on_dual_stack_valid", [](Service& s) { s.spec.ip_family_policy = "RequireDualStack"; }, {},
             ClusterNetworkConfig{.service_ip_families = {"IPv4", "IPv6"}}},
        Case{"family_not_configured", [](Service& s) { s.spec.ip_families = {"IPv6"}; },
             {"spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster"}},
        Case{"single_stack_two_families", [](Service& s) { s.spec.ip_family_policy = "SingleStack"; s.spec.ip_families = {"IPv4", "IPv6"}; },
             {"spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"},
             ClusterNetworkConfig{.service_ip_families = {"IPv4", "IPv6"}}},
        Case{"family_disagrees_with_ip", [](Service& s) { s.spec.cluster_ip = "10.96.0.10"; s.spec.ip_families = {"IPv6"}; },
             {"spec.clusterIPs[0]: Invalid value: \"10.96.0.10\": expected an IPv6 value as indicated by `ipFamilies[0]`"},
             ClusterNetworkConfig{.service_ip_families = {"IPv4", "IPv6"}}},
        // externalIPs and selector
        Case{"external_ip_valid", [](Service& s) { s.spec.external_ips = {"192.0.2.10"}; }, {}},
        Case{"external_ip_loopback", [](Service& s) { s.spec.external_ips = {"127.0.0.1"}; },
             {"spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"}},
        Case{"selector_value_invalid", [](Service& s) { s.spec.selector = {{"app", "web server"}}; },
             {"spec.selector: Invalid value: \"web server\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
              "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
              "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"}},
        Case{"lb_class_not_lb", [](Service& s) { s.spec.load_balancer_class = "example.com/lb"; },
             {"spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'"}},
        Case{"allocate_lb_node_ports_not_lb", [](Service& s) { s.spec.allocate_load_balancer_node_ports = false; },
             {"spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"}},
        Case{"lb_kubelet_port", [](Service& s) { s.spec.type = "LoadBalancer"; s.spec.ports[0].port = 10250; },
             {"spec.ports[0]: Invalid value: 10250: may not expose port 10250 externally since it is used by kubelet"}},
        Case{"traffic_distribution_valid", [](Service& s) { s.spec.traffic_distribution = "PreferClose"; }, {}},
        Case{"traffic_distribution_unsupported", [](Service& s) { s.spec.traffic_distribution = "Random"; },
             {"spec.trafficDistribution: Unsupported value: \"Random\": supported values: \"PreferClose\""}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(ServiceValidationMessage, StatusMessageAggregatesLikeTheServer) {
  Service s = base_service();
  s.spec.ports[0].port = 0;
  s.spec.ports[0].target_port = IntOrString::of(80);
  apply_defaults(s, {});
  auto errs = validate(s, {});
  EXPECT_EQ(invalid_message("Service", "web", errs),
            "Service \"web\" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive");
  s.spec.type = "Bogus";
  errs = validate(s, {});
  EXPECT_EQ(invalid_message("Service", "web", errs),
            "Service \"web\" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, "
            "spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"]");
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0].reason(), "FieldValueInvalid");
  EXPECT_EQ(errs[1].reason(), "FieldValueNotSupported");
  EXPECT_EQ(errs[0].message_without_field(), "Invalid value: 0: must be between 1 and 65535, inclusive");
}

}  // namespace
}  // namespace switchyard::api
