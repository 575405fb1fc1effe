// The DaemonSet controller against a real registry and store behind the API server's HTTP
// transport, with Node objects, no scheduler and no kubelet: pods stay unbound with their
// node-affinity term, and the test marks them Ready through pods/status, as a kubelet would.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/controllers/daemonset_controller.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::controllers {
namespace {

using apiserver::Json;

class DaemonSetControllerTest : public ::testing::Test {
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
    create(res("", "namespaces"), "", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})");
    start_controller();
  }
  void TearDown() override { stop_controller(); }
  void start_controller() {
    informers_ = std::make_unique<client::SharedInformerFactory>(connection_);
    controller_ = std::make_unique<DaemonSetController>(*informers_, connection_);
    controller_->start();
  }
  void stop_controller() {
    if (controller_) controller_->stop();
    if (informers_) informers_->stop();
    controller_.reset();
    informers_.reset();
  }
  static const apiserver::ResourceInfo& res(const std::string& group, const std::string& plural) {
    return *apiserver::find_resource(group, "v1", plural);
  }
  apiserver::ApiResult<Json> create(const apiserver::ResourceInfo& r, const std::string& ns, const std::string& body) {
    std::vector<std::string> warnings;
    return registry_->create(r, ns, Json::parse(body), apiserver::FieldValidation::Strict, warnings);
  }
  void node(const std::string& name, const std::string& labels = "{}", const std::string& taints = "[]") {
    auto r = create(res("", "nodes"), "",
                    R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name + R"(","labels":)" + labels +
                        R"(},"spec":{"taints":)" + taints + "}}");
    ASSERT_TRUE(r) << r.error().status.dump();
  }
  std::vector<Json> list(const apiserver::ResourceInfo& r) {
    auto l = registry_->list(r, "shop", apiserver::ListOptions{});
    std::vector<Json> out;
    for (const auto& i : (*l)["items"]) out.push_back(i);
    return out;
  }
  Json get(const apiserver::ResourceInfo& r, const std::string& name) {
    auto g = registry_->get(r, "shop", name);
    return g ? *g : Json();
  }
  static std::string node_of(const Json& pod) {
    return pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"]
              [0]["values"][0];
  }
  // "node=image" for each pod.
  std::multiset<std::string> placements() {
    std::multiset<std::string> out;
    for (const auto& p : list(res("", "pods"))) out.insert(node_of(p) + "=" + p["spec"]["containers"][0]["image"].get<std::string>());
    return out;
  }
  void mark_ready() {
    for (auto p : list(res("", "pods"))) {
      if (p["status"].value("phase", "") == "Running") continue;
      p["status"]["phase"] = "Running";
      p["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", apiserver::now_rfc3339()}}};
      std::vector<std::string> warnings;
      auto r = registry_->update(res("", "pods"), "shop", p["metadata"]["name"], p, true, apiserver::FieldValidation::Ignore, warnings);
      EXPECT_TRUE(r || r.error().code == 409 || r.error().code == 404) << r.error().status.dump();
    }
  }
  void set_image(const std::string& image) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      Json ds = get(res("apps", "daemonsets"), "agent");
      ds["spec"]["template"]["spec"]["containers"][0]["image"] = image;
      std::vector<std::string> warnings;
      auto u = registry_->update(res("apps", "daemonsets"), "shop", "agent", ds, false, apiserver::FieldValidation::Ignore, warnings);
      if (u) return;
      ASSERT_EQ(u.error().code, 409) << u.error().status.dump();
    }
    FAIL() << "could not update the DaemonSet";
  }
  bool eventually(const std::function<bool()>& f, int seconds = 10) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return f();
  }
  static std::string daemonset(const std::string& pod_spec_extra = "") {
    return R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"},"spec":{"selector":{"matchLabels":{"app":"agent"}},)"
           R"("template":{"metadata":{"labels":{"app":"agent"}},"spec":{)" +
           pod_spec_extra + R"("containers":[{"name":"c","image":"busybox:1"}]}}}})";
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
  client::ClusterConnection connection_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<DaemonSetController> controller_;
};

