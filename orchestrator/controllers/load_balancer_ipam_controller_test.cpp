// LB IPAM against a real registry (with its ClusterIP and NodePort allocators) behind the API
// server's HTTP transport, through the client library only: LoadBalancer Services get pool
// addresses in their status, a requested address is honoured, exhaustion leaves a Warning
// Event, deletes and type changes give addresses back, and a restarted controller keeps them.
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/apiserver/allocators.h"
#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/controllers/load_balancer_ipam_controller.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::controllers {
namespace {

using apiserver::Json;

TEST(LoadBalancerIpPool, CidrsLeaveOutNetworkAndBroadcastRangesAndSinglesDoNot) {
  auto pool = LoadBalancerIpPool::parse("192.168.1.240/29,10.0.0.5-10.0.0.6,10.9.9.9,172.16.0.0/31");
  ASSERT_TRUE(pool) << pool.error();
  EXPECT_EQ(pool->size(), 6u + 2u + 1u + 2u);
  EXPECT_FALSE(pool->contains("192.168.1.240"));
  EXPECT_TRUE(pool->contains("192.168.1.241"));
  EXPECT_TRUE(pool->contains("192.168.1.246"));
  EXPECT_FALSE(pool->contains("192.168.1.247"));
  EXPECT_TRUE(pool->contains("10.0.0.6"));
  EXPECT_TRUE(pool->contains("172.16.0.0"));
  EXPECT_FALSE(pool->contains("fd00::1"));
  // The first free address, in the order the blocks were given.
  std::set<LoadBalancerIpPool::Address> used;
  for (int i = 241; i <= 246; ++i) used.insert(*LoadBalancerIpPool::to_number("192.168.1." + std::to_string(i)));
  EXPECT_EQ(LoadBalancerIpPool::to_text(*pool->first_free(used)), "10.0.0.5");
  used.erase(*LoadBalancerIpPool::to_number("192.168.1.243"));
  EXPECT_EQ(LoadBalancerIpPool::to_text(*pool->first_free(used)), "192.168.1.243");
  EXPECT_TRUE(LoadBalancerIpPool::parse("")->empty());
  for (const char* bad : {"10.0.0.0/33", "10.0.0.9-10.0.0.1", "fd00::/129", "10.0.0.1-fd00::1", "nonsense", "10.0.0.0/"})
    EXPECT_FALSE(LoadBalancerIpPool::parse(bad)) << bad;
}

TEST(LoadBalancerIpPool, Ipv6BlocksAreTheirOwnFamily) {
  auto pool = LoadBalancerIpPool::parse("fd00:50::f0/124,10.0.0.5,fd00:60::1-fd00:60::2,fd00:70::/64");
  ASSERT_TRUE(pool) << pool.error();
  EXPECT_FALSE(pool->contains("fd00:50::f0")) << "the subnet-router anycast address";
  EXPECT_TRUE(pool->contains("fd00:50::f1"));
  EXPECT_TRUE(pool->contains("fd00:50::fe"));
  EXPECT_FALSE(pool->contains("fd00:50::ff"));
  EXPECT_EQ(LoadBalancerIpPool::to_text(*LoadBalancerIpPool::to_number("::ffff:10.0.0.5")), "10.0.0.5") << "IPv4-mapped is IPv4";
  EXPECT_TRUE(pool->contains("10.0.0.5"));
  EXPECT_EQ(pool->size(), std::numeric_limits<std::uint64_t>::max()) << "a /64 alone saturates the count";
  using Family = LoadBalancerIpPool::Family;
  std::set<LoadBalancerIpPool::Address> used{*LoadBalancerIpPool::to_number("fd00:50::f1")};
  EXPECT_EQ(LoadBalancerIpPool::to_text(*pool->first_free(used, Family::IPv6)), "fd00:50::f2");
  EXPECT_EQ(LoadBalancerIpPool::to_text(*pool->first_free(used, Family::IPv4)), "10.0.0.5");
  used.insert(*LoadBalancerIpPool::to_number("10.0.0.5"));
  EXPECT_FALSE(pool->first_free(used, Family::IPv4));
  EXPECT_FALSE(LoadBalancerIpPool::parse("10.0.0.0/24")->has_family(Family::IPv6));
}

class LbIpamInRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    auto ips = apiserver::ClusterIpAllocator::create(*store_, "10.96.0.0/24");
    ASSERT_TRUE(ips);
    ips_ = std::move(*ips);
    auto ips6 = apiserver::ClusterIpAllocator::create(*store_, "fd00:96::/112");
    ASSERT_TRUE(ips6);
    ips6_ = std::move(*ips6);
    auto ports = apiserver::NodePortAllocator::create(*store_, 30000, 30100);
    ASSERT_TRUE(ports);
    ports_ = std::move(*ports);
    allocators_ = apiserver::ServiceAllocators{{ips_.get(), ips6_.get()}, ports_.get()};
    api::ClusterNetworkConfig dual_stack;
    dual_stack.service_ip_families = {"IPv4", "IPv6"};
    registry_ = std::make_unique<apiserver::ObjectRegistry>(*store_, dual_stack, &allocators_);
    handler_ = std::make_unique<apiserver::ApiHandler>(*registry_, "t0ken");
    auto server = apiserver::HttpServer::start(*handler_, {"127.0.0.1:0", "", ""});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    connection_ = {"127.0.0.1", std::to_string(server_->port()), "", "t0ken", false};
    std::vector<std::string> warnings;
    ASSERT_TRUE(registry_->create(*apiserver::find_resource("", "v1", "namespaces"), "",
                                  Json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})"),
                                  apiserver::FieldValidation::Strict, warnings));
  }
  const apiserver::ResourceInfo& services() { return *apiserver::find_resource("", "v1", "services"); }
  void service(const std::string& name, const std::string& extra_spec = "") {
    std::vector<std::string> warnings;
    auto out = registry_->create(services(), "shop",
                                 Json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + name +
                                             R"("},"spec":{"type":"LoadBalancer","ports":[{"port":80}])" + extra_spec + "}}"),
                                 apiserver::FieldValidation::Strict, warnings);
    ASSERT_TRUE(out.has_value()) << out.error().status.dump();
  }
  std::string ingress(const std::string& name) {
    auto s = registry_->get(services(), "shop", name);
    if (!s) return "<gone>";
    const auto& list = (*s)["status"]["loadBalancer"]["ingress"];
    if (!list.is_array() || list.empty()) return "";
    return list[0].value("ip", "");
  }
  std::string ingresses(const std::string& name) {
    auto s = registry_->get(services(), "shop", name);
    if (!s) return "<gone>";
    std::string out;
    for (const auto& i : s->value("status", Json::object()).value("loadBalancer", Json::object()).value("ingress", Json::array()))
      out += (out.empty() ? "" : ",") + i.value("ip", "");
    return out;
  }
  std::string events() {
    auto list = registry_->list(*apiserver::find_resource("", "v1", "events"), "shop", {});
    std::string out;
    for (const auto& e : (*list)["items"])
      out += e["involvedObject"]["name"].get<std::string>() + ":" + e["reason"].get<std::string>() + " ";
    return out;
  }
  bool eventually(const std::function<bool()>& f) {
    for (int i = 0; i < 100; ++i) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return f();
  }
  struct ControllerProcess {
    ControllerProcess(const client::ClusterConnection& c, const char* pool)
        : informers(c), controller(informers, c, *LoadBalancerIpPool::parse(pool)) {
      controller.start();
    }
    ~ControllerProcess() {
      controller.stop();
      informers.stop();
    }
    client::SharedInformerFactory informers;
    LoadBalancerIpamController controller;
  };

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ClusterIpAllocator> ips_, ips6_;
  std::unique_ptr<apiserver::NodePortAllocator> ports_;
  apiserver::ServiceAllocators allocators_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
  client::ClusterConnection connection_;
};

