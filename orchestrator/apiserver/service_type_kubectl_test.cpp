// Changing a Service's type with kubectl, against a real `switchyard apiserver` process, the way
// Kubernetes' own e2e suite does it: the fields the new type cannot have are dropped when the user
// left them as they were (cluster IPs, families, node ports, the load-balancer fields, the external
// traffic policy), what was allocated is given back, and what the new type needs is allocated.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "netns-tests/support/apiserver_process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ApiserverProcess;
using ::testing::HasSubstr;
using Json = nlohmann::json;

class ServiceTypeChange : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    server_ = std::make_unique<ApiserverProcess>(SWITCHYARD_BINARY, "svctype-" + GetParam());
    ASSERT_TRUE(server_->wait_ready(kubectl_)) << server_->log();
  }
  testing::CommandResult k(const std::string& args) { return server_->run_kubectl(kubectl_, args); }
  void create(const std::string& type, const std::string& name) {
    const std::string how = type == "ExternalName"   ? "externalname " + name + " --external-name=db.example.com"
                            : type == "NodePort"     ? "nodeport " + name + " --tcp=80:8080"
                            : type == "LoadBalancer" ? "loadbalancer " + name + " --tcp=80:8080"
                                                     : "clusterip " + name + " --tcp=80:8080";
    auto r = k("create service " + how);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  Json spec(const std::string& name) {
    auto r = k("get service " + name + " -o json");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return Json::parse(r.output, nullptr, false).value("spec", Json::object());
  }
  // A merge patch, as `kubectl patch --type=merge` sends it.
  testing::CommandResult patch(const std::string& name, const Json& p) {
    return k("patch service " + name + " --type=merge -p '" + p.dump() + "'");
  }

  std::string kubectl_;
  std::unique_ptr<ApiserverProcess> server_;
};

// The e2e suite's "should be able to change the type from ClusterIP to ExternalName": it sets the
// type and externalName and clears clusterIP, leaving clusterIPs and ipFamilies as they were.
TEST_P(ServiceTypeChange, ClusterIpToExternalNameClearingClusterIp) {
  create("ClusterIP", "web");
  auto r = patch("web", {{"spec", {{"type", "ExternalName"}, {"externalName", "db.example.com"}, {"clusterIP", ""}}}});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Json s = spec("web");
  EXPECT_EQ(s.value("type", ""), "ExternalName");
  EXPECT_EQ(s.value("externalName", ""), "db.example.com");
  for (const char* gone : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"}) EXPECT_FALSE(s.contains(gone)) << gone << ": " << s;
  EXPECT_EQ(k("get service web").exit_code, 0);
}

TEST_P(ServiceTypeChange, EveryTransitionBetweenTheFourTypes) {
  const std::vector<std::string> types = {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"};
  int n = 0;
  for (const auto& from : types)
    for (const auto& to : types) {
      if (from == to) continue;
      const std::string name = "s" + std::to_string(n++);
      SCOPED_TRACE(from + " -> " + to);
      create(from, name);
      const Json before = spec(name);
      Json p = {{"spec", {{"type", to}}}};
      if (to == "ExternalName") p["spec"]["externalName"] = "db.example.com";
      if (from == "ExternalName") {
        p["spec"]["externalName"] = nullptr;
        p["spec"]["ports"] = Json::array({{{"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}});
      }
      auto r = patch(name, p);
      ASSERT_EQ(r.exit_code, 0) << r.output;
      const Json s = spec(name);
      EXPECT_EQ(s.value("type", ""), to);
      const int node_port = s.value("ports", Json::array()).empty() ? 0 : s["ports"][0].value("nodePort", 0);
      if (to == "ExternalName") {
        for (const char* gone : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "externalTrafficPolicy"})
          EXPECT_FALSE(s.contains(gone)) << gone << ": " << s;
      } else {
        EXPECT_THAT(s.value("clusterIP", ""), ::testing::MatchesRegex("10\\.[0-9.]+")) << s;
        if (from != "ExternalName") {
          EXPECT_EQ(s.value("clusterIP", ""), before.value("clusterIP", "")) << "the cluster IP is kept";
        }
      }
      if (to == "NodePort" || to == "LoadBalancer") {
        EXPECT_GE(node_port, 30000) << s;
        if (from == "NodePort" || from == "LoadBalancer") {
          EXPECT_EQ(node_port, before["ports"][0].value("nodePort", 0)) << "the node port is kept";
        }
        EXPECT_EQ(s.value("externalTrafficPolicy", ""), "Cluster");
      } else {
        EXPECT_EQ(node_port, 0) << s;
        EXPECT_FALSE(s.contains("externalTrafficPolicy")) << s;
      }
      EXPECT_EQ(s.contains("allocateLoadBalancerNodePorts"), to == "LoadBalancer") << s;
    }
}

TEST_P(ServiceTypeChange, ANodePortDroppedByATypeChangeIsFreeAgain) {
  ASSERT_EQ(k("create service nodeport np --tcp=80:8080 --node-port=31234").exit_code, 0);
  ASSERT_EQ(patch("np", {{"spec", {{"type", "ClusterIP"}}}}).exit_code, 0);
  auto again = k("create service nodeport np2 --tcp=80:8080 --node-port=31234");
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

// A field the user changed in the same update is the user's: it is not dropped, and validation
// says why the new type cannot have it.
TEST_P(ServiceTypeChange, ANodePortSetInTheSameUpdateIsRefused) {
  create("NodePort", "np");
  auto r =
      patch("np", {{"spec", {{"type", "ClusterIP"}, {"ports", Json::array({{{"port", 80}, {"targetPort", 8080}, {"nodePort", 31999}}})}}}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'")) << r.output;
}

TEST_P(ServiceTypeChange, LoadBalancerToClusterIpDropsTheLoadBalancerFieldsAndStatus) {
  create("LoadBalancer", "lb");
  ASSERT_EQ(
      k("patch service lb --subresource=status --type=merge -p '{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.7\"}]}}}'")
          .exit_code,
      0);
  ASSERT_EQ(k("get service lb -o jsonpath={.status.loadBalancer.ingress[0].ip}").output, "192.0.2.7");
  auto r = patch("lb", {{"spec", {{"type", "ClusterIP"}}}});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(k("get service lb -o jsonpath={.status.loadBalancer.ingress}").output, "");
  EXPECT_FALSE(spec("lb").contains("allocateLoadBalancerNodePorts"));
}

INSTANTIATE_TEST_SUITE_P(Kubectl, ServiceTypeChange, ::testing::Values("1.27", "1.33"));

}  // namespace
}  // namespace switchyard::apiserver
