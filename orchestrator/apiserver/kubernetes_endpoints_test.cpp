// The `kubernetes` Service's endpoints against the real SQLite store through the registry:
// published once (no rewrite when nothing changed), moved with the address and port (the
// Service's targetPort too), and brought back by the periodic reconciler after a delete.
#include "orchestrator/apiserver/kubernetes_endpoints.h"

#include <thread>

#include <gtest/gtest.h>

#include "orchestrator/apiserver/allocators.h"
#include "orchestrator/apiserver/resources.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

class KubernetesEndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::SqliteStore::open((dir_.path() / "store.db").string()).value());
    ips_ = ClusterIpAllocator::create(*store_, "10.96.0.0/24").value();
    ports_ = NodePortAllocator::create(*store_, 30000, 30100).value();
    allocators_ = {{ips_.get()}, ports_.get()};
    registry_ = std::make_unique<ObjectRegistry>(*store_, api::ClusterNetworkConfig{}, &allocators_);
    std::vector<std::string> warnings;
    ASSERT_TRUE(registry_->create(*find_resource("", "v1", "namespaces"), "",
                                  {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "default"}}}},
                                  FieldValidation::Strict, warnings));
    ASSERT_TRUE(
        registry_->create(*find_resource("", "v1", "services"), "default",
                          {{"apiVersion", "v1"},
                           {"kind", "Service"},
                           {"metadata", {{"name", "kubernetes"}}},
                           {"spec", {{"clusterIP", "10.96.0.1"}, {"ports", {{{"name", "https"}, {"port", 443}, {"targetPort", 6443}}}}}}},
                          FieldValidation::Strict, warnings));
  }
  Json get(const char* group, const char* plural) {
    return registry_->get(*find_resource(group, "v1", plural), "default", "kubernetes").value_or(Json());
  }
  std::string slice_says() {
    auto s = get("discovery.k8s.io", "endpointslices");
    if (s.is_null()) return "<none>";
    return s["endpoints"][0]["addresses"][0].get<std::string>() + ":" + std::to_string(s["ports"][0]["port"].get<int>());
  }
  std::string endpoints_say() {
    auto e = get("", "endpoints");
    if (e.is_null()) return "<none>";
    return e["subsets"][0]["addresses"][0]["ip"].get<std::string>() + ":" + std::to_string(e["subsets"][0]["ports"][0]["port"].get<int>());
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ClusterIpAllocator> ips_;
  std::unique_ptr<NodePortAllocator> ports_;
  ServiceAllocators allocators_;
  std::unique_ptr<ObjectRegistry> registry_;
};

TEST_F(KubernetesEndpointsTest, PublishesOnceAndFollowsTheAddressAndPort) {
  ASSERT_TRUE(reconcile_kubernetes_endpoints(*registry_, "192.0.2.10", 6443));
  EXPECT_EQ(slice_says(), "192.0.2.10:6443");
  EXPECT_EQ(endpoints_say(), "192.0.2.10:6443");
  EXPECT_EQ(get("", "endpoints")["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"], "true");
  EXPECT_EQ(get("discovery.k8s.io", "endpointslices")["metadata"]["labels"]["kubernetes.io/service-name"], "kubernetes");
  const auto revision = registry_->current_revision();
  ASSERT_TRUE(reconcile_kubernetes_endpoints(*registry_, "192.0.2.10", 6443));
  EXPECT_EQ(registry_->current_revision(), revision) << "nothing changed, nothing written";

  ASSERT_TRUE(reconcile_kubernetes_endpoints(*registry_, "192.0.2.11", 7443));
  EXPECT_EQ(slice_says(), "192.0.2.11:7443");
  EXPECT_EQ(endpoints_say(), "192.0.2.11:7443");
  EXPECT_EQ(get("", "services")["spec"]["ports"][0]["targetPort"], 7443);
}

TEST_F(KubernetesEndpointsTest, TheReconcilerBringsBackDeletedEndpoints) {
  ASSERT_TRUE(reconcile_kubernetes_endpoints(*registry_, "192.0.2.10", 6443));
  KubernetesEndpointReconciler reconciler(*registry_, "192.0.2.10", 6443, std::chrono::milliseconds(50));
  ASSERT_TRUE(registry_->remove(*find_resource("discovery.k8s.io", "v1", "endpointslices"), "default", "kubernetes"));
  ASSERT_TRUE(registry_->remove(*find_resource("", "v1", "endpoints"), "default", "kubernetes"));
  for (int i = 0; i < 100 && (slice_says() == "<none>" || endpoints_say() == "<none>"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(slice_says(), "192.0.2.10:6443");
  EXPECT_EQ(endpoints_say(), "192.0.2.10:6443");
  reconciler.stop();
}

}  // namespace
}  // namespace switchyard::apiserver