TEST_F(LbIpamInRegistry, AllocatesHonoursRequestsReportsExhaustionAndReleases) {
  auto process = std::make_unique<ControllerProcess>(connection_, "10.50.0.1-10.50.0.2");
  service("first");
  ASSERT_TRUE(eventually([&] { return ingress("first") == "10.50.0.1"; })) << ingress("first");
  service("asks", R"(,"loadBalancerIP":"10.50.0.2")");
  ASSERT_TRUE(eventually([&] { return ingress("asks") == "10.50.0.2"; })) << ingress("asks");
  // Not ours: another class's LoadBalancer, and a ClusterIP Service.
  service("other-class", R"(,"loadBalancerClass":"example.com/lb")");
  std::vector<std::string> warnings;
  ASSERT_TRUE(registry_->create(
      services(), "shop", Json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"plain"},"spec":{"ports":[{"port":80}]}})"),
      apiserver::FieldValidation::Strict, warnings));
  // The pool is empty now: the next one waits, with a Warning Event saying why.
  service("waits");
  ASSERT_TRUE(eventually([&] { return events().find("waits:AllocationFailed") != std::string::npos; })) << events();
  service("outside", R"(,"loadBalancerIP":"10.60.0.1")");
  ASSERT_TRUE(eventually([&] { return events().find("outside:LoadBalancerIPNotInPool") != std::string::npos; })) << events();
  EXPECT_EQ(ingress("waits"), "");
  EXPECT_EQ(ingress("outside"), "");
  EXPECT_EQ(ingress("other-class"), "");
  EXPECT_EQ(ingress("plain"), "");

  // A delete gives its address to the Service that waited.
  ASSERT_TRUE(registry_->remove(services(), "shop", "first"));
  ASSERT_TRUE(eventually([&] { return ingress("waits") == "10.50.0.1"; })) << ingress("waits");

  // A restarted controller reads the allocations back from the Services and changes none.
  process.reset();
  process = std::make_unique<ControllerProcess>(connection_, "10.50.0.1-10.50.0.2");
  service("after-restart");
  ASSERT_TRUE(eventually([&] { return events().find("after-restart:AllocationFailed") != std::string::npos; })) << events();
  EXPECT_EQ(ingress("waits"), "10.50.0.1");
  EXPECT_EQ(ingress("asks"), "10.50.0.2");

  // A type change to ClusterIP clears the status and frees the address.
  auto asks = *registry_->get(services(), "shop", "asks");
  asks["spec"]["type"] = "ClusterIP";
  asks["spec"].erase("loadBalancerIP");
  for (auto& p : asks["spec"]["ports"]) p.erase("nodePort");
  asks["spec"].erase("externalTrafficPolicy");
  asks["spec"].erase("allocateLoadBalancerNodePorts");
  auto updated = registry_->update(services(), "shop", "asks", asks, false, apiserver::FieldValidation::Strict, warnings);
  ASSERT_TRUE(updated.has_value()) << updated.error().status.dump();
  EXPECT_TRUE(eventually([&] { return ingress("asks").empty(); })) << ingress("asks");
  EXPECT_TRUE(eventually([&] { return ingress("after-restart") == "10.50.0.2"; })) << ingress("after-restart");
}

