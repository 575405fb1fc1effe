// Node IPAM: the CIDR sets alone (round-robin allocation, exhaustion, occupy and release,
// kube-controller-manager's flag checks), then the controller against a real registry behind
// the API server's HTTP transport: several Nodes get distinct podCIDRs, a hand-set one is kept,
// exhaustion leaves a CIDRNotAvailable Event, a delete gives the range to the Node that waited,
// and a restarted controller changes nothing that was given.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/controllers/node_ipam_controller.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::controllers {
namespace {

using apiserver::Json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CidrSet, HandsOutSubnetsRoundRobinUntilExhaustedThenReusesReleasedOnes) {
  auto set = CidrSet::create("10.244.0.0/22", 24);
  ASSERT_TRUE(set) << set.error();
  EXPECT_EQ(set->size(), 4u);
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i) got.push_back(set->allocate_next().value_or("none"));
  EXPECT_THAT(got, ElementsAre("10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"));
  EXPECT_FALSE(set->allocate_next());
  ASSERT_TRUE(set->release("10.244.1.0/24"));
  EXPECT_EQ(set->allocated(), 3u);
  EXPECT_EQ(set->allocate_next().value_or("none"), "10.244.1.0/24");
  EXPECT_FALSE(set->allocate_next());
}

TEST(CidrSet, RoundRobinDoesNotReuseAReleasedSubnetAtOnce) {
  auto set = CidrSet::create("10.0.0.0/24", 26);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->allocate_next().value_or(""), "10.0.0.0/26");
  EXPECT_EQ(set->allocate_next().value_or(""), "10.0.0.64/26");
  ASSERT_TRUE(set->release("10.0.0.0/26"));
  EXPECT_EQ(set->allocate_next().value_or(""), "10.0.0.128/26");
}

TEST(CidrSet, OccupyMarksWhatNodesHoldLargerOrOutsideRangesAreHandled) {
  auto set = CidrSet::create("10.244.0.0/16", 24);
  ASSERT_TRUE(set);
  // A restart: what Nodes hold is taken before anything is handed out.
  ASSERT_TRUE(set->occupy("10.244.0.0/24"));
  ASSERT_TRUE(set->occupy("10.244.2.0/23"));  // two subnets at once
  EXPECT_EQ(set->allocated(), 3u);
  EXPECT_EQ(set->allocate_next().value_or(""), "10.244.1.0/24");
  EXPECT_EQ(set->allocate_next().value_or(""), "10.244.4.0/24");
  auto outside = set->occupy("10.245.0.0/24");
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().message, "10.245.0.0/24 is out of the range of the cluster CIDR 10.244.0.0/16");
  EXPECT_FALSE(set->occupy("fd00::/64"));
  EXPECT_FALSE(set->occupy("nonsense"));
}

TEST(CidrSet, Ipv6SubnetsAndTheSixteenBitLimit) {
  auto set = CidrSet::create("fd00:10:244::/56", 64);
  ASSERT_TRUE(set) << set.error();
  EXPECT_EQ(set->size(), 256u);
  EXPECT_EQ(set->allocate_next().value_or(""), "fd00:10:244::/64");
  EXPECT_EQ(set->allocate_next().value_or(""), "fd00:10:244:1::/64");
  ASSERT_TRUE(set->occupy("fd00:10:244:ff::/64"));
  EXPECT_EQ(set->allocated(), 3u);
  EXPECT_FALSE(CidrSet::create("fd00::/48", 80));  // 32 bits more than the cluster's
  EXPECT_FALSE(CidrSet::create("10.0.0.0/24", 16));
}

TEST(NodeCidrSets, FlagsAsKubeControllerManagerChecksThem) {
  auto dual = node_cidr_sets({"10.244.0.0/16", "fd00:10:244::/56"}, 0, 0, 0);
  ASSERT_TRUE(dual) << dual.error();
  ASSERT_EQ(dual->size(), 2u);
  EXPECT_EQ((*dual)[0].mask_size(), 24);
  EXPECT_EQ((*dual)[1].mask_size(), 64);
  auto sized = node_cidr_sets({"10.244.0.0/16", "fd00:10:244::/56"}, 0, 26, 72);
  ASSERT_TRUE(sized);
  EXPECT_EQ((*sized)[0].mask_size(), 26);
  EXPECT_EQ((*sized)[1].mask_size(), 72);
  auto single = node_cidr_sets({"10.244.0.0/16"}, 25, 0, 0);
  ASSERT_TRUE(single);
  EXPECT_EQ((*single)[0].mask_size(), 25);
  EXPECT_EQ(node_cidr_sets({"10.244.0.0/16", "fd00::/56"}, 24, 0, 0).error().message,
            "usage of --node-cidr-mask-size is not allowed with dual-stack clusters");
  EXPECT_FALSE(node_cidr_sets({"10.244.0.0/16", "10.245.0.0/16"}, 0, 0, 0));
  EXPECT_FALSE(node_cidr_sets({"10.244.0.0/16"}, 24, 24, 0));
  EXPECT_FALSE(node_cidr_sets({}, 0, 0, 0));
  EXPECT_FALSE(node_cidr_sets({"10.244.0.0/25"}, 0, 0, 0));  // a /24 does not fit in a /25
}

