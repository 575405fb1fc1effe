// The node DNS endpoints controller against a real registry behind the API server's HTTP
// transport: kube-system/kube-dns-nodes lists every Node's IPv4 InternalIP (ready, serving, the
// DNS ports), follows Nodes that are added, readdressed and deleted, is put back after a hand
// edit, and the single-endpoint `kube-dns-node` slice earlier `switchyard up` wrote is deleted
// (one of that name managed by someone else is not).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/controllers/node_dns_endpoints.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::controllers {
namespace {

using apiserver::Json;

class NodeDnsEndpointsInRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<apiserver::ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    handler_ = std::make_unique<apiserver::ApiHandler>(*registry_, "t0ken");
    auto server = apiserver::HttpServer::start(*handler_, {"127.0.0.1:0", "", ""});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    connection_ = {"127.0.0.1", std::to_string(server_->port()), "", "t0ken", false};
    for (const char* ns : {"default", "kube-system"})
      create("", "namespaces", "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  }
  void TearDown() override {
    if (controller_) controller_->stop();
    if (informers_) informers_->stop();
  }
  void start_controller() {
    informers_ = std::make_unique<client::SharedInformerFactory>(connection_);
    controller_ = std::make_unique<NodeDnsEndpointsController>(*informers_, connection_);
    controller_->start();
  }
  void create(const std::string& group, const std::string& resource, const std::string& ns, const Json& body) {
    std::vector<std::string> warnings;
    auto out = registry_->create(*apiserver::find_resource(group, "v1", resource), ns, body, apiserver::FieldValidation::Strict, warnings);
    ASSERT_TRUE(out.has_value()) << out.error().status.dump();
  }
  const apiserver::ResourceInfo& nodes() { return *apiserver::find_resource("", "v1", "nodes"); }
  const apiserver::ResourceInfo& slices() { return *apiserver::find_resource("discovery.k8s.io", "v1", "endpointslices"); }
  // A Node with these status addresses ({type, address}), as its kubelet reports them.
  void node(const std::string& name, const std::vector<std::pair<std::string, std::string>>& addresses) {
    if (!registry_->get(nodes(), "", name))
      create("", "nodes", "", {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}});
    auto n = registry_->get(nodes(), "", name);
    ASSERT_TRUE(n);
    Json list = Json::array();
    for (const auto& [type, address] : addresses) list.push_back({{"type", type}, {"address", address}});
    (*n)["status"]["addresses"] = list;
    std::vector<std::string> warnings;
    auto out = registry_->update(nodes(), "", name, *n, true, apiserver::FieldValidation::Strict, warnings);
    ASSERT_TRUE(out.has_value()) << out.error().status.dump();
  }
  // "node=ip,node=ip" from kube-dns-nodes; "<none>" while there is no such slice.
  std::string endpoints() {
    auto s = registry_->get(slices(), "kube-system", "kube-dns-nodes");
    if (!s) return "<none>";
    std::string out;
    for (const auto& e : (*s)["endpoints"]) {
      if (!out.empty()) out += ",";
      out += e.value("nodeName", "?") + "=" + e["addresses"][0].get<std::string>();
    }
    return out;
  }
  bool eventually(const std::function<bool()>& f) {
    for (int i = 0; i < 250; ++i) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return f();
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
  client::ClusterConnection connection_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<NodeDnsEndpointsController> controller_;
};

TEST_F(NodeDnsEndpointsInRegistry, OneReadyEndpointPerNodeAndTheLegacySliceGoes) {
  // What `switchyard up` wrote before: one endpoint, the control-plane node's.
  create("discovery.k8s.io", "endpointslices", "kube-system", Json::parse(R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
           "metadata":{"name":"kube-dns-node","labels":{"kubernetes.io/service-name":"kube-dns",
                       "endpointslice.kubernetes.io/managed-by":"switchyard-up"}},
           "addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"nodeName":"node-a","conditions":{"ready":true}}],
           "ports":[{"name":"dns","port":53,"protocol":"UDP"}]})"));
  node("node-b", {{"Hostname", "node-b"}, {"InternalIP", "10.0.0.2"}});
  node("node-a", {{"InternalIP", "10.0.0.1"}});
  node("no-address", {{"Hostname", "no-address"}});  // nothing to send queries to: left out
  start_controller();

  ASSERT_TRUE(eventually([&] { return endpoints() == "node-a=10.0.0.1,node-b=10.0.0.2"; })) << endpoints();
  ASSERT_TRUE(eventually([&] { return !registry_->get(slices(), "kube-system", "kube-dns-node"); })) << "the legacy slice stays";
  auto s = registry_->get(slices(), "kube-system", "kube-dns-nodes");
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["metadata"]["labels"],
            Json({{"kubernetes.io/service-name", "kube-dns"}, {"endpointslice.kubernetes.io/managed-by", "switchyard-node-dns"}}));
  EXPECT_EQ((*s)["addressType"], "IPv4");
  EXPECT_EQ((*s)["endpoints"][0]["conditions"], Json({{"ready", true}, {"serving", true}}));
  EXPECT_EQ((*s)["ports"], Json::parse(R"([{"name":"dns","port":53,"protocol":"UDP"},{"name":"dns-tcp","port":53,"protocol":"TCP"}])"));
}

