// The StatefulSet controller's claims against a real registry and store behind the API server's
// HTTP transport (no scheduler, kubelet, binder or garbage collector): claims made before their
// pods and mounted by them, the retention policy's ownerReferences on the live objects, and a
// claim being deleted holding its pod back with upstream's Event.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/controllers/statefulset_controller.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::controllers {
namespace {

using apiserver::Json;
using ::testing::HasSubstr;

class StatefulSetClaimsTest : public ::testing::Test {
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
    ASSERT_TRUE(create(res("", "namespaces"), "", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})"));
    informers_ = std::make_unique<client::SharedInformerFactory>(connection_);
    controller_ = std::make_unique<StatefulSetController>(*informers_, connection_);
    controller_->start();
  }
  void TearDown() override {
    controller_->stop();
    informers_->stop();
  }
  static const apiserver::ResourceInfo& res(const std::string& group, const std::string& plural) {
    return *apiserver::find_resource(group, "v1", plural);
  }
  apiserver::ApiResult<Json> create(const apiserver::ResourceInfo& r, const std::string& ns, const std::string& body) {
    std::vector<std::string> warnings;
    return registry_->create(r, ns, Json::parse(body), apiserver::FieldValidation::Strict, warnings);
  }
  Json get(const apiserver::ResourceInfo& r, const std::string& name) {
    auto g = registry_->get(r, "shop", name);
    return g ? *g : Json();
  }
  // Retries on conflicts with the controller's own writes.
  void change(const apiserver::ResourceInfo& r, const std::string& name, const std::function<void(Json&)>& edit) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      Json o = get(r, name);
      edit(o);
      std::vector<std::string> warnings;
      auto u = registry_->update(r, "shop", name, o, false, apiserver::FieldValidation::Ignore, warnings);
      if (u) return;
      ASSERT_EQ(u.error().code, 409) << u.error().status.dump();
    }
    FAIL() << "could not update " << name;
  }
  bool eventually(const std::function<bool()>& f, int seconds = 10) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (f()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return f();
  }
  std::string events() {
    std::string out;
    auto l = registry_->list(res("", "events"), "shop", apiserver::ListOptions{});
    for (const auto& e : (*l)["items"]) out += e.value("reason", "") + ": " + e.value("message", "") + "\n";
    return out;
  }
  static std::string owners(const Json& o) {
    if (!o.is_object()) return "<absent>";
    std::string out;
    for (const auto& r : o["metadata"].value("ownerReferences", Json::array()))
      out += r["kind"].get<std::string>() + "/" + r["name"].get<std::string>() + (r.value("controller", false) ? "(controller) " : " ");
    return out;
  }
  static std::string statefulset(int replicas, const std::string& when_deleted, const std::string& when_scaled) {
    return R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web"},"spec":{"replicas":)" + std::to_string(replicas) +
           R"(,"serviceName":"web","podManagementPolicy":"Parallel","selector":{"matchLabels":{"app":"web"}},)"
           R"("persistentVolumeClaimRetentionPolicy":{"whenDeleted":")" +
           when_deleted + R"(","whenScaled":")" + when_scaled +
           R"("},)"
           R"("template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox:1",)"
           R"("volumeMounts":[{"name":"data","mountPath":"/data"}]}],"volumes":[{"name":"data","emptyDir":{}}]}},)"
           R"("volumeClaimTemplates":[{"metadata":{"name":"data","labels":{"tier":"db"}},"spec":{"accessModes":["ReadWriteOnce"],)"
           R"("storageClassName":"fast","resources":{"requests":{"storage":"1Gi"}}}}]}})";
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<apiserver::ObjectRegistry> registry_;
  std::unique_ptr<apiserver::ApiHandler> handler_;
  std::unique_ptr<apiserver::HttpServer> server_;
  client::ClusterConnection connection_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<StatefulSetController> controller_;
};