// A pool address that another loadBalancerClass's implementation gave is neither taken away nor
// given to a second Service.
TEST_F(LbIpamInRegistry, AddressesOfAnotherClassAreLeftAloneAndNotReused) {
  service("other-class", R"(,"loadBalancerClass":"example.com/lb")");
  auto other = *registry_->get(services(), "shop", "other-class");
  other["status"] = {{"loadBalancer", {{"ingress", {{{"ip", "10.50.0.1"}}}}}}};
  std::vector<std::string> warnings;
  ASSERT_TRUE(registry_->update(services(), "shop", "other-class", other, true, apiserver::FieldValidation::Strict, warnings));
  ControllerProcess process(connection_, "10.50.0.1-10.50.0.2");
  service("mine");
  ASSERT_TRUE(eventually([&] { return ingress("mine") == "10.50.0.2"; })) << ingress("mine");
  EXPECT_EQ(ingress("other-class"), "10.50.0.1");
}

// A pool of both families: a dual-stack Service gets one address of each (primary first), a
// single-stack one an address of its family, and a family that runs out leaves its Services
// waiting until one comes back.
TEST_F(LbIpamInRegistry, DualStackServicesGetAnAddressOfEachFamily) {
  ControllerProcess process(connection_, "10.50.0.1-10.50.0.2,fd00:50::f0/126");
  service("dual", R"(,"ipFamilyPolicy":"RequireDualStack","ipFamilies":["IPv4","IPv6"])");
  ASSERT_TRUE(eventually([&] { return ingresses("dual") == "10.50.0.1,fd00:50::f1"; })) << ingresses("dual");
  service("v6-first", R"(,"ipFamilyPolicy":"PreferDualStack","ipFamilies":["IPv6","IPv4"])");
  ASSERT_TRUE(eventually([&] { return ingresses("v6-first") == "fd00:50::f2,10.50.0.2"; })) << ingresses("v6-first");
  service("v6-only", R"(,"ipFamilies":["IPv6"])");
  ASSERT_TRUE(eventually([&] { return events().find("v6-only:AllocationFailed") != std::string::npos; })) << events();
  EXPECT_EQ(ingresses("v6-only"), "");
  ASSERT_TRUE(registry_->remove(services(), "shop", "dual"));
  EXPECT_TRUE(eventually([&] { return ingresses("v6-only") == "fd00:50::f1"; })) << ingresses("v6-only");
  EXPECT_EQ(ingresses("v6-first"), "fd00:50::f2,10.50.0.2");
}

}  // namespace
}  // namespace switchyard::controllers