TEST_F(NodeDnsEndpointsInRegistry, FollowsNodesAddedReaddressedAndDeletedAndUndoesAHandEdit) {
  // A `kube-dns-node` slice someone else manages is not up's old one: it stays.
  create("discovery.k8s.io", "endpointslices", "kube-system", Json::parse(R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
           "metadata":{"name":"kube-dns-node","labels":{"kubernetes.io/service-name":"kube-dns"}},
           "addressType":"IPv4","endpoints":[],"ports":[]})"));
  node("node-a", {{"InternalIP", "10.0.0.1"}});
  start_controller();
  ASSERT_TRUE(eventually([&] { return endpoints() == "node-a=10.0.0.1"; })) << endpoints();
  EXPECT_TRUE(registry_->get(slices(), "kube-system", "kube-dns-node"));

  // A dual-stack node that joins: its IPv4 address (the kube-dns Service is IPv4).
  node("node-c", {{"InternalIP", "fd00::3"}, {"InternalIP", "10.0.0.3"}});
  ASSERT_TRUE(eventually([&] { return endpoints() == "node-a=10.0.0.1,node-c=10.0.0.3"; })) << endpoints();

  node("node-c", {{"InternalIP", "10.0.0.33"}});
  ASSERT_TRUE(eventually([&] { return endpoints() == "node-a=10.0.0.1,node-c=10.0.0.33"; })) << endpoints();

  ASSERT_TRUE(registry_->remove(nodes(), "", "node-a"));
  ASSERT_TRUE(eventually([&] { return endpoints() == "node-c=10.0.0.33"; })) << endpoints();

  // Someone edits the slice: it is put back. Deleted: made again.
  auto s = registry_->get(slices(), "kube-system", "kube-dns-nodes");
  ASSERT_TRUE(s);
  (*s)["endpoints"][0]["addresses"] = {"10.9.9.9"};
  std::vector<std::string> warnings;
  ASSERT_TRUE(registry_->update(slices(), "kube-system", "kube-dns-nodes", *s, false, apiserver::FieldValidation::Strict, warnings));
  ASSERT_TRUE(eventually([&] { return endpoints() == "node-c=10.0.0.33"; })) << endpoints();
  ASSERT_TRUE(registry_->remove(slices(), "kube-system", "kube-dns-nodes"));
  ASSERT_TRUE(eventually([&] { return endpoints() == "node-c=10.0.0.33"; })) << endpoints();
}

}  // namespace
}  // namespace switchyard::controllers
