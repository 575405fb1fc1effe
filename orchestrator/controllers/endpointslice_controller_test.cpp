// The controller against a real registry and store behind the API server's HTTP transport,
// talking to it only through the client library: Services and Pods in, EndpointSlices out,
// following changes, converging after a restart, and cleaned up with their Service. With the
// Pod list failing (or the watch cut and every relist failing) the stored slices stay as they
// are, and they converge once lists work again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/client/testing/faulty_lister_watcher.h"
#include "orchestrator/controllers/endpointslice_controller.h"
#include "orchestrator/controllers/garbage_collector.h"
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
    handler_ = std::make_unique<apiserver::ApiHandler>(*registry_, "t0ken");
    auto server = apiserver::HttpServer::start(*handler_, {"127.0.0.1:0", "", ""});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    connection_ = {"127.0.0.1", std::to_string(server_->port()), "", "t0ken", false};
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
    Json pod = create(
        "pods", "shop",
        R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
            R"(","labels":{"app":"web"}},"spec":{"nodeName":"node-a","containers":[{"name":"c","image":"x:1","ports":[{"name":"http","containerPort":8080}]}]}})");
    pod["status"] = {{"phase", "Running"},
                     {"podIP", ip},
                     {"podIPs", {{{"ip", ip}}}},
                     {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}};
    std::vector<std::string> warnings;
    auto r = registry_->update(*apiserver::find_resource("", "v1", "pods"), "shop", name, pod, true, apiserver::FieldValidation::Strict,
                               warnings);
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

  // A controller process: its own informers (Pods through the fault injector) and client.
  struct ControllerProcess {
    explicit ControllerProcess(const client::ClusterConnection& c)
        : faults(std::make_shared<client::testing::FaultyListerWatcher::Faults>()),
          informers(
              [c, f = faults](const std::string& path) -> std::unique_ptr<client::ListerWatcher> {
                auto http = std::make_unique<client::HttpListerWatcher>(c, path);
                if (!path.starts_with("/api/v1/pods")) return http;
                return std::make_unique<client::testing::FaultyListerWatcher>(std::move(http), f);
              },
              client::InformerOptions{
                  .reflector = {.initial_backoff = std::chrono::milliseconds(20), .max_backoff = std::chrono::milliseconds(100)}}),
          controller(informers, c) {}
    ~ControllerProcess() {
      controller.stop();
      informers.stop();
    }
    std::shared_ptr<client::testing::FaultyListerWatcher::Faults> faults;
    client::SharedInformerFactory informers;
    EndpointSliceController controller;
  };

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
  client::ClusterConnection connection_;
};

TEST_F(SliceControllerInRegistry, ServicesGetSlicesThatFollowTheirPods) {
  ControllerProcess process(connection_);
  auto& controller = process.controller;
  controller.start();
  Json svc = create(
      "services", "shop",
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
  ASSERT_TRUE(registry_->remove(*apiserver::find_resource("", "v1", "pods"), "shop", "web-1", "", 0));
  ASSERT_TRUE(eventually([&] { return slices().size() == 1 && slices()[0]["endpoints"].size() == 1; }));

  // The Service goes: the garbage collector collects its slices (their owner).
  GarbageCollector gc(connection_);
  gc.start();
  ASSERT_TRUE(registry_->remove(*apiserver::find_resource("", "v1", "services"), "shop", "web"));
  EXPECT_TRUE(eventually([&] { return slices().empty(); }));
  controller.stop();
}

TEST_F(SliceControllerInRegistry, ARestartedControllerChangesNothing) {
  create("services", "shop",
         R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})");
  running_pod("web-0", "10.1.0.5", true);
  {
    ControllerProcess process(connection_);
    auto& first = process.controller;
    ASSERT_TRUE(first.reconcile_all());
    EXPECT_EQ(first.stats().created.load(), 1u);
  }
  const std::string rv = slices()[0]["metadata"]["resourceVersion"];
  ControllerProcess process(connection_);
  auto& second = process.controller;
  ASSERT_TRUE(second.reconcile_all());
  EXPECT_EQ(second.stats().created.load() + second.stats().updated.load() + second.stats().deleted.load(), 0u);
  EXPECT_EQ(slices()[0]["metadata"]["resourceVersion"], rv);
}

