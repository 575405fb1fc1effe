// The manifests in deploy/: kubectl 1.31 reads them (`kubectl create --dry-run=client -o yaml`,
// against a discovery-only server on loopback, since client dry-run still maps kinds to
// resources), the ClusterRole bound to the DaemonSet's ServiceAccount allows list and watch on
// every collection the agent's informers use (taken from ClusterStateFeed, not a copy), and the
// ConfigMap's KubeProxyConfiguration is one the agent accepts.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "endpoints/informer/cluster_state_feed.h"
#include "endpoints/informer/node_pods_feed.h"
#include "netns-tests/support/process.h"
#include "orchestrator/cmd/agent_config.h"
#include "orchestrator/cmd/status_http_server.h"

namespace switchyard {
namespace {

using nlohmann::json;

json resource(const std::string& name, const std::string& kind, bool namespaced) {
  return {{"name", name}, {"singularName", ""}, {"namespaced", namespaced}, {"kind", kind}, {"verbs", {"create", "get", "list", "watch"}}};
}

json group(const std::string& name) {
  const json gv = {{"groupVersion", name + "/v1"}, {"version", "v1"}};
  return {{"name", name}, {"versions", {gv}}, {"preferredVersion", gv}};
}

cmd::StatusResponse discovery(json doc) { return {200, "application/json", doc.dump()}; }

// Just enough of the discovery API for kubectl to map the kinds in deploy/ to resources.
std::map<std::string, cmd::StatusHandler> discovery_handlers() {
  return {
      {"/api", [] { return discovery({{"kind", "APIVersions"}, {"versions", {"v1"}}, {"serverAddressByClientCIDRs", json::array()}}); }},
      {"/apis", [] {
         return discovery({{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", {group("apps"), group("rbac.authorization.k8s.io")}}});
       }},
      {"/api/v1", [] {
         return discovery({{"kind", "APIResourceList"},
                           {"groupVersion", "v1"},
                           {"resources", {resource("configmaps", "ConfigMap", true), resource("serviceaccounts", "ServiceAccount", true)}}});
       }},
      {"/apis/apps/v1", [] {
         return discovery({{"kind", "APIResourceList"}, {"groupVersion", "apps/v1"}, {"resources", {resource("daemonsets", "DaemonSet", true)}}});
       }},
      {"/apis/rbac.authorization.k8s.io/v1", [] {
         return discovery({{"kind", "APIResourceList"},
                           {"groupVersion", "rbac.authorization.k8s.io/v1"},
                           {"resources", {resource("clusterroles", "ClusterRole", false),
                                          resource("clusterrolebindings", "ClusterRoleBinding", false)}}});
       }},
  };
}

// "/api/v1/services" → {"", "services"}; "/apis/discovery.k8s.io/v1/endpointslices" → {"discovery.k8s.io", "endpointslices"}.
std::pair<std::string, std::string> group_and_resource(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream in(path);
  for (std::string p; std::getline(in, p, '/');)
    if (!p.empty()) parts.push_back(p);
  if (parts.at(0) == "api") return {"", parts.at(2)};
  return {parts.at(1), parts.at(3)};
}

bool has(const YAML::Node& list, const std::string& value) {
  for (const auto& v : list)
    if (v.as<std::string>() == value || v.as<std::string>() == "*") return true;
  return false;
}

class DeployManifests : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = cmd::StatusHttpServer::start("127.0.0.1:0", discovery_handlers());
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    // No kubeconfig: the server flag only, and a cache directory of our own.
    cache_ = std::filesystem::temp_directory_path() / ("sy-deploy-cache-" + std::to_string(getpid()));
    std::filesystem::create_directories(cache_);
    auto r = switchyard::testing::run(std::string("KUBECONFIG=/dev/null /usr/lib/google-cloud-sdk/bin/kubectl.1.31 --cache-dir ") + cache_.string() +
                                      " --server http://127.0.0.1:" + std::to_string(server_->port()) +
                                      " create --dry-run=client --validate=false -o yaml -f " + DEPLOY_DIR + " > " + (cache_ / "out.yaml").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // One document per object (`---` between them), or a List.
    for (const auto& doc : YAML::LoadAllFromFile((cache_ / "out.yaml").string())) {
      if (doc["kind"] && doc["kind"].as<std::string>() == "List")
        for (const auto& item : doc["items"]) objects_.push_back(item);
      else if (doc.IsMap())
        objects_.push_back(doc);
    }
  }
  void TearDown() override { std::filesystem::remove_all(cache_); }

  std::vector<YAML::Node> of_kind(const std::string& kind) const {
    std::vector<YAML::Node> out;
    for (const auto& o : objects_)
      if (o["kind"].as<std::string>() == kind) out.push_back(o);
    return out;
  }

  std::unique_ptr<cmd::StatusHttpServer> server_;
  std::filesystem::path cache_;
  std::vector<YAML::Node> objects_;
};

TEST_F(DeployManifests, KubectlReadsEveryObject) {
  std::multiset<std::string> kinds;
  for (const auto& o : objects_) kinds.insert(o["kind"].as<std::string>());
  EXPECT_EQ(kinds, (std::multiset<std::string>{"ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "ServiceAccount"}));
}

TEST_F(DeployManifests, TheDaemonSetsServiceAccountMayListAndWatchEverythingTheAgentWatches) {
  auto daemonsets = of_kind("DaemonSet");
  ASSERT_EQ(daemonsets.size(), 1u);
  const auto pod = daemonsets[0]["spec"]["template"]["spec"];
  const std::string sa = pod["serviceAccountName"].as<std::string>();
  const std::string ns = daemonsets[0]["metadata"]["namespace"].as<std::string>();
  EXPECT_TRUE(pod["hostNetwork"].as<bool>());
  EXPECT_TRUE(pod["containers"][0]["securityContext"]["privileged"].as<bool>());

  // The ClusterRoles bound to that ServiceAccount.
  std::set<std::string> roles;
  for (const auto& b : of_kind("ClusterRoleBinding"))
    for (const auto& s : b["subjects"])
      if (s["kind"].as<std::string>() == "ServiceAccount" && s["name"].as<std::string>() == sa && s["namespace"].as<std::string>() == ns)
        roles.insert(b["roleRef"]["name"].as<std::string>());
  ASSERT_FALSE(roles.empty()) << "no ClusterRoleBinding for ServiceAccount " << ns << "/" << sa;
  EXPECT_EQ(of_kind("ServiceAccount").at(0)["metadata"]["name"].as<std::string>(), sa);

  auto collections = informer::ClusterStateFeed::watched_collections();
  collections.push_back(informer::NodePodsFeed::watched_collection());  // --dns-autopath
  ASSERT_GE(collections.size(), 4u);
  for (const auto& path : collections) {
    const auto [api_group, resource] = group_and_resource(path);
    for (const char* verb : {"list", "watch"}) {
      bool allowed = false;
      for (const auto& role : of_kind("ClusterRole"))
        if (roles.contains(role["metadata"]["name"].as<std::string>()))
          for (const auto& rule : role["rules"])
            allowed = allowed || (has(rule["apiGroups"], api_group) && has(rule["resources"], resource) && has(rule["verbs"], verb));
      EXPECT_TRUE(allowed) << "the agent's informer on " << path << " needs '" << verb << "' on " << resource << " in API group \""
                           << api_group << "\"";
    }
  }
}

TEST_F(DeployManifests, TheConfigMapHoldsAConfigurationTheAgentAccepts) {
  auto maps = of_kind("ConfigMap");
  ASSERT_EQ(maps.size(), 1u);
  cmd::AgentConfig c;
  auto ok = cmd::parse_kube_proxy_configuration(maps[0]["data"]["config.yaml"].as<std::string>(), c);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(c.mode, "nftables");
  EXPECT_FALSE(c.cluster_cidrs.empty());
  // The probes ask the port the configuration serves health on.
  const auto container = of_kind("DaemonSet").at(0)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c.healthz_bind_address, "0.0.0.0:" + container["livenessProbe"]["httpGet"]["port"].as<std::string>());
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
}

}  // namespace
}  // namespace switchyard
