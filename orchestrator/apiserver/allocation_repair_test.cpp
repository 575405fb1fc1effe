// AllocationRepair against the real SQLite store, with Services created through the registry.
#include "orchestrator/apiserver/allocation_repair.h"

#include <gtest/gtest.h>

#include "orchestrator/apiserver/object_registry.h"
#include "orchestrator/apiserver/resources.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

class AllocationRepairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::SqliteStore::open((dir_.path() / "store.db").string()).value());
    ips_ = ClusterIpAllocator::create(*store_, "10.96.0.0/24").value();
    ports_ = NodePortAllocator::create(*store_, 30000, 30100).value();
    allocators_ = {{ips_.get()}, ports_.get()};
    api::ClusterNetworkConfig net;
    net.node_port_min = 30000;
    net.node_port_max = 30100;
    registry_ = std::make_unique<ObjectRegistry>(*store_, net, &allocators_);
    std::vector<std::string> warnings;
    ASSERT_TRUE(registry_->create(*find_resource("", "v1", "namespaces"), "",
                                  {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "default"}}}},
                                  FieldValidation::Strict, warnings));
    auto web = registry_->create(*find_resource("", "v1", "services"), "default",
                                 {{"apiVersion", "v1"},
                                  {"kind", "Service"},
                                  {"metadata", {{"name", "web"}}},
                                  {"spec", {{"type", "NodePort"}, {"ports", {{{"port", 80}, {"nodePort", 30007}}}}}}},
                                 FieldValidation::Strict, warnings);
    ASSERT_TRUE(web) << web.error().status.dump();
    web_ip_ = (*web)["spec"]["clusterIP"];
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ClusterIpAllocator> ips_;
  std::unique_ptr<NodePortAllocator> ports_;
  ServiceAllocators allocators_;
  std::unique_ptr<ObjectRegistry> registry_;
  std::string web_ip_;
};

TEST_F(AllocationRepairTest, ReleasesWhatNoServiceHoldsAfterTwoPasses) {
  // Leaks as a failed release leaves them: an IP of a Service that is gone, and a node port the
  // existing Service no longer holds.
  ASSERT_TRUE(ips_->allocate("10.96.0.50", "default/gone"));
  ASSERT_TRUE(ports_->allocate(30050, "default/web"));
  AllocationRepair repair(*store_, allocators_);

  auto first = repair.run_once();
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(first->suspects, 2u);
  EXPECT_EQ(first->released, 0u);  // could be a create in flight: not yet
  EXPECT_EQ(ips_->owner_of("10.96.0.50").value(), "default/gone");

  auto second = repair.run_once();
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ(second->released, 2u);
  EXPECT_EQ(second->held, 2u);  // web's ClusterIP and node port
  EXPECT_FALSE(ips_->owner_of("10.96.0.50").value());
  EXPECT_FALSE(ports_->owner_of(30050).value());
  // What the Service holds is untouched, and the freed values can be had again.
  EXPECT_EQ(ips_->owner_of(web_ip_).value(), "default/web");
  EXPECT_EQ(ports_->owner_of(30007).value(), "default/web");
  EXPECT_TRUE(ips_->allocate("10.96.0.50", "default/new"));
}

TEST_F(AllocationRepairTest, AnAllocationWhoseServiceAppearsInTimeIsKept) {
  // A create allocated, the repair pass ran, then the Service was stored: not a leak.
  ASSERT_TRUE(ips_->allocate("10.96.0.60", "default/late"));
  AllocationRepair repair(*store_, allocators_);
  ASSERT_EQ(repair.run_once().value().suspects, 1u);
  // The create's own write, as the registry makes it after allocating.
  const auto* services = find_resource("", "v1", "services");
  ASSERT_TRUE(store_->create(storage_key(*services, "default", "late"),
                             Json{{"apiVersion", "v1"},
                                  {"kind", "Service"},
                                  {"metadata", {{"name", "late"}, {"namespace", "default"}}},
                                  {"spec", {{"clusterIP", "10.96.0.60"}, {"clusterIPs", {"10.96.0.60"}}, {"ports", {{{"port", 80}}}}}}}
                                 .dump()));
  auto second = repair.run_once();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->released, 0u);
  EXPECT_EQ(ips_->owner_of("10.96.0.60").value(), "default/late");
}

}  // namespace
}  // namespace switchyard::apiserver
