// The client's list+watch in protobuf (ClusterConnection::protobuf, the agent's
// --api-content-type=protobuf) against a real `switchyard apiserver` process over HTTPS: it sees
// exactly what the JSON client sees, Services and EndpointSlices, lists and watch events, and
// the informers on top of it sync.
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "netns-tests/support/process.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/client/list_watch.h"

namespace switchyard::client {
namespace {

using nlohmann::json;
using switchyard::testing::ChildProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;

// Protobuf has no empty list apart from an absent one ("endpoints": [] of a slice with none).
json without_empty_lists(json j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end();) {
      if (it->is_array() && it->empty()) {
        it = j.erase(it);
      } else {
        *it = without_empty_lists(std::move(*it));
        ++it;
      }
    }
  } else if (j.is_array()) {
    for (auto& e : j) e = without_empty_lists(std::move(e));
  }
  return j;
}

class ProtobufListWatch : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sy-pb-listwatch-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    const std::string port = std::to_string(switchyard::testing::free_loopback_port());
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SWITCHYARD_BINARY, "apiserver", "--data-dir", dir_.string(), "--listen", "127.0.0.1:" + port},
        dir_.string() + ".log");
    ASSERT_TRUE(wait_until(10, [&] { return kubectl("get ns default -o name").output == "namespace/default\n"; }))
        << run("cat " + dir_.string() + ".log").output;
    std::ofstream(dir_ / "m.yaml") << kObjects;
    auto applied = kubectl("apply -f " + (dir_ / "m.yaml").string());
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    auto conn = load_kubeconfig((dir_ / "kubeconfig").string());
    ASSERT_TRUE(conn) << conn.error().describe();
    json_conn_ = *conn;
    protobuf_conn_ = *conn;
    protobuf_conn_.protobuf = true;
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::remove(dir_.string() + ".log");
  }
  switchyard::testing::CommandResult kubectl(const std::string& args) {
    return run("/usr/lib/google-cloud-sdk/bin/kubectl.1.31 --kubeconfig " + (dir_ / "kubeconfig").string() + " " + args);
  }

  static constexpr const char* kObjects = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}, {name: dns, port: 53, protocol: UDP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- addresses: [10.1.0.5]
  nodeName: node-a
  conditions: {ready: false, serving: true}
ports: [{name: http, port: 8080, protocol: TCP}]
)";

  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> server_;
  ClusterConnection json_conn_, protobuf_conn_;
};

TEST_F(ProtobufListWatch, ListsAndWatchesSeeWhatJsonSees) {
  for (const std::string path : {"/api/v1/namespaces/shop/services", "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices"}) {
    HttpListerWatcher by_json(json_conn_, path), by_protobuf(protobuf_conn_, path);
    auto j = by_json.list();
    auto p = by_protobuf.list();
    ASSERT_TRUE(j && p) << (j ? p.error().describe() : j.error().describe());
    ASSERT_EQ(p->items.size(), j->items.size()) << path;
    EXPECT_EQ(p->resource_version, j->resource_version);
    for (std::size_t i = 0; i < j->items.size(); ++i) {
      // Protobuf list items carry no apiVersion/kind: proof it was protobuf, and nothing else differs.
      EXPECT_FALSE(p->items[i].contains("kind")) << path;
      json want = j->items[i];
      want.erase("kind");
      want.erase("apiVersion");
      EXPECT_EQ(p->items[i], without_empty_lists(want)) << path;
    }

    // A change arrives through the protobuf watch as the JSON watch reports it.
    std::vector<WatchEvent> pb_events, json_events;
    std::thread pb_watcher([&] {
      auto done = by_protobuf.watch(p->resource_version, [&](WatchEvent&& e) {
        if (e.type != WatchEventType::Bookmark) pb_events.push_back(std::move(e));
        return pb_events.empty();
      });
      EXPECT_TRUE(done) << done.error().describe();
    });
    std::thread json_watcher([&] {
      auto done = by_json.watch(j->resource_version, [&](WatchEvent&& e) {
        if (e.type != WatchEventType::Bookmark) json_events.push_back(std::move(e));
        return json_events.empty();
      });
      EXPECT_TRUE(done) << done.error().describe();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const std::string what = path.find("services") != std::string::npos ? "svc web" : "endpointslice web-1";
    ASSERT_EQ(kubectl("label " + what + " -n shop tier=front").exit_code, 0);
    pb_watcher.join();
    json_watcher.join();
    ASSERT_EQ(pb_events.size(), 1u);
    ASSERT_EQ(json_events.size(), 1u);
    EXPECT_EQ(pb_events[0].type, WatchEventType::Modified);
    EXPECT_EQ(pb_events[0].object["metadata"]["labels"]["tier"], "front");
    EXPECT_EQ(pb_events[0].object, without_empty_lists(json_events[0].object));  // a watch event's object is a whole object, kind included
  }
}

TEST_F(ProtobufListWatch, InformersOverProtobufSync) {
  SharedInformerFactory factory(protobuf_conn_);
  auto& services = factory.informer<api::Service>();
  auto& slices = factory.informer<api::EndpointSlice>();
  factory.start();
  ASSERT_TRUE(wait_until(10, [&] { return factory.has_synced(); }));
  auto web = services.indexer().get("shop/web");
  ASSERT_TRUE(web);
  EXPECT_EQ(web->spec.ports.size(), 2u);
  EXPECT_EQ(web->spec.ports[0].target_port, api::IntOrString::of(std::string("http")));
  auto slice = slices.indexer().get("shop/web-1");
  ASSERT_TRUE(slice);
  EXPECT_EQ(slice->endpoints[0].conditions.ready, false);  // a pointer false survives the trip
  ASSERT_EQ(kubectl("delete svc web -n shop").exit_code, 0);
  EXPECT_TRUE(wait_until(10, [&] { return !services.indexer().get("shop/web"); }));
  factory.stop();
}

}  // namespace
}  // namespace switchyard::client