TEST_F(DaemonSetControllerTest, OnePodPerEligibleNodeWithStatusAndARevision) {
  node("n1", R"({"role":"worker"})");
  node("n2", R"({"role":"worker"})");
  node("n3");
  node("n4", R"({"role":"worker"})", R"([{"key":"dedicated","value":"db","effect":"NoSchedule"}])");
  auto ds = create(res("apps", "daemonsets"), "shop", daemonset(R"("nodeSelector":{"role":"worker"},)"));
  ASSERT_TRUE(ds) << ds.error().status.dump();
  ASSERT_TRUE(eventually([&] { return placements() == std::multiset<std::string>{"n1=busybox:1", "n2=busybox:1"}; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(placements().size(), 2u) << "the expectations keep a lagging cache from creating more";
  for (const auto& p : list(res("", "pods"))) {
    EXPECT_EQ(p["metadata"]["ownerReferences"][0]["uid"], (*ds)["metadata"]["uid"]);
    EXPECT_EQ(p["metadata"]["generateName"], "agent-");
    EXPECT_FALSE(p["metadata"]["labels"].value("controller-revision-hash", "").empty());
  }
  const auto revisions = list(res("apps", "controllerrevisions"));
  ASSERT_EQ(revisions.size(), 1u);
  EXPECT_EQ(revisions[0]["revision"], 1);
  EXPECT_EQ(revisions[0]["data"]["spec"]["template"]["$patch"], "replace");
  EXPECT_EQ(revisions[0]["metadata"]["name"],
            "agent-" + list(res("", "pods"))[0]["metadata"]["labels"]["controller-revision-hash"].get<std::string>());
  mark_ready();
  EXPECT_TRUE(eventually([&] {
    const Json st = get(res("apps", "daemonsets"), "agent")["status"];
    return st.value("desiredNumberScheduled", -1) == 2 && st.value("currentNumberScheduled", -1) == 2 && st.value("numberReady", -1) == 2 &&
           st.value("numberAvailable", -1) == 2 && st.value("updatedNumberScheduled", -1) == 2 && st.value("numberMisscheduled", -1) == 0 &&
           st.value("observedGeneration", -1) == 1;
  })) << get(res("apps", "daemonsets"), "agent")["status"].dump();
}

TEST_F(DaemonSetControllerTest, RollingUpdateKeepsWithinMaxUnavailableAndARestartCreatesNothingTwice) {
  for (const char* n : {"n1", "n2", "n3"}) node(n);
  ASSERT_TRUE(create(res("apps", "daemonsets"), "shop", daemonset()));
  ASSERT_TRUE(eventually([&] { return placements().size() == 3; }));
  mark_ready();
  ASSERT_TRUE(eventually([&] { return get(res("apps", "daemonsets"), "agent")["status"].value("numberAvailable", 0) == 3; }));

  set_image("busybox:2");
  int max_missing = 0;
  bool restarted = false;
  const std::multiset<std::string> done{"n1=busybox:2", "n2=busybox:2", "n3=busybox:2"};
  ASSERT_TRUE(eventually(
      [&] {
        std::set<std::string> ready_nodes;
        for (const auto& p : list(res("", "pods")))
          if (p["status"].value("phase", "") == "Running") ready_nodes.insert(node_of(p));
        max_missing = std::max(max_missing, 3 - static_cast<int>(ready_nodes.size()));
        // A restart of the controller in the middle of the rollout.
        if (placements().count("n1=busybox:2") + placements().count("n2=busybox:2") + placements().count("n3=busybox:2") == 1 &&
            !restarted) {
          restarted = true;
          stop_controller();
          start_controller();
        }
        mark_ready();
        return placements() == done;
      },
      30))
      << ::testing::PrintToString(placements());
  EXPECT_TRUE(restarted);
  EXPECT_LE(max_missing, 1) << "maxUnavailable 1";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(placements(), done) << "no pod made twice";
  EXPECT_EQ(list(res("apps", "controllerrevisions")).size(), 2u);
  EXPECT_TRUE(eventually([&] { return get(res("apps", "daemonsets"), "agent")["status"].value("updatedNumberScheduled", 0) == 3; }));
}

TEST_F(DaemonSetControllerTest, ASelectorThatMissesTheTemplateIsRejectedWithItsFieldPath) {
  auto bad =
      create(res("apps", "daemonsets"), "shop",
             R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"bad"},"spec":{"selector":{"matchLabels":{"app":"a"}},)"
             R"("template":{"metadata":{"labels":{"app":"b"}},"spec":{"containers":[{"name":"c","image":"busybox:1"}]}}}})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, 422);
  EXPECT_EQ(bad.error().status["details"]["causes"][0]["field"], "spec.template.metadata.labels");
  EXPECT_EQ(bad.error().status["message"],
            "DaemonSet.apps \"bad\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` "
            "does not match template `labels`");
}

}  // namespace
}  // namespace switchyard::controllers