TEST_F(SliceControllerInRegistry, SelectorlessServicesMirrorUserEndpoints) {
  create("services", "shop", R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"ext"},"spec":{"ports":[{"port":5432}]}})");
  create(
      "endpoints", "shop",
      R"({"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"ext"},"subsets":[{"addresses":[{"ip":"192.0.2.10"}],"ports":[{"port":5432}]}]})");
  ControllerProcess process(connection_);
  ASSERT_TRUE(process.controller.reconcile_all());
  auto s = slices();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0]["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "endpointslicemirroring-controller.k8s.io");
  EXPECT_EQ(s[0]["endpoints"][0]["addresses"][0], "192.0.2.10");
}

// A restarted controller whose Pod lists fail (the API server answers 500): its caches never
// sync, so it reconciles nothing, and the slices in the store stay exactly as they were, even
// though the Service changes meanwhile. Once lists work it converges.
TEST_F(SliceControllerInRegistry, FailingPodListsLeaveStoredSlicesUnchangedUntilTheyRecover) {
  create("services", "shop",
         R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})");
  running_pod("web-0", "10.1.0.5", true);
  running_pod("web-1", "10.1.0.6", true);
  {
    ControllerProcess before(connection_);
    ASSERT_TRUE(before.controller.reconcile_all());
  }
  const auto stored = slices();
  ASSERT_EQ(stored.size(), 1u);
  ASSERT_EQ(stored[0]["endpoints"].size(), 2u);

  ControllerProcess process(connection_);
  process.faults->fail_lists = true;
  process.controller.start();
  // The Service changes (its port): a controller that took the failed list for "no pods" would
  // now write a slice without endpoints.
  auto svc = registry_->get(*apiserver::find_resource("", "v1", "services"), "shop", "web");
  ASSERT_TRUE(svc);
  (*svc)["spec"]["ports"][0]["port"] = 81;
  std::vector<std::string> warnings;
  ASSERT_TRUE(registry_->update(*apiserver::find_resource("", "v1", "services"), "shop", "web", *svc, false,
                                apiserver::FieldValidation::Strict, warnings));
  ASSERT_TRUE(eventually([&] { return process.faults->lists_failed >= 5; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(process.controller.caches_synced());
  EXPECT_EQ(slices(), stored);  // byte for byte, resourceVersion included
  EXPECT_EQ(process.controller.stats().created + process.controller.stats().updated + process.controller.stats().deleted, 0u);

  // The API server answers again: the caches sync and the slices converge (web-1 went meanwhile).
  ASSERT_TRUE(registry_->remove(*apiserver::find_resource("", "v1", "pods"), "shop", "web-1", "", 0));
  process.faults->fail_lists = false;
  ASSERT_TRUE(eventually([&] {
    auto s = slices();
    return s.size() == 1 && s[0]["endpoints"].size() == 1 && s[0]["endpoints"][0]["addresses"][0] == "10.1.0.5";
  })) << slices()[0].dump();
}

// A running controller whose Pod watch is cut (410) and whose every relist then fails keeps the
// pods it knew: Service changes meanwhile are reconciled against them, never against "no pods".
TEST_F(SliceControllerInRegistry, AnInterruptedPodRelistKeepsTheLastKnownPods) {
  create("services", "shop",
         R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})");
  running_pod("web-0", "10.1.0.5", true);
  running_pod("web-1", "10.1.0.6", true);
  ControllerProcess process(connection_);
  process.controller.start();
  ASSERT_TRUE(eventually([&] { return slices().size() == 1 && slices()[0]["endpoints"].size() == 2; }));

  process.faults->fail_lists = true;
  process.faults->expire_watches = true;  // the watch ends with 410: the reflector must relist, and cannot
  ASSERT_TRUE(eventually([&] { return process.faults->lists_failed >= 3; }));
  // Meanwhile a Service change is reconciled from the caches: ports follow, endpoints stay.
  auto svc = registry_->get(*apiserver::find_resource("", "v1", "services"), "shop", "web");
  ASSERT_TRUE(svc);
  (*svc)["spec"]["ports"][0]["targetPort"] = 8081;
  std::vector<std::string> warnings;
  ASSERT_TRUE(registry_->update(*apiserver::find_resource("", "v1", "services"), "shop", "web", *svc, false,
                                apiserver::FieldValidation::Strict, warnings));
  ASSERT_TRUE(eventually([&] { return slices().size() == 1 && slices()[0]["ports"][0]["port"] == 8081; })) << slices()[0].dump();
  EXPECT_EQ(slices()[0]["endpoints"].size(), 2u);
  ASSERT_TRUE(registry_->remove(*apiserver::find_resource("", "v1", "pods"), "shop", "web-1", "", 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(slices()[0]["endpoints"].size(), 2u);  // not seen yet: the last known state holds

  // Lists work again: the relist finds web-1 gone and the slice follows.
  process.faults->expire_watches = false;
  process.faults->fail_lists = false;
  EXPECT_TRUE(eventually([&] { return slices().size() == 1 && slices()[0]["endpoints"].size() == 1; })) << slices()[0].dump();
}

// Every Service is reconciled once per change, whatever the order of events: pods first, then
// their Service, then a second Service selecting a subset; one pod's label change moves it.
TEST_F(SliceControllerInRegistry, PodLabelChangesMoveEndpointsBetweenServices) {
  ControllerProcess process(connection_);
  process.controller.start();
  running_pod("web-0", "10.1.0.5", true);
  create("services", "shop",
         R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})");
  create(
      "services", "shop",
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"canary"},"spec":{"selector":{"app":"web","track":"canary"},"ports":[{"port":80}]}})");
  auto endpoints_of = [&](const std::string& service) {
    std::size_t n = 0;
    for (const auto& s : slices())
      if (s["metadata"]["labels"]["kubernetes.io/service-name"] == service) n += s.value("endpoints", Json::array()).size();
    return n;
  };
  ASSERT_TRUE(eventually([&] { return endpoints_of("web") == 1 && slices().size() == 2; }));
  EXPECT_EQ(endpoints_of("canary"), 0u);
  const auto* pods = apiserver::find_resource("", "v1", "pods");
  auto pod = registry_->get(*pods, "shop", "web-0");
  ASSERT_TRUE(pod);
  (*pod)["metadata"]["labels"]["track"] = "canary";
  std::vector<std::string> warnings;
  ASSERT_TRUE(registry_->update(*pods, "shop", "web-0", *pod, false, apiserver::FieldValidation::Strict, warnings));
  EXPECT_TRUE(eventually([&] { return endpoints_of("canary") == 1 && endpoints_of("web") == 1; }));
  (*pod) = *registry_->get(*pods, "shop", "web-0");
  (*pod)["metadata"]["labels"]["app"] = "other";
  ASSERT_TRUE(registry_->update(*pods, "shop", "web-0", *pod, false, apiserver::FieldValidation::Strict, warnings));
  EXPECT_TRUE(eventually([&] { return endpoints_of("canary") == 0 && endpoints_of("web") == 0; }));
  EXPECT_EQ(process.controller.stats().failed_writes.load(), 0u);
}

// A Node event reaches the Services: the zone of node-a changes, and so does its endpoints' zone.
TEST_F(SliceControllerInRegistry, NodeZoneChangesReachTheSlices) {
  ControllerProcess process(connection_);
  process.controller.start();
  create("services", "shop",
         R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})");
  running_pod("web-0", "10.1.0.5", true);
  ASSERT_TRUE(eventually([&] { return slices().size() == 1 && slices()[0]["endpoints"].size() == 1; }));
  EXPECT_EQ(slices()[0]["endpoints"][0]["zone"], "z1");
  const auto* nodes = apiserver::find_resource("", "v1", "nodes");
  auto node = registry_->get(*nodes, "", "node-a");
  ASSERT_TRUE(node);
  (*node)["metadata"]["labels"]["topology.kubernetes.io/zone"] = "z2";
  std::vector<std::string> warnings;
  ASSERT_TRUE(registry_->update(*nodes, "", "node-a", *node, false, apiserver::FieldValidation::Strict, warnings));
  EXPECT_TRUE(eventually([&] { return slices()[0]["endpoints"][0].value("zone", "") == "z2"; })) << slices()[0].dump();
}

}  // namespace
}  // namespace switchyard::controllers
