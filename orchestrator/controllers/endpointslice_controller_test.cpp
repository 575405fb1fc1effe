// The controller inside a real registry and store: Services and Pods in, EndpointSlices out,
// following changes, converging after a restart, and cleaned up with their Service.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/controllers/endpointslice_controller.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::controllers {
namespace {

using apiserver::Json;

class SliceControllerInRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<apiserver::ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    create("namespaces", "", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})");
    create("nodes", "", R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a","labels":{"topology.kubernetes.io/zone":"z1"}}})");
  }
  Json create(const char* plural, const std::string& ns, const std::string& body) {
    std::vector<std::string> warnings;
    const auto* r = plural == std::string("endpointslices") ? apiserver::find_resource("discovery.k8s.io", "v1", plural)
                                                             : apiserver::find_resource("", "v1", plural);
    auto out = registry_->create(*r, ns, Json::parse(body), apiserver::FieldValidation::Strict, warnings);
    EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().status.dump());
    return out ? *out : Json();
  }
  // A running pod: created, then its status set through the status subresource, as a kubelet would.
  void running_pod(const std::string& name, const std::string& ip, bool ready) {
    Json pod = create("pods", "shop", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                                          R"(","labels":{"app":"web"}},"spec":{"nodeName":"node-a","containers":[{"name":"c","image":"x:1","ports":[{"name":"http","containerPort":8080}]}]}})");
    pod["status"] = {{"phase", "Running"}, {"podIP", ip}, {"podIPs", {{{"ip", ip}}}},
                     {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}};
    std::vector<std::string> warnings;
    auto r = registry_->update(*apiserver::find_resource("", "v1", "pods"), "shop", name, pod, true, apiserver::FieldValidation::Strict, warnings);
    ASSERT_TRUE(r.has_value()) << (r ? "" : r.error().status.dump());
  }
  std::vector<Json> slices() {
    auto list = registry_->list(*apiserver::find_resource("discovery.k8s.io", "v1", "endpointslices"), "shop", {});
    std::vector<Json> out;
    for (const auto& i : (*list)["items"]) out.push_back(i);
    return out;
  }
  bool eventually(const std::function<bool()>& f) {
    for (int i = 0; i < 100; ++i) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return f();
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
};

TEST_F(SliceControllerInRegistry, ServicesGetSlicesThatFollowTheirPods) {
  EndpointSliceController controller(*registry_);
  controller.start();
  Json svc = create("services", "shop",
                    R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http"}]}})");
  running_pod("web-0", "10.1.0.5", true);
  running_pod("web-1", "10.1.0.6", false);
  ASSERT_TRUE(eventually([&] {
    auto s = slices();
    return s.size() == 1 && s[0]["endpoints"].size() == 2;
  })) << (slices().empty() ? "no slices" : slices()[0].dump());
  Json slice = slices()[0];
  EXPECT_EQ(slice["addressType"], "IPv4");
  EXPECT_EQ(slice["metadata"]["labels"]["kubernetes.io/service-name"], "web");
  EXPECT_EQ(slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "endpointslice-controller.k8s.io");
  EXPECT_EQ(slice["metadata"]["ownerReferences"][0]["uid"], svc["metadata"]["uid"]);
  EXPECT_EQ(slice["ports"][0], Json::parse(R"({"name":"http","port":8080,"protocol":"TCP"})"));  // named targetPort resolved
  std::map<std::string, Json> by_ip;
  for (const auto& e : slice["endpoints"]) by_ip[e["addresses"][0]] = e;
  EXPECT_EQ(by_ip["10.1.0.5"]["conditions"]["ready"], true);
  EXPECT_EQ(by_ip["10.1.0.6"]["conditions"]["ready"], false);
  EXPECT_EQ(by_ip["10.1.0.5"]["nodeName"], "node-a");
  EXPECT_EQ(by_ip["10.1.0.5"]["zone"], "z1");
  EXPECT_EQ(by_ip["10.1.0.5"]["targetRef"]["name"], "web-0");

  // A pod goes: its endpoint goes.
  ASSERT_TRUE(registry_->remove(*apiserver::find_resource("", "v1", "pods"), "shop", "web-1"));
  ASSERT_TRUE(eventually([&] { return slices().size() == 1 && slices()[0]["endpoints"].size() == 1; }));

  // The Service goes: its slices are collected with it.
  ASSERT_TRUE(registry_->remove(*apiserver::find_resource("", "v1", "services"), "shop", "web"));
  EXPECT_TRUE(eventually([&] { return slices().empty(); }));
  controller.stop();
}

TEST_F(SliceControllerInRegistry, ARestartedControllerChangesNothing) {
  create("services", "shop", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})");
  running_pod("web-0", "10.1.0.5", true);
  {
    EndpointSliceController first(*registry_);
    first.reconcile_all();
    EXPECT_EQ(first.stats().created.load(), 1u);
  }
  const std::string rv = slices()[0]["metadata"]["resourceVersion"];
  EndpointSliceController second(*registry_);
  second.reconcile_all();
  EXPECT_EQ(second.stats().created.load() + second.stats().updated.load() + second.stats().deleted.load(), 0u);
  EXPECT_EQ(slices()[0]["metadata"]["resourceVersion"], rv);
}

TEST_F(SliceControllerInRegistry, SelectorlessServicesMirrorUserEndpoints) {
  create("services", "shop", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"ext"},"spec":{"ports":[{"port":5432}]}})");
  create("endpoints", "shop",
         R"({"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"ext"},"subsets":[{"addresses":[{"ip":"192.0.2.10"}],"ports":[{"port":5432}]}]})");
  EndpointSliceController controller(*registry_);
  controller.reconcile_all();
  auto s = slices();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "endpointslicemirroring-controller.k8s.io");
  EXPECT_EQ(s[0]["endpoints"][0]["addresses"][0], "192.0.2.10");
}

}  // namespace
}  // namespace switchyard::controllers
