// The ReplicaSet and Deployment controllers against a real registry and store behind the API
// server's HTTP transport, with no kubelet: pods stay Pending and unbound, and the test marks
// them Ready through pods/status where readiness matters, as a kubelet would.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/controllers/deployment_controller.h"
#include "orchestrator/controllers/replicaset_controller.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::controllers {
namespace {

using apiserver::Json;

class WorkloadControllers : public ::testing::Test {
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
    call(ns_res(), "", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})");
    informers_ = std::make_unique<client::SharedInformerFactory>(connection_);
    replicasets_ = std::make_unique<ReplicaSetController>(*informers_, connection_);
    deployments_ = std::make_unique<DeploymentController>(*informers_, connection_);
    replicasets_->start();
    deployments_->start();
  }
  void TearDown() override {
    deployments_->stop();
    replicasets_->stop();
    informers_->stop();
  }
  static const apiserver::ResourceInfo& ns_res() { return *apiserver::find_resource("", "v1", "namespaces"); }
  static const apiserver::ResourceInfo& pods_res() { return *apiserver::find_resource("", "v1", "pods"); }
  static const apiserver::ResourceInfo& rs_res() { return *apiserver::find_resource("apps", "v1", "replicasets"); }
  static const apiserver::ResourceInfo& deploy_res() { return *apiserver::find_resource("apps", "v1", "deployments"); }

  Json call(const apiserver::ResourceInfo& r, const std::string& ns, const std::string& body) {
    std::vector<std::string> warnings;
    auto out = registry_->create(r, ns, Json::parse(body), apiserver::FieldValidation::Strict, warnings);
    EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().status.dump());
    return out ? *out : Json();
  }
  std::vector<Json> list(const apiserver::ResourceInfo& r, const std::string& selector = "") {
    apiserver::ListOptions o;
    o.label_selector = selector;
    auto l = registry_->list(r, "shop", o);
    std::vector<Json> out;
    for (const auto& i : (*l)["items"]) out.push_back(i);
    return out;
  }
  Json get(const apiserver::ResourceInfo& r, const std::string& name) {
    auto g = registry_->get(r, "shop", name);
    return g ? *g : Json();
  }
  // Read, change, write; again on a conflict (the controllers write status meanwhile).
  void modify(const apiserver::ResourceInfo& r, const std::string& name, const std::function<void(Json&)>& change, bool status = false) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      Json obj = get(r, name);
      change(obj);
      std::vector<std::string> warnings;
      auto u = registry_->update(r, "shop", name, obj, status, apiserver::FieldValidation::Ignore, warnings);
      if (u) return;
      ASSERT_EQ(u.error().code, 409) << u.error().status.dump();
    }
    FAIL() << "could not update " << name;
  }
  // Every pod of `selector` Ready, as a kubelet would say through pods/status.
  void mark_ready(const std::string& selector) {
    for (auto p : list(pods_res(), selector)) {
      if (p["status"].value("phase", "") == "Running") continue;
      p["status"]["phase"] = "Running";
      p["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", apiserver::now_rfc3339()}}};
      std::vector<std::string> warnings;
      // A conflict (the controller wrote meanwhile) is retried by the caller's next round.
      auto r = registry_->update(pods_res(), "shop", p["metadata"]["name"], p, true, apiserver::FieldValidation::Ignore, warnings);
      EXPECT_TRUE(r || r.error().code == 409 || r.error().code == 404) << r.error().status.dump();
    }
  }
  bool eventually(const std::function<bool()>& f, int seconds = 10) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return f();
  }
  static std::string replicaset(int replicas) {
    return R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web"},"spec":{"replicas":)" + std::to_string(replicas) +
           R"(,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1"}]}}}})";
  }
  static std::string deployment(int replicas, const std::string& image) {
    return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":)" + std::to_string(replicas) +
           R"(,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":")" +
           image + R"("}]}}}})";
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
  client::ClusterConnection connection_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<ReplicaSetController> replicasets_;
  std::unique_ptr<DeploymentController> deployments_;
};