TEST_F(StatefulSetClaimsTest, ClaimsComeBeforeTheirPodsAndWhenDeletedDeleteMakesTheSetTheirOwner) {
  ASSERT_TRUE(create(res("apps", "statefulsets"), "shop", statefulset(2, "Delete", "Retain")));
  const auto& pvcs = res("", "persistentvolumeclaims");
  ASSERT_TRUE(eventually([&] {
    return owners(get(pvcs, "data-web-0")) == "StatefulSet/web(controller) " &&
           owners(get(pvcs, "data-web-1")) == "StatefulSet/web(controller) ";
  })) << get(pvcs, "data-web-0").dump()
      << get(pvcs, "data-web-1").dump() << events();
  const Json claim = get(pvcs, "data-web-1");
  EXPECT_EQ(claim["metadata"]["labels"], Json::parse(R"({"app":"web","tier":"db"})"));
  EXPECT_EQ(claim["spec"]["storageClassName"], "fast");
  EXPECT_EQ(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
  EXPECT_EQ(claim["status"]["phase"], "Pending");
  // The template's emptyDir "data" is replaced by the ordinal's claim.
  ASSERT_TRUE(eventually([&] { return !get(res("", "pods"), "web-1").is_null(); }));
  EXPECT_EQ(get(res("", "pods"), "web-1")["spec"]["volumes"][0],
            Json::parse(R"({"name":"data","persistentVolumeClaim":{"claimName":"data-web-1"}})"));
  EXPECT_THAT(events(), HasSubstr("SuccessfulCreate: create Claim data-web-0 Pod web-0 in StatefulSet web success\n"));

  // Scaled down with whenScaled Retain: the set keeps owning web-1's claim, which stays.
  change(res("apps", "statefulsets"), "web", [](Json& s) { s["spec"]["replicas"] = 1; });
  ASSERT_TRUE(eventually([&] { return get(res("", "pods"), "web-1").is_null(); }));
  EXPECT_EQ(owners(get(pvcs, "data-web-1")), "StatefulSet/web(controller) ");
}

TEST_F(StatefulSetClaimsTest, WhenScaledDeleteHandsTheClaimToThePodBeforeItGoes) {
  ASSERT_TRUE(create(res("apps", "statefulsets"), "shop", statefulset(2, "Retain", "Delete")));
  const auto& pvcs = res("", "persistentvolumeclaims");
  ASSERT_TRUE(eventually([&] { return !get(res("", "pods"), "web-1").is_null(); }));
  const std::string pod_uid = get(res("", "pods"), "web-1")["metadata"]["uid"];
  EXPECT_EQ(owners(get(pvcs, "data-web-1")), "");
  change(res("apps", "statefulsets"), "web", [](Json& s) { s["spec"]["replicas"] = 1; });
  ASSERT_TRUE(eventually([&] { return get(res("", "pods"), "web-1").is_null(); }));
  const Json claim = get(pvcs, "data-web-1");
  EXPECT_EQ(owners(claim), "Pod/web-1(controller) ");
  EXPECT_EQ(claim["metadata"]["ownerReferences"][0]["uid"], pod_uid) << "the garbage collector deletes it with that pod";
  EXPECT_EQ(owners(get(pvcs, "data-web-0")), "");
}

TEST_F(StatefulSetClaimsTest, AClaimBeingDeletedHoldsItsPodBackAndAnExistingClaimIsReused) {
  const auto& pvcs = res("", "persistentvolumeclaims");
  // web-0's claim exists beforehand (reused as it is); web-1's is being deleted (held by a finalizer).
  ASSERT_TRUE(create(pvcs, "shop",
                     R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data-web-0","labels":{"mine":"yes"}},)"
                     R"("spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"5Gi"}}}})"));
  ASSERT_TRUE(create(pvcs, "shop",
                     R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data-web-1","finalizers":["test/hold"]},)"
                     R"("spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}})"));
  ASSERT_TRUE(registry_->remove(pvcs, "shop", "data-web-1"));
  const std::string old_uid = get(pvcs, "data-web-1")["metadata"]["uid"];
  ASSERT_TRUE(create(res("apps", "statefulsets"), "shop", statefulset(2, "Retain", "Retain")));
  ASSERT_TRUE(eventually([&] { return events().find("FailedCreate") != std::string::npos; })) << events();
  EXPECT_THAT(events(), HasSubstr("FailedCreate: create Pod web-1 in StatefulSet web failed error: pvc data-web-1 is being deleted\n"));
  EXPECT_TRUE(get(res("", "pods"), "web-1").is_null());
  EXPECT_FALSE(get(res("", "pods"), "web-0").is_null());
  EXPECT_EQ(get(pvcs, "data-web-0")["spec"]["resources"]["requests"]["storage"], "5Gi");

  // Once it is gone, a new claim and the pod follow.
  change(pvcs, "data-web-1", [](Json& c) { c["metadata"]["finalizers"] = Json::array(); });
  ASSERT_TRUE(eventually([&] { return !get(res("", "pods"), "web-1").is_null(); }, 20)) << events();
  EXPECT_NE(get(pvcs, "data-web-1")["metadata"]["uid"], old_uid);
}

}  // namespace
}  // namespace switchyard::controllers
