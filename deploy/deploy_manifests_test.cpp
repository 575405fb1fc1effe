// The manifests in deploy/: kubectl 1.31 reads them (`kubectl create --dry-run=client -o yaml`,
// against a discovery-only server on loopback, since client dry-run still maps kinds to
// resources), the ClusterRole bound to the DaemonSet's ServiceAccount allows list and watch on
// every collection the agent's informers use (taken from ClusterStateFeed, not a copy), and the
// ConfigMap's KubeProxyConfiguration is one the agent accepts. The Containerfile (which cannot be
// built here: no container runtime) puts the binary where the DaemonSet runs it, on Debian 12,
// with a package for every shared library the built binary links.
#include <filesystem>
#include <map>
#include <regex>
#include <fstream>
#include <sstream>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "netns-tests/support/process.h"
#include "node/agent_config.h"
#include "node/cluster_state_feed.h"
#include "node/node_pods_feed.h"
#include "node/status_http_server.h"

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

node::StatusResponse discovery(json doc) { return {200, "application/json", doc.dump()}; }

// Just enough of the discovery API for kubectl to map the kinds in deploy/ to resources.
std::map<std::string, node::StatusHandler> discovery_handlers() {
  return {
      {"/api",
       [] {
         return discovery({{"kind", "APIVersions"}, {"versions", {"v1"}}, {"serverAddressByClientCIDRs", json::array()}});
       }},
      {"/apis",
       [] {
         return discovery(
             {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", {group("apps"), group("rbac.authorization.k8s.io")}}});
       }},
      {"/api/v1",
       [] {
         return discovery(
             {{"kind", "APIResourceList"},
              {"groupVersion", "v1"},
              {"resources", {resource("configmaps", "ConfigMap", true), resource("serviceaccounts", "ServiceAccount", true)}}});
       }},
      {"/apis/apps/v1",
       [] {
         return discovery(
             {{"kind", "APIResourceList"}, {"groupVersion", "apps/v1"}, {"resources", {resource("daemonsets", "DaemonSet", true)}}});
       }},
      {"/apis/rbac.authorization.k8s.io/v1",
       [] {
         return discovery(
             {{"kind", "APIResourceList"},
              {"groupVersion", "rbac.authorization.k8s.io/v1"},
              {"resources",
               {resource("clusterroles", "ClusterRole", false), resource("clusterrolebindings", "ClusterRoleBinding", false)}}});
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
    auto server = node::StatusHttpServer::start("127.0.0.1:0", discovery_handlers());
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    // No kubeconfig: the server flag only, and a cache directory of our own.
    cache_ = std::filesystem::temp_directory_path() / ("sy-deploy-cache-" + std::to_string(getpid()));
    std::filesystem::create_directories(cache_);
    auto r = switchyard::testing::run(std::string("KUBECONFIG=/dev/null /usr/lib/google-cloud-sdk/bin/kubectl.1.31 --cache-dir ") +
                                      cache_.string() + " --server http://127.0.0.1:" + std::to_string(server_->port()) +
                                      " create --dry-run=client --validate=false -o yaml -f " + DEPLOY_DIR + " > " +
                                      (cache_ / "out.yaml").string());
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

  std::unique_ptr<node::StatusHttpServer> server_;
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

  auto collections = node::ClusterStateFeed::watched_collections();
  collections.push_back(node::NodePodsFeed::watched_collection());  // --dns-autopath
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
  node::AgentConfig c;
  auto ok = node::parse_kube_proxy_configuration(maps[0]["data"]["config.yaml"].as<std::string>(), c);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(c.mode, "nftables");
  EXPECT_FALSE(c.cluster_cidrs.empty());
  // The probes ask the port the configuration serves health on.
  const auto container = of_kind("DaemonSet").at(0)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c.healthz_bind_address, "0.0.0.0:" + container["livenessProbe"]["httpGet"]["port"].as<std::string>());
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
}

TEST_F(DeployManifests, TheContainerfileBuildsTheImageTheDaemonSetRuns) {
  std::ifstream in(std::string(DEPLOY_DIR) + "/Containerfile");
  const std::string containerfile(std::istreambuf_iterator<char>(in), {});
  ASSERT_FALSE(containerfile.empty());
  // The last stage is the image: Debian 12, the binary where the DaemonSet's command names it.
  std::vector<std::string> bases;
  const std::regex from("\nFROM (\\S+)");
  for (std::sregex_iterator m(containerfile.begin(), containerfile.end(), from), e; m != e; ++m) bases.push_back((*m)[1]);
  ASSERT_FALSE(bases.empty());
  EXPECT_THAT(bases.back(), ::testing::StartsWith("debian:12"));
  std::smatch copy;
  ASSERT_TRUE(std::regex_search(containerfile, copy, std::regex("\nCOPY --from=build /switchyard (\\S+)\n")));
  const auto container = of_kind("DaemonSet").at(0)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(container["command"][0].as<std::string>(), copy[1].str());
  EXPECT_THAT(containerfile, ::testing::HasSubstr("install-deps.sh --runtime"));
  // In-cluster configuration, pointed at the API server itself rather than at a Service IP that
  // only the agent would make reachable.
  std::set<std::string> env;
  for (const auto& e : container["env"]) env.insert(e["name"].as<std::string>());
  EXPECT_TRUE(env.contains("KUBERNETES_SERVICE_HOST") && env.contains("KUBERNETES_SERVICE_PORT"));

  // Every library the binary links comes from a package of install-deps.sh's runtime list
  // (libc6 and libgcc-s1 are in every Debian image).
  auto listed = switchyard::testing::run(std::string("bash -c 'source <(sed -n \"/^runtime=(/,/^)/p\" ") + INSTALL_DEPS +
                                         "); printf \"%s\\n\" \"${runtime[@]}\"'");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  std::set<std::string> runtime;
  std::stringstream lines(listed.output);
  for (std::string p; std::getline(lines, p);) runtime.insert(p);
  ASSERT_GT(runtime.size(), 5u) << listed.output;
  auto ldd = switchyard::testing::run(std::string("ldd ") + SWITCHYARD_BINARY);
  ASSERT_EQ(ldd.exit_code, 0) << ldd.output;
  // One dpkg query for every path as ldd prints it and its other spelling on a merged-/usr system.
  const std::regex library(" => (\\S+) ");
  std::vector<std::string> paths;
  std::string query = "dpkg -S";
  for (std::sregex_iterator m(ldd.output.begin(), ldd.output.end(), library), e; m != e; ++m) {
    const std::string path = (*m)[1];
    paths.push_back(path);
    query += " " + path + " " + (path.starts_with("/usr/") ? path.substr(4) : "/usr" + path);
  }
  std::map<std::string, std::string> owner;  // path → package, from "libfoo1:amd64: /path" lines
  std::stringstream owners(switchyard::testing::run(query + " 2>/dev/null").output);
  for (std::string line; std::getline(owners, line);)
    if (auto sep = line.find(": /"); sep != std::string::npos) owner[line.substr(sep + 2)] = line.substr(0, line.find(':'));
  std::set<std::string> packages;
  for (const auto& path : paths) {
    auto it = owner.find(path);
    if (it == owner.end()) it = owner.find(path.starts_with("/usr/") ? path.substr(4) : "/usr" + path);
    ASSERT_NE(it, owner.end()) << "no Debian package ships " << path;
    packages.insert(it->second);
  }
  EXPECT_GT(packages.size(), 5u) << ldd.output;
  for (const auto& p : packages)
    if (p != "libc6" && p != "libgcc-s1") {
      EXPECT_TRUE(runtime.contains(p)) << "the binary links a library of " << p << ", not in install-deps.sh --runtime";
    }
}

}  // namespace
}  // namespace switchyard