class NodeIpamInRegistry : public ::testing::Test {
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
    std::vector<std::string> warnings;  // where Events about Nodes go
    ASSERT_TRUE(registry_->create(*apiserver::find_resource("", "v1", "namespaces"), "",
                                  Json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}})"),
                                  apiserver::FieldValidation::Strict, warnings));
  }
  const apiserver::ResourceInfo& nodes() { return *apiserver::find_resource("", "v1", "nodes"); }
  void node(const std::string& name, const std::string& spec = "{}") {
    std::vector<std::string> warnings;
    auto out = registry_->create(
        nodes(), "", Json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name + R"("},"spec":)" + spec + "}"),
        apiserver::FieldValidation::Strict, warnings);
    ASSERT_TRUE(out.has_value()) << out.error().status.dump();
  }
  // "podCIDR podCIDRs[0],podCIDRs[1]"; "" while it has none.
  std::string cidrs(const std::string& name) {
    auto n = registry_->get(nodes(), "", name);
    if (!n) return "<gone>";
    const auto& spec = (*n)["spec"];
    std::string out = spec.value("podCIDR", "");
    if (spec.contains("podCIDRs"))
      for (std::size_t i = 0; i < spec["podCIDRs"].size(); ++i) out += (i ? "," : " ") + spec["podCIDRs"][i].get<std::string>();
    return out;
  }
  std::string events() {
    auto list = registry_->list(*apiserver::find_resource("", "v1", "events"), "default", {});
    std::string out;
    for (const auto& e : (*list)["items"])
      out += e["involvedObject"]["kind"].get<std::string>() + "/" + e["involvedObject"]["name"].get<std::string>() + ":" +
             e["type"].get<std::string>() + ":" + e["reason"].get<std::string>() + ":" + e["message"].get<std::string>() + "\n";
    return out;
  }
  bool eventually(const std::function<bool()>& f) {
    for (int i = 0; i < 150; ++i) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return f();
  }
  struct ControllerProcess {
    ControllerProcess(const client::ClusterConnection& c, const NodeIpamOptions& o) : informers(c) {
      auto made = NodeIpamController::create(informers, c, o);
      EXPECT_TRUE(made) << made.error();
      controller = std::move(*made);
      controller->start();
    }
    ~ControllerProcess() {
      controller->stop();
      informers.stop();
    }
    client::SharedInformerFactory informers;
    std::unique_ptr<NodeIpamController> controller;
  };

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
  client::ClusterConnection connection_;
};

TEST_F(NodeIpamInRegistry, NodesGetDistinctRangesExhaustionWaitsAndADeleteFreesOne) {
  // A /22 in /24s: four subnets. One Node brings its own (as `--pod-cidr` or by hand).
  const NodeIpamOptions options{.cluster_cidrs = {"10.244.0.0/22"}};
  node("hand-set", R"({"podCIDR":"10.244.2.0/24","podCIDRs":["10.244.2.0/24"]})");
  auto process = std::make_unique<ControllerProcess>(connection_, options);
  for (const char* n : {"node-a", "node-b", "node-c"}) node(n);
  std::set<std::string> given;
  for (const char* n : {"node-a", "node-b", "node-c"}) {
    ASSERT_TRUE(eventually([&] { return !cidrs(n).empty(); })) << n;
    const auto c = cidrs(n);
    EXPECT_EQ(c.substr(0, c.find(' ')), c.substr(c.find(' ') + 1)) << "podCIDR is podCIDRs[0]";
    given.insert(c.substr(0, c.find(' ')));
  }
  EXPECT_EQ(given, (std::set<std::string>{"10.244.0.0/24", "10.244.1.0/24", "10.244.3.0/24"}));
  EXPECT_EQ(cidrs("hand-set"), "10.244.2.0/24 10.244.2.0/24");

  // The range is exhausted: the next Node waits, with upstream's Event on it.
  node("node-d");
  ASSERT_TRUE(eventually([&] { return events().find("Node/node-d:Warning:CIDRNotAvailable") != std::string::npos; })) << events();
  EXPECT_THAT(events(), HasSubstr("Node/node-d:Warning:CIDRNotAvailable:Node node-d status is now: CIDRNotAvailable"));
  EXPECT_EQ(cidrs("node-d"), "");

  // Deleting a Node gives its range to the one that waited.
  const auto b = cidrs("node-b");
  ASSERT_TRUE(registry_->remove(nodes(), "", "node-b"));
  ASSERT_TRUE(eventually([&] { return cidrs("node-d") == b; })) << cidrs("node-d") << " want " << b;

  // A restarted controller reads every range back from the Nodes: nothing changes, and a new
  // Node still finds none free.
  const auto a = cidrs("node-a"), c = cidrs("node-c");
  process.reset();
  process = std::make_unique<ControllerProcess>(connection_, options);
  node("node-e");
  ASSERT_TRUE(eventually([&] { return events().find("Node/node-e:Warning:CIDRNotAvailable") != std::string::npos; })) << events();
  EXPECT_EQ(cidrs("node-a"), a);
  EXPECT_EQ(cidrs("node-c"), c);
  EXPECT_EQ(cidrs("node-d"), b);
  EXPECT_EQ(cidrs("hand-set"), "10.244.2.0/24 10.244.2.0/24");
  EXPECT_EQ(cidrs("node-e"), "");
}

TEST_F(NodeIpamInRegistry, DualStackNodesGetOneRangeOfEachFamilyInClusterCidrOrder) {
  ControllerProcess process(connection_, {.cluster_cidrs = {"fd00:10:244::/56", "10.244.0.0/16"}, .node_cidr_mask_size_ipv4 = 26});
  node("dual-a");
  node("dual-b");
  ASSERT_TRUE(eventually([&] { return !cidrs("dual-a").empty() && !cidrs("dual-b").empty(); }));
  EXPECT_EQ(cidrs("dual-a"), "fd00:10:244::/64 fd00:10:244::/64,10.244.0.0/26");
  EXPECT_EQ(cidrs("dual-b"), "fd00:10:244:1::/64 fd00:10:244:1::/64,10.244.0.64/26");
}

}  // namespace
}  // namespace switchyard::controllers