TEST_F(WorkloadControllers, ReplicaSetCreatesReplacesScalesAndReportsStatus) {
  Json rs = call(rs_res(), "shop", replicaset(3));
  ASSERT_TRUE(eventually([&] { return list(pods_res(), "app=web").size() == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(list(pods_res(), "app=web").size(), 3u) << "the expectations keep a lagging cache from creating more";
  for (const auto& p : list(pods_res(), "app=web")) {
    const auto ref = p["metadata"]["ownerReferences"][0];
    EXPECT_EQ(ref["uid"], rs["metadata"]["uid"]);
    EXPECT_EQ(ref["controller"], true);
    EXPECT_EQ(ref["blockOwnerDeletion"], true);
    EXPECT_EQ(p["metadata"]["generateName"], "web-");
  }
  // Self-healing: a deleted pod is replaced.
  const std::string victim = list(pods_res(), "app=web")[0]["metadata"]["name"];
  ASSERT_TRUE(registry_->remove(pods_res(), "shop", victim, "", 0));
  ASSERT_TRUE(eventually([&] {
    auto pods = list(pods_res(), "app=web");
    return pods.size() == 3 && std::none_of(pods.begin(), pods.end(), [&](const Json& p) { return p["metadata"]["name"] == victim; });
  }));
  // Status: replicas 3, ready follows the pods.
  mark_ready("app=web");
  ASSERT_TRUE(eventually([&] {
    const auto st = get(rs_res(), "web")["status"];
    return st.value("readyReplicas", 0) == 3 && st.value("availableReplicas", 0) == 3 && st.value("fullyLabeledReplicas", 0) == 3 &&
           st.value("observedGeneration", 0) == 1;
  })) << get(rs_res(), "web")["status"].dump();
  // Scale down to 1: the not-ready pod goes first.
  auto pods = list(pods_res(), "app=web");
  modify(
      pods_res(), pods[1]["metadata"]["name"],
      [](Json& p) {
        p["status"]["conditions"] = {{{"type", "Ready"}, {"status", "False"}}};
      },
      true);
  // Scale only once the controller has seen it not ready (its status says so), else it ranks
  // from a cache that still has the pod ready.
  ASSERT_TRUE(eventually([&] { return get(rs_res(), "web")["status"].value("readyReplicas", 0) == 2; }));
  modify(rs_res(), "web", [](Json& rs) { rs["spec"]["replicas"] = 1; });
  ASSERT_TRUE(eventually([&] { return list(pods_res(), "app=web").size() == 1; }));
  EXPECT_NE(list(pods_res(), "app=web")[0]["metadata"]["name"], pods[1]["metadata"]["name"]);
  // An orphan with matching labels is adopted (and then one too many: deleted).
  call(
      pods_res(), "shop",
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"stray","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"x:1"}]}})");
  ASSERT_TRUE(eventually([&] { return list(pods_res(), "app=web").size() == 1; }));
}

TEST_F(WorkloadControllers, DeploymentRollsOutAndScales) {
  call(deploy_res(), "shop", deployment(3, "nginx:1"));
  ASSERT_TRUE(eventually([&] { return list(rs_res()).size() == 1 && list(pods_res(), "app=web").size() == 3; }));
  const Json first_rs = list(rs_res())[0];
  const std::string hash = first_rs["metadata"]["labels"]["pod-template-hash"];
  EXPECT_EQ(first_rs["metadata"]["name"], "web-" + hash);
  EXPECT_EQ(first_rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");
  EXPECT_EQ(first_rs["spec"]["selector"]["matchLabels"]["pod-template-hash"], hash);
  mark_ready("app=web");
  ASSERT_TRUE(eventually([&] {
    const auto st = get(deploy_res(), "web")["status"];
    for (const auto& c : st.value("conditions", Json::array()))
      if (c["type"] == "Progressing" && c["reason"] == "NewReplicaSetAvailable") return st.value("availableReplicas", 0) == 3;
    return false;
  })) << get(deploy_res(), "web")["status"].dump();

  // A new image: a second ReplicaSet, grown within maxSurge (25% of 3 rounds up to 1).
  modify(deploy_res(), "web", [](Json& d) { d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"; });
  ASSERT_TRUE(eventually([&] { return list(rs_res()).size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LE(list(pods_res(), "app=web").size(), 4u) << "3 + maxSurge 1";
  // Marking the new pods ready moves the rollout on until the old set is at zero.
  ASSERT_TRUE(eventually(
      [&] {
        mark_ready("app=web");
        for (const auto& rs : list(rs_res()))
          if (rs["metadata"]["name"] == first_rs["metadata"]["name"] && rs["spec"].value("replicas", -1) != 0) return false;
        const auto st = get(deploy_res(), "web")["status"];
        return st.value("updatedReplicas", 0) == 3 && st.value("availableReplicas", 0) == 3 && st.value("replicas", 0) == 3;
      },
      20))
      << get(deploy_res(), "web")["status"].dump();
  EXPECT_EQ(get(deploy_res(), "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");

  // Scale to 0, then 5.
  modify(deploy_res(), "web", [](Json& d) { d["spec"]["replicas"] = 0; });
  ASSERT_TRUE(eventually([&] { return list(pods_res(), "app=web").empty(); }));
  modify(deploy_res(), "web", [](Json& d) { d["spec"]["replicas"] = 5; });
  ASSERT_TRUE(eventually([&] { return list(pods_res(), "app=web").size() == 5; }));
}

TEST_F(WorkloadControllers, RecreateStopsOldPodsBeforeStartingNewOnes) {
  std::string body = deployment(2, "nginx:1");
  body.replace(body.find(R"("selector")"), 0, R"("strategy":{"type":"Recreate"},)");
  call(deploy_res(), "shop", body);
  ASSERT_TRUE(eventually([&] { return list(pods_res(), "app=web").size() == 2; }));
  modify(deploy_res(), "web", [](Json& d) { d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"; });
  ASSERT_TRUE(eventually([&] {
    auto pods = list(pods_res(), "app=web");
    return pods.size() == 2 &&
           std::all_of(pods.begin(), pods.end(), [](const Json& p) { return p["spec"]["containers"][0]["image"] == "nginx:2"; });
  }));
}

TEST_F(WorkloadControllers, NoProgressPastTheDeadlineIsProgressDeadlineExceeded) {
  std::string body = deployment(2, "nginx:1");
  body.replace(body.find(R"("selector")"), 0, R"("progressDeadlineSeconds":1,)");
  call(deploy_res(), "shop", body);  // its pods never become ready
  auto progressing = [&] {
    for (const auto& c : get(deploy_res(), "web")["status"].value("conditions", Json::array()))
      if (c["type"] == "Progressing") return c;
    return Json::object();
  };
  ASSERT_TRUE(eventually([&] { return progressing().value("reason", "") == "ProgressDeadlineExceeded"; }, 15))
      << get(deploy_res(), "web")["status"].dump();
  EXPECT_EQ(progressing()["status"], "False");
  EXPECT_THAT(progressing()["message"].get<std::string>(),
              ::testing::MatchesRegex("ReplicaSet \"web-[a-z0-9]+\" has timed out progressing."));
  // Ready pods move it on again.
  ASSERT_TRUE(eventually([&] {
    mark_ready("app=web");
    return progressing().value("reason", "") == "NewReplicaSetAvailable";
  }));
}

}  // namespace
}  // namespace switchyard::controllers
